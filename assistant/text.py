"""Word knowledge shared by every stage: tokens, stems, derivational matches, word frequency, spelling.

- ``stem``: the Snowball (Porter2) English stemmer after British→American spelling normalisation
  (orthopaedic/orthopedic, centre/center, anaesthesia/anesthesia), so both spellings meet.
- ``related``: 1.0 for the same stem, ``DERIVED`` for the same word family ("treatment"/"treat",
  "certificates"/"certification", "radiologist"/"radiology"): one stem is the other plus an English
  derivational suffix. A mere shared prefix is not enough ("vertebroplasty" is not "vertebral").
- ``zipf``: general-English frequency from ``wordfreq`` (7 = "the", 3 = rare, 0 = unknown): tells
  everyday words ("matter", "worth") from specific ones.
- ``Speller``: corrects a word only when it is not an English word at all (``wordfreq`` has never
  seen it) and a corpus word is close: "kyphoplasy" -> "kyphoplasty". "plain" stays "plain".

No models and nothing heavy at import; ``wordfreq`` loads its table on first use (~0.2 s).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
    down during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her
    here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its
    itself let's me more most mustn't my myself no nor not of off on once only or other ought our ours
    ourselves out over own same shan't she she'd she'll she's should shouldn't so some such than that
    that's the their theirs them themselves then there there's these they they'd they'll they're they've
    this those through to too under until up very was wasn't we we'd we'll we're we've were weren't what
    what's when when's where where's which while who who's whom why why's with won't would wouldn't you
    you'd you'll you're you've your yours yourself yourselves
    whats hows whos wheres whens whys im ive id dont doesnt didnt cant isnt arent wont thats theres youre
    will shall may might must yes no ok okay oh please thanks thank hi hello hey dear""".split()
)

# English derivational suffixes as they look after Snowball stemming ("treatment" -> "treatment",
# "treat" -> "treat"; "radiology"/"radiologist" -> "radiolog"/"radiologist"). A general list from
# English morphology, not from any corpus.
DERIVATIONAL = ("ment", "ation", "ition", "ion", "ial", "al", "ical", "ic", "ist", "ism", "iti", "ity", "er", "or",
                "ive", "ant", "ent", "ance", "ence", "ous", "ful", "less", "abl", "ibl", "ure", "ician", "ize", "ti", "i")
_LONGER_ROOT = {"i": 6, "ti": 5, "er": 5, "or": 5}  # 'diagnosi' -> 'diagnos'; not 'number' -> 'numb'
DERIVED = 0.8  # how much a same-family word counts against the same stem
EVERYDAY_ZIPF = 4.5  # words at least this common in English are everyday words, never "specific"
UNKNOWN_ZIPF = 1.0  # below this, wordfreq has (almost) never seen the word: a typo or a rare name
COMMON_WORDS = 12000  # how many of the commonest English words a rare word may be a typo of
MIN_UNKNOWN_TYPO = 6  # letters: a shorter unknown token may be a name or a code
MIN_LAY_TYPO = 4  # letters of a lay word a typo may be corrected to (a shorter one is too easily hit by chance)
COMMON_TYPO_GAP = 2.5  # a known word one edit from a corpus word 10**2.5 times commoner is a common typo ("symtoms")
INFLECTION_SPAN = 3  # an inflection is at most this many letters longer or shorter than its word ("collapse"/"collapsing")

# British -> American spellings, applied before stemming (medical words mostly).
_SPELLING = ((re.compile(r"^(an|h|orthop|p|gyn|encyclop|leuk|septic|diarrh|oed|oes|ortho)ae"), r"\1e"),
             (re.compile(r"^oe"), "e"), (re.compile(r"^paed"), "ped"), (re.compile(r"([^aeiou])our$"), r"\1or"),
             (re.compile(r"([^aeiou])tre$"), r"\1ter"), (re.compile(r"([^aeiou])tres$"), r"\1ters"),
             (re.compile(r"ae(mia|mic|mat|mo|stat|sthe|di)"), r"e\1"), (re.compile(r"yse$"), "yze"))
_STEMMER = snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits; inner apostrophes kept)."""
    return _WORD.findall(text.lower().replace("’", "'"))


def american(word: str) -> str:
    for rx, repl in _SPELLING:
        word = rx.sub(repl, word)
    return word


@lru_cache(maxsize=131072)
def stem(word: str) -> str:
    """'performs'/'performed'/'performing' -> 'perform'; 'centre'/'center' -> 'center'."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    return _STEMMER.stemWord(american(w))


