"""Does the best evidence speak to what is asked, or does it only share the asked-about thing?

In a one-topic corpus every sentence is about the same thing, so a question about something the
source names but never discusses ("Can the cement leak out?", "Which painkillers am I allowed
after it?") always finds a sentence with its subject in it ("It involves injecting bone cement…").
Word overlap and the ranker's probability alone do not tell these apart from lay wording of a
question the source does answer ("What's the glue stuff they squirt in for?").

A small logistic model over eight numbers about a part and its best sentence does, better:

    best            the ranker's best probability over the retrieved sentences
    words_found     the largest share of the part's words in one sentence
    unmatched_max   the weight of the weightiest asked word the corpus has nowhere (stem, word family,
                    clinical name, dictionary lemma: "weaker" is "weak", "-en" verb: "worse" is in
                    "worsens"): "leak", "painkillers"; 0 when
                    every weighty word is there. A likely typo of an everyday word (no dictionary entry,
                    a letter or two from a common word: "hom", "shud") says nothing and is left out
    unmatched_sum   the summed weights of those words
    drop_gain       how much closer the part comes to its best sentence with such a word left out
                    (its embedding re-computed): the evidence is silent about a word whose removal
                    brings the question nearer ("leak" +0.10), while a lay word the sentence says
                    in other words moves it away ("glue" < 0)
    top_cos         the part's similarity to its best sentence
    yes_no          the part opens with an auxiliary ("can", "will", "is"): a yes/no question
    typed           the part has a recognised answer type ("who", "cause", ...)

It is trained by ``scripts/calibrate.py`` on the tuned eval splits only (single-part messages
the rules leave answered), with its decision threshold set on out-of-fold probabilities so that
at most a small, stated share of answerable tuned parts is declined; the untuned splits are never
read. Weights live in ``models/ranker.json`` (``meta.answerability``). It applies to one-topic
corpora only: a library of many topics already tells pages apart by their titles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from assistant.question import Part
from assistant.restate import AUX
from assistant.text import near_common_word, root, stem

FEATURES = ("best", "words_found", "unmatched_max", "unmatched_sum", "drop_gain", "top_cos", "yes_no", "typed")
WEIGHTY = 0.5  # an asked word at least this weighty (not an everyday "back", "people") must be somewhere in the corpus
YES_NO = re.compile(rf"^\W*(?:{'|'.join(AUX)})\b", re.I)


@dataclass(frozen=True)
class Evidence:
    """What the answerability model reads about one part (see the module docstring)."""

    best: float
    words_found: float
    unmatched: tuple[tuple[str, float], ...]  # (word, weight) of weighty asked words absent from the corpus
    drop_gain: float
    top_cos: float
    yes_no: bool
    typed: bool

    def vector(self) -> np.ndarray:
        weights = [w for _, w in self.unmatched]
        return np.array([self.best, self.words_found, max(weights, default=0.0), sum(weights), self.drop_gain,
                         self.top_cos, float(self.yes_no), float(self.typed)], dtype=np.float64)


def evidence(part: Part, need_text: str, vector: np.ndarray, top_vector: np.ndarray, best: float,
             words_found: float, unmatched: list[tuple[str, float]],
             embed: Callable[[list[str]], np.ndarray] | None) -> Evidence:
    """The part's numbers. ``need_text`` is what was embedded as ``vector`` (the part without the
    corpus's topic words); each unmatched word is dropped from it and the rest embedded again."""
    top_cos = float(np.dot(vector, top_vector))
    gain = 0.0
    if unmatched and embed is not None:
        dropped = [re.sub(rf"\b{re.escape(word)}\b", " ", need_text, flags=re.I) for word, _ in unmatched]
        gain = float(max(np.asarray(embed(dropped)) @ top_vector) - top_cos)
    return Evidence(best, words_found, tuple(unmatched), gain, top_cos, bool(YES_NO.match(part.text)),
                    bool(part.types))


def unmatched(word: str, corpus_stems: frozenset[str], corpus_roots: frozenset[str]) -> bool:
    """A word (already known to match no corpus stem or family) that the corpus truly lacks: not by
    any of its dictionary lemmas either, and not a likely typo of an everyday word."""
    forms = _lemmas(word)
    if not forms:
        return not near_common_word(word)
    # "-en" makes verbs of adjectives: "worse" is in "worsens", "weak" in "weakening"
    return not any(stem(f) in corpus_stems or root(stem(f)) in corpus_roots or stem(f) + "en" in corpus_stems
                   or f + "en" in corpus_stems for f in forms)


@lru_cache(maxsize=8192)
def _lemmas(word: str) -> frozenset[str]:
    from lemminflect import getAllLemmas

    return frozenset(f for forms in getAllLemmas(word).values() for f in forms)


class Answerability:
    """The logistic model: standardised features, weights, bias, and the probability below which a
    part is not answered."""

    def __init__(self, mean, scale, weights, bias: float, threshold: float) -> None:
        self.mean, self.scale = np.asarray(mean, float), np.asarray(scale, float)
        self.weights, self.bias, self.threshold = np.asarray(weights, float), float(bias), float(threshold)

    def probability(self, x: np.ndarray) -> float:
        z = float(((x - self.mean) / self.scale) @ self.weights + self.bias)
        return 1.0 / (1.0 + np.exp(-z))

    def answers(self, ev: Evidence) -> bool:
        return self.probability(ev.vector()) >= self.threshold

    @classmethod
    def from_meta(cls, meta: dict) -> Answerability | None:
        """The model stored by calibration, or None (then only the rules decide)."""
        data = meta.get("answerability")
        if not data or tuple(data.get("features", ())) != FEATURES:
            return None
        return cls(data["mean"], data["scale"], data["weights"], data["bias"], data["threshold"])


__all__ = ["Answerability", "Evidence", "FEATURES", "WEIGHTY", "YES_NO", "evidence", "unmatched"]
