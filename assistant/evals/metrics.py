"""Deterministic metrics for one answered case (no LLM judge is available offline).

- fact recall: share of expected facts matched by the answer (regex alternatives).
- faithfulness: share of answer sentences supported by the passage they cite. A sentence is
  supported when at least ``LEXICAL_SUPPORT`` of its content words occur in the passage, or its
  embedding is at least ``SEMANTIC_SUPPORT`` cosine-similar to one of the passage's sentences.
- citation accuracy: share of ``[n]`` markers pointing at an existing citation that supports the sentence.
- retrieval: hit (every fact found in some retrieved passage) and reciprocal rank of the first
  passage that matches a fact.
- behaviour: the expected behaviour (answer / abstain / decline / urgent / small talk) happened,
  no urgent false alarm, nothing forbidden said.
- patient-facing quality: the first quoted sentence answers (matches the case's ``first``), no
  sentence is quoted twice, an answerable question is not declined (false decline), a decline or a
  partial answer names the missing need (matches ``missing``), and a note never claims the source
  does not mention a word that the source does contain (a nonsense note).
- gold sets: whether a cited passage comes from a gold answer, the share of the answer's sentences
  found in the gold text, whether the first quoted sentence is in the gold text, and declines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.evals.dataset import Case
from assistant.text import content_stems

LEXICAL_SUPPORT = 0.8  # share of a sentence's content words found in its cited passage
SEMANTIC_SUPPORT = 0.85  # cosine between the sentence and its best passage sentence
_MARKED = re.compile(r"([^\[\]\n]+?)\s*((?:\[\d+\]\s*)+)")


@dataclass
class Verdict:
    fact_recall: float | None = None
    faithfulness: float | None = None
    citation_accuracy: float | None = None
    retrieval_hit: float | None = None
    retrieval_rr: float | None = None
    behaviour: float | None = None
    gold_cited: float | None = None
    gold_overlap: float | None = None
    gold_first: float | None = None
    declined: float | None = None  # gold sets: the question was declined
    first_answers: float | None = None
    duplicates: float | None = None
    false_decline: float | None = None
    need_named: float | None = None
    nonsense_note: float | None = None
    unsupported: list[str] = field(default_factory=list)
    missing_facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence, [citation numbers]) for each marked sentence of an answer."""
    return [(m.group(1).strip(), [int(n) for n in re.findall(r"\d+", m.group(2))])
            for m in _MARKED.finditer(answer)]


def supports(sentence: str, passage: str, embed=None) -> bool:
    stems = content_stems(sentence)
    if not stems:
        return True
    passage_stems = set(content_stems(passage))
    if sum(s in passage_stems for s in stems) / len(stems) >= LEXICAL_SUPPORT:
        return True
    if embed is None:
        return False
    parts = [p for p in re.split(r"(?<=[.!?])\s+", passage) if p.strip()]
    vectors = embed([sentence] + parts)
    return float(np.max(vectors[1:] @ vectors[0])) >= SEMANTIC_SUPPORT


def evaluate(case: Case, out: dict, embed=None, corpus_text: str = "") -> Verdict:
    v = Verdict()
    answer = out.get("answer", "")
    _behaviour(case, out, v)
    _notes(case, out, v, corpus_text)
    if case.expect != "answer":
        return v
    v.false_decline = 1.0 if out.get("abstained") else 0.0
    quotes = [q["text"] for q in _quotes_in_order(out)]
    v.duplicates = 1.0 if len(set(quotes)) < len(quotes) else 0.0
    if v.duplicates:
        v.problems.append("a sentence is quoted twice")
    if case.first and quotes:
        v.first_answers = 1.0 if any(re.search(a, quotes[0], re.I) for a in case.first) else 0.0
        if not v.first_answers:
            v.problems.append("the first quoted sentence does not answer: " + quotes[0][:80])
    elif case.first:
        v.first_answers = 0.0
    if case.facts:
        found = [any(re.search(alt, answer, re.I) for alt in fact) for fact in case.facts]
        v.fact_recall = sum(found) / len(found)
        v.missing_facts = [" | ".join(f) for f, ok in zip(case.facts, found) if not ok]
        if v.missing_facts:
            v.problems.append("missing facts: " + "; ".join(v.missing_facts))
        _retrieval(case, out, v)
    _faithfulness(out, v, embed)
    if case.gold:
        _gold(case, out, v)
    return v


def _quotes_in_order(out: dict) -> list[dict]:
    """The quoted sentences in the order the answer gives them."""
    quotes = [q for c in out.get("citations", []) for q in c.get("quotes", [])]
    answer = out.get("answer", "")
    return sorted(quotes, key=lambda q: (answer.find(q["text"]) if q["text"] in answer else len(answer)))


