"""The citation guard: no sentence a language model writes reaches a patient unless it cites a passage
the model was given and that passage supports it.

A model's reply is split into sentences as it streams (``SentenceStream``) and each sentence is
judged on its own (``CitationGuard.judge``). The rules, in order; the first one broken is the reason
the sentence is removed:

1. **a citation**: the sentence ends with (or contains) ``[n]``. A sentence without one is removed —
   unless it is a *gap statement* ("The guide does not say how much it costs."), which is not shown
   either (the chain says what the guide does not cover itself, deterministically) but is counted
   apart: a reply of nothing but gap statements is the model declining (the chain then answers extractively).
   A sentence that stops where no sentence can (on "the", "of", "and", "are"; "The training is, which")
   is removed as unfinished.
2. **a passage it was given**: every ``[n]`` is between 1 and the number of passages.
3. **figures**: every number (digits or words: "three", "2.5"), with its unit when it has one
   ("800 mg", "50 %", "6 weeks"), appears in a cited passage with the same unit.
4. **named things**: every specific word — a drug, a procedure, a condition, a name; the same test the
   question analyser uses (``Analyzer.is_specific``: medical vocabulary, rare words, proper nouns) —
   appears in a cited passage (same stem or word family, ``text.related``); so does every
   abbreviation ("CT", "PT", "NSAID"), letter for letter.
5. **no added negation**: a "not", "never", "without"... in the sentence needs one in the passage
   sentence(s) it matches best ("rather than" and "instead" count).
6. **support**: ``(overlap + similarity) / 2 >= SUPPORT``, where overlap is the share of the
   sentence's content words found in the cited passage (a word of the same family counts
   ``DERIVED``) and similarity the best cosine between the sentence and one passage sentence or two
   adjacent ones (the project's MiniLM embedder).

Passage sentences that read as instructions to the assistant (the injection patterns of
``prompts/conversation.yaml``) are never evidence: text planted in a corpus document cannot make the
guard accept a sentence that repeats it.

``SUPPORT`` was calibrated by ``scripts/calibrate_guard.py`` on 28 faithful paraphrases and 34
unfaithful sentences written against the guide (``evals/guard_cases.yaml``): the rules remove 27 of the
unfaithful ones; the strongest remaining unfaithful sentence scores 0.532 and ``SUPPORT`` sits in the
middle of the gap up to the next faithful score (0.604), so the margin is about 0.04 each way. Two
faithful paraphrases score lower (0.51) and are removed: the guard prefers losing a sentence to
showing an unsupported one. The same cases shaped the rules, so these figures are in-sample.

What the guard does **not** guarantee: that a sentence says everything the passage qualifies it
with, that two supported sentences do not combine into a wrong impression, or that a paraphrase
keeps every shade of meaning (a swapped subject with the same words and no figure passes). It
removes invented facts, figures, drugs and wrong citations; it is not a proof of faithfulness.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from assistant.ingest import Chunk, is_abbreviation
from assistant.text import DERIVED, STOPWORDS, content_stems, related, stem, words, zipf

SUPPORT = 0.57  # calibrated: see the module docstring and scripts/calibrate_guard.py
NEGATION_SCOPE = 4  # words after "not", "without", "rather than"... that it applies to
# closed-class words no finished English sentence ends on (articles, prepositions, conjunctions, linking verbs)
_CANNOT_END = frozenset("""a an the and or but nor of to in on at by for with from into than as is are was were
    be been being which whose their its your our such including""".split())
_BARE_LINK = re.compile(r"\b(?:is|are|was|were)\s*[,;]", re.I)  # "are:" opens a list: fine
NAMED_ZIPF = 4.0  # a specific word rarer than this in English names a thing (a drug, a test, a procedure)
MAX_SENTENCE_CHARS = 600  # a longer run without an end is judged as it is (and rarely passes)

_CITATION = re.compile(r"\s*\[(?:passages?\s*|source\s*)?(\d{1,3}(?:\s*[,;&]\s*(?:and\s+)?\d{1,3})*)\]", re.I)
_END = re.compile(r"[.!?][\"'”’)]*")
_MARKUP = re.compile(r"\*\*|__|^#+\s*|^\s*(?:[-*•]|\d+[.)])\s+", re.M)
_GAP = re.compile(
    r"^\W*(?:but |however,? |unfortunately,? |sorry,? )?(?:the |these |those |this |my )?"
    r"(?:passages?|guide|sources?|documents?|text|information|leaflet|material)\b.{0,60}?"
    r"\b(?:do(?:es)?\s*(?:not|n't)|did\s*(?:not|n't)|never|cannot|can't)\s+(?:say|cover|mention|include|answer|explain|"
    r"describe|discuss|give|state|provide|contain|tell|address|specify|list|talk)"
    r"|^\W*i (?:could not|couldn't|cannot|can't|do not|don't) (?:find|see|answer)", re.I)
_NEGATIONS = frozenset("""not no never without cannot can't don't doesn't didn't isn't aren't wasn't weren't won't
    shouldn't wouldn't couldn't nor neither none nothing""".split())
