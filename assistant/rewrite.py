"""History-aware query rewriting, without a language model.

A follow-up such as "what causes it?" or "which of them works outpatient?" cannot be retrieved on
its own. ``HeuristicRewriter`` replays the conversation's user turns, keeping a *topic* (the
content words of the last self-contained question): a follow-up (a pronoun such as it/they/them,
an opening such as "and"/"what about", or a question with no content word) is searched as
the question plus that topic, and the topic carries on. A self-contained question starts a new
topic, so old turns never pollute it.

Any object with ``rewrite(question, history) -> str`` can replace it (an LLM-based rewriter, say):
pass it to ``build_chain(rewriter=...)``.
"""

from __future__ import annotations

import re
from typing import Protocol

from assistant.text import QUESTION_FILLER, content_words

Turn = tuple[str, str]  # (role, text), role "user" or "assistant"

_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|those|these|this one|that one|he|she|his|her|him|"
    r"the procedure|the operation|the condition|the fracture|the same)\b", re.I)
_ELLIPSIS = re.compile(r"^\W*(and|also|what about|how about|and what about|what else|anything else|"
                       r"more|tell me more|why|how come|so|then|which ones?|which of)\b", re.I)
_WHAT_ABOUT = re.compile(r"^\W*(and )?(what|how) about\b", re.I)


class QueryRewriter(Protocol):
    def rewrite(self, question: str, history: list[Turn]) -> str: ...


class HeuristicRewriter:
    """Resolves follow-ups by carrying the topic of the last self-contained question."""

    def rewrite(self, question: str, history: list[Turn]) -> str:
        topic: list[str] = []
        previous: list[str] = []
        for text in [t for role, t in history if role == "user"] + [question]:
            words = [w for w in content_words(text) if w not in QUESTION_FILLER]
            if is_follow_up(text) and topic:
                carried = previous if _WHAT_ABOUT.search(text) else topic
                resolved = [w for w in carried if w not in words]
                query = f"{text} {' '.join(resolved)}".strip()
                previous = words + resolved
            else:
                query = text
                if words:
                    topic = words
                previous = words
        return query


def is_follow_up(question: str) -> bool:
    words = [w for w in content_words(question) if w not in QUESTION_FILLER]
    return bool(_ANAPHORA.search(question) or _ELLIPSIS.search(question) or not words)