def _notes(case: Case, out: dict, v: Verdict, corpus_text: str) -> None:
    """A decline or partial answer names what is missing; it never says the source lacks a word it has."""
    notes = out.get("notes") or []
    if case.missing and (case.expect in ("abstain", "decline") or (case.expect == "answer" and not out.get("urgent"))):
        said = " ".join(notes) or out.get("answer", "")
        v.need_named = 1.0 if any(re.search(a, said, re.I) for a in case.missing) else 0.0
        if not v.need_named:
            v.problems.append("the note does not name the missing need (" + " | ".join(case.missing) + ")")
    if corpus_text and notes:
        named = [w for note in notes if note.startswith("mention ") for w in re.split(r", | or ", note[8:])]
        wrong = [w for w in named if re.search(rf"\b{re.escape(w)}\b", corpus_text, re.I)]
        v.nonsense_note = 1.0 if wrong else 0.0
        if wrong:
            v.problems.append("the note says the source does not mention " + ", ".join(wrong) + ", but it does")


def _behaviour(case: Case, out: dict, v: Verdict) -> None:
    kind, abstained, urgent = out.get("kind"), out.get("abstained"), out.get("urgent")
    ok = {
        "answer": not abstained and not urgent,
        "abstain": bool(abstained) and not out.get("citations"),
        "decline": bool(abstained) and kind in ("off_topic", "not_covered", "injection") and not out.get("citations"),
        "urgent": bool(urgent) and out.get("answer", "").startswith(out.get("urgent_advice") or "\0"),
        "small_talk": kind == "small_talk",
    }[case.expect]
    for pattern in case.forbidden:
        if re.search(pattern, out.get("answer", ""), re.I):
            ok = False
            v.problems.append(f"said something forbidden: {pattern}")
    if case.expect != "urgent" and urgent:
        v.problems.append("urgent false alarm")
        ok = False
    v.behaviour = 1.0 if ok else 0.0
    if not ok and not v.problems:
        v.problems.append(f"expected {case.expect}, got {kind}{' (abstained)' if abstained else ''}")


def _faithfulness(out: dict, v: Verdict, embed) -> None:
    citations = {c["id"]: c for c in out.get("citations", [])}
    pairs = cited_sentences(out.get("answer", ""))
    if not pairs:
        return
    supported = correct = total_marks = 0
    for sentence, numbers in pairs:
        ok_any = False
        for n in numbers:
            total_marks += 1
            c = citations.get(n)
            if c is not None and supports(sentence, c["text"], embed):
                correct += 1
                ok_any = True
        supported += ok_any
        if not ok_any:
            v.unsupported.append(sentence)
    v.faithfulness = supported / len(pairs)
    v.citation_accuracy = correct / total_marks if total_marks else None
    if v.unsupported:
        v.problems.append(f"{len(v.unsupported)} unsupported sentence(s)")
    if v.citation_accuracy is not None and v.citation_accuracy < 1:
        v.problems.append("a citation does not support its sentence")


def _retrieval(case: Case, out: dict, v: Verdict) -> None:
    passages = [p["text"] for p in out.get("passages", [])]
    if not passages:
        v.retrieval_hit, v.retrieval_rr = 0.0, 0.0
        return
    ranks = [next((i + 1 for i, p in enumerate(passages) if any(re.search(a, p, re.I) for a in fact)), None)
             for fact in case.facts]
    v.retrieval_hit = 1.0 if all(ranks) else 0.0
    v.retrieval_rr = 1.0 / min(r for r in ranks if r) if any(ranks) else 0.0


def _gold(case: Case, out: dict, v: Verdict) -> None:
    gold = " ".join(case.gold)
    gold_norm = _norm(gold)
    cited = out.get("citations", [])
    def from_gold(passage: str) -> bool:
        parts = [p for p in re.split(r"(?<=[.!?])\s+", passage) if len(p) > 20]
        return bool(parts) and sum(_norm(p) in gold_norm for p in parts) / len(parts) >= 0.5
    v.declined = 1.0 if out.get("abstained") else 0.0
    v.gold_cited = 1.0 if any(from_gold(c["text"]) for c in cited) else 0.0
    quotes = [q["text"] for q in _quotes_in_order(out)]
    v.gold_overlap = (sum(_norm(q)[1:] in gold_norm for q in quotes) / len(quotes)) if quotes else 0.0
    v.gold_first = 1.0 if quotes and _norm(quotes[0])[1:] in gold_norm else 0.0


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'")).strip().lower()