_NEGATION_CUES = _NEGATIONS | {"rather", "instead", "avoid", "unless", "except"}
_NOT_ONLY = re.compile(r"\bnot (?:only|just|merely|simply)\b", re.I)  # adds, does not negate
# Words that set how often, how surely or how well something holds. A sentence may not use a degree
# its passage does not: "usually" needs "typically", "often" or the like there; "safer" or "best" needs
# the passage to say so. General English (frequency adverbs, certainty words, evaluative adjectives).
_DEGREES = {
    **dict.fromkeys("always invariably".split(), "always"),
    **dict.fromkeys("usually typically generally commonly common often frequently frequent mostly normally "
                    "most".split(), "usually"),
    **dict.fromkeys("sometimes occasionally".split(), "sometimes"),
    **dict.fromkeys("rarely seldom rare uncommon few".split(), "rarely"),
    **dict.fromkeys("safe safer safest safely harmless painless".split(), "safe"),
    **dict.fromkeys("dangerous risky unsafe".split(), "dangerous"),
    **dict.fromkeys("best better superior ideal preferred".split(), "better"),
    **dict.fromkeys("worse worst worsen worsens worsening inferior".split(), "worse"),
    **dict.fromkeys("guaranteed guarantee certainly definitely completely totally entirely cure cures".split(),
                    "certain"),
}
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80",
                      "ninety": "90", "hundred": "100", "thousand": "1000", "million": "1000000", "dozen": "12",
                      "twice": "2", "once": "1", "half": "0.5", "quarter": "0.25"})
_UNITS = {"mg": "mg", "milligram": "mg", "milligrams": "mg", "mcg": "mcg", "microgram": "mcg", "micrograms": "mcg",
          "g": "g", "gram": "g", "grams": "g", "kg": "kg", "ml": "ml", "millilitre": "ml", "milliliter": "ml",
          "cc": "ml", "%": "%", "percent": "%", "per cent": "%", "mm": "mm", "cm": "cm", "iu": "iu", "units": "unit",
          "unit": "unit", "times": "times", "minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute",
          "hour": "hour", "hours": "hour", "hr": "hour", "hrs": "hour", "day": "day", "days": "day", "week": "week",
          "weeks": "week", "month": "month", "months": "month", "year": "year", "years": "year", "mmhg": "mmhg"}
_UNIT_WORDS = "|".join(sorted((k for k in _UNITS if k[0].isalpha()), key=len, reverse=True))
_FIGURE = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*|(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) +
                     r")\b)(?:\s*(%)|\s*(" + _UNIT_WORDS + r")\b)?", re.I)
_AMBIGUOUS = {"one", "once", "half", "quarter"}  # "one of the specialists": a figure only with a unit


@dataclass(frozen=True)
class Judgement:
    """The guard's verdict on one sentence."""

    sentence: str  # as the model wrote it, citations and markup removed
    cited: tuple[int, ...]  # the [n] it gave
    kept: bool
    reason: str = ""  # why it was removed ("" when kept)
    gap: bool = False  # a statement of what the passages do not cover (never shown, never "dropped")
    sources: tuple[int, ...] = ()  # the cited passages that support it (what the answer shows)
    evidence: tuple[tuple[int, int], ...] = ()  # per source: (passage number, its sentence that matches best)
    score: float = 0.0


