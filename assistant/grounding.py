"""Decide, for each part of a question, whether the corpus answers it — and say plainly what it lacks.

Not every word of a message must be in the source (a story around the question is not a question),
and a raw similarity floor cannot tell "how much does kyphoplasty cost?" from a covered question
either. A part is answered unless one of these holds:

1. **A named thing is absent** from the whole corpus: a specific term of the part itself (a drug,
   another procedure, an insurer, another condition; see ``Analyzer.is_specific``) that no corpus
   word matches by stem, word family or spelling. Note: "does not mention vertebroplasty".
2. **Nothing answers it**: the ranker's best probability over the retrieved sentences is below its
   calibrated threshold, or — in a one-topic corpus, where every passage is about the same thing —
   no sentence holds a fair share of the part's own words (or their clinical names,
   ``prompts/lay_terms.yaml``) while the ranker is not confident either. The limits are calibrated
   and stored in ``models/ranker.json``. Note: "does not say whether you will
   be put to sleep". In a one-topic corpus the best sentence must also speak to what is asked,
   not only share its subject ("Can the cement leak out?" against "It involves injecting bone
   cement..."): ``answerability.py``. That model judges self-contained one-part questions; a part of
   a multi-part message is not answered when its weightiest own word is nowhere in the corpus
   ("Where is it done, and can the cement dissolve?").
   The same holds for any part whose "which"/"what" asks for a kind of thing the corpus never
   names, by a word as weighty ("Which painkillers am I allowed?", "what brace will I need?"): the
   answer would have to name one.
3. **The answer type is missing** (a price, a duration, a figure, a ranking; ``needs`` in
   ``prompts/question_types.yaml``) and the retrieved sentences that answer best hold no such
   statement. For figures (``partial``), when those sentences still answer the rest of the part
   (the answerability model says so; without it, the ranker is confident), they are quoted, a
   sentence that speaks of the figures without giving them first ("ask about the number of
   procedures performed"), and the note says what is missing ("does not give figures or
   percentages"); otherwise the part is not answered.

Verdicts for the whole message: ``answer`` (every part answered), ``partial`` (some parts, or a
part without its figures), ``not_covered`` (on the corpus's subject, not answered there),
``off_topic`` (nothing of it is in the corpus), ``unclear`` (no question to answer).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from assistant.answerability import WEIGHTY, YES_NO, Answerability, Evidence, evidence, unmatched
from assistant.index import Index
from assistant.question import STORY_TERM_WEIGHT, Part, Question, Term, in_vocabulary, specificity
from assistant.ranker import FEATURES, Candidate, Cues, Ranker, features, match_share, term_weights
from assistant.restate import can_be_noun, names_no_thing
from assistant.retrieve import Passage
from assistant.text import STOPWORDS, content_words, near_function_word, root, stem, words

TOPIC_SHARE = 0.8  # a stem in at least this share of all chunks is the corpus's topic ("kyphoplasty")
SILENT_WORD = 0.9  # an own word this weighty that the corpus never uses leaves a part of several unanswered
CONFIDENT = 0.6  # no answerability model: quote an answer lacking the asked-for figures when the ranker is this sure
# the noun a "which"/"what" asks for: "which painkillers", "what kind of brace"
_ASKED_NOUN = re.compile(r"\b(?:which|what)\s+(?:(?:kinds?|types?|sorts?)\s+of\s+)?([a-z]+)\b", re.I)
# a part comparing the story's things ("...vertebroplasty and kyphoplasty. What's the difference between the two?")
_COMPARING = re.compile(r"\b(?:diff\w*|compar\w*|versus|vs|the two|both|either)\b", re.I)
# kinds of answer that describe the subject itself (what it is, what it is called, who does it, where, how it is
# done): a drug or condition of the story does not change them, as it may change causes, treatments or risks
SUBJECT_KINDS = frozenset({"definition", "name", "who", "where", "procedure"})
NEED_WINDOW = 0.5  # sentences scoring at least this share of the best are searched for the needed statement
OFF_TOPIC_COS = 0.25  # below this best passage similarity, with no corpus word asked, a message is off-topic


@dataclass
class PartResult:
    """One part of a question, with the sentences that may answer it and the verdict."""

    part: Part
    passages: list[Passage]
    scored: list[tuple[float, Candidate]]  # best first
    covered: bool = False
    absent: tuple[str, ...] = ()  # named things the corpus does not contain
    unmet: tuple[str, ...] = ()  # kinds of statement asked for and not found ("what it costs")
    best: float = 0.0  # the ranker's best probability
    words_found: float = 0.0  # the largest share of the part's words (or their clinical names) in one sentence
    labels: dict[str, str] = field(default_factory=dict)  # plain words for each kind of need
    fetched: list[Passage] = field(default_factory=list)  # every passage searched
    typed: frozenset = frozenset()  # (chunk id, sentence) of candidates with cue words of the asked answer type
    silent: bool = False  # not answered because the other side of its comparison is not: no note of its own
    aside: tuple[str, ...] = ()  # named things of the story the corpus lacks, for a part answered without them
    vector: np.ndarray | None = None  # the part as searched, without the corpus's topic words
    evidence: Evidence | None = None  # what the answerability model read (one-topic corpora)

    @property
    def note(self) -> str:
        """What the source does not cover, in words for the note ('' when fully answered)."""
        if self.silent:
            return ""
        if self.absent:
            things = [w for w in self.absent if not names_no_thing(w)]  # "cured", "droopy": no thing to mention
            if not things and self.part.restated:
                return "say " + self.part.restated
            # as written in the part or in the story before it (what was searched only lists the words)
            return "mention " + _join(_as_written(things or self.absent, f"{self.part.text} {self.part.told}"))
        if not self.covered:
            if self.part.restated:
                return "say " + self.part.restated
            labels = [self.labels[n] for n in self.part.needs if n in self.labels]
            return "cover " + _join(labels) if labels else "cover that part of your message"
        if self.unmet:
            return "give " + _join(self.unmet)
        if self.aside:  # "He had a stroke. Is it done as a day case?": answered, and the stroke is not in the source
            return "mention " + _join(self.aside)
        return ""


@dataclass(frozen=True)
class Coverage:
    verdict: str
    parts: tuple[PartResult, ...] = ()
    notes: tuple[str, ...] = ()  # "mention vertebroplasty", "say how long recovery is"
    missing: tuple[str, ...] = field(default=())  # the named things and needs, for the result dict

    @property
    def answerable(self) -> bool:
        return self.verdict in ("answer", "partial")


class Grounder:
    """Scores candidate sentences with the ranker and decides coverage, for one index."""

    def __init__(self, index: Index, cues: Cues, ranker: Ranker,
                 embed: Callable[[list[str]], np.ndarray] | None = None,
                 search: Callable[[Part, int], PartResult] | None = None) -> None:
        self.index = index
        self.embed = embed  # for the answerability model's "drop the word and look again"; None: that feature is 0
        self.search = search  # (part, passages to keep) -> it retrieved and scored: a part searched again read alone
        self.cues = cues
        self.ranker = ranker
        self.corpus_stems = frozenset(s for stems in index.chunk_stems.values() for s in stems)
        self.corpus_roots = frozenset(root(s) for s in self.corpus_stems)
        self.topic_stems = topic_stems(index)
        sources = {c.source for c in index.chunks}
        self.one_topic = bool(self.topic_stems) or len(sources) == 1  # a guide about one thing, not a library
        self.threshold = ranker.threshold_for(self.one_topic)
        self.order = ranker.order_for(self.one_topic)
        self.answerability = Answerability.from_meta(ranker.meta) if self.one_topic else None
        self._candidates: dict[str, list[Candidate]] = {}

    # -- evidence ----------------------------------------------------------------------------------
    @cached_property
    def rarity(self) -> dict[str, float]:
        """Each corpus stem's inverse sentence frequency, 0..1 (1: in one sentence; 0: in all). A word in
        most sentences of the guide ("fracture") says little about which of them answers."""
        df = Counter(s for stems in self.index.sentence_stems.values() for s in stems)
        n = len(self.index.sentence_stems) + 1
        return {s: math.log(n / k) / math.log(n) for s, k in df.items()}

    def candidates(self, passages: list[Passage]) -> list[Candidate]:
        out: list[Candidate] = []
        for p in passages:
            cached = self._candidates.get(p.chunk.id)
            if cached is None:
                cached = self._candidates[p.chunk.id] = self._chunk_candidates(p.chunk)
            out += [Candidate(**{**c.__dict__, "passage_cos": p.dense}) for c in cached]
        return out

    def _chunk_candidates(self, chunk) -> list[Candidate]:
        ix = self.index
        heading_types = self.cues.heading_types(chunk.heading) if chunk.section else ()
        return [Candidate(chunk.id, n, s.text, ix.sentence_stems[(chunk.id, n)], ix.sentence_vectors[(chunk.id, n)],
                          0.0, ix.context_stems[chunk.id], ix.chunk_stems[chunk.id], ix.title_stems[chunk.id],
                          heading_types, ix.position[(chunk.id, n)])
                for n, s in enumerate(chunk.sentences)]

    def score(self, part: Part, vector: np.ndarray, passages: list[Passage]) -> PartResult:
        """Each candidate sentence's probability of answering (the ranker) and the order to quote
        them in (``order_scores``)."""
        cands = self.candidates(passages)
        x = features(part, vector, cands, self.cues, self.topic_stems)
        probs = self.ranker.probabilities(x)
        if not cands:
            return PartResult(part, passages, [], fetched=passages, labels=self.cues.labels)
        need = need_shares(self, part, cands)
        order = order_scores(x, probs, need, self.order, defining="definition" in part.types)
        order = order + _spells_out(part, cands, lead=None if self.one_topic else cands[int(np.argmax(order))].chunk_id)
        order = order + _speaks_of_need(part, cands, self.cues)
        scored = sorted(zip(order.tolist(), cands), key=lambda s: (-s[0], s[1].chunk_id, s[1].n))
        typed = frozenset((c.chunk_id, c.n) for c, t in zip(cands, x[:, FEATURES.index("type_answer")]) if t > 0)
        return PartResult(part, passages, scored, best=float(probs.max()), typed=typed, vector=vector,
                          words_found=float(x[:, FEATURES.index("lex")].max()), fetched=passages, labels=self.cues.labels)

    def without_topic(self, text: str) -> str:
        """The text without the corpus's topic words ("how much does kyphoplasty cost" -> "how much does
        cost"): in a one-topic corpus they match every sentence and say nothing about which one answers."""
        if not self.topic_stems:
            return text
        kept = [w for w in text.split() if stem(re.sub(r"\W", "", w.lower())) not in self.topic_stems]
        remaining = [w for w in kept if re.sub(r"\W", "", w.lower()) not in STOPWORDS]
        return " ".join(kept) if remaining and len(kept) < len(text.split()) else text

    # -- the decision -----------------------------------------------------------------------------
    def absent(self, part: Part) -> tuple[str, ...]:
        """Named things of the part that no corpus word matches (stem, word family). A word one
        letter from a function word ("dose" for "does") may be a typo of it, so it is no evidence; a
        word that asks for one of the part's needs ("what percentage ...?") is the need, named in its note."""
        asking = [self.cues.asks_for[n] for n in part.needs]
        return tuple(t.word for t in part.specific if not near_function_word(t.word) and not self.in_corpus(t)
                     and not any(rx.search(t.word) for rx in asking))

    def asked_for_absent(self, part: Part) -> tuple[str, ...]:
        """The noun a "which"/"what" asks for, when it is as weighty as a part's key word (``SILENT_WORD``)
        and the corpus has it nowhere (``lacking``)."""
        nouns = {m.group(1).lower() for m in _ASKED_NOUN.finditer(part.text)}
        return tuple(w for w, weight in self.lacking(part) if w in nouns and weight >= SILENT_WORD and can_be_noun(w))

    def in_corpus(self, term: Term) -> bool:
        """Some corpus word matches the term by stem or word family, or is one of its clinical names."""
        return in_vocabulary(term, self.corpus_stems, self.corpus_roots)

    def lacking(self, part: Part) -> list[tuple[str, float]]:
        """The part's own weighty words (with their weights) that the corpus has nowhere."""
        return [(t.word, t.weight) for t in part.terms if not t.carried and not t.kind and t.weight >= WEIGHTY
                and not self.in_corpus(t) and unmatched(t.word, self.corpus_stems, self.corpus_roots)]

    def evidence(self, result: PartResult) -> Evidence:
        """What the answerability model reads about a scored part (``answerability.evidence``)."""
        part = result.part
        return evidence(part, self.without_topic(part.search), result.vector, result.scored[0][1].vector,
                        result.best, result.words_found, self.lacking(part), self.embed)

    def decide(self, result: PartResult, judge: bool = True, one_of_several: bool = False) -> PartResult:
        """Whether the corpus answers the part (the module docstring's rules, in order). ``judge``:
        also ask the answerability model, which was calibrated on self-contained one-part questions;
        ``one_of_several``: a part of a multi-part message, which the model does not judge."""
        part = result.part
        result.absent = self.absent(part)
        if result.absent:
            return self._without_story_things(result, judge, one_of_several)
        result.absent = self.asked_for_absent(part)
        if result.absent:
            return result  # "which painkillers ...?": the answer would name one, and the corpus names none
        if result.best < self.threshold:
            return result  # nothing retrieved is likely to answer
        if self.one_topic and result.words_found < self.ranker.min_words_found and result.best < self.ranker.confident:
            return result  # no sentence says any of it, and the ranker is not sure
        top = [c for p, c in result.scored if p >= NEED_WINDOW * result.best][:5]
        unmet = [n for n in part.needs if not any(self.cues.evidence[n].search(c.text) for c in top)]
        judged = self.answerability is not None and judge
        if unmet and ((result.best < CONFIDENT and not judged) or any(n not in self.cues.partial for n in unmet)):
            return result  # a price, a duration or a ranking asked for and not there: not answered
        if self.one_topic and one_of_several and any(w >= SILENT_WORD for _, w in self.lacking(part)):
            return result  # one part of several whose key word the source never uses ("...and will she need a brace?")
        if judged:
            result.evidence = self.evidence(result)
            if not self.answerability.answers(result.evidence):
                return result  # the best sentence shares the subject but does not speak to what is asked
        result.unmet = tuple(self.cues.labels[n] for n in unmet)
        result.covered = True
        return result

    def _without_story_things(self, result: PartResult, judge: bool, one_of_several: bool) -> PartResult:
        """A part declined only for named things of the story ("He had a stroke two years ago. Is it done as
        a day case?") is decided again as read alone (``Part.alone``: without the story, or with only the
        sentence just before it, which "is that right?" asks about): when that answers it, it is
        answered and the note names the story's things; when not ("My mum is on alendronate. Will she
        have to stop beforehand?"), it stays declined for them. Only a part that, read so, asks something in
        the corpus's words (a weighty word the corpus has) is tried, and never one comparing things."""
        story = {t.word for t in result.part.terms if t.story and t.carried}
        if (self.search is None or not set(result.absent) <= story
                or result.part.compares or _COMPARING.search(result.part.text)):
            return result
        for part in result.part.alone:
            # a weighty word the corpus has, or a lay name of one of its things ("a day case": outpatient)
            asks = [t for t in part.terms if (not t.carried or t.pointed) and not t.kind and not t.generic
                    and (t.weight >= WEIGHTY or t.alternatives & self.corpus_stems)
                    and t.stem not in self.topic_stems and self.in_corpus(t)]
            if not asks and not (set(part.types) & SUBJECT_KINDS and not YES_NO.match(part.text)):
                # "...radiotherapy. Can I still get it?" asks nothing of its own: it asks about the story, and so
                # does "...alendronate. Will he stop it before the procedure?"; "...dementia. Where is it done?"
                # asks where the subject is done, a fact the story's things do not change
                continue
            # searched again as read alone: the passages that answer it are not the ones nearest "warfarin"
            alone = self.decide(self.search(part, max(1, len(result.passages))), judge, one_of_several)
            if alone.covered:
                alone.aside = result.absent
                return alone
        return result

    def with_story_things(self, coverage: Coverage, question: Question, named: list[Term]) -> Coverage:
        """A declined message whose story names things the corpus lacks ("I'm on warfarin for my heart.
        Can I still have kyphoplasty?") names them in its note too: that is what the source is silent on."""
        said = {w for r in coverage.parts for w in r.absent}
        things = [t.word for t in named if t.word not in said and not self.in_corpus(t) and not names_no_thing(t.word)
                  and not near_function_word(t.word)]
        if not things:
            return coverage
        note = "mention " + _join(_as_written(dict.fromkeys(things), " ".join(question.story)))
        return replace(coverage, notes=(note, *coverage.notes), missing=(*things, *coverage.missing))

    def _story_in_corpus(self, question: Question) -> bool:
        """The story around the question names what the corpus is about ("...five weeks after my
        kyphoplasty. Will I be OK to fly?"): the message is on the corpus's subject even when the
        question's own words are not, so it is declined as not covered (its need named), not as off-topic."""
        return any(specificity(w) >= STORY_TERM_WEIGHT and stem(w) in self.corpus_stems
                   for w in content_words(" ".join(question.story)))

    def assess(self, question: Question, results: list[PartResult]) -> Coverage:
        self_contained = len(results) == 1 and not question.follow_up
        several = len(results) > 1 and not question.follow_up
        results = [self.decide(r, judge=self_contained, one_of_several=several) for r in results]
        for r in results:  # as the patient wrote them ("Bupa", "warfarin")
            r.aside = _as_written(r.aside, " ".join(question.story))
        for r in results:  # a difference needs both sides: one the source lacks leaves nothing to compare
            if r.covered and any(o.part.compares == r.part.compares and not o.covered for o in results if o.part.compares):
                r.covered, r.unmet, r.silent = False, (), True
        if not any(r.part.terms or r.part.types for r in results):
            return Coverage("unclear", tuple(results))
        notes = tuple(dict.fromkeys(r.note for r in results if r.note))
        missing = tuple(x for r in results for x in (r.absent or r.unmet or (() if r.covered else (r.part.restated,))))
        if all(r.covered for r in results):
            return Coverage("partial" if notes else "answer", tuple(results), notes, missing)
        if any(r.covered for r in results):
            return Coverage("partial", tuple(results), notes, missing)
        # in a one-topic corpus a question that asks for a price, a duration, figures... and names nothing
        # the corpus lacks ("how long is recovery?") is about the corpus's subject: declined with its need
        # named, not as off-topic ("what is the capital of France?" asks for none of them); and so is one
        # that names a thing the corpus lacks in a conversation about it ("what about tablets instead,
        # like alendronate?"), so the reply says what is missing
        in_corpus = (any(t.stem in self.corpus_stems or t.alternatives & self.corpus_stems
                         for r in results for t in r.part.terms) or self._story_in_corpus(question)
                     or (self.one_topic and any(r.part.elliptic or (r.part.needs and not r.absent)
                                                or (question.previous and r.absent) for r in results)))
        best_cos = max((p.dense for r in results for p in r.passages), default=0.0)
        verdict = "off_topic" if not in_corpus and best_cos < OFF_TOPIC_COS else "not_covered"
        return Coverage(verdict, tuple(results), notes, missing)


