"""The sentence ranker: how likely a source sentence answers one part of a question.

A logistic model over features computed here, by ``features()``, both when answering and when
training (``scripts/train_ranker.py``), so the two never drift. Its probability does two jobs:
it orders the sentences to quote (the first one answers), and its maximum over the retrieved
sentences says whether the corpus answers the part at all (``grounding.py`` compares it with a
threshold calibrated on labelled questions). Weights and the model card live in
``assistant/models/`` (``ranker.json``, ``ranker.md``); they are read once, lazily.

Features, for a question part q and a candidate sentence s in passage p:

    cos            cosine of q and s (s embedded with its heading)
    cos_gap        cos minus the best cos among the candidates
    passage_cos    cosine of q and p
    lex            weighted share of q's words found in s (same stem 1, same word family 0.8)
    lex_gap        lex minus the best lex among the candidates
    lex_context    ... found in p's heading and title
    lex_passage    ... found anywhere in p
    missing_named  share of q's named things (specific terms) found nowhere in p
    type_heading   1 when p's heading fits q's question type ("Treatment" for "how is it treated?")
    type_answer    cue words of q's answer type in s (people for "who", causes for "why"); a forward
                   cue ("X causes Y") counts only when most of what q asks about follows it (``cue_counts``)
    definition     q asks what something is and s says what it is ("X is a ...")
    position       1 for the first sentence of a section, 1/(1+n) after
    short          s has fewer than 6 words
    anaphoric      s starts with a pronoun ("It involves ...") and needs the sentence before it
    title_gap      share of p's title words in q, minus the best share among the candidates (0 for the
                   page whose topic q names; always 0 in a one-topic corpus)
    need_met       +1 s has the statement q needs (a price, a duration...), -1 q needs one s lacks
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.question import Part
from assistant.text import DERIVED, related, stem, words

FEATURES = ("cos", "cos_gap", "passage_cos", "lex", "lex_gap", "lex_context", "lex_passage", "missing_named",
            "type_heading", "type_answer", "definition", "position", "short", "anaphoric", "title_gap", "need_met")
# The sign each weight must have: more evidence never lowers the probability (+1), a named thing
# missing from the passage never raises it (-1); 0 leaves the sign to the data.
SIGNS = {"cos": 1, "cos_gap": 1, "passage_cos": 1, "lex": 1, "lex_gap": 1, "lex_context": 1, "lex_passage": 1,
         "missing_named": -1, "type_heading": 1, "type_answer": 1, "definition": 1, "position": 0, "short": 0,
         "anaphoric": 0, "title_gap": 1, "need_met": 1}
MODEL_PATH = Path(__file__).resolve().parent / "models" / "ranker.json"
ORDER = {"prob": 0.4, "cos": 0.25, "lex": 0.25, "type": 0.1, "anaphoric": 0.1, "first": 0.1}  # before calibration
EFFECT_WEIGHT = 0.5  # a word at least this weighty (not an everyday one: "back", "people") names what is asked about
FORWARD_SHARE = 0.5  # a forward cue counts when this share of the asked words (by weight) follows it
TOPIC_WEIGHT = 0.0  # a topic word of the corpus ("kyphoplasty" in a kyphoplasty guide) says nothing beside others
_ANAPHORIC = re.compile(r"^\W*(it|its|they|their|them|this|these|those|that|such|he|she|his|her)\b", re.I)


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage, with what the ranker needs to know about it."""

    chunk_id: str
    n: int  # sentence number within the chunk
    text: str
    stems: frozenset[str]
    vector: np.ndarray
    passage_cos: float
    context_stems: frozenset[str]  # heading and title
    passage_stems: frozenset[str]
    title_stems: frozenset[str]
    heading_types: tuple[str, ...]
    position: int  # sentence number within its section


class Cues:
    """The answer, heading and need patterns of ``prompts/question_types.yaml``."""

    def __init__(self, question_types: dict) -> None:
        self.answer = {k: re.compile(v["answer"], re.I) for k, v in question_types["types"].items() if v.get("answer")}
        self.heading = {k: re.compile(v["heading"], re.I) for k, v in question_types["types"].items() if v.get("heading")}
        self.forward = {k: re.compile(v["forward"], re.I) for k, v in question_types["types"].items() if v.get("forward")}
        self.evidence = {k: re.compile(v["evidence"], re.I) for k, v in question_types["needs"].items()}
        self.asks_for = {k: re.compile(v["question"], re.I) for k, v in question_types["needs"].items()}
        self.labels = {k: v["label"] for k, v in question_types["needs"].items()}
        # needs whose answer is still quoted without the statement, and the words of a sentence about it
        self.partial = {k: re.compile(v["partial"], re.I) for k, v in question_types["needs"].items() if v.get("partial")}
        self._definition = self.answer.get("definition")

    def heading_types(self, heading: str) -> tuple[str, ...]:
        return tuple(k for k, rx in self.heading.items() if rx.search(heading))

    def is_definition(self, sentence: str) -> bool:
        return bool(self._definition and self._definition.search(sentence))


