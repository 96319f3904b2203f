"""The answer generator: by default extractive, quoting the source sentences that answer.

No language model fit for patients runs offline here, so the default generator *selects*
sentences from the retrieved passages and quotes them verbatim (a leading connective such as
"However," may be trimmed). It is a LangChain ``Runnable`` taking a ``GenerationInput`` and
returning a list of ``Quote``s; any Runnable with that contract can replace it (pass it to
``build_chain(generator=...)``; abstention, citations and the safety checks stay in the chain).

Sentence score = 0.55 * cosine(question, sentence) (for a follow-up, the mean over the searched
and the asked form) + 0.35 * idf-weighted share of the question's focus words found in the sentence
+ 0.10 * share found in the passage's heading + a bonus for the kind of answer asked for (people for
"who", causes for "why"); a sentence the previous answer already gave scores less. The best sentence
is taken, then the best sentence for each focus word the grounding step found but the answer does
not yet contain, then any other sentence scoring within ``KEEP_RATIO`` of the best.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from assistant.grounding import Coverage, Lexicon
from assistant.index import Index
from assistant.retrieve import Passage
from assistant.text import stem, words

KEEP_RATIO = 0.74  # keep further sentences scoring at least this share of the best one
EVIDENCE_RATIO = 0.5  # a sentence added to cover a focus word must score at least this share
LIST_RATIO = 0.3  # a list question also takes its section's sentences scoring this share of the best
TOPIC_WEIGHT = 0.3  # a document's topic word ("kyphoplasty") counts this much in the lexical score
SYNONYM_CREDIT = 0.5  # a lay synonym of a focus word ("doctor" -> "specialist") counts this much
CARRIED_WEIGHT = 0.4  # a word carried over from an earlier turn counts this much
REPEAT_FACTOR = 0.6  # a sentence the previous answer already gave scores this share
ANSWER_TYPE_BONUS = 0.25  # a sentence of the kind the question asks for (people for "who", ...), 3 mentions
_CONNECTIVE = re.compile(
    r"^(however|also|additionally|in addition|furthermore|moreover|in fact|therefore|thus|"
    r"as a result|consequently|indeed|finally|similarly|likewise|instead|meanwhile|and|but|so),\s+",
    re.I,
)


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
    question: str  # as searched: a follow-up carries words of earlier turns
    asked: str  # as the patient typed it (its words weigh more than carried ones)
    said: str  # the assistant's previous answer: repeating it scores lower
    passages: list[Passage]
    coverage: Coverage
    query_vector: np.ndarray  # the searched question; a second row, if any, is the question as asked


class ExtractiveGenerator(Runnable[GenerationInput, list[Quote]]):
    """Quotes the sentences of the passages that best answer the question."""

    def __init__(self, index: Index, lexicon: Lexicon, question_types: dict[str, dict[str, str]],
                 topic_stems: set[str], max_sentences: int = 4) -> None:
        self.index = index
        self.lexicon = lexicon
        self.max_sentences = max_sentences
        self.topic_stems = topic_stems
        self.types = {name: (re.compile(t["question"], re.I), re.compile(t["answer"], re.I) if t["answer"] else None)
                      for name, t in question_types.items()}
        n = max(len(index.sentence_stems), 1)
        df: dict[str, int] = {}
        for stems in index.sentence_stems.values():
            for s in stems:
                df[s] = df.get(s, 0) + 1
        self._idf = {s: math.log(1 + n / d) for s, d in df.items()}
        self._default_idf = math.log(1 + n)

    def invoke(self, input: GenerationInput, config: RunnableConfig | None = None, **kwargs: Any) -> list[Quote]:
        passages, coverage = input["passages"], input["coverage"]
        scored = self.score(input["question"], passages, input["query_vector"], coverage,
                            asked=input.get("asked"), said=input.get("said", ""))
        if not scored:
            return []
        best = scored[0][0]
        chosen: list[tuple[str, int]] = [scored[0][1]]
        score_of = {key: s for s, key in scored}
        for word in coverage.covered:  # make sure each covered word is in the answer
            keys = coverage.evidence.get(word, [])
            if any(k in chosen for k in keys):
                continue
            good = [k for k in keys if score_of.get(k, 0.0) >= EVIDENCE_RATIO * best]
            if good and len(chosen) < self.max_sentences:
                chosen.append(max(good, key=lambda k: score_of[k]))
        for s, key in scored[1:]:
            if len(chosen) >= self.max_sentences or s < KEEP_RATIO * best:
                break
            if key not in chosen:
                chosen.append(key)
        if self.types["list"][0].search(input["question"]):
            chosen = self._complete_list(chosen, scored, best)
        if self.types["definition"][0].search(input["question"]):
            chosen = chosen[:2]
        return self._order(chosen, passages, score_of)

    def _complete_list(self, chosen: list[tuple[str, int]], scored: list, best: float) -> list[tuple[str, int]]:
        """A list question ("what should I ask?") gets the other items of its section too."""
        section = self.index.chunk(chosen[0][0])
        same = {c.id for c in self.index.chunks if (c.source, c.section) == (section.source, section.section)}
        extra = [key for s, key in scored if key[0] in same and key not in chosen and s >= LIST_RATIO * best]
        return (chosen + extra)[: self.max_sentences + 1]

    def score(self, question: str, passages: list[Passage], query_vector: np.ndarray,
              coverage: Coverage, asked: str | None = None, said: str = "") -> list[tuple[float, tuple[str, int]]]:
        asked_stems = {stem(w) for w in words(asked)} if asked else None
        # each focus word: (its weight, its stem, its lay synonyms); a synonym earns SYNONYM_CREDIT
        # of the word's weight, and a word counts once however many of its synonyms a sentence has
        focus = []
        for w in coverage.focus:
            s = stem(w)
            weight = self._weight(s) * (TOPIC_WEIGHT if s in self.topic_stems else 1.0)
            if asked_stems is not None and s not in asked_stems:
                weight *= CARRIED_WEIGHT
            focus.append((weight, s, frozenset(self.lexicon.stems_for(w) - {s})))
        total = sum(weight for weight, _, _ in focus) or 1.0

        def share(stems: frozenset[str] | set[str]) -> float:
            return sum(weight if s in stems else SYNONYM_CREDIT * weight if synonyms & stems else 0.0
                       for weight, s, synonyms in focus) / total

        wanted = [rx for name, (q, rx) in self.types.items() if rx is not None and q.search(question)]
        scored, seen_text = [], set()
        for p in passages:
            heading_share = share({stem(w) for w in words(p.chunk.heading)})
            for n, sentence in enumerate(p.chunk.sentences):
                if sentence.text in seen_text:
                    continue
                seen_text.add(sentence.text)
                stems = self.index.sentence_stems[(p.chunk.id, n)]
                lexical = share(stems)
                vector = self.index.sentence_vectors[(p.chunk.id, n)]
                semantic = float(np.mean(np.atleast_2d(query_vector) @ vector))
                score = 0.55 * semantic + 0.35 * min(lexical, 1.0) + 0.10 * min(heading_share, 1.0)
                score += ANSWER_TYPE_BONUS * sum(min(len(rx.findall(sentence.text)), 3) / 3 for rx in wanted)
                if said and sentence.text[1:] in said:
                    score *= REPEAT_FACTOR
                scored.append((score, (p.chunk.id, n)))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return scored

    def _weight(self, s: str) -> float:
        return self._idf.get(s, self._default_idf)

    def _order(self, chosen: list[tuple[str, int]], passages: list[Passage],
               score_of: dict[tuple[str, int], float]) -> list[Quote]:
        """Group by passage (best passage first), in the source's order within a passage."""
        rank = {p.chunk.id: i for i, p in enumerate(passages)}
        best_in = {}
        for key in chosen:
            best_in[key[0]] = max(best_in.get(key[0], -1.0), score_of[key])
        ordered = sorted(chosen, key=lambda k: (-best_in[k[0]], rank[k[0]], k[1]))
        return [self.quote(self.index.chunk(cid), n) for cid, n in ordered]

    @staticmethod
    def quote(chunk: Any, n: int) -> Quote:
        sentence = chunk.sentences[n]
        offset = sentence.start - chunk.start
        start = chunk.text.find(sentence.text)  # chunk text joins sentences with single spaces
        if start < 0:
            start = offset
        text = sentence.text
        trimmed = _CONNECTIVE.sub("", text)
        if trimmed != text and trimmed:
            start += len(text) - len(trimmed)
            text = trimmed[0].upper() + trimmed[1:]
        return Quote(text, chunk.id, n, start, start + len(text))
