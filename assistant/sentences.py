"""Sentence ends a patient did not type.

Many people type a message in one go, without full stops or question marks: "my mum is 82 and slipped
last month the gp sent her for a scan what is it exactly". Read as one sentence, the whole story is the
question, and every word of it has to be in the guide. ``punctuate`` puts a full stop where a direct
question starts inside such a run ("… for a scan. what is it exactly"), so the story before it is read as
story.

A direct question is recognised by its word order, not by a list of phrases:

- a question word followed by an auxiliary before any subject ("what is it", "how long will I", "which
  doctor should we see"); "what it is" (subject first) is reported speech, and stays;
- an auxiliary followed by its subject and what a question puts after it ("is that normal", "can she
  still have it", "does my dad need one"): a verb in its base form after "can/will/does …", not a second
  auxiliary ("the worry is she won't cope" stays one sentence).

Nothing is split within a few words of a question word ("how long will I…", "what kind of doctor should
I…" already are questions), after a word that starts a clause of its own ("if", "whether", "that"), or in
the first words of a sentence.
"""

from __future__ import annotations

import re

from assistant.restate import AUX, BE, MODAL_FORMS, WH_WORDS, can_be_base_verb, can_be_noun, can_be_verb

_SUBJECT_PRONOUNS = {"i", "you", "he", "she", "it", "we", "they", "that", "this", "there"}
_POSSESSIVES = {"my", "your", "his", "her", "our", "their"}
_DETERMINERS = _POSSESSIVES | {"the", "a", "an"}
_OBJECTS = {"me", "us", "him", "her", "them", "you"}
_RELATIVE = {"which", "who", "where", "when"}
_DO_HAVE = {"do", "does", "did", "has", "have", "had"}
# after these the next words are a clause of their own, never a new sentence
_OPENS_CLAUSE = {"if", "whether", "that", "than", "as", "so", "and", "or", "but", "because", "cos", "when", "while",
                 "until", "unless", "although", "where", "what", "who", "which", "how", "why", "not", "to"}
_PREPOSITIONS = {"about", "of", "on", "in", "at", "for", "to", "with", "from", "by", "into", "over", "like", "after",
                 "before", "during", "without"}
_LINKS = {"of", "in", "on", "at", "for", "to", "with", "from", "by", "about", "and", "or", "that", "which", "who"}
MIN_STORY_WORDS = 3  # words a sentence has before a question can start inside it
WH_REACH = 5  # how far after a question word its auxiliary, or after a subject its verb, is looked for
_WORD = re.compile(r"[A-Za-z][A-Za-z']*|\d+")
_SENTENCE = re.compile(r"[^.?!;\n]+(?:[.?!;\n]+|$)")


def punctuate(text: str) -> str:
    """The text with ". " before each direct question that starts inside a run of words its writer did not end
    with a full stop, question mark or line break (a sentence they ended was punctuated: it is read as written)."""
    return _SENTENCE.sub(lambda m: m.group(0) if re.search(r"[.?!;\n]$", m.group(0)) else _split_run(m.group(0)),
                         text)


def _split_run(sentence: str) -> str:
    words = list(_WORD.finditer(sentence))
    lower = [w.group(0).lower() for w in words]
    starts, begun = [], 0
    for i in range(MIN_STORY_WORDS, len(words)):
        if i - begun >= MIN_STORY_WORDS and _question_starts(lower, i, begun) and _says_something(lower[begun:i]):
            starts.append(i)
            begun = i
    out, last = [], 0
    for i in starts:
        cut = words[i].start()
        before = sentence[last:cut].rstrip()
        out.append(before if before.endswith(",") else before.rstrip(" ,") + ".")
        out.append(" ")
        last = cut
    out.append(sentence[last:])
    return "".join(out)


