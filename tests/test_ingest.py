import re

import pytest

from assistant.errors import CorpusError
from assistant.ingest import chunk_corpus, load_corpus, split_sentences
from assistant.settings import ROOT
from tests.conftest import MEDQUAD, SHARED

SEED = SHARED / "seed" / "kyphoplasty-guide.txt"


def test_corpus_keeps_the_seed_words_and_restores_headings():
    corpus = (ROOT / "corpus" / "kyphoplasty.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#+ (.+)$", corpus, flags=re.M)
    assert headings == [
        "Understanding the Conditions Kyphoplasty Addresses", "The Primary Specialists Who Perform Kyphoplasty",
        "Interventional Radiologists (IR)", "Orthopedic Spine Surgeons", "Neurosurgeons",
        "Key Factors in Choosing a Kyphoplasty Provider",
    ]
    if not SEED.exists():
        pytest.skip("../shared/seed is not beside this checkout")
    assert re.sub(r"^#+ ", "", corpus, flags=re.M).split() == SEED.read_text(encoding="utf-8").split()


def test_chunks_keep_section_source_and_exact_sentence_offsets():
    corpus = load_corpus(ROOT / "corpus")
    chunks = chunk_corpus(corpus, chunk_size=600)
    text = corpus.documents[0].text
    assert {c.source for c in chunks} == {"kyphoplasty.md"}
    assert "Neurosurgeons" in {c.section for c in chunks}
    for c in chunks:
        assert len(c.text) <= 600
        for s in c.sentences:
            assert " ".join(text[s.start : s.end].split()) == s.text  # offsets point at the sentence
            assert s.text[-1] in ".!?"


def test_chunk_ids_are_deterministic_and_unique():
    a = chunk_corpus(load_corpus(ROOT / "corpus"), 600)
    b = chunk_corpus(load_corpus(ROOT / "corpus"), 600)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)


def test_plain_text_headings_are_recognised():
    if not SEED.exists():
        pytest.skip("../shared/seed is not beside this checkout")
    sections = {c.section for c in chunk_corpus(load_corpus(SEED.parent), 600)}
    assert "Orthopedic Spine Surgeons" in sections


@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith is here. He works at St. Mary's.", 2),
    ("One sentence without end", 1),
    ("First line.\n\nSecond paragraph! Third? Yes.", 4),
    ("It costs approx. 5 units, e.g. a lot. Next.", 2),
])
def test_sentence_splitting(text, expected):
    assert len(split_sentences(text)) == expected


def test_missing_corpus_folder_says_what_to_do(tmp_path):
    with pytest.raises(CorpusError, match="does not exist.*ASSISTANT_CORPUS_DIR"):
        load_corpus(tmp_path / "nope")


def test_empty_corpus_folder(tmp_path):
    with pytest.raises(CorpusError, match="no readable PDF, Word, HTML, Markdown or text"):
        load_corpus(tmp_path)


def test_unreadable_files_are_skipped_and_reported(tmp_path):
    (tmp_path / "good.md").write_text("# Good\n\nA readable sentence.", encoding="utf-8")
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02PNG")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert [d.source for d in corpus.documents] == ["good.md"]
    assert len(corpus.skipped) == 3 and any("binary" in s for s in corpus.skipped)


def test_only_unreadable_files_is_an_error(tmp_path):
    (tmp_path / "binary.md").write_bytes(b"\x00\x01")
    with pytest.raises(CorpusError, match="none readable"):
        load_corpus(tmp_path)


def test_medquad_corpus_chunks():
    if not MEDQUAD.exists():
        pytest.skip("../shared/benchmarks is not beside this checkout")
    chunks = chunk_corpus(load_corpus(MEDQUAD / "corpus"), 600)
    assert len({c.source for c in chunks}) == 24
    assert all(len(c.text) <= 600 for c in chunks)
