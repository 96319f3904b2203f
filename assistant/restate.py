"""Restating a question as an indirect one, for the notes that say what the source does not cover:
"Will I be put to sleep for it?" -> "whether you will be put to sleep for it". Rules of English word
order (the subject before the verb, "do" folded into the verb), with ``lemminflect`` telling which
words can be verbs, nouns or adjectives. A text that is not a question restates as "" and is never
echoed back.
"""

from __future__ import annotations

import re
from functools import lru_cache

WH_WORDS = ("what", "who", "whom", "whose", "how", "why", "when", "where", "which")
AUX = ("is", "are", "was", "were", "am", "do", "does", "did", "can", "could", "will", "would", "should",
       "shall", "may", "might", "must", "has", "have", "had", "isn't", "aren't", "don't", "doesn't", "can't",
       "won't", "wouldn't", "shouldn't", "couldn't")
MAX_FRAGMENT = 3  # a question of at most this many words that is not a sentence ("a brace?") names a thing

_SWAP = {"i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "i'm": "you're",
         "i've": "you've", "i'll": "you'll", "i'd": "you'd", "we": "you", "us": "you", "our": "your",
         "ours": "yours", "we're": "you're", "we've": "you've", "am": "are"}
_DO = {"do": "", "does": "VBZ", "did": "VBD"}
_PREPOSITIONS = {"for", "to", "in", "on", "at", "after", "before", "with", "without", "from", "by", "during", "of",
                 "about", "if", "or", "and", "than", "like", "under", "over", "into"}
_CLAUSE_LINKS = {"if", "or", "and", "than"}  # start a clause of their own, not a phrase of the subject
BE = {"is", "are", "was", "were", "am", "isn't", "aren't"}
MODALS = ("can", "could", "will", "would", "should", "shall", "may", "might", "must")
MODAL_FORMS = {*MODALS, "can't", "won't", "wouldn't", "shouldn't", "couldn't"}  # and their negatives
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "some", "any", "each", "every", "all"}
_POSSESSIVES = {"my", "your", "his", "her", "its", "our", "their"}
_MODIFIERS = {"other", "same", "first", "second", "third", "last", "next", "only"}  # before a noun, like adjectives
_SUBJECT_PRONOUNS = {"i", "you", "he", "she", "it", "we", "they", "this", "that", "there", "these", "those"}
_OBJECTS = {"me", "you", "him", "her", "it", "us", "them"}
# people a patient writes about, subjects of what follows: never read as an adjective ("keep mum")
_PEOPLE = {"mum", "mom", "mam", "dad", "nan", "gran", "granny", "grandma", "grandpa", "grandad", "husband", "wife",
           "partner", "son", "daughter", "sister", "brother", "friend", "doctor", "surgeon", "nurse", "gp"}
_INDEFINITE = {"nothing", "something", "anything", "everything"}  # "probably nothing?" names no thing


_ASKED_OF_ME = re.compile(r"^(?:can|could|would|will) you (?:please )?(?:give|send|recommend|suggest|find|show|write|get|"
                          r"make|tell) (?:me|us) (?!(?:about|what|who|how|where|when|why|which|whether|if)\b)(.+)$", re.I)
_CONTRACTIONS = re.compile(r"\b(what|who|how|where|when|why|which|it|that|there)'s\b", re.I)


