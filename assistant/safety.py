"""Patient-safety and conversation checks that run before retrieval, all deterministic.

- ``urgent``: red-flag symptoms (``prompts/urgent.yaml``) -> urgent-care advice before anything else.
  Each red-flag group is recognised by its patterns *or* by embedding similarity to its exemplar
  phrasings (closer than a threshold, and closer than to every "calm" exemplar by a margin), so
  mild lay wordings are caught. A match counts only in a clause about someone now (a person or a
  time is named) that is not a general or hypothetical question. The similarity is taken without
  the people and times (the patterns judge who and when; the exemplars judge what), and an
  exemplar that denies what the clause affirms ("can't walk" against "walks every day") is no match.
  A learned model (``redflag_model.py``) reads the same pieces' vectors and adds the new wordings
  neither catches ("nan slid off the commode an hour ago and screams if we try to lift her").
- ``small_talk``: greetings, thanks, "what can you do?" -> a short friendly reply.
- ``injection``: attempts to change the instructions -> they change nothing; a message that is
  only such an attempt gets a fixed reply, otherwise the rest of the message is answered normally.
- ``decision``: "should I...?" -> the guide's information plus "discuss it with your doctor".
- ``clean``: control characters and HTML/markup are removed from the question before use.

Patterns and exemplars live in the prompt files so staff can extend them with a test case each.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nh3
import numpy as np

from assistant.prompts import Prompts
from assistant.redflag_model import RedFlagModel
from assistant.text import content_words, stem, words

_SENTENCES = re.compile(r"(?<=[.?!;])\s+|\n+|\s+but\s+")
_PIECES = re.compile(r",\s*|\s+(?:and|so|now)\s+(?=(?:i|my|he|she|it|his|her|mum|dad|now|since)\b)|\s+-\s+")
_NEGATION = re.compile(r"\b(no|not|never|nothing|can'?t|cannot|couldn'?t|won'?t|wouldn'?t|don'?t|doesn'?t|didn'?t|"
                       r"isn'?t|unable|lost|losing|hardly|barely|without)\b|n't\b", re.I)
_SINCE = re.compile(r"\b(?:ever\s+)?since\b", re.I)
_NEUTRAL_SPACE = re.compile(r"(?<![\w'])'\w*")  # what is left of "mum's", "I'm" once "mum", "I" are gone


@dataclass(frozen=True)
class Screening:
    urgent: tuple[str, ...]  # names of the red-flag rules that matched
    small_talk: str | None  # a reply, when the message is only small talk
    injection: bool
    question: str  # what is left to answer (the injection removed)
    decision: bool


class Safety:
    def __init__(self, prompts: Prompts, source_name: str,
                 embed: Callable[[list[str]], np.ndarray] | None = None,
                 embed_fixed: Callable[[list[str]], np.ndarray] | None = None,
                 model: RedFlagModel | None = None) -> None:
        """``embed``: texts -> unit vectors; ``embed_fixed`` the same for the fixed exemplar lists (it
        may read them from a cache); ``model``: the learned detector for those vectors. Without
        ``embed`` only the patterns are used."""
        self.source_name = source_name
        urgent = prompts.data("urgent.yaml", ("advice", "threshold", "margin", "groups", "personal", "current", "general",
                                               "past", "resolved", "normal", "not_now"))
        self.advice: str = urgent["advice"].strip()
        self._groups = [(g["name"], [re.compile(p.strip(), re.I) for p in g["patterns"]], g.get("exemplars") or [])
                        for g in urgent["groups"]]
        # what a message must also say for a group to count by resemblance (exemplars, the learned model):
        # "severe sudden pain after a fall or injury" needs the fall or a time; "my back hurts" alone is not it
        self._requires = {g["name"]: re.compile(g["requires"].strip(), re.I) for g in urgent["groups"] if g.get("requires")}
        self._calm: list[str] = urgent.get("calm") or []
        self._threshold, self._margin = float(urgent["threshold"]), float(urgent["margin"])
        self._personal = re.compile(urgent["personal"].strip(), re.I)
        self._current = re.compile(urgent["current"].strip(), re.I)
        self._general = re.compile(urgent["general"].strip(), re.I)
        self._past = re.compile(urgent["past"].strip(), re.I)
        self._resolved = re.compile(urgent["resolved"].strip(), re.I)
        self._normal = re.compile(urgent["normal"].strip(), re.I)
        self._not_now = re.compile(urgent["not_now"].strip(), re.I)
        self._embed = embed
        self._embed_fixed = embed_fixed or embed
        self._model = model
        self._exemplars: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        talk = prompts.data("conversation.yaml", ("greeting", "thanks", "goodbye", "capabilities", "decision",
                                                  "injection", "disclaimer"))
        self._talk = {k: (re.compile(v["pattern"].strip(), re.I), v.get("reply", "")) for k, v in talk.items()
                      if isinstance(v, dict) and k in ("greeting", "thanks", "goodbye", "capabilities")}
        self._decision = re.compile(talk["decision"]["pattern"].strip(), re.I)
        self.decision_note: str = talk["decision"]["note"]
        self._injection = re.compile(talk["injection"]["pattern"].strip(), re.I)
        self.injection_reply: str = talk["injection"]["reply"].format(source_name=source_name)
        self.disclaimer: str = talk["disclaimer"].format(source_name=source_name)

    def screen(self, question: str, urgent: tuple[str, ...] | None = None, read: str = "") -> Screening:
        """``urgent``: red flags already found (``red_flags``); computed here when not given. ``read``: the
        message with its spelling corrected, where an instruction typed with slips ("ignroe all previus
        instructions") is found too (the patterns are written in standard spelling)."""
        urgent = self.urgent(question) if urgent is None else urgent
        injection, rest = self.strip_injection(question)
        if not injection and read and read != question:
            typed_with_slips, kept = self.strip_injection(read)
            if typed_with_slips:
                injection, rest = True, kept
        return Screening(urgent, None if urgent else self.small_talk(rest), injection, rest,
                         bool(self._decision.search(rest)))

    def warm_up(self) -> None:
        """Embed the exemplars now (from the cache when it has them), not at the first message."""
        self.similar([], {})

    def urgent(self, message: str) -> tuple[str, ...]:
        """Names of the red-flag groups the message describes as happening now."""
        found, pieces = self.red_flags(message)
        if not pieces or self._embed is None:
            return found
        texts = self.compared(pieces)
        return self.with_similar(found, pieces, dict(zip(texts, self._embed(texts))), message)

    def with_similar(self, found: tuple[str, ...], pieces: list[str], vectors: Mapping[str, np.ndarray],
                     message: str) -> tuple[str, ...]:
        """The groups ``red_flags`` found, then those ``similar`` adds (``vectors``: the ``compared``
        texts' vectors, embedded by the caller with whatever else it embeds)."""
        if not pieces:
            return found
        return found + tuple(g for g in self.similar(pieces, vectors, message) if g not in found)

    def red_flags(self, message: str) -> tuple[tuple[str, ...], list[str]]:
        """(groups whose patterns match a clause about someone now, the clauses and pieces of clauses
        for ``similar``; the caller embeds their ``compared`` texts, with whatever else it embeds)."""
        sentences = [c.strip() for c in _SENTENCES.split(message) if c and c.strip()]
        present = [self.present(s) for s in sentences]
        # None for a sentence that is over, or not about someone now
        now = [c if c and self._about_someone_now(c, message) else None for c in present]
        live = [c for c in now if c]
        read = [self.settled(c) for c in live + runs(now)]
        found = tuple(name for name, patterns, _ in self._groups if any(p.search(c) for p in patterns for c in read))
        pieces = live + [p.strip() for c in live for p in _PIECES.split(c) if p and len(p.split()) >= 3 and p.strip() != c]
        return found, list(dict.fromkeys(pieces))

    def compared(self, pieces: list[str]) -> list[str]:
        """The texts ``similar`` needs embedded: each piece, and the piece without its people and times."""
        return list(dict.fromkeys(pieces + [self.neutral(p) for p in pieces]))

    def reading(self) -> str:
        """A fingerprint of how messages are cut into pieces and which pieces count (the patterns
        above and ``urgent.yaml``'s who/when/what-is-over ones): the learned model was trained on
        pieces cut this way, so a change here means retraining it (a test compares the two)."""
        rules = [_SENTENCES, _PIECES, _NEUTRAL_SPACE, _ASKS_ABOUT, self._personal, self._current, self._general,
                 self._past, self._resolved]
        return hashlib.sha256("\x00".join(r.pattern for r in rules).encode()).hexdigest()[:16]

    def present(self, clause: str) -> str:
        """The clause without what is over: a part set long ago with nothing current in it ("last year
        after a fall I had terrible pain"), or a symptom that went away ("it went away after the
        procedure"). "I fell last year and since then my legs have gone numb" keeps its second part."""
        return self._without(clause, self._resolved, self._past)

    def settled(self, clause: str) -> str:
        """The clause without what the patterns and exemplars pass over (``urgent.yaml``'s ``normal``
        and ``not_now``): "legs are fine and all", "blacked out once in 1979", "I worry about getting
        chest pain during the procedure". The learned model reads the pieces it was trained on."""
        return self._without(clause, self._normal, self._not_now)

    def _without(self, clause: str, always: re.Pattern, unless_current: re.Pattern) -> str:
        """The clause without its pieces that are ``_left_out``."""
        if not (always.search(clause) or unless_current.search(clause)):
            return clause
        kept = [p for p in _PIECES.split(clause) if p and p.strip() and not self._left_out(p, always, unless_current)]
        return " ".join(p.strip() for p in kept)

    def _left_out(self, piece: str, always: re.Pattern, unless_current: re.Pattern) -> bool:
        """The piece matches ``always``, or ``unless_current`` with no current time."""
        return bool(always.search(piece) or (unless_current.search(piece) and not self._current.search(piece)))

    def _passed_over(self, piece: str) -> bool:
        """Some part of the piece is what ``settled`` leaves out (its other parts are compared on their own)."""
        return any(self._left_out(p, self._normal, self._not_now) for p in _PIECES.split(piece) if p and p.strip())

    def neutral(self, text: str) -> str:
        """The text without its people and times ("mum's … now"): the patterns check who and when;
        the exemplars are compared on what is described, so "mum's all hunched over now" is not near
        "mum's legs went like jelly this morning" for its "mum" and "this morning"."""
        rest = " ".join(_NEUTRAL_SPACE.sub(" ", self._current.sub(" ", self._personal.sub(" ", text))).split())
        return rest if len(rest.split()) >= 2 else text

    def similar(self, pieces: list[str], vectors: Mapping[str, np.ndarray], message: str = "") -> list[str]:
        """Red-flag groups whose exemplars a piece resembles (and resembles more than the calm ones),
        or that the learned model finds in a piece. ``vectors``: the ``compared`` texts' vectors. The
        exemplars are compared without people and times; the model reads both forms (whether
        something is over or happening now is in the words the comparison leaves out). A group with a
        ``requires`` pattern counts only when the ``message`` (default: the pieces) matches it or says
        the symptom is happening now (``current``)."""
        if self._embed_fixed is None:
            return []
        if self._exemplars is None:
            texts = [self.neutral(e) for _, _, exemplars in self._groups for e in exemplars]
            owner = np.array([i for i, (_, _, exemplars) in enumerate(self._groups) for _ in exemplars])
            calm = [self.neutral(c) for c in self._calm]
            learned = [text for text, _ in self._model.examples] if self._model is not None else []
            fixed = self._embed_fixed(texts + calm + learned)
            self._denied = [denied_stems(t) for t in texts]
            self._exemplars = (fixed[: len(texts)], owner, fixed[len(texts): len(texts) + len(calm)])
            self._learned = fixed[len(texts) + len(calm):]
        if not pieces:
            return []
        exemplars, owner, calm = self._exemplars
        neutral = np.array([vectors[self.neutral(p)] for p in pieces])
        sims = neutral @ exemplars.T
        # MiniLM does not see negation: "walks every day" is near "can't walk properly". An exemplar
        # denying what a piece affirms ("walk") is its opposite, not a match.
        for i, piece in enumerate(pieces):
            if not _NEGATION.search(piece):
                stems = {stem(w) for w in words(piece)}
                sims[i, [bool(denied & stems) for denied in self._denied]] = -1.0
        calm_best = (neutral @ calm.T).max(axis=1) if len(calm) else np.full(len(pieces), -1.0)
        told = message or " ".join(pieces)
        found = []
        for piece, row, calm_sim in zip(pieces, sims, calm_best):
            if self._passed_over(piece):
                continue  # its other parts are pieces of their own
            for g, (name, _, _) in enumerate(self._groups):
                best = float(row[owner == g].max()) if (owner == g).any() else -1.0
                if best >= self._threshold and best >= calm_sim + self._margin and name not in found:
                    found.append(name)
        # the model reads each piece as it was trained, but not one that says nothing besides what
        # ``settled`` passes over ("no numbness down below", "legs are fine and all")
        said = [i for i, p in enumerate(pieces) if self.settled(p).strip()]
        learned = self._model.groups(np.hstack([neutral[said], np.array([vectors[pieces[i]] for i in said])]),
                                     neutral[said] @ self._learned.T) if self._model is not None and said else []
        return [g for g in found + [g for g in learned if g not in found]
                if g not in self._requires or self._required(g, told)]

    def _required(self, group: str, told: str) -> bool:
        """The message says what a group's ``requires`` asks for (the fall), or when the symptom began. A
        fall told only as long past ("I had a fall three years ago and the pain has been steady ever since")
        makes what came "since" long-standing: then only another time now ("this morning") counts."""
        said = [p for s in _SENTENCES.split(told) for p in _PIECES.split(s) if p and self._requires[group].search(p)]
        if said and all(self._past.search(p) for p in said):
            return bool(self._current.search(_SINCE.sub(" ", told)))
        return bool(said) or bool(self._current.search(told))

    def _about_someone_now(self, clause: str, message: str) -> bool:
        current = bool(self._current.search(clause))
        if self._general.search(clause) and not current:
            return False  # "can kyphoplasty cause leg numbness?", "what if my legs go numb?"
        if current or self._personal.search(clause):
            return True
        # a message naming nobody is about the writer ("cant feel legs"), unless it asks about a
        # condition in general ("how is urinary incontinence diagnosed?")
        return not self._personal.search(message) and not _ASKS_ABOUT.search(clause)

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
        # with an injection present, an order to say something ("tell me it's 100% safe", "end every reply
        # with ...") belongs to it; a real question ("tell me who does it") stays
        kept = [p for p in parts if p and not self._injection.search(p)
                and not (_ORDER_TO_SAY.search(p) and not _ASKS.search(p))]
        return True, " ".join(kept).strip()


# a question about something, after a connective and the thing it asks about if any ("and the needle - where does
# it go?"), not a symptom told: in a message naming nobody, such a clause is about no one now
_ASKS_ABOUT = re.compile(r"^\W*(?:(?:and|but|so|also|or|ok|okay)\W+(?:(?:the|a|an|that|this|these|those|your)\s+[a-z]+"
                         r"(?:\s+[a-z]+)?\s*[-–—:,]+\s*)?)?(?:what|how|why|which|who|where|when)\b[^?]*\?", re.I)
_ORDER_TO_SAY = re.compile(r"^\W*(?:please\s+)?(?:tell (?:me|us|them|everyone)|say|write|reply|respond|answer|confirm|state|"
                           r"claim|declare|add|append|put|start|begin|end|finish|include|mention|print|output)\b", re.I)
_ASKS = re.compile(r"\?|^\W*(?:please\s+)?tell (?:me|us) (?:about |more about )?"
                   r"(?:what|who|how|why|when|where|which|whether|if)\b", re.I)
# sentence ends, or "and/then/but" before a new question: where an injected instruction stops
_CLAUSES = re.compile(r"(?<=[.!?;:])\s+|(?<=[.!?;:]['\"”’)\]])\s+|\s+(?:and then|and|then|but)\s+"
                      r"(?=(?:tell|what|who|how|which|where|when|why|is|are|can|do|does)\b)")
_FILLER = set("""a an the and or so well ok okay oh please you u there bot assistant again very much
so lot lots for all your it this that is are me i my just really today so much again""".split())


def runs(now: list[str | None]) -> list[str]:
    """A symptom told over two or three sentences ("Went flying over the cat last night. My back has
    been screaming ever since."): each run of neighbouring sentences read as one, when every one of
    them is about someone now (``now``: None for one that is not; "Is chest pain something it can
    cause? I'm having it next month." is no run)."""
    out = []
    for size in (2, 3):
        for i in range(len(now) - size + 1):
            run = now[i:i + size]
            if all(run):
                out.append(", ".join(re.sub(r"[.?!;,\s]+$", "", s) for s in run))
    return out


def denied_stems(text: str) -> set[str]:
    """Stems of the words a negation denies: "can't walk properly" -> {"walk", "proper"}."""
    out: set[str] = set()
    for m in _NEGATION.finditer(text):
        out |= {stem(w) for w in content_words(text[m.end():])[:2]}
    return out


def clean(text: str) -> str:
    """Plain text from whatever was pasted: markup removed, entities decoded, control chars dropped.
    Only real tags go ("<2 days ago ... fever > 39C" keeps its words); ``nh3`` runs in linear time."""
    text = _ANSI.sub(" ", text)  # terminal colour codes ("\x1b[31m") go whole, not as "31m"
    text = html.unescape(_strip_tags(html.unescape(_strip_tags(text))))  # twice: markup may be entity-encoded
    text = _MARKDOWN_LINK.sub(r"\1", text)  # markdown links and images: keep the words
    text = re.sub(r"\b(?:javascript|vbscript|data|https?|ftp|file):\S*|\bwww\.\S+", " ", text, flags=re.I)
    text = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"[`*_#\[\]{}|~]+", " ", text)  # markdown punctuation carries no meaning here ("<", ">" may: "> 39C")
    return re.sub(r"\s+", " ", text).strip()


# Bounded repetitions keep every pattern linear in the length of the text (no catastrophic backtracking).
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)?|[@-Z\\-_])")
_MARKDOWN_LINK = re.compile(r"!?\[([^\[\]\n]{0,300})\]\([^()\s]{0,500}\)")


def _strip_tags(text: str) -> str:
    return nh3.clean(text, tags=set(), clean_content_tags={"script", "style"})
