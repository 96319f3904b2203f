"""Everyday words matched to the corpus's words by meaning, with the real MiniLM model."""

from __future__ import annotations

import pytest

from assistant.neighbours import WordNeighbours
from assistant.text import stem

GUIDE_WORDS = ["choosing", "selecting", "pain", "typically", "medical", "vertebral", "three", "osteoporosis"]


@pytest.fixture(scope="module")
def neighbours(embedder):
    return WordNeighbours(GUIDE_WORDS, embedder.encode)


def test_an_everyday_word_gets_the_corpus_word_it_means(neighbours):
    found = neighbours.of(["usually", "hurts", "choice"])
    assert stem("typically") in found["usually"]
    assert stem("pain") in found["hurts"]
    assert stem("choosing") in found["choice"]


def test_numbers_and_unrelated_words_get_none(neighbours):
    found = neighbours.of(["two", "umbrella", "x"])
    assert found["two"] == frozenset()  # near "three" for the model, but never the same thing
    assert found["umbrella"] == frozenset()
    assert found["x"] == frozenset()  # too short to look up


def test_a_named_thing_the_corpus_lacks_stays_missing(chain, embedder):
    """MiniLM puts "vertebroplasty" near "vertebral": a named thing gets no neighbours, so the guide
    still says it does not cover it. (A low bar here, so that the model does offer the neighbour.)"""
    from assistant.chain import medical_terms
    from assistant.question import Analyzer

    eager = WordNeighbours(chain.index.vocab, embedder.encode, min_cos=0.6)
    assert stem("vertebral") in eager.of(["vertebroplasty"])["vertebroplasty"]
    analyzer = Analyzer(chain.prompts, chain.index.vocab, chain.grounder.topic_stems, medical_terms(), neighbours=eager)
    term = next(t for t in analyzer.terms("is vertebroplasty better") if t.word == "vertebroplasty")
    assert term.specific and not term.alternatives & analyzer.corpus_stems


def test_a_lay_word_the_guide_lacks_finds_the_guide_word(chain):
    terms = {t.word: t for t in chain.analyzer.terms("is there a choice of doctor")}
    assert stem("choosing") in terms["choice"].alternatives