@dataclass
class GuardReport:
    """What the guard did to one reply: ``as_dict()`` is the result's ``guard`` field."""

    kept: list[Judgement] = field(default_factory=list)
    dropped: list[Judgement] = field(default_factory=list)
    gaps: list[Judgement] = field(default_factory=list)
    fallback: str = ""  # why the extractive answer was given instead ("" when the model's answer stands)
    failure: str = ""  # the model's error or timeout, if any
    stopped: str = ""  # why the guard stopped reading the reply early, if it did

    def add(self, judgement: Judgement) -> None:
        (self.gaps if judgement.gap else self.kept if judgement.kept else self.dropped).append(judgement)

    def as_dict(self) -> dict:
        return {"kept": len(self.kept), "dropped": len(self.dropped),
                "reasons": [{"sentence": j.sentence, "reason": j.reason} for j in self.dropped],
                "gaps": [j.sentence for j in self.gaps], "fallback": self.fallback, "failure": self.failure,
                "stopped": self.stopped}


class SentenceStream:
    """Cuts streamed text into sentences as soon as each is complete: at . ! ? (not after "e.g." or
    "Dr."), taking the ``[n]`` that follow it, once the next sentence has begun; or at a line break."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        out = []
        while (cut := self._cut()) is not None:
            out.append(self._buffer[:cut].strip())
            self._buffer = self._buffer[cut:]
        return [s for s in out if s]

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _cut(self) -> int | None:
        buf = self._buffer
        newline = buf.find("\n")
        for m in _END.finditer(buf):
            if newline != -1 and m.start() > newline:
                break
            end = m.end()
            citations = re.compile(r"(?:\s*\[[^\[\]\n]{1,30}\])*").match(buf, end)
            end = citations.end() if citations else end
            rest = buf[end:]
            if not rest.strip():
                return None  # the next sentence has not begun: a [n] may still come
            if not rest[0].isspace() or rest.lstrip(" \t").startswith("["):
                continue  # "1.5", "e.g.," or an unfinished [n]
            if m.group(0)[0] == "." and is_abbreviation(buf[: m.start() + 1]):
                continue
            return end
        if newline != -1:
            return newline + 1
        return len(buf) if len(buf) >= MAX_SENTENCE_CHARS else None


def split_citations(sentence: str) -> tuple[str, tuple[int, ...]]:
    """'It is done under imaging [1][3].' -> ('It is done under imaging.', (1, 3))."""
    cited = tuple(dict.fromkeys(int(n) for m in _CITATION.finditer(sentence) for n in re.findall(r"\d+", m.group(1))))
    text = _MARKUP.sub("", _CITATION.sub("", sentence))
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", text)).strip()
    return text, cited


def figures(text: str) -> set[tuple[str, str]]:
    """Numbers with their units: '800 mg every 2-3 days' -> {('800', 'mg'), ('2', ''), ('3', 'day')}."""
    found = set()
    for m in _FIGURE.finditer(text.replace("’", "'")):
        number, unit = m.group(1).lower(), (m.group(2) or m.group(3) or "").lower()
        if number in _AMBIGUOUS and not unit:
            continue
        number = _NUMBER_WORDS.get(number, number.replace(",", ""))
        found.add((number, _UNITS.get(unit, unit)))
    return found


class CitationGuard:
    """Judges sentences against the passages one reply was given (numbered from 1)."""

    def __init__(self, passages: list[Chunk], embed: Callable[[list[str]], np.ndarray],
                 is_specific: Callable[[str, bool], bool], is_instruction: Callable[[str], bool],
                 evidence_vectors: Callable[[Chunk, list[str]], np.ndarray] | None = None,
                 support: float = SUPPORT) -> None:
        """``embed``: texts -> unit vectors. ``evidence_vectors(chunk, texts)`` may return cached vectors
        of a passage's evidence texts (default: ``embed``). ``support``: the score a sentence needs."""
        self.passages = passages
        self.support = support
        self.embed = embed
        self.is_specific = is_specific
        self._evidence: dict[int, tuple[list[str], list[int], np.ndarray, int]] = {}
        self._is_instruction = is_instruction
        self._evidence_vectors = evidence_vectors or (lambda chunk, texts: embed(texts))

    def judge(self, raw: str) -> Judgement:
        text, cited = split_citations(raw)
        if not cited:
            if _GAP.search(text):
                return Judgement(text, cited, kept=False, gap=True)
            return Judgement(text, cited, kept=False, reason="no citation")
        if _incomplete(text):
            return Judgement(text, cited, False, "an unfinished sentence")
        outside = [n for n in cited if not 1 <= n <= len(self.passages)]
        if outside:
            return Judgement(text, cited, False, f"cites [{outside[0]}], but there were {len(self.passages)} passages")
        texts = {n: self._evidence_text(n) for n in cited}
        union = " ".join(texts.values())
        missing_figures = sorted(figures(text) - _allowed(figures(union)))
        if missing_figures:
            number, unit = missing_figures[0]
            return Judgement(text, cited, False, f"'{number}{' ' + unit if unit else ''}' is not in the cited passage")
        unknown = self._unnamed(text, union)
        if unknown:
            return Judgement(text, cited, False, f"{', '.join(map(repr, unknown))} "
                             f"{'is' if len(unknown) == 1 else 'are'} not in the cited passage")
        degree = next((w for w in words(text) if w in _DEGREES and _DEGREES[w] not in _degrees(union)), "")
        if degree:
            return Judgement(text, cited, False, f"'{degree}': the cited passage does not say so")
        vector = self.embed([text])[0]
        scored = []
        for n in cited:
            overlap = _overlap(text, texts[n])
            similarity, best = self._similarity(n, vector)
            scored.append(((overlap + similarity) / 2, n, best))
        score, n, best = max(scored)
        negated = _negated(text, _NEGATIONS)
        if negated and not negated & _negated(" ".join(texts[m] for m in cited), _NEGATION_CUES):
            return Judgement(text, cited, False, "adds a negation the passage does not have", score=round(score, 3))
        if score < self.support:
            return Judgement(text, cited, False, f"not supported by the cited passage (score {score:.2f} < "
                             f"{self.support})", score=round(score, 3))
        sources = tuple(m for s, m, _ in sorted(scored, reverse=True) if s >= self.support or m == n)
        evidence = tuple((m, self._best_sentence(m, vector)) for m in sources)
        return Judgement(text, cited, True, sources=sources, evidence=evidence, score=round(score, 3))

    # -- evidence ------------------------------------------------------------------------------------
    def _evidence_text(self, n: int) -> str:
        """Passage ``n``'s heading, title and sentences, without any that reads as an instruction."""
        chunk = self.passages[n - 1]
        kept = [s.text for s in chunk.sentences if not self._is_instruction(s.text)]
        return " ".join([chunk.title, chunk.heading, *kept])

    def _units(self, n: int) -> tuple[list[str], list[int], np.ndarray, int]:
        """Passage ``n``'s evidence units — each sentence, then each pair of adjacent ones — the sentence
        number each starts at, their vectors, and how many single sentences come first."""
        if n not in self._evidence:
            chunk = self.passages[n - 1]
            sentences = [(i, s.text) for i, s in enumerate(chunk.sentences) if not self._is_instruction(s.text)]
            pairs = [(i, f"{a} {b}") for (i, a), (j, b) in zip(sentences, sentences[1:]) if j == i + 1]
            texts = [t for _, t in sentences + pairs]
            owners = [i for i, _ in sentences + pairs]
            vectors = self._evidence_vectors(chunk, texts) if texts else np.zeros((0, 1), dtype=np.float32)
            self._evidence[n] = (texts, owners, vectors, len(sentences))
        return self._evidence[n]

    def _similarity(self, n: int, vector: np.ndarray) -> tuple[float, str]:
        texts, _, vectors, _ = self._units(n)
        if not texts:
            return 0.0, ""
        sims = vectors @ vector
        return float(sims.max()), texts[int(sims.argmax())]

    def _best_sentence(self, n: int, vector: np.ndarray) -> int:
        _, owners, vectors, singles = self._units(n)
        return owners[int((vectors[:singles] @ vector).argmax())] if singles else 0

    def _unnamed(self, text: str, evidence: str) -> list[str]:
        """The named things of ``text`` that ``evidence`` does not contain."""
        capitalised = {m.group(1).lower() for m in re.finditer(r"(?<=[a-z,;:] )([A-Z][a-z]{2,})", text)}
        acronyms = set(re.findall(r"\b[A-Z]{2,6}\b", text))
        said = set(words(evidence))
        have = {stem(w) for w in said}
        # an abbreviation names one thing (a test, a drug, a body): "CT", "PT", "NSAID" must be in the passage
        missing = [a for a in sorted(acronyms) if a.lower() not in said]
        for word in dict.fromkeys(words(text)):
            if word.upper() in acronyms:
                continue
            named = word in capitalised or zipf(word) < NAMED_ZIPF
            if len(word) < 3 or word.isdigit() or not named or not self.is_specific(word, word in capitalised):
                continue
            s = stem(word)
            if s not in have and not any(related(s, h) for h in have):
                missing.append(word)
        return missing


