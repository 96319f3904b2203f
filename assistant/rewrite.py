"""Follow-ups, resolved without a language model.

"tell me more about the second one", "and the last one?", "is that why she's lost height?",
"sorry, what was that about training?", "what causes it?": none of these can be searched alone.
``HeuristicRewriter.resolve`` replays the conversation and returns a ``Resolution``:

- ``text``: the question with list references replaced by what they point at. Ordinals ("the
  second one", "the last", "number two") and "the other two" are resolved against the enumeration
  ("A, B and C") of the previous answer;
- ``context``: when the question refers back (a pronoun, "that", an opening such as "and"/"what
  about", or no word of its own), the subject of the earlier exchange it fits best: the one whose
  question and answer share most words with it ("what was that about training?" finds the answer
  that mentioned training), else the latest. A self-contained question needs no context.

The chain searches ``text`` plus ``context``; context words weigh less than the patient's own.
Any object with ``rewrite(question, history) -> str`` can replace this class (a model-based
rewriter, say): pass it to ``build_chain(rewriter=...)``; its text is then searched as it is.

``ModelRewriter`` is the history-aware rewriting of LangChain's RAG tutorials: with a language model
configured, a follow-up is rewritten by the model into a standalone question
(``prompts/llm_rewrite.j2``). Any failure — an error, the time limit, an empty or implausible reply —
gives the heuristic resolution instead, and so does a reply that is not a question keeping the patient's
own words (``keeps_the_question``: a small real model often answered instead of rewriting). A message
that does not refer back is never sent to it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.question import OTHER_ONES, QUESTION_FILLER, WH_AGAIN, specificity
from assistant.restate import WH_WORDS
from assistant.text import content_words, stem

Turn = tuple[str, str]  # (role, text), role "user" or "assistant"
log = logging.getLogger(__name__)
MODEL_TURNS = 6  # the latest messages the model sees
MODEL_TURN_CHARS = 800  # of each

_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|those|these|this|that|he|she|his|her|him|"
    r"the procedure|the operation|the condition|the fracture|the same|this one|that one)\b", re.I)
_PRONOUN = re.compile(r"\b(they|them|their|theirs|he|him|his|she|her)\b", re.I)  # a person or people referred to
_ELLIPSIS = re.compile(r"^\W*(and|also|what about|how about|and what about|what else|anything else|"
                       r"more|tell me more|why|how come|so|then|which ones?|which of|sorry|or|plus|but)\b", re.I)
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "fifth": 4, "5th": 4, "last": -1, "final": -1, "latter": -1, "former": 0, "middle": "middle"}
_NUMBERS = {"one": 0, "two": 1, "three": 2, "four": 3, "five": 4, "1": 0, "2": 1, "3": 2, "4": 3, "5": 4}
_ORDINAL = re.compile(
    r"(?:\b(?:the|that|this|your)\s+(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|final|latter|former|middle)"
    r"(?:\s+(?:one|ones|option|type|kind|group|specialist|specialty|doctor|surgeon|thing|item|cause|reason|point|"
    r"bit|part|sentence)(?:\s+of\s+(?:doctors?|specialists?|surgeons?|things?|people))?)?\b"
    r"|\b(?:first|second|third|last)\s+one\b|(?:\b(?:number|item|point|option|step)\s+|\bno\.\s*|#)(one|two|three|four|five|[1-5])\b)"
    # where the list was: said with the reference, it is no part of the question ("the last one on that list?")
    r"(?:\s+(?:on|in|from|of)\s+(?:that|the|this|your)\s+list\b)?", re.I)
# after "the second ...", these words still let it be a list reference ("the second one you mentioned")
_AFTER_ORDINAL = frozenset("""you u i we they it on in of about mentioned said listed named again please then too is
    was are were do does did can could would will should there here and or but so""".split())
# after a list reference, the thing named or described again in apposition: "the last thing you listed, the curve -
# ...", "the final thing, where the spine bends forward - ..." (not a question: "the second one, where do they work?")
_APPOSITION = re.compile(r"(?:\s+(?:you|u)\s+(?:listed|mentioned|said|named|gave))?\s*[,—–-]+\s*"
                         r"(?:the|that|this|where(?!\s+(?:do|does|did|is|are|was|were|can|could|would|will|should)\b))\s+[a-z]",
                         re.I)
_OTHERS = re.compile(r"\b(?:the\s+)?other\s+(two|three|ones|ones you (?:mentioned|said)|others)\b|\bthe others\b", re.I)
_ENUMERATION = re.compile(
    r"(?:\b(?:are|include|includes|including|such as|namely|like)\b|:)\s+"
    r"((?:[^,.;:()\[\]]{2,60},\s+)+(?:and|or)\s+[^,.;:()\[\]]{2,60}|[^,.;:()\[\]]{2,60},?\s+(?:and|or)\s+[^,.;:()\[\]]{2,60})",
    re.I)
# "the ones you listed before them", "the one after that": the list item next to the one last asked about
_NEIGHBOUR = re.compile(
    r"\b(?:the\s+)?(?:ones?|thing)\s+(?:you\s+(?:listed|mentioned|said|named)\s+)?"
    r"(before|after)\s+(?:them|those|that|it|that one|these|this one)\b", re.I)
# an ellipsis naming another thing ("and for neurosurgeons?", "what about the cement?"): asks the same about it
_INSTEAD = re.compile(r"^\W*(?:and|or|but|(?:and\s+)?(?:what|how)\s+about)(?:\s+(?:for|with))?\s+(?:the\s+|a\s+|an\s+)?"
                      r"(?!(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|if|when|why|how|what|who|"
                      r"where|which)\b)(?P<thing>[A-Za-z][\w'’-]*(?:\s+[\w'’-]+){0,3})\W*$", re.I)
NAMED = 0.85  # a word at least this specific (``question.specificity``: rarer than Zipf 4) names a thing
# a citation mark: "[1]", or "1" after a sentence once the history's brackets are gone (``safety.clean``)
_CITATION = re.compile(r"\s*\[\d+\]|(?<=[.!?])\s*\d+(?=\s|$)")
_ABBREVIATION = re.compile(r"\b(abbreviations?|acronyms?|initials|full\s+(?:name|form))\b", re.I)
_CHOICE = re.compile(r"\bwhich (of (them|these|those|the \w+)|ones?)\b|\bwho of them\b", re.I)


@dataclass(frozen=True)
class Resolution:
    text: str  # the question, list references replaced
    context: str = ""  # the earlier subject it refers back to
    listed: tuple[str, ...] = ()  # the list an item was picked from ("the second one"): what was already said


class QueryRewriter(Protocol):
    def rewrite(self, question: str, history: list[Turn]) -> str: ...


class HeuristicRewriter:
    """Resolves list references and carries the subject of the exchange a follow-up refers to."""

    def rewrite(self, question: str, history: list[Turn]) -> str:
        r = self.resolve(question, history)
        return f"{r.text} {r.context}".strip()

    def resolve(self, question: str, history: list[Turn]) -> Resolution:
        exchanges: list[tuple[str, str, str]] = []  # (resolved question, its context, the answer)
        pending: str | None = None
        for role, text in history:
            if role == "user":
                if pending is not None:
                    exchanges.append(self._resolve_one(pending, exchanges)[:2] + ("",))
                pending = text
            elif role == "assistant" and pending is not None:
                exchanges.append(self._resolve_one(pending, exchanges)[:2] + (text,))
                pending = None
        if pending is not None:
            exchanges.append(self._resolve_one(pending, exchanges)[:2] + ("",))
        text, context, listed = self._resolve_one(question, exchanges)
        return Resolution(text, context, listed)

    def _resolve_one(self, question: str, exchanges: list[tuple[str, str, str]]) -> tuple[str, str, tuple[str, ...]]:
        """(the question with list references resolved, the subject it refers back to, the list it picked from)."""
        if not exchanges:
            return question, "", ()
        last_question = exchanges[-1][0]
        lists = [found for _, _, answer in reversed(exchanges) if (found := list_items(answer))]
        items = lists[0] if lists else []
        if _NEIGHBOUR.search(question):  # "the ones before them": the latest list that holds what was last asked about
            items = next((found for found in lists if len(_items_about(found, last_question)) == 1), items)
        # no list, or one too short for the number asked ("the 3rd point you made" after "A or B"):
        # "the first one you said" is the answer's first statement
        statements = [_gist(s) for s in re.split(r"(?<=[.!?])\s+", _CITATION.sub("", exchanges[-1][2])) if s.strip()]
        text = resolve_list_references(question, items or statements, last_question)
        listed = tuple(items) if items and text != question else ()
        if text == question and items:
            text = resolve_list_references(question, statements, last_question)
        if not refers_back(text) and text == question:
            return question, "", ()
        own = {stem(w) for w in content_words(text) if w not in QUESTION_FILLER}
        best, best_score = len(exchanges) - 1, 0.0
        for i, (q, ctx, answer) in enumerate(exchanges):
            words_there = {stem(w) for w in content_words(f"{q} {ctx} {answer}")}
            score = len(own & words_there) + 0.01 * i  # ties go to the latest
            if own & words_there and score > best_score:
                best, best_score = i, score
        q, ctx, _ = exchanges[best]
        subject = [w for w in content_words(f"{q} {ctx}") if w not in QUESTION_FILLER]
        if items and _CHOICE.search(text):  # "which of them ...?": the answer names one of the listed things
            subject += [w for item in items for w in content_words(item)]
        if _ABBREVIATION.search(text):  # "what does that abbreviation stand for?": the ones just spelled out
            subject += re.findall(r"\(([A-Z]{2,6})\)", _CITATION.sub("", exchanges[-1][2]))
        about = _items_about(items, text)
        if len(about) != 1 and items and _PRONOUN.search(text):
            # "why them?" after an answer that led with one of the listed things: they are that one
            about = _items_about(items, lead_sentence(exchanges[-1][2]))
        if len(about) == 1:  # "you mentioned the orthopaedic surgeons - ...": the other items are not asked about
            others = {stem(w) for i, item in enumerate(items) if i != about[0] for w in content_words(item)}
            subject = [w for w in subject if stem(w) not in others]
        swap = _INSTEAD.match(text)
        named = {stem(w) for w in content_words(swap.group("thing")) if specificity(w) >= NAMED} if swap else set()
        if named:  # "and for neurosurgeons?" after "what training do orthopaedic surgeons have?": the same about them
            subject = [w for w in subject if specificity(w) < NAMED or stem(w) in named]
        mine = {stem(w) for w in content_words(text)}
        context = " ".join(dict.fromkeys(w for w in subject if stem(w) not in mine))
        return text, context, listed


class ModelRewriter:
    """Follow-ups rewritten by a chat model into standalone questions; the heuristic on any failure."""

    def __init__(self, llm: Any, prompts: Any, source_name: str, fallback: HeuristicRewriter | None = None) -> None:
        self.llm = llm
        self.prompts = prompts
        self.source_name = source_name
        self.fallback = fallback or HeuristicRewriter()

    def rewrite(self, question: str, history: list[Turn], deadline: float | None = None) -> str:
        r = self.resolve(question, history, deadline)
        return f"{r.text} {r.context}".strip()

    def resolve(self, question: str, history: list[Turn], deadline: float | None = None, config: Any = None) -> Resolution:
        """``deadline``: a ``time.monotonic()`` value (default: 5 s from now)."""
        from langchain_core.messages import HumanMessage

        from assistant.llm import ModelFailure, ask_text, deadline_after

        heuristic = self.fallback.resolve(question, history)
        if not history or not is_follow_up(question):
            return heuristic
        turns = [(role, text[:MODEL_TURN_CHARS]) for role, text in history[-MODEL_TURNS:]]
        prompt = self.prompts.render("llm_rewrite.j2", source_name=self.source_name, history=turns, message=question)
        try:
            reply = ask_text(self.llm, [HumanMessage(prompt)], deadline or deadline_after(5.0), config)
        except ModelFailure as exc:
            log.warning("The language model could not rewrite a follow-up (%s); used the heuristic rewriter.", exc)
            return heuristic
        text = next((line.strip().strip('"“”') for line in reply.splitlines() if line.strip()), "")
        text = re.sub(r"^(?:rewritten question|question|standalone question)\s*:\s*", "", text, flags=re.I)
        if not any(ch.isalpha() for ch in text) or len(text) > max(300, 3 * len(question)) \
                or not keeps_the_question(question, text):
            log.warning("The language model's rewrite of a follow-up was unusable; used the heuristic rewriter.")
            return heuristic
        return Resolution(text)


def keeps_the_question(question: str, rewrite: str) -> bool:
    """What the rewriting prompt asks for, checked: one question, that keeps every word of the patient's
    own (a model that answers, summarises or drops "cost" from "how much does it cost?" fails), asks
    the same thing (its question words: "who does it?" stays a who-question) with the same negation
    ("is it not safe?" never becomes "is it safe?", nor the reverse), and resolved something (an
    unchanged follow-up is no better than the heuristic's resolution)."""
    if not rewrite.rstrip().endswith("?"):
        return False
    theirs, mine = content_words(rewrite), content_words(question)
    have = {stem(w) for w in theirs}
    own = {stem(w) for w in mine if w not in QUESTION_FILLER}
    changed = theirs != mine
    same_ask = set(_QUESTION_WORD.findall(question.lower())) <= set(_QUESTION_WORD.findall(rewrite.lower()))
    same_negation = bool(_NEGATION.search(question)) == bool(_NEGATION.search(rewrite))
    return own <= have and changed and same_ask and same_negation


_QUESTION_WORD = re.compile(rf"\b({'|'.join(WH_WORDS)})\b")
_NEGATION = re.compile(r"\b(not|never|no|none|nobody|nothing|neither|nor|without)\b|n't\b", re.I)


def _gist(sentence: str, n: int = 3) -> str:
    """The most specific words of a sentence ('osteoporosis bone density'), to stand for it in a search."""
    from assistant.text import zipf

    words = [w for w in dict.fromkeys(content_words(sentence)) if w not in QUESTION_FILLER]
    return " ".join(sorted(words, key=zipf)[:n])


def refers_back(question: str) -> bool:
    own = [w for w in content_words(question) if w not in QUESTION_FILLER]
    return bool(_ANAPHORA.search(question) or _ELLIPSIS.search(question) or OTHER_ONES.match(question)
                or WH_AGAIN.search(question) or not own)


def is_follow_up(question: str) -> bool:
    return refers_back(question) or any(rx.search(question) for rx in (_ORDINAL, _OTHERS, _NEIGHBOUR))


def lead_sentence(answer: str) -> str:
    """What an answer led with: its text up to the first citation mark ("... strength. [1]", or "... strength. 1"
    once the history's brackets are gone)."""
    mark = re.search(r"(?<=[.!?])\s*\[?\d+\]?(?=\s|$)", answer)
    return answer[:mark.start()] if mark else answer


def list_items(answer: str) -> list[str]:
    """The first enumeration ("A, B, and C") or bulleted list of an answer, as items."""
    text = _CITATION.sub("", answer)
    bullets = [m.group(1).strip() for m in re.finditer(r"^\s*(?:[-*•]|\d+[.)])\s+(.+)$", text, re.M)]
    if len(bullets) >= 2:
        return bullets
    for m in _ENUMERATION.finditer(text):
        parts = re.split(r",\s+(?:and\s+|or\s+)?|\s+(?:and|or)\s+", m.group(1))
        items = [re.sub(r"^(?:the|a|an)\s+", "", p.strip(), flags=re.I) for p in parts if p.strip()]
        if 2 <= len(items) <= 8 and all(len(i.split()) <= 6 for i in items):
            return items
    return []


def _items_about(items: list[str], question: str) -> list[int]:
    """Which list items a question names ("tell me more about the orthopedic ones" -> [1])."""
    asked = {stem(w) for w in content_words(question)}
    return [i for i, item in enumerate(items) if {stem(w) for w in content_words(item)} & asked]


def resolve_list_references(question: str, items: list[str], previous_question: str = "") -> str:
    """'tell me about the second one' -> 'tell me about Orthopedic Spine Surgeons'."""
    if not items:
        return question

    def ordinal(m: re.Match[str]) -> str:
        after = re.match(r"\s*([A-Za-z']+)", question[m.end():])
        pronoun = re.search(r"\bones?$", m.group(0), re.I)  # "the first one a bit more": a reference whatever follows
        if after and after.group(1).lower() not in _AFTER_ORDINAL and not pronoun and not m.group(2):
            return m.group(0)  # "the first time", "the last week": not a list reference
        if _APPOSITION.match(question[m.end():]):
            return m.group(0)  # "the last thing you listed, the curve": they name it themselves
        if m.group(2):
            index = _NUMBERS.get(m.group(2).lower())
        else:
            index = _ORDINALS.get((m.group(1) or m.group(0).split()[0]).lower())
        if index == "middle":
            index = len(items) // 2
        if index is None or not -len(items) <= index < len(items):
            return m.group(0)
        return items[index]

    def others(m: re.Match[str]) -> str:
        mentioned = _items_about(items, previous_question)
        rest = [item for i, item in enumerate(items) if i not in mentioned] or items[1:]
        return " and ".join(rest)

    def neighbour(m: re.Match[str]) -> str:
        current = _items_about(items, previous_question)
        if len(current) != 1:
            return m.group(0)
        index = current[0] + (-1 if m.group(1).lower() == "before" else 1)
        return items[index] if 0 <= index < len(items) else m.group(0)

    return _NEIGHBOUR.sub(neighbour, _OTHERS.sub(others, _ORDINAL.sub(ordinal, question)))
