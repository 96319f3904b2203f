"""Build and open the persistent Chroma index of a corpus, re-embedding only the files that changed.

Layout of ``index_dir``::

    manifest.json          which build is current, what it was built from, and each file's record
    build-<id>/            a Chroma database: collection "chunks" (vectors, text, sentence offsets)
    build-<id>/vocab.json  the corpus words (for typo correction)
    cache/                 vectors of fixed texts (the red-flag exemplars), by model and content
    .browser-secret        the key the chat page encrypts a browser's copy of its conversation with

A build writes a new ``build-<id>/`` folder and only then swaps ``manifest.json`` (an atomic
rename), so a build that fails halfway leaves the previous index usable. The manifest records the
format version, embedding model, chunking parameters, a fingerprint of the text analysis, the
corpus hash, our files' checksums and, per file, its content hash, format, pages, sections and
chunks. A rebuild after files were added, changed or removed embeds only those files' chunks: the
vectors of unchanged files are copied from the previous build into the new one (same atomic swap,
deterministic chunk ids, so never a duplicate). A different model, chunking or text analysis
rebuilds everything. Before Chroma reads a build, its HNSW graph files are checked for structure
(``hnsw_check.py``): a damaged one is rebuilt or reported, never searched (that crashes the process).

Sentence vectors are not made at build time: most sentences are never retrieved. A sentence is
embedded (with its heading) the first time its passage is retrieved, and kept for the process
(``SentenceVectors``).

With ``ASSISTANT_CHROMA_URL`` the index lives on a Chroma server instead (``remote_index.py``): the
functions here hand over to it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.errors import CorpusError, IndexDamaged, IndexError_, IndexMissing, IndexStale
from assistant.hnsw_check import HNSW_HEADER as _HNSW_HEADER  # noqa: F401  (read by the robustness tests)
from assistant.hnsw_check import hnsw_problem
from assistant.ingest import Chunk, Corpus, Scan, Sentence, chunk_document, load_corpus, read_documents, scan_corpus
from assistant.progress import Progress
from assistant.settings import PACKAGE, Settings
from assistant.text import STOPWORDS, stem, words

log = logging.getLogger(__name__)

# 2: sentences embedded with their heading; 3: vocabulary without vectors; 4: checksums;
# 5: per-file records (incremental builds), PDF/Word/HTML, sentence vectors made when first retrieved
FORMAT_VERSION = 5
CHUNKS = "chunks"
COSINE = {"hnsw:space": "cosine"}
EMBED_BATCH = 256  # chunks per progress step
# What turns files into chunks and words: a change to any of these makes every index stale.
ANALYSIS_CODE = ("ingest.py", "convert.py", "text.py")
CONVERTERS = ("pdfminer.six", "python-docx", "trafilatura")


@lru_cache(maxsize=1)
def analysis_fingerprint() -> str:
    """A hash of the chunking, conversion and text-analysis code (the stopword list and the tokenizer
    are in text.py) and of the converters' versions."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    for name in ANALYSIS_CODE:
        try:
            digest.update((PACKAGE / name).read_bytes())
        except OSError:  # an install without sources: its version stands for its code
            digest.update(f"{name}@{version('kypho-assistant')}".encode())
    for package in CONVERTERS:
        try:
            digest.update(f"{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f"{package}=none".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Manifest:
    format_version: int
    embedding_model: str
    chunk_size: int
    chunk_overlap: int
    corpus_hash: str
    analysis: str = ""  # analysis_fingerprint() when built
    build: str = ""
    chunk_count: int = 0
    sentence_count: int = 0
    built_at: str = ""
    checksums: dict = field(default_factory=dict)  # our own file in the build -> SHA-256 when it was built
    files: dict = field(default_factory=dict)  # source -> sha256, format, pages, sections, chunks, sentences, indexed_at
    skipped: list = field(default_factory=list)  # "name: reason" for each file found and not indexed
    changes: dict = field(default_factory=dict)  # what the build did: added, changed, removed, unchanged files

    SETTINGS = ("format_version", "embedding_model", "chunk_size", "chunk_overlap", "analysis")
    LABELS = {"format_version": "index format", "embedding_model": "embedding model", "chunk_size": "chunk size",
              "chunk_overlap": "chunk overlap", "analysis": "text analysis", "corpus_hash": "corpus"}

    def same_settings(self, other: Manifest) -> bool:
        """Built the same way (a file's chunks and vectors from one build are valid in the other)."""
        return all(getattr(self, k) == getattr(other, k) for k in self.SETTINGS)

    def same_recipe(self, other: Manifest) -> bool:
        return self.same_settings(other) and self.corpus_hash == other.corpus_hash

    def differences(self, other: Manifest) -> list[str]:
        return [label for key, label in self.LABELS.items() if getattr(self, key) != getattr(other, key)]


class SentenceVectors(Mapping):
    """``(chunk id, sentence number) -> unit vector``, embedded the first time a passage's sentences are
    asked for (the whole passage at once) and kept. Thread-safe; the grounder reads it like a dict."""

    def __init__(self, chunks: dict[str, Chunk], embedder: Embedder) -> None:
        self._chunks, self._embedder = chunks, embedder
        self._vectors: dict[tuple[str, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: tuple[str, int]) -> np.ndarray:
        vector = self._vectors.get(key)
        if vector is None:
            chunk = self._chunks[key[0]]
            if not 0 <= key[1] < len(chunk.sentences):
                raise KeyError(key)
            vectors = self._embedder.encode([chunk.sentence_text(n) for n in range(len(chunk.sentences))])
            with self._lock:
                for n, v in enumerate(vectors):
                    self._vectors[(chunk.id, n)] = v
            vector = self._vectors[key]
        return vector

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return ((c.id, n) for c in self._chunks.values() for n in range(len(c.sentences)))

    def __len__(self) -> int:
        return sum(len(c.sentences) for c in self._chunks.values())

    def fill(self, stop: threading.Event, chunks_per_step: int = 16) -> int:
        """Embed every sentence not embedded yet, a few passages at a time, until done or ``stop`` is set
        (a server does this in the background, so that the first retrieval of a passage is no slower
        than the next). Returns how many sentences it embedded."""
        done = 0
        pending = [c for c in self._chunks.values() if c.sentences]
        for i in range(0, len(pending), chunks_per_step):
            if stop.is_set():
                break
            keys = [(c.id, n) for c in pending[i : i + chunks_per_step] if (c.id, 0) not in self._vectors
                    for n in range(len(c.sentences))]
            if keys:
                vectors = self._embedder.encode([self._chunks[cid].sentence_text(n) for cid, n in keys])
                with self._lock:
                    for key, v in zip(keys, vectors):
                        self._vectors.setdefault(key, v)
                done += len(keys)
        return done


@dataclass
class Index:
    """An opened index: the chunks, a LangChain Chroma store over them, and sentence vectors."""

    manifest: Manifest
    chunks: list[Chunk]
    store: object  # langchain_chroma.Chroma
    vocab: frozenset[str]
    corpus_dir: Path
    embedder: Embedder

    def chunk(self, chunk_id: str) -> Chunk:
        return self._by_id[chunk_id]

    @cached_property
    def corpus(self) -> Corpus:
        """The documents' text (read and converted again on first use: only the evals need it)."""
        return load_corpus(self.corpus_dir)

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.chunks}
        self.sentence_vectors = SentenceVectors(self._by_id, self.embedder)
        # what the ranker reads about each sentence and passage, analysed once when the index opens
        self.sentence_stems: dict[tuple[str, int], frozenset[str]] = {}
        self.position: dict[tuple[str, int], int] = {}  # sentence number within its section
        self.chunk_stems: dict[str, frozenset[str]] = {}  # passage text, heading and title
        self.context_stems: dict[str, frozenset[str]] = {}  # heading and title
        self.title_stems: dict[str, frozenset[str]] = {}
        section_count: dict[tuple[str, str], int] = {}
        for c in self.chunks:
            context = frozenset(stem(w) for w in words(f"{c.title} {c.section}"))
            self.context_stems[c.id] = context
            self.title_stems[c.id] = frozenset(stem(w) for w in words(c.title) if w not in STOPWORDS)
            stems: set[str] = set(context)
            for n, s in enumerate(c.sentences):
                self.sentence_stems[(c.id, n)] = frozenset(stem(w) for w in words(s.text))
                stems |= self.sentence_stems[(c.id, n)]
                key = (c.source, c.section)
                self.position[(c.id, n)] = section_count.get(key, 0)
                section_count[key] = section_count.get(key, 0) + 1
            self.chunk_stems[c.id] = frozenset(stems)


def expected_manifest(settings: Settings, scan: Scan) -> Manifest:
    return Manifest(FORMAT_VERSION, settings.embedding_model, settings.chunk_size,
                    settings.chunk_overlap, scan.content_hash, analysis_fingerprint())


def read_manifest(index_dir: Path) -> Manifest | None:
    path = Path(index_dir) / "manifest.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (ValueError, TypeError, OSError) as exc:
        log.warning("Unreadable %s (%s); it will be rebuilt.", path, exc)
        return None
    if not re.fullmatch(r"build-[\w-]+", manifest.build or ""):  # never open the index folder itself
        log.warning("%s names no build folder; it will be rebuilt.", path)
        return None
    return manifest


def index_version(settings: Settings) -> str:
    """Changes whenever a new build may have become current ("" when there is no index)."""
    if settings.chroma_url:
        from assistant import remote_index

        return remote_index.current_build(settings)
    try:
        return str((Path(settings.index_dir) / "manifest.json").stat().st_mtime_ns)
    except OSError:
        return ""


def current_build(settings: Settings) -> str:
    """The name of the current build ("" when there is none)."""
    manifest = current_manifest(settings)
    return manifest.build if manifest else ""


def current_manifest(settings: Settings) -> Manifest | None:
    """The current build's manifest, from the index folder or the Chroma server."""
    if settings.chroma_url:
        from assistant import remote_index

        return remote_index.read_manifest(settings)
    return read_manifest(Path(settings.index_dir))


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
        healthy = current is not None and _healthy(index_dir, current)
        if current and healthy and current.same_recipe(wanted):
            rebuilt_meanwhile = waited and (before is None or current.build != before.build)
            if not force or rebuilt_meanwhile:  # another process rebuilt it while this one waited
                return current, False
        _remove_old_builds(index_dir, keep=current.build if current else "")  # partial builds of killed runs
        previous = current if (current and healthy and current.same_settings(wanted) and not force) else None
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
            checksums = _checksums(build_dir)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
        manifest = Manifest(**{**asdict(wanted), "build": build, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                               "checksums": checksums, **records})
        tmp = index_dir / f"manifest.json.{uuid.uuid4().hex[:6]}.tmp"
        tmp.write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        os.replace(tmp, index_dir / "manifest.json")
        _remove_old_builds(index_dir, keep=build)
        return manifest, True


def open_index(settings: Settings, embedder: Embedder, *, private: bool = False) -> Index:
    """Open the current index, or raise IndexMissing / IndexStale / IndexDamaged saying how to fix it.
    A damaged build (a file changed since it was built) is caught here, before Chroma reads it: a
    corrupt HNSW file would otherwise crash the process. A build folder that cannot be written (a
    read-only deployment) is opened from a temporary copy, and so is every build when ``private`` (one
    of several processes serving the same folder: Chroma writes to a build it opens)."""
    if settings.chroma_url:
        from assistant import remote_index

        return remote_index.open_index(settings, embedder)
    index_dir = Path(settings.index_dir)
    manifest = read_manifest(index_dir)
    if manifest is None or not (index_dir / manifest.build).is_dir():
        raise IndexMissing(f"No index at {index_dir}. Build it with `assistant index`.")
    wanted = expected_manifest(settings, scan_corpus(settings.corpus_dir))
    if not manifest.same_recipe(wanted):
        changed = ", ".join(manifest.differences(wanted))
        raise IndexStale(f"The index at {index_dir} is stale ({changed} changed). "
                         "Rebuild it with `assistant index`.")
    damaged = _damaged_files(index_dir / manifest.build, manifest)
    if damaged:
        raise IndexDamaged(f"The index at {index_dir} is damaged ({', '.join(damaged[:3])} changed since it was "
                           "built). Rebuild it with `assistant index --rebuild`.")
    build_dir = index_dir / manifest.build
    if private or not _writable(build_dir):
        build_dir = _readonly_copy(build_dir)
    try:
        return _load_build(build_dir, manifest, Path(settings.corpus_dir), embedder)
    except Exception as exc:  # a corrupt database: say so, rebuilding fixes it
        raise IndexError_(f"The index at {index_dir} cannot be read ({exc}). "
                          "Rebuild it with `assistant index --rebuild`.") from exc


def ensure_index(settings: Settings, embedder: Embedder) -> Index:
    """Open the index, building or rebuilding it first when it is missing, stale or damaged."""
    if settings.chroma_url:  # an app process may have no corpus folder: it only reads the server's index
        try:
            return open_index(settings, embedder)
        except (IndexMissing, IndexStale) as exc:
            if not Path(settings.corpus_dir).is_dir():
                raise
            log.warning("%s Building it now.", str(exc).split(" Build it with")[0].split(" Rebuild it with")[0])
            build_index(settings, embedder)
            return open_index(settings, embedder)
    if not scan_corpus(settings.corpus_dir).files:  # an empty corpus is the problem to report, not the index
        load_corpus(settings.corpus_dir)
    try:
        return open_index(settings, embedder)
    except IndexError_ as exc:
        if not _writable(Path(settings.index_dir)):
            raise IndexError_(f"{exc} The folder is read-only, so it cannot be rebuilt here: build it where it "
                              "can be written and copy it over.") from None
        log.warning("%s Rebuilding it now.", str(exc).split(" Rebuild it with")[0].split(" Build it with")[0])
        build_index(settings, embedder, force=not isinstance(exc, (IndexMissing, IndexStale)))
        return open_index(settings, embedder)


def chroma_client(path: Path):  # -> chromadb.ClientAPI
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


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


def vocabulary(texts) -> frozenset[str]:
    """The corpus words the typo corrector may correct to."""
    return frozenset(w for t in texts for w in words(t) if w not in STOPWORDS and len(w) > 2 and not w.isdigit())


def add_chunks(collection, chunks: list[Chunk], vectors: np.ndarray) -> None:
    """Store chunks with their vectors (in a local build or on a Chroma server)."""
    for i in range(0, len(chunks), 2000):
        part = chunks[i : i + 2000]
        collection.add(ids=[c.id for c in part], embeddings=vectors[i : i + 2000],
                       documents=[c.embedding_text() for c in part], metadatas=[_chunk_metadata(c) for c in part])


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
    chunks = [_chunk_from_metadata(got["ids"][i], got["metadatas"][i]) for _, _, i in rows]
    vectors = np.asarray(got["embeddings"], dtype=np.float32)[[i for _, _, i in rows]]
    return chunks, vectors.reshape(len(chunks), -1)


def embed_texts(texts: list[str], embedder: Embedder) -> np.ndarray:
    """Vectors of ``texts``, each distinct text embedded once, in steps that a progress bar shows."""
    distinct = list(dict.fromkeys(texts))
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


def _load_build(build_dir: Path, manifest: Manifest, corpus_dir: Path, embedder: Embedder) -> Index:
    vocab = frozenset(json.loads((build_dir / "vocab.json").read_text(encoding="utf-8")))
    return read_collection(chroma_client(build_dir), CHUNKS, manifest, corpus_dir, embedder, vocab)


def read_collection(client, name: str, manifest: Manifest, corpus_dir: Path, embedder: Embedder,
                    vocab: frozenset[str] | None = None) -> Index:
    """An ``Index`` over the chunks collection ``name`` of ``client`` (a local build or a Chroma server)."""
    from langchain_chroma import Chroma

    store = Chroma(collection_name=name, client=client, embedding_function=embedder,
                   collection_metadata=COSINE, create_collection_if_not_exists=False)
    got = client.get_collection(name, embedding_function=None).get(include=["metadatas", "documents"])
    chunks = sorted((_chunk_from_metadata(i, m) for i, m in zip(got["ids"], got["metadatas"])),
                    key=lambda c: (c.source, c.position))
    if len(chunks) != manifest.chunk_count:
        raise IndexError_(f"expected {manifest.chunk_count} chunks, found {len(chunks)}")
    vocab = vocab if vocab is not None else vocabulary(got["documents"])
    return Index(manifest, chunks, store, vocab, corpus_dir, embedder)


def _chunk_metadata(c: Chunk) -> dict[str, object]:
    meta: dict[str, object] = {"source": c.source, "title": c.title, "section": c.section, "position": c.position,
                               "start": c.start, "end": c.end, "text": c.text,
                               "sentences": json.dumps([[s.text, s.start, s.end] for s in c.sentences])}
    if c.page is not None:
        meta["page"] = c.page
    return meta


def _chunk_from_metadata(chunk_id: str, m: dict) -> Chunk:
    sentences = tuple(Sentence(t, int(a), int(b)) for t, a, b in json.loads(m["sentences"]))
    page = int(m["page"]) if m.get("page") is not None else None
    return Chunk(chunk_id, m["source"], m["title"], m["section"], int(m["position"]), m["text"],
                 int(m["start"]), int(m["end"]), sentences, page)


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    for path in index_dir.glob("build-*"):
        if path.is_dir() and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)


