"""Build the index of a corpus folder, re-embedding only the files that changed.

A build writes a new ``build-<id>/`` folder (a Chroma database and ``vocab.json``) and only then
swaps ``manifest.json`` (an atomic rename), so a build that fails halfway leaves the previous index
usable. After files were added, changed or removed, only those files' chunks are embedded: the
vectors of unchanged files come from the previous build (its database copied and patched, or, if
the copy is not what it should be, read out and written afresh), with deterministic chunk ids, so
never a duplicate. A different model, chunking or text analysis (``manifest.py``), or ``--rebuild``,
embeds everything. One build at a time per index folder, across processes.

With ``ASSISTANT_CHROMA_URL`` the build goes to a Chroma server instead (``remote_index.py``, which
shares the embedding, storing and per-file records here). Opening an index is ``index.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.errors import CorpusError, IndexError_
from assistant.hnsw_check import hnsw_problem
from assistant.index import CHUNKS, COSINE, chroma_client, chunk_from_metadata, chunk_metadata, vocabulary
from assistant.ingest import Chunk, Scan, chunk_document, read_documents, scan_corpus
from assistant.manifest import Manifest, checksums, expected_manifest, healthy, read_manifest
from assistant.progress import Progress
from assistant.settings import Settings

log = logging.getLogger(__name__)

EMBED_BATCH = 256  # chunks per progress step


def build_index(settings: Settings, embedder: Embedder, *, force: bool = False) -> tuple[Manifest, bool]:
    """Build the index unless an identical, undamaged one exists. Returns (manifest, whether it was built);
    ``manifest.changes`` counts the files added, changed, removed and unchanged. When only files changed,
    only their chunks are embedded; ``force`` (``--rebuild``) embeds everything again."""
    if settings.chroma_url:
        from assistant import remote_index

        return remote_index.build_index(settings, embedder, force=force)
    scan = readable_scan(settings.corpus_dir)
    wanted = expected_manifest(settings, scan)
    index_dir = Path(settings.index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexError_(f"Cannot create the index folder {index_dir} ({exc.strerror}). "
                          "Point ASSISTANT_INDEX_DIR at a folder you can write.") from None
    before = read_manifest(index_dir)
    with _build_lock(index_dir) as waited:
        current = read_manifest(index_dir)
        is_healthy = current is not None and healthy(index_dir, current)
        if current and is_healthy and current.same_recipe(wanted):
            rebuilt_meanwhile = waited and (before is None or current.build != before.build)
            if not force or rebuilt_meanwhile:  # another process rebuilt it while this one waited
                return current, False
        _remove_old_builds(index_dir, keep=current.build if current else "")  # partial builds of killed runs
        previous = current if (current and is_healthy and current.same_settings(wanted) and not force) else None
        build = f"build-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        build_dir = index_dir / build
        try:
            try:
                records = _write_build(build_dir, scan, embedder, wanted, previous, index_dir,
                                       before=current.files if current else {})
            except _CopyUnusable as exc:  # written afresh, still with the unchanged files' vectors
                log.warning("The previous build could not be reused as it is (%s); writing a new one.", exc)
                shutil.rmtree(build_dir, ignore_errors=True)
                build_dir = index_dir / f"{build}-fresh"
                build = build_dir.name
                records = _write_build(build_dir, scan, embedder, wanted, previous, index_dir,
                                       before=current.files if current else {}, copy=False)
            sums = checksums(build_dir)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
        manifest = Manifest(**{**asdict(wanted), "build": build, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                               "checksums": sums, **records})
        tmp = index_dir / f"manifest.json.{uuid.uuid4().hex[:6]}.tmp"
        tmp.write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        os.replace(tmp, index_dir / "manifest.json")
        _remove_old_builds(index_dir, keep=build)
        return manifest, True


class _CopyUnusable(Exception):
    """The copy of the previous build is not what it should be: write the build afresh instead."""


def _write_build(build_dir: Path, scan: Scan, embedder: Embedder, wanted: Manifest, previous: Manifest | None,
                 index_dir: Path, before: dict, copy: bool = True) -> dict:
    """Write a complete build: the chunks of unchanged files with their vectors from ``previous``,
    the others read, chunked and embedded now. With few changes the previous build is copied and only
    the changed files' chunks are deleted and added (re-adding thousands of vectors to Chroma's graph
    takes longer than embedding one file); otherwise (or ``copy=False``) a fresh database is written.
    Returns the manifest's counts and per-file records; ``changes`` compares the files with ``before``
    (the last build's) and counts those embedded now."""
    old_files = previous.files if previous else {}
    unchanged = {f.source for f in scan.files if old_files.get(f.source, {}).get("sha256") == f.sha256}
    documents, unreadable = read_documents(f for f in scan.files if f.source not in unchanged)
    if not documents and not unchanged:
        raise CorpusError(f"No file in the corpus folder can be read: {'; '.join([*scan.skipped, *unreadable])}.")
    by_source = {d.source: d for d in documents}
    new_chunks = [c for d in documents for c in chunk_document(d, wanted.chunk_size, wanted.chunk_overlap)]
    new_vectors = embed_texts([c.embedding_text() for c in new_chunks], embedder)

    if previous and unchanged and copy:
        kept = sum(old_files[s]["chunks"] for s in unchanged)
        collection = _patched_copy(index_dir / previous.build, build_dir, [s for s in old_files if s not in unchanged],
                                   kept)
    else:
        build_dir.mkdir(parents=True)
        collection = chroma_client(build_dir).create_collection(CHUNKS, metadata=COSINE, embedding_function=None)
        if previous and unchanged:
            kept_chunks, kept_vectors = _previous_chunks(index_dir / previous.build, unchanged)
            add_chunks(collection, kept_chunks, kept_vectors)
    add_chunks(collection, new_chunks, new_vectors)
    vocab = sorted(vocabulary(collection.get(include=["documents"])["documents"]))
    (build_dir / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")

    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    sha = {f.source: f.sha256 for f in scan.files}
    files = {s: old_files[s] for s in sorted(unchanged)}
    per_source: dict[str, list[Chunk]] = {}
    for c in new_chunks:
        per_source.setdefault(c.source, []).append(c)
    for source, doc in by_source.items():
        files[source] = file_record(doc, per_source.get(source, []), sha[source], now)
    return {"chunk_count": collection.count(), "sentence_count": sum(r["sentences"] for r in files.values()),
            "files": dict(sorted(files.items())), "skipped": [*scan.skipped, *unreadable],
            "changes": count_changes(files, before, len(by_source))}


def readable_scan(corpus_dir: Path) -> Scan:
    """The corpus folder's files, or a CorpusError when none of them can be indexed."""
    scan = scan_corpus(corpus_dir)
    if not scan.files:
        detail = f" ({len(scan.skipped)} found, none readable: {'; '.join(scan.skipped)})" if scan.skipped else ""
        raise CorpusError(f"The corpus folder {corpus_dir} has no readable PDF, Word, HTML, Markdown or "
                          f"text files{detail}.")
    return scan


def count_changes(files: dict, before: dict, embedded: int) -> dict:
    """How a new build's file records compare with the previous build's: added, changed, removed,
    unchanged files, and how many were embedded now."""
    same = {s for s, record in files.items() if before.get(s, {}).get("sha256") == record["sha256"]}
    return {"added": sum(s not in before for s in files), "changed": sum(s in before and s not in same for s in files),
            "removed": sum(s not in files for s in before), "unchanged": len(same), "embedded": embedded}


def file_record(doc, chunks: list[Chunk], sha256: str, now: str) -> dict:
    """What the manifest (and ``assistant sources``) says about one indexed file."""
    return {"sha256": sha256, "format": doc.format, "pages": len(doc.page_starts) or None,
            "sections": len({c.section for c in chunks}), "chunks": len(chunks),
            "sentences": sum(len(c.sentences) for c in chunks), "indexed_at": now}


def add_chunks(collection, chunks: list[Chunk], vectors: np.ndarray) -> None:
    """Store chunks with their vectors (in a local build or on a Chroma server)."""
    for i in range(0, len(chunks), 2000):
        part = chunks[i : i + 2000]
        collection.add(ids=[c.id for c in part], embeddings=vectors[i : i + 2000],
                       documents=[c.embedding_text() for c in part], metadatas=[chunk_metadata(c) for c in part])


def _patched_copy(old: Path, new: Path, stale: list[str], kept: int):  # -> chromadb.Collection
    """A copy of the build ``old`` without the chunks of the ``stale`` sources. The database is copied
    with SQLite's backup (a consistent snapshot even while a server reads it), the graph files are
    checked for structure, and the count must come out at ``kept``; else ``_CopyUnusable``."""
    import sqlite3

    shutil.copytree(old, new, ignore=shutil.ignore_patterns("chroma.sqlite3*", "vocab.json"))
    with contextlib.closing(sqlite3.connect(f"file:{old / 'chroma.sqlite3'}?mode=ro", uri=True)) as source, \
            contextlib.closing(sqlite3.connect(new / "chroma.sqlite3")) as target:
        source.backup(target)
    problems = [p for p in (hnsw_problem(h.parent) for h in new.glob("*/header.bin")) if p]
    if problems:
        raise _CopyUnusable(problems[0])
    collection = chroma_client(new).get_collection(CHUNKS, embedding_function=None)
    for i in range(0, len(stale), 500):
        collection.delete(where={"source": {"$in": stale[i : i + 500]}})
    if collection.count() != kept:
        raise _CopyUnusable(f"{collection.count()} chunks left, {kept} expected")
    return collection


def _previous_chunks(build_dir: Path, sources: set[str]) -> tuple[list[Chunk], np.ndarray | None]:
    """The chunks of ``sources`` in an earlier build, with their vectors (in the same order)."""
    if not sources:
        return [], None
    got = chroma_client(build_dir).get_collection(CHUNKS, embedding_function=None).get(
        include=["metadatas", "embeddings"])
    rows = sorted((m["source"], int(m["position"]), i) for i, m in enumerate(got["metadatas"]) if m["source"] in sources)
    chunks = [chunk_from_metadata(got["ids"][i], got["metadatas"][i]) for _, _, i in rows]
    vectors = np.asarray(got["embeddings"], dtype=np.float32)[[i for _, _, i in rows]]
    return chunks, vectors.reshape(len(chunks), -1)


def embed_texts(texts: list[str], embedder: Embedder) -> np.ndarray:
    """Vectors of ``texts``, each distinct text embedded once, in steps that a progress bar shows. Longest
    first across the whole build (the encoder sorts within a step), so its batches pad less."""
    distinct = sorted(dict.fromkeys(texts), key=len, reverse=True)
    progress = Progress(len(distinct), "Embedding")
    parts = []
    for i in range(0, len(distinct), EMBED_BATCH):
        parts.append(embedder.encode(distinct[i : i + EMBED_BATCH]))
        progress.advance(len(parts[-1]))
    progress.close()
    if not parts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    row = {t: n for n, t in enumerate(distinct)}
    return np.concatenate(parts)[[row[t] for t in texts]]


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    for path in index_dir.glob("build-*"):
        if path.is_dir() and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[bool]:
    """One build at a time per index folder, across processes; a waiting build says so. Yields
    whether it had to wait."""
    with open(index_dir / ".lock", "w") as handle:
        waited = False
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("Another process is building the index at %s; waiting for it to finish.", index_dir)
            fcntl.flock(handle, fcntl.LOCK_EX)
            waited = True
        try:
            yield waited
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