Weighted = tuple[str, float, bool, frozenset[str]]  # stem, weight, specific, alternative stems
Effect = tuple[str, float, frozenset[str]]  # stem, weight, alternative stems: what a forward cue leads to


def term_weights(part: Part, topic_stems: set[str] | frozenset[str], topic: float | None = None) -> list[Weighted]:
    """(stem, weight, specific, alternatives) for each term of a part. The corpus's topic words
    ("kyphoplasty" in a kyphoplasty guide) count only when the part asks about nothing else (or,
    with ``topic=0``, never)."""
    others = any(t.stem not in topic_stems for t in part.terms if not t.carried)
    factor = TOPIC_WEIGHT if topic is None else topic
    return [(t.stem, t.weight * (factor if t.stem in topic_stems and (others or topic is not None) else 1.0),
             t.specific and not t.carried, t.alternatives) for t in part.terms]


def match_share(terms: list[Weighted], stems: frozenset[str]) -> float:
    total = sum(w for _, w, _, _ in terms)
    if not total:
        return 0.0
    return sum(w * _best_match(s, stems, alt) for s, w, _, alt in terms) / total


def _best_match(s: str, stems: frozenset[str], alternatives: frozenset[str] = frozenset()) -> float:
    if s in stems:
        return 1.0
    if alternatives & stems:
        return DERIVED
    return max((related(s, other) for other in stems), default=0.0)


