"""Everyday words of a question matched to the corpus's words by meaning: "choice" -> "choosing",
"hurts" -> "pain", "usually" -> "typically".

Patients ask in their own everyday words; the source says the same thing in its own. Stems and word
families ("treatment"/"treat") and the lay vocabulary (``prompts/lay_terms.yaml``) catch much of it;
this catches the rest of the everyday words with the embedding model already loaded: a question word
the corpus lacks gets as alternatives the corpus words whose word embeddings are at least
``NEIGHBOUR_COS`` similar (at most ``MAX_NEIGHBOURS``).

Only everyday words get neighbours, never a named thing (a drug, a procedure, an insurer, a place:
``Analyzer.is_specific``): MiniLM puts "medicare" near "medical" and "vertebroplasty" near
"vertebral", and a named thing the corpus lacks must stay missing, so that the assistant says it does
not cover it. Numbers never match each other ("two" is near "three"). The corpus words' vectors are
made once per corpus vocabulary and kept on disk (``cached_vectors``); a question's unmatched words
are embedded in one call, remembered per word.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import numpy as np

from assistant.text import STOPWORDS, stem

NEIGHBOUR_COS = 0.75  # word-embedding cosine at which an everyday word means a corpus word
MAX_NEIGHBOURS = 2
MAX_REMEMBERED = 50_000  # looked-up words kept (a long-running server forgets them all past this)
_NUMBER = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred thousand "
    "first second third fourth fifth sixth seventh eighth ninth tenth once twice half dozen".split())


def _target(word: str) -> bool:
    return len(word) > 2 and word.isalpha() and word not in STOPWORDS and word not in _NUMBER


class WordNeighbours:
    """The corpus words nearest in meaning to a word the corpus lacks."""

    def __init__(self, vocabulary: Iterable[str], encode: Callable[[list[str]], np.ndarray],
                 encode_fixed: Callable[[list[str]], np.ndarray] | None = None, min_cos: float = NEIGHBOUR_COS) -> None:
        self.words = sorted(w for w in vocabulary if _target(w))
        self._encode = encode
        self._encode_fixed = encode_fixed or encode  # the corpus words: the same every start, worth caching
        self._vectors: np.ndarray | None = None
        self._found: dict[str, frozenset[str]] = {}  # word -> its neighbours' stems, once looked up
        self._lock = threading.Lock()
        self.min_cos = min_cos

    def warm_up(self) -> None:
        self._matrix()

    def of(self, words: Iterable[str]) -> dict[str, frozenset[str]]:
        """For each word (lower case), the stems of its nearest corpus words (empty for none)."""
        words = list(dict.fromkeys(words))
        new = [w for w in words if _target(w) and w not in self._found]
        if new:
            found = dict(zip(new, self._nearest(np.asarray(self._encode(new), dtype=np.float32))))
            with self._lock:
                if len(self._found) > MAX_REMEMBERED:
                    self._found.clear()
                self._found.update(found)
        return {w: self._found.get(w, frozenset()) for w in words}

    def _matrix(self) -> np.ndarray:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    v = (np.asarray(self._encode_fixed(self.words), dtype=np.float32) if self.words
                         else np.zeros((0, 1), np.float32))
                    self._vectors = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        return self._vectors

    def _nearest(self, vectors: np.ndarray) -> list[frozenset[str]]:
        m = self._matrix()
        if not len(m):
            return [frozenset() for _ in vectors]
        cos = (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)) @ m.T
        out = []
        for row in cos:
            best = np.argsort(-row)[:MAX_NEIGHBOURS]
            out.append(frozenset(stem(self.words[i]) for i in best if row[i] >= self.min_cos))
        return out
