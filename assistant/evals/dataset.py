"""Eval cases: load the YAML dataset (or a JSONL question/gold set) into ``Case`` objects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.errors import EvalError

BEHAVIOURS = ("answer", "abstain", "decline", "urgent", "small_talk")


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    category: str = "general"
    history: tuple[str, ...] = ()
    expect: str = "answer"
    facts: tuple[tuple[str, ...], ...] = ()  # each fact: alternatives (regular expressions)
    forbidden: tuple[str, ...] = ()
    gold: tuple[str, ...] = ()  # gold answer texts (question/gold sets such as MedQuAD)
    doc: str = ""  # the corpus file the gold answers come from
    first: tuple[str, ...] = ()  # alternatives, one of which the first quoted sentence must match
    missing: tuple[str, ...] = ()  # alternatives, one of which the "not covered" note must contain
    gold_source: str = ""  # the corpus file holding the gold answer (read at run time)


def load_cases(path: Path) -> list[Case]:
    path = Path(path)
    if not path.exists():
        raise EvalError(f"No eval dataset at {path}.")
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        else:
            rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (ValueError, yaml.YAMLError) as exc:
        raise EvalError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(rows, list):
        raise EvalError(f"{path} must hold a list of cases.")
    cases, seen = [], set()
    for n, row in enumerate(rows, 1):
        case = _case(row, n, path)
        if case.id in seen:
            raise EvalError(f"{path}: case id {case.id!r} is used twice.")
        seen.add(case.id)
        cases.append(case)
    return cases


def _case(row: dict, n: int, path: Path) -> Case:
    if not isinstance(row, dict) or not isinstance(row.get("question"), str):
        raise EvalError(f"{path}: case {n} needs a 'question' (text).")
    expect = row.get("expect", "answer")
    if expect not in BEHAVIOURS:
        raise EvalError(f"{path}: case {n} has expect={expect!r}; use one of {', '.join(BEHAVIOURS)}.")
    facts = tuple(tuple(str(a) for a in (f if isinstance(f, list) else [f])) for f in row.get("facts", []))
    for fact in facts:
        for alternative in fact:
            try:
                re.compile(alternative)
            except re.error as exc:
                raise EvalError(f"{path}: case {n}: bad pattern {alternative!r} ({exc}).") from None
    gold = row.get("gold", [])
    for key in ("first", "missing", "forbidden"):
        for pattern in row.get(key, []) or []:
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise EvalError(f"{path}: case {n}: bad {key} pattern {pattern!r} ({exc}).") from None
    category = row.get("category") or (question_type(row["question"]) if gold or row.get("gold_source") else "")
    return Case(
        id=str(row.get("id", n)), question=row["question"], category=str(category or row.get("doc", "general")),
        history=tuple(row.get("history", [])), expect=expect, facts=facts,
        forbidden=tuple(row.get("forbidden", [])), gold=tuple(gold if isinstance(gold, list) else [gold]),
        doc=str(row.get("doc", "")), first=tuple(str(a) for a in row.get("first", []) or []),
        missing=tuple(str(a) for a in row.get("missing", []) or []), gold_source=str(row.get("gold_source", "")),
    )


_MEDQUAD_TYPES = (("what is", r"^what (is|are) \(are\)|^what is|^what are (?!the (symptoms|treatments|complications))"),
                  ("causes", r"\bcauses?\b"), ("symptoms", r"\bsymptoms\b"), ("treatments", r"\btreat"),
                  ("prevention", r"\bprevent"), ("risk", r"\bat risk\b"), ("diagnosis", r"\bdiagnos"),
                  ("research", r"\bresearch\b|clinical trials"), ("frequency", r"\bhow many\b"),
                  ("complications", r"\bcomplications\b"), ("outlook", r"\boutlook\b"))


def question_type(question: str) -> str:
    """The MedQuAD question type of a templated question, for per-type figures ("treatments")."""
    q = question.lower()
    return next((name for name, rx in _MEDQUAD_TYPES if re.search(rx, q)), "other")
