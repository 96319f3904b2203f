"""Build and open the persistent Chroma index of a corpus.

Layout of ``index_dir``::

    manifest.json          which build is current, and what it was built from
    build-<id>/            a Chroma database: collections "chunks" and "sentences"
    build-<id>/vocab.json  the corpus words (for typo correction)
    cache/                 vectors of fixed texts (the red-flag exemplars), by model and content
    .browser-secret        the key the chat page encrypts a browser's copy of its conversation with

A build writes a new ``build-<id>/`` folder and only then swaps ``manifest.json`` (an atomic
rename), so a build that fails halfway leaves the previous index usable. The manifest records the
format version, embedding model, chunking parameters, corpus hash and our files' checksums; a
mismatch makes the index stale and ``ensure_index`` rebuilds it. Before Chroma reads a build, its
HNSW graph files are checked for structure (``_hnsw_problem``): a damaged one is rebuilt or reported,
never searched (that crashes the process). Chunk ids are deterministic, so nothing is ever duplicated.
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
import struct
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.errors import IndexDamaged, IndexError_, IndexMissing, IndexStale
from assistant.ingest import Chunk, Corpus, Sentence, chunk_corpus, load_corpus
from assistant.settings import Settings
from assistant.text import STOPWORDS, stem, words

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 2: sentences embedded with their heading; 3: vocabulary without vectors; 4: checksums
CHUNKS, SENTENCES = "chunks", "sentences"
COSINE = {"hnsw:space": "cosine"}


@dataclass(frozen=True)
class Manifest:
    format_version: int
    embedding_model: str
    chunk_size: int
    chunk_overlap: int
    corpus_hash: str
    build: str = ""
    chunk_count: int = 0
    sentence_count: int = 0
    built_at: str = ""
    checksums: dict = field(default_factory=dict)  # our own file in the build -> SHA-256 when it was built

    def same_recipe(self, other: Manifest) -> bool:
        keys = ("format_version", "embedding_model", "chunk_size", "chunk_overlap", "corpus_hash")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    def differences(self, other: Manifest) -> list[str]:
        names = {"format_version": "index format", "embedding_model": "embedding model",
                 "chunk_size": "chunk size", "chunk_overlap": "chunk overlap", "corpus_hash": "corpus"}
        return [label for key, label in names.items() if getattr(self, key) != getattr(other, key)]


@dataclass
class Index:
    """An opened index: the chunks, a LangChain Chroma store over them, and sentence vectors."""

    manifest: Manifest
    chunks: list[Chunk]
    store: object  # langchain_chroma.Chroma
    sentence_vectors: dict[tuple[str, int], np.ndarray]
    vocab: frozenset[str]
    corpus: Corpus | None  # None: an index on a Chroma server opened without the corpus folder

    def chunk(self, chunk_id: str) -> Chunk:
        return self._by_id[chunk_id]

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.chunks}
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


def expected_manifest(settings: Settings, corpus: Corpus) -> Manifest:
    return Manifest(FORMAT_VERSION, settings.embedding_model, settings.chunk_size,
                    settings.chunk_overlap, corpus.content_hash)


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
    if settings.chroma_url:
        from assistant import remote_index

        return remote_index.current_build(settings)
    manifest = read_manifest(Path(settings.index_dir))
    return manifest.build if manifest else ""


def build_index(settings: Settings, embedder: Embedder, *, force: bool = False) -> tuple[Manifest, bool]:
    """Build the index unless an identical, undamaged one exists. Returns (manifest, whether it was built)."""
    if settings.chroma_url:
        from assistant import remote_index

        return remote_index.build_index(settings, embedder, force=force)
    corpus = load_corpus(settings.corpus_dir)
    wanted = expected_manifest(settings, corpus)
    index_dir = Path(settings.index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexError_(f"Cannot create the index folder {index_dir} ({exc.strerror}). "
                          "Point ASSISTANT_INDEX_DIR at a folder you can write.") from None
    before = read_manifest(index_dir)
    with _build_lock(index_dir) as waited:
        current = read_manifest(index_dir)
        if current and current.same_recipe(wanted) and _healthy(index_dir, current):
            rebuilt_meanwhile = waited and (before is None or current.build != before.build)
            if not force or rebuilt_meanwhile:  # another process rebuilt it while this one waited
                return current, False
        _remove_old_builds(index_dir, keep=current.build if current else "")  # partial builds of killed runs
        chunks = chunk_corpus(corpus, settings.chunk_size, settings.chunk_overlap)
        build = f"build-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        build_dir = index_dir / build
        try:
            counts = _write_build(build_dir, chunks, embedder)
            checksums = _checksums(build_dir)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
        manifest = Manifest(**{**asdict(wanted), "build": build, "chunk_count": counts[0],
                               "sentence_count": counts[1], "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                               "checksums": checksums})
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
    corpus = load_corpus(settings.corpus_dir)
    wanted = expected_manifest(settings, corpus)
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
        return _load_build(build_dir, manifest, corpus, embedder)
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
    load_corpus(settings.corpus_dir)  # a missing or empty corpus is the problem to report, not the index
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


def _write_build(build_dir: Path, chunks: list[Chunk], embedder: Embedder) -> tuple[int, int]:
    build_dir.mkdir(parents=True)
    client = chroma_client(build_dir)
    counts = fill_collections(client.create_collection(CHUNKS, metadata=COSINE, embedding_function=None),
                              client.create_collection(SENTENCES, metadata=COSINE, embedding_function=None),
                              chunks, embedder)
    (build_dir / "vocab.json").write_text(json.dumps(sorted(vocabulary(chunks))), encoding="utf-8")
    return counts


def fill_collections(chunk_col, sent_col, chunks: list[Chunk], embedder: Embedder) -> tuple[int, int]:
    """Embed and store the chunks and their sentences (in a local build or on a Chroma server)."""
    chunk_vectors = embedder.encode([c.embedding_text() for c in chunks])
    sentences = [(c.id, i, s.text) for c in chunks for i, s in enumerate(c.sentences)]
    # A sentence such as "They perform this procedure" is embedded with its heading, so that it is
    # found for the question its section answers; the stored text is the sentence alone.
    headings = {c.id: c.heading for c in chunks}
    sentence_vectors = embedder.encode([f"{headings[cid]}: {text}" for cid, _, text in sentences])
    batch = 2000
    for i in range(0, len(chunks), batch):
        part = chunks[i : i + batch]
        chunk_col.add(ids=[c.id for c in part], embeddings=chunk_vectors[i : i + batch],
                      documents=[c.embedding_text() for c in part],
                      metadatas=[_chunk_metadata(c) for c in part])
    for i in range(0, len(sentences), batch):
        part = sentences[i : i + batch]
        sent_col.add(ids=[f"{cid}:{n}" for cid, n, _ in part], embeddings=sentence_vectors[i : i + batch],
                     documents=[t for _, _, t in part],
                     metadatas=[{"chunk_id": cid, "n": n} for cid, n, _ in part])
    return chunk_col.count(), sent_col.count()


def vocabulary(chunks: list[Chunk]) -> frozenset[str]:
    """The corpus words the typo corrector may correct to."""
    return frozenset(w for c in chunks for w in words(c.embedding_text())
                     if w not in STOPWORDS and len(w) > 2 and not w.isdigit())


def _load_build(build_dir: Path, manifest: Manifest, corpus: Corpus, embedder: Embedder) -> Index:
    client = chroma_client(build_dir)
    vocab = frozenset(json.loads((build_dir / "vocab.json").read_text(encoding="utf-8")))
    return read_collections(client, CHUNKS, SENTENCES, manifest, corpus, embedder, vocab)


def read_collections(client, chunks_name: str, sentences_name: str, manifest: Manifest, corpus: Corpus | None,
                     embedder: Embedder, vocab: frozenset[str] | None = None) -> Index:
    """An ``Index`` over two collections of ``client`` (a local build or a Chroma server)."""
    from langchain_chroma import Chroma

    store = Chroma(collection_name=chunks_name, client=client, embedding_function=embedder,
                   collection_metadata=COSINE, create_collection_if_not_exists=False)
    got = client.get_collection(chunks_name, embedding_function=None).get(include=["metadatas", "documents"])
    chunks = sorted((_chunk_from_metadata(i, m) for i, m in zip(got["ids"], got["metadatas"])),
                    key=lambda c: (c.source, c.position))
    sent = client.get_collection(sentences_name, embedding_function=None).get(include=["metadatas", "embeddings"])
    vectors = {(m["chunk_id"], int(m["n"])): np.asarray(e, dtype=np.float32)
               for m, e in zip(sent["metadatas"], sent["embeddings"])}
    if len(chunks) != manifest.chunk_count or len(vectors) != manifest.sentence_count:
        raise IndexError_(f"expected {manifest.chunk_count} chunks, found {len(chunks)}")
    return Index(manifest, chunks, store, vectors, vocab if vocab is not None else vocabulary(chunks), corpus)


def _chunk_metadata(c: Chunk) -> dict[str, object]:
    return {"source": c.source, "title": c.title, "section": c.section, "position": c.position,
            "start": c.start, "end": c.end, "text": c.text,
            "sentences": json.dumps([[s.text, s.start, s.end] for s in c.sentences])}


def _chunk_from_metadata(chunk_id: str, m: dict) -> Chunk:
    sentences = tuple(Sentence(t, int(a), int(b)) for t, a, b in json.loads(m["sentences"]))
    return Chunk(chunk_id, m["source"], m["title"], m["section"], int(m["position"]), m["text"],
                 int(m["start"]), int(m["end"]), sentences)


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
    files (which Chroma legitimately rewrites, so no checksum can hold) by their structure: a link
    that points outside the graph is what crashes the process when Chroma searches it."""
    damaged = []
    for name, digest in manifest.checksums.items():
        path = build_dir / name
        if not path.is_file() or _sha256(path) != digest:
            damaged.append(name)
    for header in sorted(build_dir.glob("*/header.bin")):
        problem = _hnsw_problem(header.parent)
        if problem:
            damaged.append(f"{header.parent.name}: {problem}")
    return damaged