def _incomplete(text: str) -> bool:
    """A sentence that stops where it cannot: on an article, preposition, conjunction or linking verb
    ("... the key factors are."), or a linking verb with nothing after it ("The training is, which ...").
    Small models write these; they read as claims they never finish."""
    tokens = words(text)
    return bool(tokens) and (tokens[-1] in _CANNOT_END or bool(_BARE_LINK.search(text)))


def _allowed(passage_figures: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """A passage's figures, and each of its numbers without a unit ('three types' allows '3')."""
    return passage_figures | {(n, "") for n, _ in passage_figures}


def _overlap(text: str, passage: str) -> float:
    stems = content_stems(text)
    if not stems:
        return 0.0
    have = set(content_stems(passage))
    return sum(1.0 if s in have else DERIVED if any(related(s, h) for h in have) else 0.0 for s in stems) / len(stems)


def _negated(text: str, cues: frozenset[str] | set[str]) -> set[str]:
    """Stems of the content words a negation applies to (the next ``NEGATION_SCOPE`` after each cue):
    'they do not use imaging' -> {'use', 'imag'}."""
    tokens = words(_NOT_ONLY.sub(" ", text))
    out: set[str] = set()
    for i, w in enumerate(tokens):
        if w in cues:
            out |= {stem(t) for t in tokens[i + 1 : i + 1 + NEGATION_SCOPE] if t not in STOPWORDS or t in cues}
    return out - {stem(c) for c in cues}


def _degrees(text: str) -> set[str]:
    return {_DEGREES[w] for w in words(text) if w in _DEGREES}


class EvidenceVectors:
    """Vectors of passages' evidence texts, embedded once per process and shared by every guard
    (keyed by chunk id, a hash of the chunk's content, so a new index build cannot mix them up)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], limit: int = 50_000) -> None:
        self.embed = embed
        self.limit = limit
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, chunk: Chunk, texts: list[str]) -> np.ndarray:
        keys = [(chunk.id, t) for t in texts]
        with self._lock:
            have = {k: self._vectors[k] for k in keys if k in self._vectors}
        missing = [k for k in keys if k not in have]
        if missing:
            have.update(zip(missing, self.embed([t for _, t in missing])))
            with self._lock:
                if len(self._vectors) > self.limit:
                    self._vectors.clear()
                self._vectors.update((k, have[k]) for k in missing)
        return np.array([have[k] for k in keys])


def judge_all(guard: CitationGuard, sentences: Iterable[str]) -> GuardReport:
    """Every sentence judged (for a reply that is already complete)."""
    report = GuardReport()
    for s in sentences:
        report.add(guard.judge(s))
    return report
