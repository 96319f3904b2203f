"""Decide whether the retrieved passages cover what the question asks: answer, partly, or not.

A raw similarity threshold cannot do this: "how much does kyphoplasty cost?" is close to every
passage of a kyphoplasty guide. Instead each *focus word* of the question (its content words,
minus question filler) must be found in a retrieved sentence, either literally (same stem, after
typo correction against the corpus vocabulary) or via a lay-term synonym (``prompts/lay_terms.yaml``
and the corpus's own abbreviations). Word embeddings are deliberately not used for this: MiniLM
puts "medicare" near "medical" and "vertebroplasty" near "vertebral", which would turn an honest
"not covered" into a wrong answer. Words that appear in most passages of a document (its topic, such as
"kyphoplasty") do not count as evidence by themselves; a word of a retrieved document's title
("macular" for the macular degeneration page) is covered by that document. Questions that ask "how long" need a
duration in the evidence; comparisons ("which is better") need comparative evidence.

Verdicts: ``answer`` (everything covered); ``partial`` (of the question's own specific words, at
least as many covered as missing: answer those, name the rest); ``not_covered`` (on the corpus
topic but not answered there); ``off_topic`` (nothing of the question is in the corpus);
``unclear`` (no content words at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.index import Index
from assistant.retrieve import Passage
from assistant.text import QUESTION_FILLER, content_words, correct_typos, stem, words

TOPIC_SHARE = 0.8  # a stem in at least this share of a document's chunks is that document's topic
OFF_TOPIC_DENSE = 0.3  # below this best passage similarity, with no shared word, the question is off-topic
PARTIAL_DENSE = 0.35  # a partial answer needs a passage at least this close to the whole question

_DURATION = re.compile(r"\b(\d+|one|two|three|few|several)\s*(-\s*)?(minute|hour|day|week|month|year)s?\b", re.I)
_AMOUNT = re.compile(r"(\$|€|£|\bdollars?\b|\bcosts?\b|\bprice\b|\bfees?\b|\bpercent\b|%)", re.I)
_COMPARATIVE = re.compile(r"\b(better|worse|safer|superior|inferior|versus|vs\.?|compared?|comparison|"
                          r"difference between|differ from|prefer(able)?|instead of)\b", re.I)
_ABBREVIATION = re.compile(r"((?:[A-Z][a-z]+ ){1,5}[A-Z][a-z]+) \(([A-Z]{2,6})\)")
_SUPERLATIVE_CHOICE = re.compile(r"\b(which|who)\b.*\b(best|worst|safest|greatest)\b", re.I)


@dataclass(frozen=True)
class Coverage:
    verdict: str
    focus: tuple[str, ...] = ()
    covered: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    # where each covered focus word was found: word -> [(chunk_id, sentence number)]
    evidence: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return self.verdict in ("answer", "partial")


class Lexicon:
    """Lay-term synonyms, by stem."""

    def __init__(self, path: Path) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        self.synonyms: dict[str, set[str]] = {}
        for key, values in (data or {}).items():
            self.synonyms.setdefault(stem(str(key)), set()).update(stem(str(v)) for v in values or [])

    def learn_abbreviations(self, texts: list[str]) -> None:
        """'Vertebral Compression Fracture (VCF)' in the corpus makes 'vcf' and those words synonyms."""
        for text in texts:
            for long_form, abbr in _ABBREVIATION.findall(text):
                initials = "".join(w[0] for w in long_form.split()).lower()
                if not initials.endswith(abbr.lower()):
                    continue
                long_stems = [stem(w) for w in long_form.split()[-len(abbr):]]
                self.synonyms.setdefault(stem(abbr.lower()), set()).update(long_stems)
                for s in long_stems:
                    self.synonyms.setdefault(s, set()).add(stem(abbr.lower()))

    def stems_for(self, word: str) -> set[str]:
        s = stem(word)
        return {s} | self.synonyms.get(s, set())

    def expand(self, question: str) -> str:
        """The question plus the corpus words for its lay words (for retrieval)."""
        extra = [w for word in words(question) for w in sorted(self.synonyms.get(stem(word), ()))]
        return f"{question} {' '.join(extra)}" if extra else question


class Grounder:
    """Computes a ``Coverage`` for a question against retrieved passages of one index."""

    def __init__(self, index: Index, lexicon: Lexicon) -> None:
        self.index = index
        self.lexicon = lexicon
        self.corpus_stems = {stem(w) for w in index.vocab}
        self.topic_stems = _topic_stems(index)

    def correct(self, question: str) -> str:
        """Fix typos of corpus words ('kyphoplasy' -> 'kyphoplasty'), keeping everything else."""
        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            if stem(word) in self.corpus_stems:  # "guide" is a real form of "guided", not a typo
                return word
            fixed = correct_typos([word.lower()], self.index.vocab)[0]
            return word if fixed == word.lower() else fixed
        return re.sub(r"[A-Za-z]{5,}", fix, question)

    def focus_words(self, question: str) -> list[str]:
        seen, focus = set(), []
        for w in content_words(question):
            s = stem(w)
            if w in QUESTION_FILLER or s in seen:
                continue
            seen.add(s)
            focus.append(w)
        return focus

    def assess(self, question: str, passages: list[Passage], asked: str | None = None) -> Coverage:
        """``asked``: the question as typed, when ``question`` carries words of earlier turns;
        only its own words can make an answer partial."""
        focus = self.focus_words(question)
        if not focus:
            return Coverage("unclear")
        keys = [(p.chunk.id, n) for p in passages for n in range(len(p.chunk.sentences))]
        evidence: dict[str, list[tuple[str, int]]] = {}
        for word in focus:
            found = self._find(word, keys)
            if found:
                evidence[word] = found
        # a word of a retrieved document's title ("macular" for the AMD page) is covered by it
        titles = {stem(w) for p in passages for w in words(p.chunk.title)}
        covered = [w for w in focus if w in evidence or stem(w) in titles]
        missing = [w for w in focus if w not in covered]
        unmet = self._unmet_intents(question, passages)
        comparison = any(u.startswith("a comparison") for u in unmet)
        asked_stems = {stem(w) for w in words(asked)} if asked else None
        specific = [w for w in covered if stem(w) not in self.topic_stems
                    and (asked_stems is None or stem(w) in asked_stems)]
        in_corpus = any(self.lexicon.stems_for(w) & self.corpus_stems for w in focus)
        best_dense = max((p.dense for p in passages), default=0.0)
        if not missing and not unmet:
            verdict = "answer"
        elif (missing and len(specific) >= len(missing) and not comparison
              and best_dense >= PARTIAL_DENSE):
            verdict = "partial"  # answer the covered part, name the rest
        elif not in_corpus and best_dense < OFF_TOPIC_DENSE:
            verdict = "off_topic"
        else:
            verdict = "not_covered"
        if comparison or not missing:
            missing += unmet
        return Coverage(verdict, tuple(focus), tuple(covered), tuple(missing), evidence)

    def _find(self, word: str, keys: list[tuple[str, int]]) -> list[tuple[str, int]]:
        targets = self.lexicon.stems_for(word)
        return [k for k in keys if self.index.sentence_stems[k] & targets]

    def _unmet_intents(self, question: str, passages: list[Passage]) -> list[str]:
        """Question shapes whose answer needs a particular kind of statement in the evidence."""
        text = " ".join(s.text for p in passages for s in p.chunk.sentences)
        q = question.lower()
        unmet = []
        if re.search(r"\bhow (long|soon|quickly)\b", q) and not _DURATION.search(text):
            unmet.append("how long it takes")
        if re.search(r"\bhow much\b", q) and not _AMOUNT.search(text):
            unmet.append("amounts or prices")
        if (_COMPARATIVE.search(q) or _SUPERLATIVE_CHOICE.search(q)) and not _COMPARATIVE.search(text):
            unmet.append("a comparison of which is better")
        return unmet


def _topic_stems(index: Index) -> set[str]:
    """Stems found in most chunks of a document (and title words): what the document is about."""
    by_doc: dict[str, list[set[str]]] = {}
    topic: set[str] = set()
    for chunk in index.chunks:
        by_doc.setdefault(chunk.source, []).append({stem(w) for w in words(chunk.text)})
        topic |= {stem(w) for w in content_words(chunk.title)}
    for chunk_stems in by_doc.values():
        if len(chunk_stems) < 3:
            continue
        counts: dict[str, int] = {}
        for stems in chunk_stems:
            for s in stems:
                counts[s] = counts.get(s, 0) + 1
        topic |= {s for s, n in counts.items() if n / len(chunk_stems) >= TOPIC_SHARE}
    return topic
