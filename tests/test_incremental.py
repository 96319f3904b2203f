"""Incremental re-indexing on a real Chroma index and the real model: only what changed is embedded."""

import json

import numpy as np
import pytest

import assistant.build as build_module
import assistant.manifest as manifest_module
from assistant.build import build_index
from assistant.cli import main
from assistant.errors import IndexStale
from assistant.index import open_index
from assistant.manifest import read_manifest
from assistant.settings import Settings

TEA = "# Green tea\n\nGreen tea is made from unoxidised leaves. It is popular in Japan.\n"
COFFEE = "# Coffee\n\nCoffee is brewed from roasted beans. Espresso is forced through fine grounds.\n"


@pytest.fixture
def own(tmp_path, corpus_copy):
    (corpus_copy / "tea.md").write_text(TEA)
    return Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "ix")


@pytest.fixture
def embedded(embedder, monkeypatch):
    """The texts the build embeds (the real model still embeds them)."""
    seen: list[str] = []
    encode = embedder.encode

    def spy(texts):
        seen.extend(texts)
        return encode(texts)

    monkeypatch.setattr(embedder, "encode", spy)
    return seen


def _stored(settings, embedder):
    """chunk id -> (source, vector) as stored in the current build."""
    got = open_index(settings, embedder).store._collection.get(include=["metadatas", "embeddings"])
    return {i: (m["source"], list(e)) for i, m, e in zip(got["ids"], got["metadatas"], got["embeddings"])}


def test_adding_a_file_embeds_only_that_file(own, embedder, embedded):
    build_index(own, embedder)
    before = _stored(own, embedder)
    embedded.clear()
    (own.corpus_dir / "coffee.md").write_text(COFFEE)
    manifest, built = build_index(own, embedder)
    assert built and manifest.changes == {"added": 1, "changed": 0, "removed": 0, "unchanged": 2, "embedded": 1}
    assert embedded and all("Coffee" in t or "Espresso" in t for t in embedded)
    after = _stored(own, embedder)
    assert {i: v for i, v in after.items() if v[0] != "coffee.md"} == before  # same ids, same vectors
    assert len(after) == manifest.chunk_count == len(before) + manifest.files["coffee.md"]["chunks"]


def test_changing_a_file_replaces_its_chunks_without_duplicates(own, embedder, embedded):
    build_index(own, embedder)
    embedded.clear()
    (own.corpus_dir / "tea.md").write_text(TEA.replace("Japan", "Japan and China. It is best brewed below boiling"))
    manifest, _ = build_index(own, embedder)
    assert manifest.changes == {"added": 0, "changed": 1, "removed": 0, "unchanged": 1, "embedded": 1}
    assert embedded and all("tea" in t.lower() for t in embedded)
    index = open_index(own, embedder)
    tea = [c.text for c in index.chunks if c.source == "tea.md"]
    assert any("below boiling" in t for t in tea) and len(tea) == manifest.files["tea.md"]["chunks"]
    assert len({c.id for c in index.chunks}) == len(index.chunks) == index.store._collection.count()


def test_removing_a_file_embeds_nothing(own, embedder, embedded):
    build_index(own, embedder)
    embedded.clear()
    (own.corpus_dir / "tea.md").unlink()
    manifest, _ = build_index(own, embedder)
    assert manifest.changes == {"added": 0, "changed": 0, "removed": 1, "unchanged": 1, "embedded": 0}
    assert embedded == [] and "tea.md" not in manifest.files
    assert all(c.source != "tea.md" for c in open_index(own, embedder).chunks)
    assert len(list(own.index_dir.glob("build-*"))) == 1  # swapped to the new build, the old one removed


