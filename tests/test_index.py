"""Real Chroma on disk, real model: idempotence, staleness, failed builds, corruption."""

import json

import pytest

from assistant.build import build_index
from assistant.errors import IndexError_, IndexMissing, IndexStale
from assistant.index import ensure_index, open_index
from assistant.manifest import FORMAT_VERSION, read_manifest
from assistant.settings import Settings


@pytest.fixture
def own(tmp_path, corpus_copy):
    return Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "index")


def _chunk_count(settings, embedder):
    return open_index(settings, embedder).store._collection.count()


def test_index_records_its_recipe(own, embedder):
    manifest, built = build_index(own, embedder)
    assert built
    data = json.loads((own.index_dir / "manifest.json").read_text())
    assert data["embedding_model"] == "all-MiniLM-L6-v2"
    assert data["chunk_size"] == own.chunk_size and data["format_version"] == FORMAT_VERSION
    assert data["checksums"] and all(len(digest) == 64 for digest in data["checksums"].values())
    assert len(data["corpus_hash"]) == 64
    meta = open_index(own, embedder).store._collection.metadata
    assert meta["hnsw:space"] == "cosine"


def test_reindexing_never_duplicates(own, embedder):
    build_index(own, embedder)
    first = _chunk_count(own, embedder)
    _, built = build_index(own, embedder)
    assert not built  # nothing changed: nothing rebuilt
    build_index(own, embedder, force=True)
    assert _chunk_count(own, embedder) == first
    assert len(list(own.index_dir.glob("build-*"))) == 1  # the old build was removed


def test_missing_index_says_how_to_build(own, embedder):
    with pytest.raises(IndexMissing, match="assistant index"):
        open_index(own, embedder)


def test_corpus_edit_is_detected_and_rebuilt(own, embedder):
    build_index(own, embedder)
    doc = own.corpus_dir / "kyphoplasty.md"
    doc.write_text(doc.read_text() + "\n## Aftercare\n\nPatients walk within an hour of the procedure.\n")
    with pytest.raises(IndexStale, match="corpus changed"):
        open_index(own, embedder)
    index = ensure_index(own, embedder)
    assert any("walk within an hour" in c.text for c in index.chunks)


def test_model_or_chunking_change_makes_index_stale(own, embedder):
    build_index(own, embedder)
    with pytest.raises(IndexStale, match="chunk size"):
        open_index(own.with_(chunk_size=300), embedder)


def test_a_build_that_fails_halfway_leaves_the_previous_index(own, embedder, monkeypatch):
    build_index(own, embedder)
    before = read_manifest(own.index_dir)
    doc = own.corpus_dir / "kyphoplasty.md"
    doc.write_text(doc.read_text() + "\nA new sentence.\n")

    def boom(texts):
        raise RuntimeError("disk full")

    monkeypatch.setattr(embedder, "encode", boom)
    with pytest.raises(RuntimeError):
        build_index(own, embedder)
    monkeypatch.undo()
    assert read_manifest(own.index_dir) == before
    assert len(list(own.index_dir.glob("build-*"))) == 1  # the half-built folder was removed
    # the previous build is intact: it opens for the corpus it was built from
    doc.write_text(doc.read_text().replace("\nA new sentence.\n", ""))
    assert open_index(own, embedder).chunks


def test_corrupt_manifest_is_rebuilt(own, embedder):
    build_index(own, embedder)
    (own.index_dir / "manifest.json").write_text("{not json")
    assert ensure_index(own, embedder).chunks


@pytest.mark.parametrize("name, message", [("vocab.json", "damaged.*--rebuild"),
                                           ("chroma.sqlite3", "cannot be read.*--rebuild")])
def test_corrupt_files_are_reported_and_rebuilt(own, embedder, name, message):
    build_index(own, embedder)
    build = read_manifest(own.index_dir).build
    (own.index_dir / build / name).write_bytes(b"garbage")
    with pytest.raises(IndexError_, match=message):
        open_index(own, embedder)
    assert ensure_index(own, embedder).chunks


def test_index_serves_another_corpus(tmp_path, embedder):
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "tea.txt").write_text("Green tea\n\nGreen tea is made from unoxidised leaves. It is popular in Japan.\n")
    index = ensure_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "ix"), embedder)
    assert index.chunks[0].section == "Green tea"