def need_shares(grounder: Grounder, part: Part, candidates: list[Candidate]) -> np.ndarray:
    """Each candidate's share of the words the patient asked about: their own words when they used
    any beyond the corpus's topic, else the words carried from earlier; topic words never count, and
    each word counts by how few of the corpus's sentences hold it (``Grounder.rarity``)."""
    topic = grounder.topic_stems
    asked = part.asked_terms if any(t.stem not in topic for t in part.asked_terms) else part.terms
    terms = [(s, w * grounder.rarity.get(s, 1.0), specific, alt)
             for s, w, specific, alt in term_weights(replace(part, terms=asked), topic, topic=0.0)]
    return np.array([match_share(terms, c.stems) for c in candidates])


def order_scores(x: np.ndarray, probs: np.ndarray, need: np.ndarray, weights: dict[str, float],
                 defining: bool = False) -> np.ndarray:
    """Where each candidate goes in the answer. The ranker, trained on whole answer pages, judges
    passages well but not the sentences inside one; so its probability (relative to the best) is
    blended with the sentence's own similarity and its share of the question's words (``need``; the
    corpus's topic words left out) relative to the best candidate's, the cue words of the answer
    type, a section's first sentence for "what is ...?", and a penalty for "It ..."/"They ..."."""
    cos = x[:, FEATURES.index("cos")]
    span = float(cos.max() - cos.min()) or 1.0
    parts = {"prob": probs / (probs.max() or 1.0), "cos": (cos - cos.min()) / span,
             "lex": need / need.max() if need.max() > 0 else np.zeros_like(need),
             "type": x[:, FEATURES.index("type_answer")], "anaphoric": -x[:, FEATURES.index("anaphoric")],
             "first": x[:, FEATURES.index("position")] * float(defining)}
    return sum(weights.get(name, 0.0) * value for name, value in parts.items())


