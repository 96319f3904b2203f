"""Small, dependency-free text helpers shared by retrieval, answering and the evals.

Tokenising, a light suffix-stripping stemmer (used the same way on questions and passages, so it
only needs to be consistent, not linguistically exact), stop words and typo correction against the
corpus vocabulary. No models here.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

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
    tell explain know want like please thanks thank hi hello hey yes okay ok really just get got
    us much many lot lots something anything thing things kind sort way done does did doing
    usually typically often generally normally actually exactly basically also
    whats hows whos wheres whens whys im ive id dont doesnt didnt cant isnt arent wont thats theres youre
    dad mum mom mother father husband wife son daughter partner grandma grandpa friend enough
    will shall may might must need needs able one ones someone somebody anyone people person""".split()
)

# Generic question words that never decide what a question is about ("how long", "what kind").
QUESTION_FILLER = frozenset(
    """time long much many kind type sort way part mean means meaning work works working happen happens
    go goes going use used make makes take takes taking big small little large another afterwards
    afterward later next whole entire"""
    .split()
)


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits; inner apostrophes kept)."""
    return _WORD.findall(text.lower().replace("’", "'"))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light, consistent stemmer: 'performs'/'performed'/'performing' -> 'perform'."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("paed", "ped").replace("haem", "hem").replace("oesoph", "esoph")
    if len(w) <= 3:
        return w
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ness", ""), ("ment", ""), ("ingly", ""),
                         ("edly", ""), ("ing", ""), ("ied", "y"), ("ed", ""), ("ly", ""),
                         ("es", "e"), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                break
            w = w[: -len(suffix)] + repl
            break
    if w.endswith("sis") and len(w) > 5:
        w = w[:-2]  # 'diagnosis' -> 'diagnos', like 'diagnose' and 'diagnosed'
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]  # 'stopp' -> 'stop'
    return w


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stop words, no one-letter tokens, no bare numbers."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1 and not w.isdigit()]


def content_stems(text: str) -> list[str]:
    return [stem(w) for w in content_words(text)]


def correct_typos(tokens: list[str], vocabulary: frozenset[str]) -> list[str]:
    """Replace words unknown to the corpus by their closest corpus word, when one is close enough.

    'kyphoplasy' -> 'kyphoplasty', 'nuerosurgeon' -> 'neurosurgeon'. Short words are left alone:
    a three-letter word is too easily turned into another real word.
    """
    out = []
    for token in tokens:
        if token in vocabulary or len(token) < 5 or token in STOPWORDS:
            out.append(token)
            continue
        out.append(_closest(token, vocabulary) or token)
    return out


@lru_cache(maxsize=4096)
def _closest(token: str, vocabulary: frozenset[str]) -> str | None:
    cutoff = 0.88 if len(token) < 8 else 0.85  # "medicare" must not become "medical" (0.8)
    candidates = sorted(v for v in vocabulary if abs(len(v) - len(token)) <= 2 and v[:1] == token[:1])
    found = difflib.get_close_matches(token, candidates, n=1, cutoff=cutoff)
    return found[0] if found else None