def restate(question: str) -> str:
    """'Will I be put to sleep for it?' -> 'whether you will be put to sleep for it'."""
    question = _CONTRACTIONS.sub(lambda m: f"{m.group(1)} is", question)
    tokens = re.sub(r"[?!.]+\s*$", "", question.strip()).split()
    if not tokens:
        return ""
    low = [t.lower().strip(",") for t in tokens]
    asked = _ASKED_OF_ME.match(" ".join(tokens))
    if asked:  # "can you give me a recipe for shepherd's pie?": what is asked for, not "whether you can give you"
        return "anything about " + _swap(asked.group(1))
    try:
        if low[0] in AUX and len(tokens) > 1:
            clause = _declarative(low[0], tokens[1:])
            return "whether " + _swap(clause)
        if low[0] in WH_WORDS:
            n = 1
            if low[0] in ("how", "what", "which", "whose") and len(low) > 1 and low[1] not in AUX:
                n = 2  # "how long", "which doctor", "what kind of doctor"
                if low[1] in ("kind", "type", "sort", "kinds", "types", "sorts") and len(low) > 3 and low[2] == "of":
                    n = 4
                elif low[1] in ("much", "many") and low[2:3] and low[2] not in AUX:
                    # "how much height | will I get back", "how many kyphoplasty procedures | should a surgeon do"
                    verb = next((i for i in range(3, min(len(low), 6)) if low[i] in AUX), 0)
                    n = verb or n
            wh, rest = tokens[:n], tokens[n:]
            subject_question = rest and len(rest) > 1 and (
                (rest[0].lower() in _DO and _subject_length(rest[1:]) == len(rest) - 1)  # "who does it"
                or (rest[0].lower() in BE and n >= 2 and rest[1].lower() not in _SUBJECT_PRONOUNS
                    and (low[0] in ("which", "whose")  # "which one is best", "which surgeon is the most experienced"
                         or (rest[1].lower() not in _DETERMINERS and (_can_be_adjective(rest[1].lower()) or (
                             can_be_verb(rest[1].lower()) and not can_be_noun(rest[1].lower()))))))  # "what X is used"
                or (rest[0].lower() in BE and n == 1 and low[0] in ("which", "what", "who")
                    and _can_be_adjective(rest[1].lower().strip(","))))  # "which is better"
            if rest and rest[0].lower() in AUX and len(rest) > 1 and not subject_question:
                return _swap(" ".join(wh).lower() + " " + _declarative(rest[0].lower(), rest[1:], wh=True))
            return _swap(" ".join([wh[0].lower(), *wh[1:], *rest]))
        if (len(tokens) <= MAX_FRAGMENT and low[0] not in _SUBJECT_PRONOUNS and question.rstrip().endswith("?")
                and not _only_adverb(low[0]) and not set(low) & _INDEFINITE):
            return "anything about " + _swap(" ".join(tokens))  # "a brace?", "painkillers?" in a list of options
    except IndexError:
        pass
    return ""  # not a question (perhaps an instruction): never echoed back in a note


def _declarative(aux: str, rest: list[str], wh: bool = False) -> str:
    """'does' + ['Medicare', 'cover', 'it'] -> 'Medicare covers it'; 'will' + ['I', 'be', ...] -> 'I will be ...'.
    ``wh``: a question word asked for the rest ("what are | the risks"), so all of it can be the subject."""
    n = ((_subject_before_base_verb(rest) if aux in _DO or aux in MODAL_FORMS else 0)
         or _subject_length(rest, be=aux in BE, whole=wh))
    subject, tail = rest[:n], rest[n:]
    if aux in _DO:
        if tail and _DO[aux]:
            tail = [_inflect(tail[0], _DO[aux], " ".join(subject))] + tail[1:]
        return " ".join(subject + tail)
    aux = {"isn't": "is not", "aren't": "are not", "can't": "cannot", "won't": "will not"}.get(aux, aux)
    if (aux in BE and len(tail) > 1 and tail[0].lower() in _PREPOSITIONS - _CLAUSE_LINKS
            and subject[-1].lower() not in _SUBJECT_PRONOUNS):  # but "is it | in there forever": "it is in there ..."
        return " ".join(subject + tail + [aux])  # "how long recovery after kyphoplasty is"
    return " ".join(subject + [aux] + tail)


def _subject_before_base_verb(tokens: list[str]) -> int:
    """After 'do' or a modal the verb is in its base form, so the subject runs up to the first word
    that can be one: 'can | food poisoning | cause ...', 'will | the pain after kyphoplasty | go away',
    'can | things like makeup or hair dye | cause ...' (an '-ing' word or a preposition is not that
    verb). A noun right after 'the', 'my' or an adjective stays in the subject ('does | the cement |
    wear out'). 0 when no such verb is found."""
    low = [t.lower().strip(",") for t in tokens]
    if not low or low[0] in _SUBJECT_PRONOUNS or (low[0] in _SWAP and low[0] not in _POSSESSIVES):
        return 0
    for i in range(1, len(low)):
        word, previous = low[i], low[i - 1]
        if word in _PREPOSITIONS | _DETERMINERS | _POSSESSIVES or not can_be_base_verb(word):
            continue
        after_modifier = (previous in _DETERMINERS | _POSSESSIVES | _MODIFIERS
                          or (_can_be_adjective(previous) and previous not in _PEOPLE))  # "mum | go back"
        # a word followed by "the", "my", "it" starts a verb phrase ("moving | make the pain worse"), not a noun one
        object_follows = i + 1 < len(low) and low[i + 1] in _DETERMINERS | _POSSESSIVES | _OBJECTS
        if after_modifier and can_be_noun(word) and not object_follows:
            continue
        return i
    return 0