def _spells_out(part: Part, candidates: list[Candidate], lead: str | None) -> np.ndarray:
    """1 for a sentence that spells out an abbreviation the part asks about ("what does VCF mean?",
    "what does ir stand for?", or "VCF" in the story before "what does that stand for?": "... a
    Vertebral Compression Fracture (VCF)"), which then comes first; else 0. In a library only the
    best passage (``lead``) counts: other pages may spell it out too (pages on kidney diet say
    "chronic kidney disease (CKD)") and do not jump ahead of the page the question is about."""
    if "name" not in part.types:
        return np.zeros(len(candidates))
    acronyms = set(re.findall(r"\b[A-Z]{2,6}\b", part.text))
    acronyms |= {t.word.upper() for t in part.terms if 2 <= len(t.word) <= 6 and t.word.isalpha()}
    return np.array([1.0 if lead in (None, c.chunk_id) and any(f"({a})" in c.text for a in acronyms) else 0.0
                     for c in candidates])


def _speaks_of_need(part: Part, candidates: list[Candidate], cues: Cues) -> np.ndarray:
    """1 for a sentence that speaks of the figures asked for without giving them ("how many has he
    done?": "ask about the number of procedures performed"), which then comes first: the best the
    source has for a part whose figures no candidate gives; else 0."""
    rxs = [cues.partial[n] for n in part.needs
           if n in cues.partial and not any(cues.evidence[n].search(c.text) for c in candidates)]
    return np.array([1.0 if any(rx.search(c.text) for rx in rxs) else 0.0 for c in candidates])


