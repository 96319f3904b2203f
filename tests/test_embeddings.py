"""The ONNX Runtime encoder gives the torch model's vectors; other model shapes stay on torch."""

import json
import shutil

import numpy as np
import pytest

from assistant.embeddings import Embedder, resolve_model_path
from assistant.onnx_encoder import OnnxEncoder, supports

TEXTS = ["Who performs kyphoplasty?", "a", "Kyphoplasty: " + "The balloon is inflated inside the vertebra. " * 60,
         "Neurosurgeons often manage the most complicated cases.", "¿Dónde está el hospital? 病院", "   "]


@pytest.mark.slow
def test_onnx_vectors_match_torch(embedder):
    assert isinstance(embedder._model, OnnxEncoder)  # the default backend where onnxruntime is installed
    onnx = embedder.encode(TEXTS)  # one padded batch, texts of very different lengths (one truncated)
    torch = Embedder(backend="torch").encode(TEXTS)
    assert onnx.shape == torch.shape == (len(TEXTS), 384)
    assert (onnx * torch).sum(axis=1).min() > 0.9999
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1, atol=1e-5)
    alone = np.stack([embedder.encode([t])[0] for t in TEXTS])  # padding never changes a vector
    assert (alone * onnx).sum(axis=1).min() > 0.99999


def test_a_model_with_other_pooling_is_not_run_on_onnx(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), model)
    assert supports(model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    assert not supports(model)