def _subject_length(tokens: list[str], be: bool = False, whole: bool = False) -> int:
    """How many leading tokens form the subject: a pronoun, or a noun phrase up to its verb
    (for 'is/are', also up to an adjective: 'is kyphoplasty | safe'). ``whole``: the phrase may run to
    the end ('what are | the risks or complications'), as a question word is what is said of it."""
    if not tokens:
        return 0
    low = [t.lower().strip(",") for t in tokens]
    if low[0] in _SUBJECT_PRONOUNS or (low[0] in _SWAP and low[0] not in _POSSESSIVES):
        return 1
    i = 2 if low[0] in _DETERMINERS | _POSSESSIVES and len(low) > 1 else 1
    while i < len(low):
        if low[i] in ("or", "and") and i + 1 < len(low) and low[i + 1] not in AUX:
            i += 2 if low[i + 1] in _DETERMINERS | _POSSESSIVES else 1  # "a radiologist or a surgeon": one subject
            continue
        if low[i] in _PREPOSITIONS | _DETERMINERS:  # "is my mum | a good candidate"
            break
        after_modifier = low[i - 1] in _DETERMINERS | _POSSESSIVES | _MODIFIERS or (
            low[i - 1] not in ("one", "ones") and _can_be_adjective(low[i - 1]))
        if can_be_verb(low[i]) and not ((after_modifier or be) and can_be_noun(low[i])):
            break  # "the other options", "is the success rate": nouns, even if "option" and "rate" can be verbs
        in_phrase = low[i - 1] in _DETERMINERS | _POSSESSIVES | _MODIFIERS or (
            _can_be_adjective(low[i - 1]) and can_be_noun(low[i]))
        if be and _can_be_adjective(low[i]) and not in_phrase:
            break  # "is kyphoplasty | safe", "is my mum | too old"; but "or the | orthopedic surgeon" goes on
        i += 1
    if be and i == len(low) > 1 and not whole:
        i -= 1  # "is the local anaesthetic | enough": after "is", something is said of the subject
    return i


@lru_cache(maxsize=4096)
def can_be_verb(word: str) -> bool:
    from lemminflect import getAllLemmas

    return "VERB" in getAllLemmas(word) or word in AUX


@lru_cache(maxsize=4096)
def can_be_base_verb(word: str) -> bool:
    from lemminflect import getAllLemmas

    return word in getAllLemmas(word).get("VERB", ())


@lru_cache(maxsize=4096)
def _only_adverb(word: str) -> bool:
    """'probably', 'just': a fragment that starts with one ('just healing probably?') names no option."""
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word)
    return "ADV" in lemmas and not {"NOUN", "VERB"} & set(lemmas)


@lru_cache(maxsize=4096)
def names_no_thing(word: str) -> bool:
    """A dictionary word that cannot be a noun ('allergic', 'cured'): "the guide does not mention
    allergic" is no sentence. A word the dictionary lacks (a drug, a brand) may be a name."""
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word)
    gerund = word.endswith("ing") and "VERB" in lemmas  # "tingling", "coughing" name a thing
    return bool(lemmas) and not gerund and "NOUN" not in lemmas and "PROPN" not in lemmas


@lru_cache(maxsize=4096)
def can_be_noun(word: str) -> bool:
    from lemminflect import getAllLemmas

    return "NOUN" in getAllLemmas(word)


@lru_cache(maxsize=4096)
def _can_be_adjective(word: str) -> bool:
    from lemminflect import getAllLemmas

    return "ADJ" in getAllLemmas(word) or "ADV" in getAllLemmas(word)


def _inflect(verb: str, tag: str, subject: str) -> str:
    if tag == "VBZ" and subject.lower() in ("i", "you", "we", "they"):
        return verb
    return _inflection(verb.lower(), tag) or verb


@lru_cache(maxsize=4096)
def _inflection(verb: str, tag: str) -> str:
    """lemminflect's form of a verb ('' if none). Kept: each call copies lemminflect's entries, and
    the warm-up test reads the cache to see that the forms were loaded before the first patient."""
    from lemminflect import getInflection

    forms = getInflection(verb, tag=tag)
    return forms[0] if forms else ""


def _swap(text: str) -> str:
    out = []
    for token in text.split():
        core = token.lower().strip(",")
        if len(core) > 1 and token.strip(",").isupper():  # "the US", "the UK": a name, not "us"
            out.append(token)
            continue
        out.append(_SWAP.get(core, token) + ("," if token.endswith(",") and core in _SWAP else ""))
    return " ".join(out).replace("you am", "you are").replace("you was", "you were")
