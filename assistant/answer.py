"""The answer generator: by default extractive, quoting the source sentences that answer.

No language model fit for patients runs offline here, so the default generator *selects* sentences
and quotes them verbatim (a leading connective such as "However," may be trimmed). For each answered
part of the question (see ``grounding.py``), in the order they were asked:

1. the sentence the ranker scores highest comes first — it answers the part;
2. a sentence that cannot stand alone ("It involves injecting bone cement ...") is preceded by the
   sentence it refers to when that one answers nearly as well, and a sentence that continues the
   chosen one comes right after it;
3. further sentences follow while they score at least ``KEEP_RATIO`` of the best and the threshold,
   up to the limit (fewer for a definition, more for a list question such as "what should I ask?");
   a sentence of the best one's passage that gives the kind of answer asked for (its cue words: a
   cause for "what causes…?") needs only ``LIST_KEEP_RATIO``, so the key sentence after a general
   one is not dropped. In a library they come from the best sentence's page (another page only when
   the question names it), and when the best sentence's section gives the kind of answer asked for
   (a "Treatment" section for "how is it treated?"), from sections of that kind;
4. never a question of the source's own ("What are the symptoms of X?"), never the same sentence
   twice, nor one that repeats a chosen one; a sentence the previous answer already gave scores
   less when the patient asks for more ("what else?"), and more when they ask to hear it again
   ("what was that about X?").

It is a LangChain ``Runnable`` taking a ``GenerationInput`` and returning ``Quote``s; any Runnable
with that contract can replace it (``build_chain(generator=...)``): abstention, citations and the
safety checks stay in the chain.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from assistant.grounding import Coverage, PartResult
from assistant.index import Index
from assistant.question import Part, Question
from assistant.ranker import Candidate
from assistant.retrieve import Passage
from assistant.rewrite import lead_sentence, list_items
from assistant.text import content_words, stem

KEEP_RATIO = 0.75  # further sentences must score at least this share of the best one
LIST_KEEP_RATIO = 0.5  # "what should I ask?" wants the whole list: more of the section's sentences qualify
REPEAT_FACTOR = 0.6  # a sentence the previous answer already gave scores this share
EXCLUDED_FACTOR = 0.3  # "apart from X": a sentence naming X scores this share (below a repeat's: they know it)
ANTECEDENT_RATIO = 0.8  # a sentence "It ..." refers to comes first when it scores at least this share
ADDITIVE_FACTOR = 1.2  # "any others?": a sentence that adds one ("also", "another") scores this much more
NEAR_DUPLICATE = 0.8  # a sentence sharing this share of its words with a chosen one repeats it
OWN_WORD = 0.3  # an asked word this weighty says what a part asks (``question``: below it, a part refers back)
LIMITS = {"definition": 2, "advice": 5}  # sentences for these question types (others: max_sentences)
_CONNECTIVE = re.compile(
    r"^(however|also|additionally|in addition|furthermore|moreover|in fact|therefore|thus|"
    r"as a result|consequently|indeed|finally|similarly|likewise|instead|meanwhile|and|but|so),\s+",
    re.I,
)
_ADDITIVE = re.compile(r"\b(also|another|other|additionally|in addition|as well)\b", re.I)
_NEEDS_BEFORE = re.compile(r"^\W*(it|its|they|their|them|this|these|those|such|he|she|his|her|each)\b", re.I)


@dataclass(frozen=True)
class Quote:
    """One answer sentence and where it comes from."""

    text: str  # as shown to the reader
    chunk_id: str
    sentence: int  # sentence number within the chunk, -1 if not a verbatim sentence
    start: int  # offset of the quoted text in the chunk's text, -1 if not verbatim
    end: int


def highlight_html(text: str, quotes: list[dict]) -> str:
    """A passage as escaped HTML with its quoted spans (``start``/``end`` offsets) in ``<mark>``."""
    out, pos = [], 0
    for q in sorted(quotes, key=lambda q: q["start"]):
        if q["start"] < pos or q["start"] < 0:
            continue
        out += [html.escape(text[pos : q["start"]]), "<mark>", html.escape(text[q["start"] : q["end"]]), "</mark>"]
        pos = q["end"]
    return "".join(out) + html.escape(text[pos:])


class GenerationInput(TypedDict, total=False):
    question: Question
    coverage: Coverage
    passages: list[Passage]  # every retrieved passage, best first
    query_vector: np.ndarray


class ExtractiveGenerator(Runnable[GenerationInput, list[Quote]]):
    """Quotes the sentences of the passages that best answer each answered part."""

    def __init__(self, index: Index, threshold: float, max_sentences: int = 4) -> None:
        self.index = index
        self.threshold = threshold
        self.max_sentences = max_sentences

    def invoke(self, input: GenerationInput, config: RunnableConfig | None = None, **kwargs: Any) -> list[Quote]:
        return self._call_with_config(self._generate, input, config)

    def _generate(self, input: GenerationInput) -> list[Quote]:
        question, coverage = input["question"], input["coverage"]
        # a part that asks nothing of its own ("Is that normal?" after a story) comes after one that does
        # ("... Who usually does these?"): that one says what the patient wants to know
        answered = sorted((r for r in coverage.parts if r.covered and r.scored), key=lambda r: not _asks_own(r.part))
        chosen: list[tuple[str, int]] = []
        # "any others?": what the last answer led with was given; the rest of it may hold the others
        given = lead_sentence(question.previous) if question.others else question.previous
        for result in answered:
            limit = self._limit(result, len(answered))
            chosen += self.select(result, given, limit, taken=chosen, recall=question.recall,
                                  more=question.more, listed=question.listed, others=question.others,
                                  excluded=question.excluded)
        return [self.quote(self.index.chunk(cid), n) for cid, n in chosen]

    def _limit(self, result: PartResult, parts: int) -> int:
        limits = [LIMITS[t] for t in result.part.types if t in LIMITS]
        limit = max(limits) if limits else self.max_sentences
        return limit if parts == 1 else max(2, min(limit, self.max_sentences // parts + 1))

    def select(self, result: PartResult, previous: str, limit: int,
               taken: list[tuple[str, int]] = (), recall: bool = False, more: bool = False,
               listed: tuple[str, ...] = (), others: bool = False,
               excluded: frozenset[str] = frozenset()) -> list[tuple[str, int]]:
        repeat = 1.0 / REPEAT_FACTOR if recall else REPEAT_FACTOR if more else 1.0
        asked = {t.stem for t in result.part.asked_terms}
        named = {stem(w) for item in listed for w in content_words(item)}

        def weight(c: Candidate) -> float:
            if listed and sum(item.lower() in c.text.lower() for item in listed) >= 2 and not (asked - named) & c.stems:
                return REPEAT_FACTOR  # "the second one": the sentence listing them all says nothing more about it
            if excluded and excluded <= c.stems and not _lists_others(c.text, excluded):
                return EXCLUDED_FACTOR  # "what else apart from osteoporosis?": a sentence about it is known already
            if previous and c.text[1:] in previous and not (recall and asked and not asked & c.stems):
                return repeat  # "what did you say about X?": what was said about X, not the rest
            if (others or excluded) and _ADDITIVE.search(c.text):
                return ADDITIVE_FACTOR  # "any others?": "these can also result from ..." gives another
            return 1.0

        scored = [(p * weight(c), c) for p, c in result.scored]
        scored.sort(key=lambda x: -x[0])
        best = scored[0][0]
        floor = (LIST_KEEP_RATIO if "advice" in result.part.types else KEEP_RATIO) * best
        by_key = {(c.chunk_id, c.n): c for _, c in result.scored}
        score_of = {(c.chunk_id, c.n): p for p, c in scored}
        chosen: list[tuple[str, int]] = []
        texts = [self.index.chunk(cid).sentences[n].text for cid, n in taken]
        lead = scored[0][1].chunk_id
        lead_title = self.index.chunk(lead).title
        asked_words = {t.word for t in result.part.terms}
        asked_stems = {stem(w) for w in asked_words}
        kinds, lead_kinds = set(result.part.types), set(scored[0][1].heading_types)
        for p, c in scored:
            if len(chosen) >= limit:
                break
            title = self.index.chunk(c.chunk_id).title
            if title != lead_title and not _names_page(title, asked_words, asked_stems):
                continue  # a library's other pages ("Restless legs" for a question on "PAD") only when asked about
            if kinds & lead_kinds and not kinds & set(c.heading_types):
                continue  # the best section gives the kind asked for ("Treatment"): so do the others quoted
            if c.text.rstrip().endswith("?"):
                continue  # a question in the source ("What are the symptoms of X?") answers nothing
            if p < floor and not (c.chunk_id == lead and (c.chunk_id, c.n) in result.typed and p >= LIST_KEEP_RATIO * best):
                continue  # weaker, unless the best passage goes on with the kind of answer asked for
            group = [(c.chunk_id, c.n)]
            before = (c.chunk_id, c.n - 1)
            if (_NEEDS_BEFORE.match(c.text) and before in by_key and score_of[before] >= ANTECEDENT_RATIO * p
                    and not _NEEDS_BEFORE.match(by_key[before].text)):
                # "It involves ..." after what "it" is, when that answers nearly as well; a sentence that needs
                # one itself ("Their training ..." before "They are skilled ...") does not say what "they" are
                group.insert(0, before)
            nxt = (c.chunk_id, c.n + 1)
            if nxt in by_key and (_NEEDS_BEFORE.match(by_key[nxt].text) or c.text.rstrip().endswith(":")):
                group.append(nxt)  # the sentence that completes this one comes along
            for key in group:
                text = self.index.chunk(key[0]).sentences[key[1]].text
                if (key in chosen or key in taken or _repeats(text, texts) or len(chosen) >= limit + 1
                        or text.rstrip().endswith("?")):
                    continue
                chosen.append(key)
                texts.append(text)
        return chosen

    @staticmethod
    def quote(chunk: Any, n: int) -> Quote:
        sentence = chunk.sentences[n]
        start = chunk.text.find(sentence.text)  # chunk text joins sentences with single spaces
        if start < 0:
            start = sentence.start - chunk.start
        text = sentence.text
        trimmed = _CONNECTIVE.sub("", text)
        if trimmed != text and trimmed:
            start += len(text) - len(trimmed)
            text = trimmed[0].upper() + trimmed[1:]
        return Quote(text, chunk.id, n, start, start + len(text))


def _asks_own(part: Part) -> bool:
    """The part asks something in its own words: a kind of answer ("who", "cause") or a word of its own."""
    return bool(part.types) or any(t.weight >= OWN_WORD for t in part.asked_terms)


def _names_page(title: str, asked: set[str], asked_stems: set[str]) -> bool:
    """The question names the page: a word of its title ("dystonia" for "Dystonias") or its initials
    ("PAD" for "Peripheral Artery Disease")."""
    title_stems, initials = _title_names(title)
    return bool(title_stems & asked_stems) or initials in asked


@lru_cache(maxsize=4096)
def _title_names(title: str) -> tuple[frozenset[str], str]:
    """A page title's word stems and, for a title of two words or more, its initials."""
    title_words = content_words(title)
    return frozenset(stem(w) for w in title_words), "".join(w[0] for w in title_words) if len(title_words) >= 2 else ""


def _lists_others(text: str, excluded: frozenset[str]) -> bool:
    """The sentence lists things besides the excluded one ("... are Interventional Radiologists, Orthopedic
    Spine Surgeons, and Neurosurgeons" for "who does it besides neurosurgeons?"): it still answers."""
    return any(not {stem(w) for w in content_words(item)} & excluded for item in list_items(text))


def _repeats(text: str, chosen: list[str]) -> bool:
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    if not words:
        return True
    for other in chosen:
        theirs = set(re.findall(r"[a-z0-9]+", other.lower()))
        if text == other or len(words & theirs) / len(words) >= NEAR_DUPLICATE:
            return True
    return False


__all__ = ["Candidate", "ExtractiveGenerator", "GenerationInput", "Quote", "highlight_html"]