@lru_cache(maxsize=131072)
def root(s: str) -> str:
    """A stem without its derivational suffix ('treatment' -> 'treat'), kept at least 4 letters."""
    for suffix in sorted(DERIVATIONAL, key=len, reverse=True):
        if s.endswith(suffix) and len(s) - len(suffix) >= _LONGER_ROOT.get(suffix, 4):
            return s[: -len(suffix)]
    return s


def related(a: str, b: str) -> float:
    """How well stem ``a`` matches stem ``b``: 1 same stem, ``DERIVED`` same family, else 0."""
    if a == b:
        return 1.0
    if len(a) < 4 or len(b) < 4:
        return 0.0
    ra, rb = root(a), root(b)
    if ra == rb or b in (ra, ra + "e") or a in (rb, rb + "e"):
        return DERIVED  # "treatment"/"treat"; "spinal"/"spine" (a silent e the stemmer keeps)
    return 0.0


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stop words, no one-letter tokens, no bare numbers."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1 and not w.isdigit()]


def content_stems(text: str) -> list[str]:
    return [stem(w) for w in content_words(text)]


@lru_cache(maxsize=131072)
def zipf(word: str) -> float:
    """General-English frequency on the Zipf scale (wordfreq): 'the' 7.7, 'matter' 5.4, 'kyphosis' 1.8."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


@lru_cache(maxsize=131072)
def lemma_zipf(word: str) -> float:
    """The frequency of the word or of its dictionary form, whichever is higher: an inflection of an
    everyday word is everyday too ("carries" 4.2 as "carry" 4.9, "treatments" as "treatment"). A word
    that is a dictionary form itself keeps its own ("imaging", "screening" are nouns, not "image",
    "screen"). Lemmas are lemminflect's, without hyphenated ones (wordfreq reads "over-eat" as two words)."""
    found = lemmas(word)
    if word in found:
        return zipf(word)
    return max([zipf(word)] + [zipf(lemma) for lemma in found])


@lru_cache(maxsize=131072)
def lemmas(word: str) -> frozenset[str]:
    """The word's dictionary forms (lemminflect's, any part of speech): "treatments" -> {"treatment"}."""
    from lemminflect import getAllLemmas

    return frozenset(lemma for found in getAllLemmas(word).values() for lemma in found if "-" not in lemma)


def is_english(word: str) -> bool:
    """A real English word (or a name wordfreq knows): never to be 'corrected'."""
    return zipf(word) >= UNKNOWN_ZIPF


