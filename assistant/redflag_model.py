"""A learned red-flag detector: how likely a clause describes each red-flag group.

The patterns and exemplars of ``prompts/urgent.yaml`` catch the wordings someone wrote down; new
wordings slip past them ("went over on the wet decking this morning and now my spine feels like it's
on fire whenever I move"). This model reads the clause's
embedding instead: a small neural network (one hidden layer of rectified units, then a softmax
over no red flag and the groups) over two vectors of the clause, without its people and times (as
the exemplars are compared) and as written (whether it is over, feared or happening now is in those
words), trained by ``scripts/train_redflags.py`` on blind patient-voice red flags and calm look-alikes
(``assistant/models/redflags.md``). A clause is a red flag when its probability of a group
reaches that group's threshold, set in cross-validation to keep false alarms on calm messages
within a budget. It only adds recall: the patterns and exemplars still fire as
before. Read once, lazily, and used only with the embedding model it was trained on.
"""

from __future__ import annotations

import base64
import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).resolve().parent / "models" / "redflags.json"
NONE = "none"  # the class of a clause that is no red flag


class RedFlagModel:
    def __init__(self, classes: list[str], weights: np.ndarray, bias: np.ndarray, thresholds: dict[str, float],
                 embedding_model: str, examples: list[list[str]], floor: float, meta: dict | None = None,
                 hidden: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``classes``: ``NONE`` then the red-flag group names; ``weights``: (inputs, classes), the
        inputs being the hidden layer's units when ``hidden`` (its weights and bias) is given;
        ``thresholds``: per group, the probability from which a clause is that red flag;
        ``examples``: [text, group] of the red-flag pieces it was trained on (people and times
        taken out); a clause counts for a group only when it is ``floor``-near one of them."""
        self.classes, self.weights, self.bias = classes, weights, bias
        self.thresholds, self.embedding_model, self.meta = thresholds, embedding_model, meta or {}
        self.examples, self.floor, self.hidden = examples, floor, hidden
        self.dimensions = (hidden[0] if hidden is not None else weights).shape[0]
        owner = np.array([classes.index(group) for _, group in examples])
        self._mine = [owner == j for j in range(len(classes))]  # each class's examples
        self._limits = np.array([thresholds.get(c, np.inf) for c in classes])  # NONE never fires

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(clauses, classes) probabilities; ``vectors``: per clause, its two unit vectors from
        ``embedding_model`` side by side."""
        if self.hidden is not None:
            vectors = np.maximum(vectors @ self.hidden[0] + self.hidden[1], 0.0)
        z = vectors @ self.weights + self.bias
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def groups(self, vectors: np.ndarray, near: np.ndarray) -> list[str]:
        """The red-flag groups some clause reaches the threshold of. ``near``: (clauses, examples)
        cosines of each clause's first vector with the embedded ``examples``."""
        if len(vectors) == 0 or vectors.shape[1] != self.dimensions:
            return []  # no clause, or vectors of another size than it was trained on (load_for guards)
        p = self.probabilities(vectors)
        for j, mine in enumerate(self._mine):
            p[:, j] *= near[:, mine].max(axis=1) >= self.floor if mine.any() else False
        reached = (p >= self._limits).any(axis=0)
        return [c for c, hit in zip(self.classes, reached) if hit]

    def to_json(self) -> dict:
        hidden = {} if self.hidden is None else {"hidden_weights": _packed(self.hidden[0]),
                                                 "hidden_bias": np.round(self.hidden[1], 5).tolist()}
        return {**hidden, "classes": self.classes, "weights": np.round(self.weights, 5).tolist(),
                "bias": np.round(self.bias, 5).tolist(), "thresholds": self.thresholds,
                "embedding_model": self.embedding_model, "floor": self.floor, "meta": self.meta,
                "examples": self.examples}

    def save(self, path: Path = MODEL_PATH) -> None:
        Path(path).write_text(json.dumps(self.to_json()) + "\n", encoding="utf-8")


def _packed(matrix: np.ndarray) -> dict:
    """A large float matrix as base64 of its float32 bytes: read in milliseconds, where a JSON list of
    200,000 numbers takes a tenth of a second at every start."""
    m = np.ascontiguousarray(matrix, dtype="<f4")
    return {"shape": list(m.shape), "float32_base64": base64.b64encode(m.tobytes()).decode("ascii")}


def _unpacked(packed: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed["float32_base64"]), dtype="<f4").reshape(packed["shape"]).copy()


@lru_cache(maxsize=4)
def _load(path: str) -> RedFlagModel:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    hidden = None
    if "hidden_weights" in data:
        hidden = (_unpacked(data["hidden_weights"]), np.asarray(data["hidden_bias"], dtype=np.float32))
    return RedFlagModel(list(data["classes"]), np.asarray(data["weights"], dtype=np.float32),
                        np.asarray(data["bias"], dtype=np.float32), dict(data["thresholds"]),
                        str(data["embedding_model"]), data["examples"], float(data["floor"]), data.get("meta", {}),
                        hidden)


def load_for(embedding_model: str, path: Path = MODEL_PATH) -> RedFlagModel | None:
    """The shipped model when it was trained on ``embedding_model``'s vectors, else None (the
    patterns and exemplars still work; a model trained on other vectors would read noise)."""
    log = logging.getLogger(__name__)
    if not path.exists():
        log.warning("No red-flag model at %s: only the patterns and exemplars look for red flags "
                    "(fewer new wordings are caught; make train-redflags).", path)
        return None
    model = _load(str(path))
    if _same_model(model.embedding_model, embedding_model):
        return model
    log.warning("Red-flag model not used: trained on %s vectors, the embedder is %s; only the patterns and "
                "exemplars look for red flags (retrain with make train-redflags).", model.embedding_model, embedding_model)
    return None


def _same_model(a: str, b: str) -> bool:
    """Both name the same model folder (the packaged MiniLM under either of its names, or one path)."""
    from assistant.embeddings import resolve_model_path
    from assistant.errors import SettingsError

    try:
        return resolve_model_path(a).resolve() == resolve_model_path(b).resolve()
    except SettingsError:
        return False