CHECKED = ("vocab.json",)  # our own files, never rewritten: checked by SHA-256


def _checksums(build_dir: Path) -> dict[str, str]:
    return {p.relative_to(build_dir).as_posix(): _sha256(p)
            for pattern in CHECKED for p in sorted(build_dir.rglob(pattern)) if p.is_file()}


def _damaged_files(build_dir: Path, manifest: Manifest) -> list[str]:
    """Files of the build that are not what they must be. Our own files by checksum; Chroma's HNSW
    files (which Chroma legitimately rewrites, so no checksum can hold) by their structure."""
    damaged = []
    for name, digest in manifest.checksums.items():
        path = build_dir / name
        if not path.is_file() or _sha256(path) != digest:
            damaged.append(name)
    for header in sorted(build_dir.glob("*/header.bin")):
        problem = hnsw_problem(header.parent)
        if problem:
            damaged.append(f"{header.parent.name}: {problem}")
    return damaged


def _healthy(index_dir: Path, manifest: Manifest) -> bool:
    build_dir = index_dir / manifest.build
    return build_dir.is_dir() and not _damaged_files(build_dir, manifest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _writable(path: Path) -> bool:
    """Whether ``path`` (and every folder in it) can be written; a missing path, if it can be created."""
    path = Path(path)
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        return parent is not None and os.access(parent, os.W_OK)
    return os.access(path, os.W_OK) and all(os.access(p, os.W_OK) for p in path.rglob("*") if p.is_dir())


def _readonly_copy(build_dir: Path) -> Path:
    """A private, writable copy of a read-only build (Chroma writes to its database when it opens it)."""
    target = Path(tempfile.mkdtemp(prefix="assistant-index-")) / build_dir.name
    atexit.register(shutil.rmtree, target.parent, ignore_errors=True)
    shutil.copytree(build_dir, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    log.info("The index build %s is read-only; reading a copy in %s.", build_dir, target)
    return target


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