def topic_stems(index: Index) -> set[str]:
    """Stems in at least half of all chunks (titles included): what the whole corpus is about."""
    if len(index.chunks) < 2:
        return set()
    counts: dict[str, int] = {}
    for chunk in index.chunks:
        for s in {stem(w) for w in content_words(chunk.embedding_text())}:
            counts[s] = counts.get(s, 0) + 1
    return {s for s, n in counts.items() if n / len(index.chunks) >= TOPIC_SHARE}


_NOUN_PHRASE_START = r"\b(?:my|his|her|their|your|our|the|a|an|any|some|these|those)\s+"


def _as_typed(word: str, text: str) -> str:
    """The word as the patient wrote it ("MRI", "Medicare"), not lower-cased, with the noun before it
    in its noun phrase ("his blood thinners" -> "blood thinners"; "does not mention thinners" says little)."""
    m = re.search(rf"\b{re.escape(word)}\b", text, re.I)
    if not m or (m.start() == 0 and m.group(0).istitle()):
        return word  # a capital that only starts the sentence says nothing
    compound = re.search(rf"{_NOUN_PHRASE_START}([a-z]+)\s+{re.escape(m.group(0))}\b", text, re.I)
    if compound and compound.group(1).lower() not in STOPWORDS and can_be_noun(compound.group(1).lower()):
        return f"{compound.group(1)} {m.group(0)}"
    return m.group(0)


def _as_written(words, text: str) -> tuple[str, ...]:
    """The words as the patient wrote them (``_as_typed``), two that stand side by side in the text as
    one ("rheumatoid arthritis", not "rheumatoid, arthritis"), and none inside another ("blood thinners")."""
    out: list[str] = []
    for typed in dict.fromkeys(_as_typed(w, text) for w in words):
        if out and re.search(rf"\b{re.escape(out[-1])}\s+{re.escape(typed)}\b", text, re.I):
            out[-1] = f"{out[-1]} {typed}"
        else:
            out.append(typed)
    return tuple(w for w in out if not any(w != o and re.search(rf"\b{re.escape(w)}\b", o, re.I) for o in out))


def _join(items) -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


__all__ = ["Coverage", "Grounder", "PartResult", "topic_stems", "words"]