def _question_starts(words: list[str], i: int, begun: int) -> bool:
    word, prev = words[i], words[i - 1]
    if prev in _OPENS_CLAUSE or prev in _PREPOSITIONS or prev in AUX or "'" in prev:
        return False  # "…and she's had…", "…that is…", "ask about what…": a clause that goes on
    if word in WH_WORDS and word not in ("whom", "whose"):
        # "a clinic which is closer", "a doctor who does these": a relative clause after its noun
        # and "tell me what…", "ask him why…": the question is what is asked of them, not a new sentence
        noun = can_be_noun(prev) and not prev.endswith(("self", "selves"))
        return not (word in _RELATIVE and noun) and prev not in _OBJECTS and _wh_question(words, i)
    if word in AUX and word != "am" and prev not in _SUBJECT_PRONOUNS - {"that", "this", "there"}:
        return not _in_question(words, i, begun) and _inverted(words, i, can_be_noun(prev))
    return False


def _in_question(words: list[str], i: int, begun: int) -> bool:
    """An auxiliary after a question word that has none yet ("which sort of specialist would I need…",
    "how long will…") is that question's; "when"/"where" further back are mostly conjunctions ("my back
    hurts when I walk is that…")."""
    for j in range(i - 1, begun - 1, -1):
        if words[j] in AUX:
            return False
        if words[j] in WH_WORDS and (words[j] not in ("when", "where") or j == i - 1):
            return True
    return False


def _says_something(words: list[str]) -> bool:
    """The words before a question are a statement of their own, with a verb ("the nurse said…", "she
    has osteoporosis"), not the question's topic said first ("cancer in spine can it…")."""
    return any(w in AUX or (can_be_verb(w) and not can_be_noun(w)) or w.endswith("ed") for w in words) or any(
        w in _SUBJECT_PRONOUNS - {"that", "this", "it"} for w in words[:-1])  # "so they literally put cement in…"


def _wh_question(words: list[str], i: int) -> bool:
    """ "what is it", "how many of these should he…", "which doctor should we see": an auxiliary comes before any
    subject; "what it is", "where to start" (no auxiliary first) are the object of what was said before."""
    for j in range(i + 1, min(len(words), i + 1 + WH_REACH)):
        w = words[j]
        if w in AUX:
            return True
        if (w in _SUBJECT_PRONOUNS or w in _POSSESSIVES or w in WH_WORDS or w == "to"
                or (w in _DETERMINERS and words[j - 1] != "of")):  # "how many procedures the doctor has done"
            return False
    return False


def _inverted(words: list[str], i: int, after_noun: bool) -> bool:
    """ "is that normal", "can she still have it", "should a doctor be open", "can cancer really cause it":
    auxiliary, subject, then what a question puts after it. After a noun, "is"/"has"/"does" take a noun subject
    only in a statement ("the radiologist is the best bet", "the surgeon has the results"); a pronoun is still
    a question's subject ("…back to clinic is that normal")."""
    aux, rest = words[i], words[i + 1:]
    modal = aux in MODAL_FORMS
    if not rest:
        return False
    pronoun = rest[0] in _SUBJECT_PRONOUNS
    if pronoun:
        after = rest[1:]
    elif (rest[0] in _DETERMINERS and len(rest) > 1 and rest[1] not in AUX and rest[1] not in _LINKS
          and (modal or not after_noun)):
        after = rest[2:]
    elif modal and can_be_noun(rest[0]) and not can_be_verb(rest[0]):
        after = rest[1:]  # "…thin bones can cancer really cause them"
    else:
        return False
    if not after:
        return aux in BE and pronoun  # "… is it" at the very end; "the problem is the cost" is a statement
    nxt = after[0]
    if nxt in AUX or nxt in _SUBJECT_PRONOUNS - {"that", "this"} or _finite(nxt):
        return False  # "the worry is she won't cope", "the thing is it hurts": a statement goes on
    if aux in BE:  # "is the procedure done…", not "the trouble is the pain in my back"
        return pronoun or not (nxt in _LINKS or nxt in _DETERMINERS)
    # "can she still have it", "can the cancer on its own cause this": a verb in its base form soon after
    for w in after[:WH_REACH]:
        if w in AUX or w in _SUBJECT_PRONOUNS or "'" in w:
            return False
        if can_be_base_verb(w) and not w.endswith("ly"):
            return modal or aux in _DO_HAVE
    return False


def _finite(word: str) -> bool:
    """A verb with the -s of the present ("hurts", "needs"): the verb of a statement, not a predicate."""
    return word.endswith("s") and not word.endswith("ss") and can_be_verb(word) and can_be_verb(word[:-1])