_HNSW_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")  # Chroma's hnswlib: version, offsets, counts, M, ...


def _hnsw_problem(segment: Path) -> str:
    """'' when the HNSW files of one Chroma segment are consistent, else what is wrong with them."""
    try:
        raw = (segment / "header.bin").read_bytes()
        (version, offset_level0, max_elements, count, size, label_offset, offset_data, max_level, entry,
         max_m, max_m0, _m, _mult, _ef) = _HNSW_HEADER.unpack(raw[: _HNSW_HEADER.size])
    except (OSError, struct.error):
        return "header.bin unreadable"
    if not (version == 1 and 0 < size < 1 << 20 and count <= max_elements < 1 << 32 and 0 < max_m0 <= 4096
            and offset_level0 + 4 + 4 * max_m0 <= offset_data < size and label_offset + 8 <= size):
        return "header.bin inconsistent"
    if count == 0:
        return ""  # Chroma keeps a small collection in its log: the graph on disk is empty and unused
    if not (max_level >= 0 and entry < count):
        return "header.bin inconsistent"
    try:
        data = np.fromfile(segment / "data_level0.bin", dtype=np.uint8, count=count * size)
        upper = np.fromfile(segment / "link_lists.bin", dtype=np.uint32)
    except OSError:
        return "a graph file is missing"
    if data.size < count * size:
        return "data_level0.bin is too short"
    rows = data.reshape(count, size)[:, offset_level0 : offset_level0 + 4 + 4 * max_m0]
    if _bad_links(rows.copy().view(np.uint32), max_m0, count):
        return "data_level0.bin has links outside the graph"
    # link_lists.bin: per node, a byte size and that many bytes of upper-level lists (max_m + 1 words each)
    width, starts, p = max_m + 1, [], 0
    for _ in range(count):
        if p >= upper.size or upper[p] % (4 * width):
            return "link_lists.bin is inconsistent"
        levels = int(upper[p]) // (4 * width)
        starts += range(p + 1, p + 1 + levels * width, width)
        p += 1 + levels * width
    if p != upper.size:
        return "link_lists.bin is inconsistent"
    if starts and _bad_links(upper[np.array(starts)[:, None] + np.arange(width)], max_m, count):
        return "link_lists.bin has links outside the graph"
    return ""


def _bad_links(rows: np.ndarray, most: int, count: int) -> bool:
    """Rows of [link count, link, link, ...]: a count above ``most`` or a link to no node."""
    counts = rows[:, 0] & 0xFFFF
    if (counts > most).any():
        return True
    used = np.arange(rows.shape[1] - 1)[None, :] < counts[:, None]
    return bool((rows[:, 1:][used] >= count).any())


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
