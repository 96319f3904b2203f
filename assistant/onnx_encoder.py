"""The sentence-transformers model run by ONNX Runtime: the same vectors, faster, without torch at start.

The model is exported once, locally, from the weights already on disk (nothing is downloaded) into
``$XDG_CACHE_HOME/kypho-assistant/models/<key>/model.onnx`` (``~/.cache`` by default); later starts
load that file. Tokenisation uses the model's own ``tokenizer.json`` (the ``tokenizers`` library),
pooling follows the model's ``1_Pooling`` config (mean of the token vectors), then unit length, as
sentence-transformers does. Vectors agree with the torch model's to a cosine of 0.99999 (checked in
``tests/test_embeddings.py``). int8 (ONNX Runtime's dynamic quantisation) was measured on the evals
and rejected: 1.6x faster builds, but answers got worse on several splits (README, Index builds).

Only models of that shape are handled (``supports``); any other model stays on torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BATCH = 16  # measured on 2 cores: small batches pad less and run faster than 64
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EXPORT_RECIPE = "eager-attention"  # part of the exported file's cache key: a new recipe exports again


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kypho-assistant" / "models"


def supports(model_dir: Path) -> bool:
    """A BERT-style model with mean pooling (and optional normalisation) and a fast tokenizer."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, IndexError):
        return False
    return (kinds[:2] == ["Transformer", "Pooling"] and set(kinds[2:]) <= {"Normalize"}
            and pooling.get("pooling_mode_mean_tokens") is True and (model_dir / "tokenizer.json").is_file())


class OnnxEncoder:
    """Encodes texts like ``SentenceTransformer.encode(normalize_embeddings=True)``."""

    def __init__(self, model_dir: Path, cache_dir: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        max_length = _max_length(self.model_dir)
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        path = export(self.model_dir, cache_dir or cache_root())
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: on a machine shared with other work spinning costs more
        # than it saves (measured on 2 busy cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], batch_size: int = BATCH) -> np.ndarray:
        """Unit vectors, float32, (len(texts), dim). Longest texts first, so a batch pads little."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for b in range(0, len(order), batch_size):
            rows = order[b : b + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[rows] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out


def export(model_dir: Path, cache_dir: Path) -> Path:
    """``model.onnx`` for this model folder, exported from its weights the first time (~2 s)."""
    weights = sorted(p for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())
    key_text = "\x00".join([str(model_dir.resolve()), *(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                                                        for p in weights), _torch_version(), EXPORT_RECIPE])
    target = cache_dir / hashlib.sha256(key_text.encode()).hexdigest()[:16] / "model.onnx"
    if target.is_file():
        return target
    import torch
    from transformers import AutoModel

    log.info("Exporting %s to ONNX in %s (once).", model_dir, target.parent)
    # Eager attention, not PyTorch's SDPA: traced, SDPA adds a NaN guard (IsNaN + Where over batch x heads x
    # tokens^2) to every layer's attention weights, which ONNX Runtime keeps; without it encoding runs ~1.2x
    # faster (README, Index builds), with the same vectors.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    sample = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constants that are constant here
        part = Path(tmp) / "model.onnx"
        with torch.no_grad():
            torch.onnx.export(Hidden(model), (sample, sample, torch.zeros_like(sample)), str(part), dynamo=False,
                              input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes,
                              opset_version=17)
        os.replace(part, target)
    return target


def _max_length(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length") or 256)
    except (OSError, ValueError):
        return 256


def _torch_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return ""
