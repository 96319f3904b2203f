"""Patient-safety and conversation checks that run before retrieval, all deterministic.

- ``urgent``: red-flag symptoms (``prompts/urgent.yaml``) -> urgent-care advice before anything else.
- ``small_talk``: greetings, thanks, "what can you do?" -> a short friendly reply.
- ``injection``: attempts to change the instructions -> they change nothing; a message that is
  only such an attempt gets a fixed reply, otherwise the rest of the message is answered normally.
- ``decision``: "should I...?" -> the guide's information plus "discuss it with your doctor".
- ``clean``: control characters and HTML/markup are removed from the question before use.

Regular expressions live in the prompt files so staff can extend them with a test case each.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from assistant.prompts import Prompts

_TAG = re.compile(r"<\s*(script|style)[^>]*>.*?<\s*/\s*\1\s*>|<[^>]{0,500}>", re.I | re.S)


@dataclass(frozen=True)
class Screening:
    urgent: tuple[str, ...]  # names of the red-flag rules that matched
    small_talk: str | None  # a reply, when the message is only small talk
    injection: bool
    question: str  # what is left to answer (the injection removed)
    decision: bool


class Safety:
    def __init__(self, prompts: Prompts, source_name: str) -> None:
        self.source_name = source_name
        urgent = prompts.data("urgent.yaml")
        self.advice: str = urgent["advice"].strip()
        self._rules = [(r["name"], re.compile(r["pattern"].strip(), re.I | re.S), bool(r.get("personal")))
                       for r in urgent["rules"]]
        self._personal = re.compile(urgent["personal"].strip(), re.I)
        talk = prompts.data("conversation.yaml")
        self._talk = {k: (re.compile(v["pattern"].strip(), re.I), v.get("reply", "")) for k, v in talk.items()
                      if isinstance(v, dict) and k in ("greeting", "thanks", "goodbye", "capabilities")}
        self._decision = re.compile(talk["decision"]["pattern"].strip(), re.I)
        self.decision_note: str = talk["decision"]["note"]
        self._injection = re.compile(talk["injection"]["pattern"].strip(), re.I)
        self.injection_reply: str = talk["injection"]["reply"].format(source_name=source_name)
        self.disclaimer: str = talk["disclaimer"].format(source_name=source_name)

    def screen(self, question: str) -> Screening:
        urgent = self.urgent(question)
        injection, rest = self.strip_injection(question)
        return Screening(urgent, None if urgent else self.small_talk(rest), injection, rest,
                         bool(self._decision.search(rest)))

    def urgent(self, message: str) -> tuple[str, ...]:
        personal = bool(self._personal.search(message))
        return tuple(name for name, rx, needs_personal in self._rules
                     if rx.search(message) and (personal or not needs_personal))

    def small_talk(self, message: str) -> str | None:
        """A reply when the message is only a greeting, thanks, goodbye or a question about the bot."""
        rest, replies = message, []
        for kind in ("greeting", "capabilities", "thanks", "goodbye"):
            rx, reply = self._talk[kind]
            if rx.search(rest):
                rest = rx.sub(" ", rest)
                replies.append(reply.format(source_name=self.source_name))
        leftover = [w for w in re.findall(r"[a-z]+", rest.lower()) if w not in _FILLER]
        if not replies or leftover:
            return None
        return replies[-1] if len(replies) > 1 and "welcome" in replies[-1] else replies[0]

    def strip_injection(self, message: str) -> tuple[bool, str]:
        """(whether the message tries to change the instructions, the part that remains a question)."""
        if not self._injection.search(message):
            return False, message
        parts = _CLAUSES.split(message)
        kept = [p for p in parts if p and not self._injection.search(p)]
        return True, " ".join(kept).strip()


# sentence ends, or "and/then/but" before a new question: where an injected instruction stops
_CLAUSES = re.compile(r"(?<=[.!?;:])\s+|\s+(?:and then|and|then|but)\s+"
                      r"(?=(?:tell|what|who|how|which|where|when|why|is|are|can|do|does)\b)")
_FILLER = set("""a an the and or so well ok okay oh please you u there bot assistant again very much
so lot lots for all your it this that is are me i my just really today so much again""".split())


def clean(text: str) -> str:
    """Plain text from whatever was pasted: markup removed, entities decoded, control chars dropped."""
    text = html.unescape(_TAG.sub(" ", text))
    text = _TAG.sub(" ", text)  # markup that was entity-encoded
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # markdown links and images: keep the words
    text = re.sub(r"\b(?:javascript|vbscript|data|https?|ftp|file):\S*|\bwww\.\S+", " ", text, flags=re.I)
    text = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"[`*_#>\[\]{}|~]+", " ", text)  # markdown punctuation carries no meaning here
    return re.sub(r"\s+", " ", text).strip()