def features(part: Part, query_vector: np.ndarray, candidates: list[Candidate], cues: Cues,
             topic_stems: set[str] | frozenset[str]) -> np.ndarray:
    """The feature matrix (len(candidates) x len(FEATURES)) for one part."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    terms = term_weights(part, topic_stems)
    named = [(s, 1.0, True, alt) for s, _, specific, alt in terms if specific]
    q_stems = frozenset(stem(w) for w in words(part.search))
    matrix = np.stack([c.vector for c in candidates])
    cos = matrix @ np.asarray(query_vector, dtype=np.float32)
    best_cos = float(cos.max())
    effects = [(s, w, alt) for s, w, _, alt in terms if w >= EFFECT_WEIGHT]  # what a "forward" cue must lead to
    defining = "definition" in part.types
    lexes = [match_share(terms, c.stems) for c in candidates]
    best_lex = max(lexes)
    rows = []
    titles = {c.chunk_id: (len(c.title_stems & q_stems) / len(c.title_stems) if c.title_stems else 0.0) for c in candidates}
    best_title = max(titles.values())
    cache: dict[str, tuple[float, float, float, float]] = {}
    for c, c_cos, lex in zip(candidates, cos, lexes):
        if c.chunk_id not in cache:  # passage-level features, once per passage
            title = titles[c.chunk_id] - best_title
            missing = sum(1 - _best_match(s, c.passage_stems, alt) for s, _, _, alt in named) / len(named) if named else 0.0
            cache[c.chunk_id] = (match_share(terms, c.context_stems), match_share(terms, c.passage_stems), missing, title)
        lex_context, lex_passage, missing_named, title_gap = cache[c.chunk_id]
        type_heading = 1.0 if set(part.types) & set(c.heading_types) else 0.0
        counts = cue_counts(c.text, part, cues, effects)
        type_answer = sum(min(n, 3) / 3 for n in counts) / len(counts) if counts else 0.0
        definition = 1.0 if defining and cues.is_definition(c.text) else 0.0
        if part.needs:
            need_met = 1.0 if any(cues.evidence[n].search(c.text) for n in part.needs) else -1.0
        else:
            need_met = 0.0
        rows.append((float(c_cos), float(c_cos) - best_cos, c.passage_cos, lex, lex - best_lex, lex_context,
                     lex_passage, missing_named, type_heading, type_answer, definition, 1.0 / (1 + c.position),
                     1.0 if len(c.text.split()) < 6 else 0.0, 1.0 if _ANAPHORIC.match(c.text) else 0.0,
                     title_gap, need_met))
    return np.asarray(rows, dtype=np.float32)


def cue_counts(text: str, part: Part, cues: Cues, effects: list[Effect]) -> list[int]:
    """For each answer type of the part, how many of its cue words the sentence holds. A forward cue
    ("causes", "leads to") counts only when most of what the part asks about (by weight; the part's
    own cue words left out) follows it: "the collapse causes back pain and loss of vertebral height"
    is no answer to "what causes vertebral compression fractures?" for its one word "vertebral"."""
    counts = []
    for t in part.types:
        if t not in cues.answer:
            continue
        n = len(cues.answer[t].findall(text))
        if t in cues.forward and effects:
            asked, share = _effects(part.text, cues.forward[t], tuple(effects))
            total = sum(w for _, w, _ in asked)
            for m in cues.forward[t].finditer(text):
                after = frozenset(stem(w) for w in words(text[m.end():]))
                found = sum(w for s, w, alt in asked if _best_match(s, after, alt) >= DERIVED)
                n += bool(total) and found > 0 and found >= share * total
        counts.append(n)
    return counts


@lru_cache(maxsize=256)  # cue_counts asks once per candidate sentence; the answer depends on the part only
def _effects(question: str, forward: re.Pattern, effects: tuple[Effect, ...]) -> tuple[tuple[Effect, ...], float]:
    """What a forward cue in a sentence must lead to (the asked words, the question's own cue words
    left out), and the share of it by weight, read from the question's word order:
    "what causes vertebral compression fractures?" -> most of what follows its cue; "what causes
    them?" or a question without the cue ("why do backs break so easily?") -> most of what it asks;
    "what pain does a VCF cause?" or "is back pain caused by osteoporosis?" (the effect is asked before
    the cue) -> any asked word; "any other causes?" (the effect carried from earlier) -> most of it."""
    own_cues = {stem(w) for w in words(question) if forward.fullmatch(w)}
    asked = tuple(e for e in effects if e[0] not in own_cues)
    cues = list(forward.finditer(question))
    if not cues:
        return asked, FORWARD_SHARE
    rest = words(question[cues[-1].end():])
    asked_before = {stem(w) for w in words(question[:cues[-1].start()])} & {s for s, _, _ in asked}
    if (not rest and asked_before) or rest[:1] == ["by"]:
        return asked, 0.0
    following = {stem(w) for w in rest}
    after = tuple(e for e in asked if e[0] in following)
    return (after or asked), FORWARD_SHARE


class Ranker:
    """A logistic model over ``FEATURES``: standardised inputs, weights, bias (``models/ranker.json``)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, bias: float,
                 threshold: float = 0.5, threshold_one_topic: float | None = None, meta: dict | None = None) -> None:
        self.mean, self.scale, self.weights, self.bias = mean, scale, weights, bias
        self.threshold = threshold  # below this best probability, a part is not answered
        self.threshold_one_topic = threshold if threshold_one_topic is None else threshold_one_topic
        self.meta = meta or {}
        # answerability beside the threshold: without this share of the question's words in some
        # sentence, an answer needs the ranker's probability to reach `confident` (set by calibration)
        self.min_words_found = float(self.meta.get("min_words_found", 0.0))
        self.confident = float(self.meta.get("confident", 0.0))
        # how the sentences of an answer are ordered (grounding.order_scores), set by calibration
        self.order: dict[str, float] = self.meta.get("order") or dict(ORDER)
        self.order_one_topic: dict[str, float] = self.meta.get("order_one_topic") or self.order

    def order_for(self, one_topic: bool) -> dict[str, float]:
        return self.order_one_topic if one_topic else self.order

    def threshold_for(self, one_topic: bool) -> float:
        """Calibrated separately for corpora about one topic (a guide) and about many (a library)."""
        return self.threshold_one_topic if one_topic else self.threshold

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0, dtype=np.float32)
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Ranker:
        return _load(str(path))

    def to_json(self) -> dict:
        return {"features": list(FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist(), "bias": self.bias, "threshold": self.threshold,
                "threshold_one_topic": self.threshold_one_topic, "meta": self.meta}

    def save(self, path: Path = MODEL_PATH) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")


@lru_cache(maxsize=4)
def _load(path: str) -> Ranker:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{path} was trained on other features; retrain with scripts/train_ranker.py")
    return Ranker(np.asarray(data["mean"], dtype=np.float32), np.asarray(data["scale"], dtype=np.float32),
                  np.asarray(data["weights"], dtype=np.float32), float(data["bias"]),
                  float(data.get("threshold", 0.5)), data.get("threshold_one_topic"), data.get("meta", {}))


def default_ranker() -> Ranker:
    """The shipped model; a hand-set fallback (cosine and word overlap) if none is shipped yet."""
    if MODEL_PATH.exists():
        try:
            return Ranker.load()
        except (ValueError, KeyError) as exc:
            logging.getLogger(__name__).warning("Not using %s (%s); using the untrained fallback.", MODEL_PATH, exc)
    w = np.zeros(len(FEATURES), dtype=np.float32)
    w[FEATURES.index("cos")], w[FEATURES.index("lex")] = 4.0, 2.0
    return Ranker(np.zeros(len(FEATURES), np.float32), np.ones(len(FEATURES), np.float32), w, -2.5, 0.3,
                  meta={"note": "untrained fallback"})