class Speller:
    """Corrects typos of corpus words, and of everyday words when unambiguous (``common_typo``).

    A token is corrected only when it is not a corpus word, a corpus word is within a small edit
    distance (scaled by length), and the token is not a real English word — unless it is one edit
    from a corpus word hundreds of times commoner (web text knows "symtoms" too). Short tokens
    (< 4 letters) and tokens with digits ("ADCY5") are left alone.
    """

    def __init__(self, vocabulary: Iterable[str], medical: frozenset[str] = frozenset(),
                 lay: frozenset[str] = frozenset()) -> None:
        self.vocabulary = frozenset(w for w in vocabulary if len(w) >= 3)
        self.medical = medical  # medical terms an unknown token may misspell (``_field_typo``)
        self.lay = frozenset(w for w in lay if len(w) >= MIN_LAY_TYPO)  # lay names of corpus concepts ("keyhole")
        self._roots = frozenset(root(stem(w)) for w in self.vocabulary)
        self._prefixes = frozenset(r[:4] for r in self._roots)  # a cheap test before stemming a candidate
        self._by_initial: dict[str, list[str]] = {}
        for w in sorted(self.vocabulary):
            self._by_initial.setdefault(w[0], []).append(w)

    def correct_word(self, token: str) -> str:
        t = token.lower()
        if len(t) < 4 or t in self.vocabulary or t in self.medical or not t.isalpha():
            return token  # a known word: a corpus word, a medical term, a drug ("boniva" is no typo of "boning")
        if dropped_g(t):
            return token + "g"  # "shrinkin", "feelin": an -ing word typed as said
        fixed = self._closest(t)
        if fixed is not None and _edits(_as_said(t), _as_said(fixed)) > 1:
            fixed = common_typo(t) or fixed  # the nearer everyday word: "thhing" is "thing", not the corpus's "timing"
        if fixed is None or (is_english(t) and not (zipf(fixed) - zipf(t) >= COMMON_TYPO_GAP and _edits(t, fixed) <= 1)):
            # a real word ("plain", "injection") is kept
            return common_typo(t) or self._field_typo(t) or self._lay_typo(t) or token
        return fixed

    def correct(self, text: str) -> str:
        """The text with typos of corpus words fixed; everything else kept as it was."""
        # a word in quotes ("'kyphois' was on the report") is a word too; a letter after an apostrophe inside one is not
        return re.sub(r"(?<![\w-])(?<!\w['’])[A-Za-z][A-Za-z0-9'’-]*[A-Za-z0-9]", lambda m: self._token(m.group(0)), text)

    def _token(self, token: str) -> str:
        head, apostrophe, tail = re.split(r"(['’])", token, maxsplit=1) if re.search(r"['’]", token) else (token, "", "")
        if apostrophe:  # "surgen's" is corrected as "surgen"; "shouldn't", "we're" are words, not "shouldn" + 't'
            return self._token(head) + apostrophe + tail if tail.lower() == "s" else token
        if len(token) < 4 or not token.isalpha():
            return token  # "ADCY5", "CoA-3", short words: names and codes, never typos
        return self.correct_word(token)

    @lru_cache(maxsize=8192)  # noqa: B019 - one Speller per index, kept for the process
    def _field_typo(self, token: str) -> str | None:
        """The word of the field an unknown token misspells: "radiolagy" -> "radiology" (of the corpus's
        "radiologists" family), "anestheisa" -> "anesthesia" (a medical term the corpus lacks, then named
        as such). Only a token wordfreq has never seen, at least ``MIN_UNKNOWN_TYPO`` letters, one edit
        from real words of the corpus's word families or medical terms, one of them clearly the commonest
        (as in ``common_typo``); never an everyday word, so a drug name ("forteo") is not made "forte"."""
        if len(token) < MIN_UNKNOWN_TYPO or is_english(token):
            return None
        field = [w for w in _one_edit(token)
                 if w in self.medical or (w[:4] in self._prefixes and root(stem(w)) in self._roots)]
        near = sorted(((zipf(w), w) for w in field if is_english(w)), reverse=True)
        return near[0][1] if near and _unrivalled(near) else None

    @lru_cache(maxsize=8192)  # noqa: B019 - one Speller per index, kept for the process
    def _lay_typo(self, token: str) -> str | None:
        """The lay name of a corpus concept an unknown token misspells by one edit ("keyholle" -> "keyhole",
        "hunnch" -> "hunch", "bakcbone" -> "backbone"): tried after the everyday words (``common_typo``),
        so "thinng" is "thing", not the "thin" of "thin bones"."""
        if len(token) < MIN_LAY_TYPO + 1 or is_english(token):
            return None
        said = _as_said(token)
        near = sorted(((zipf(w), w) for w in self.lay if abs(len(w) - len(token)) <= 1 and _edits(said, _as_said(w)) <= 1),
                      reverse=True)
        return near[0][1] if near and _unrivalled(near) else None

    @lru_cache(maxsize=8192)  # noqa: B019 - one Speller per index, kept for the process
    def _closest(self, token: str) -> str | None:
        from rapidfuzz.distance import DamerauLevenshtein

        limit = 1 if len(token) < 6 else 2 if len(token) < 10 else 3
        best, best_d = None, limit + 1
        said = _as_said(token)
        for initial in {token[0], *(_SOUND_ALIKE.get(token[0], ""))}:
            for w in self._by_initial.get(initial, ()):
                if abs(len(w) - len(token)) > limit + INFLECTION_SPAN:
                    continue
                for form in _forms(w):  # "surgen" is one letter from "surgeon"; "colapsing" from "collapsing"
                    if abs(len(form) - len(token)) > limit:
                        continue
                    d = DamerauLevenshtein.distance(said, _as_said(form), score_cutoff=limit)
                    if d < best_d or (d == best_d and best is not None and zipf(form) > zipf(best)):
                        best, best_d = form, d
        return best


def _as_said(word: str) -> str:
    """"ph" written as it sounds: "kyfolasty" is one letter from "kyphoplasty", not three."""
    return word.replace("ph", "f")


def dropped_g(word: str) -> bool:
    """An -ing word typed without its g, as it is said ("shrinkin", "feelin", "gettin"): no dictionary
    word itself ("raisin", "aspirin" are), and the word with its g is a commoner one."""
    return word.endswith("in") and not lemmas(word) and zipf(word + "g") > max(zipf(word), UNKNOWN_ZIPF)