def test_a_previous_build_that_cannot_be_copied_is_written_afresh(own, embedder, embedded, monkeypatch):
    build_index(own, embedder)
    before = _stored(own, embedder)
    real = build_module._patched_copy

    def unusable(*args):
        real(*args)
        raise build_module._CopyUnusable("a graph file changed while it was copied")

    monkeypatch.setattr(build_module, "_patched_copy", unusable)
    embedded.clear()
    (own.corpus_dir / "coffee.md").write_text(COFFEE)
    manifest, built = build_index(own, embedder)
    assert built and manifest.build.endswith("-fresh") and manifest.changes["embedded"] == 1
    assert embedded and all("Coffee" in t or "Espresso" in t for t in embedded)  # the other vectors were reused
    after = _stored(own, embedder)
    kept = {i: v for i, v in after.items() if v[0] != "coffee.md"}
    assert kept.keys() == before.keys() and len(after) == manifest.chunk_count
    # Written afresh, a reused vector is added to Chroma again, which normalises cosine vectors on the way in and
    # may scale one by a float32 step (1 + 2**-23): the same vector, not a new embedding (that is `embedded`).
    assert all(kept[i][0] == before[i][0] and np.allclose(kept[i][1], before[i][1], rtol=0, atol=1e-6) for i in before)
    assert [p.name for p in own.index_dir.glob("build-*")] == [manifest.build]


def test_nothing_changed_builds_nothing(own, embedder, embedded):
    build_index(own, embedder)
    embedded.clear()
    manifest, built = build_index(own, embedder)
    assert not built and embedded == []


@pytest.mark.parametrize("change", ["chunking", "analysis", "rebuild"])
def test_chunking_text_analysis_or_rebuild_embed_everything(own, embedder, embedded, monkeypatch, change):
    build_index(own, embedder)
    embedded.clear()
    settings = own.with_(chunk_size=300) if change == "chunking" else own
    if change == "analysis":  # e.g. the stopword list in text.py was edited
        monkeypatch.setattr(manifest_module, "analysis_fingerprint", lambda: "another-analysis")
        with pytest.raises(IndexStale, match="text analysis changed"):
            open_index(settings, embedder)
    manifest, built = build_index(settings, embedder, force=change == "rebuild")
    assert built and manifest.changes["unchanged"] == 2 and manifest.changes["embedded"] == 2
    assert len(set(embedded)) == len({c.embedding_text() for c in open_index(settings, embedder).chunks})


def test_an_unreadable_file_is_reported_and_retried_when_it_changes(own, embedder):
    (own.corpus_dir / "leaflet.pdf").write_bytes(b"%PDF-1.7 damaged")
    manifest, _ = build_index(own, embedder)
    assert any(s.startswith("leaflet.pdf: not a readable PDF") for s in manifest.skipped)
    assert open_index(own, embedder).chunks  # the index is current although one file was refused
    (own.corpus_dir / "leaflet.pdf").unlink()
    (own.corpus_dir / "leaflet.md").write_text(COFFEE)
    manifest, built = build_index(own, embedder)
    assert built and manifest.changes["added"] == 1 and manifest.skipped == []


def test_cli_reports_the_counts_and_lists_the_sources(own, embedder, capsys):
    args = ["--corpus", str(own.corpus_dir), "--index-dir", str(own.index_dir)]
    assert main(["index", *args]) == 0
    (own.corpus_dir / "coffee.md").write_text(COFFEE)
    (own.corpus_dir / "photo.png").write_bytes(b"\x89PNG")
    capsys.readouterr()
    assert main(["index", *args]) == 0
    out = capsys.readouterr().out
    assert "Files: 1 added, 0 changed, 0 removed, 2 unchanged, 1 embedded" in out
    assert "Not indexed: photo.png: .png is not a format the assistant reads" in out
    assert main(["sources", *args]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:4]}
    assert rows["coffee.md"][1:5] == ["md", "–", "1", "1"] and rows["kyphoplasty.md"][1] == "md"
    assert "3 files" in out and "Not indexed: photo.png" in out
    assert main(["sources", "--json", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["files"]) == {"coffee.md", "kyphoplasty.md", "tea.md"}
    assert data["files"]["tea.md"]["chunks"] == read_manifest(own.index_dir).files["tea.md"]["chunks"]