@lru_cache(maxsize=8192)
def common_typo(word: str) -> str | None:
    """The everyday word a token misspells ("rong" -> "wrong", "tomorow" -> "tomorrow"): one edit from
    a common English word at least ``COMMON_TYPO_GAP`` commoner on the Zipf scale, as for corpus words;
    rarer tokens (a drug, a name) have no such neighbour and are kept."""
    from rapidfuzz.distance import DamerauLevenshtein

    floor = zipf(word) + COMMON_TYPO_GAP
    near = sorted(((z, w) for w, z in _common_words_near(word[0])
                   if z >= floor and abs(len(w) - len(word)) <= 1
                   and DamerauLevenshtein.distance(word, w, score_cutoff=1) <= 1), reverse=True)
    if not near:
        return None
    swaps = [w for _, w in near if sorted(w) == sorted(word)]
    if len(swaps) == 1:
        return swaps[0]  # two letters swapped, the commonest slip, keeps every letter typed: "thye" is "they", not "the"
    if not _unrivalled(near):
        return None  # "wich": "which" or "with"? Left alone unless one is ten times commoner
    lead = stem(near[0][1])
    forms = [w for _, w in near if stem(w) == lead]
    return next((w for w in forms if w[-1] == word[-1]), forms[0])  # "finaly" -> "finally", not "final"


def _unrivalled(near: list[tuple[float, str]]) -> bool:
    """The commonest of the candidate words (Zipf, word; commonest first) is at least ten times commoner than
    any candidate of another word: forms of one word ("usual", "usually" for "usualy") are not rivals."""
    lead = stem(near[0][1])
    rivals = [z for z, w in near if stem(w) != lead]
    return not rivals or near[0][0] - rivals[0] >= 1.0


def _one_edit(word: str) -> set[str]:
    """Every string one deletion, swap of neighbours, replacement or insertion away (Norvig's edits1)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b} | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in letters} | {a + c + b for a, b in splits for c in letters})


@lru_cache(maxsize=64)
def _common_words_near(letter: str) -> tuple[tuple[str, float], ...]:
    """(word, Zipf) of the common words starting with the letter, or with it second ("rong" may be "wrong")."""
    return tuple((w, zipf(w)) for ws in _common_words().values() for w in ws if w[0] == letter or w[1:2] == letter)


@lru_cache(maxsize=8192)
def _forms(word: str) -> tuple[str, ...]:
    """A corpus word, its singular for a plural, and the other inflections of its dictionary forms
    ("collapses": "collapse", "collapsing", "collapsed"): all are spellings a typo may be aiming at."""
    from lemminflect import getAllInflections, getAllLemmas

    forms = [word]
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        forms.append(word[:-1])
    for lemma in {f for found in getAllLemmas(word).values() for f in found}:
        forms += [f for found in getAllInflections(lemma).values() for f in found]
    return tuple(dict.fromkeys(forms))


@lru_cache(maxsize=8192)
def near_common_word(word: str) -> bool:
    """Whether a rare word is one or two letters from a common English word ('docter', 'surgen'):
    a typo of an everyday word, not a name."""
    from rapidfuzz.distance import DamerauLevenshtein

    limit = 1 if len(word) <= 6 else 2
    for w in _common_words().get(word[:1], ()):
        if abs(len(w) - len(word)) <= limit and DamerauLevenshtein.distance(word, w, score_cutoff=limit) <= limit:
            return True
    return False


@lru_cache(maxsize=8192)
def near_function_word(word: str) -> bool:
    """One edit (a swap included) from a function word: 'dose'/'does', 'form'/'from', 'thier'/'their'."""
    from rapidfuzz.distance import DamerauLevenshtein

    return any(len(w) >= 3 and abs(len(w) - len(word)) <= 1 and DamerauLevenshtein.distance(word, w) <= 1
               for w in STOPWORDS if w.isalpha()) and word not in STOPWORDS


@lru_cache(maxsize=1)
def _common_words() -> dict[str, list[str]]:
    from wordfreq import top_n_list

    by_initial: dict[str, list[str]] = {}
    for w in top_n_list("en", COMMON_WORDS):  # the commonest first: all of them have Zipf >= 3.6
        if w.isalpha() and len(w) >= 3:
            by_initial.setdefault(w[0], []).append(w)
    return by_initial


def _edits(a: str, b: str) -> int:
    from rapidfuzz.distance import DamerauLevenshtein

    return int(DamerauLevenshtein.distance(a, b))


# First letters that patients swap when spelling by ear ("kyfoplasty", "newrosurgeon" keep theirs; "flem").
_SOUND_ALIKE = {"c": "k", "k": "c", "f": "p", "p": "f"}
