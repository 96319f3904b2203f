"""Open the persistent Chroma index of a corpus: its chunks, a LangChain store over them, and the
sentence vectors the grounder reads.

Layout of ``index_dir``::

    manifest.json          which build is current, what it was built from, and each file's record
    build-<id>/            a Chroma database: collection "chunks" (vectors, text, sentence offsets)
    build-<id>/vocab.json  the corpus words (for typo correction)
    cache/                 vectors of fixed texts (the red-flag exemplars), by model and content
    .browser-secret        the key the chat page encrypts a browser's copy of its conversation with

``open_index`` opens the build the manifest names (``manifest.py``) and refuses a missing, stale or
damaged one with a message that says how to fix it; before Chroma reads a build, its HNSW graph
files are checked for structure (``hnsw_check.py``): a damaged one is rebuilt or reported, never
searched (that crashes the process). ``ensure_index`` builds first when needed (``build.py``). A
chunk is stored as Chroma metadata (``chunk_metadata``) and read back into the same ``Chunk``.

Sentence vectors are not made at build time: most sentences are never retrieved. A sentence is
embedded (with its heading) the first time its passage is retrieved, and kept for the process
(``SentenceVectors``).

With ``ASSISTANT_CHROMA_URL`` the index lives on a Chroma server instead (``remote_index.py``): the
functions here hand over to it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.errors import IndexDamaged, IndexError_, IndexMissing, IndexStale
from assistant.ingest import Chunk, Corpus, Sentence, load_corpus, scan_corpus
from assistant.manifest import Manifest, damaged_files, expected_manifest, read_manifest
from assistant.settings import Settings
from assistant.text import STOPWORDS, stem, words

log = logging.getLogger(__name__)

CHUNKS = "chunks"
COSINE = {"hnsw:space": "cosine"}


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
    damaged = damaged_files(index_dir / manifest.build, manifest)
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
    from assistant.build import build_index  # build.py reads this module's storage format

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


def chroma_client(path: Path):  # -> chromadb.ClientAPI
    """A Chroma database in the folder ``path`` (one build), without telemetry."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


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
    chunks = sorted((chunk_from_metadata(i, m) for i, m in zip(got["ids"], got["metadatas"])),
                    key=lambda c: (c.source, c.position))
    if len(chunks) != manifest.chunk_count:
        raise IndexError_(f"expected {manifest.chunk_count} chunks, found {len(chunks)}")
    vocab = vocab if vocab is not None else vocabulary(got["documents"])
    return Index(manifest, chunks, store, vocab, corpus_dir, embedder)


def chunk_metadata(c: Chunk) -> dict[str, object]:
    """How a chunk is stored in Chroma (flat values only; the sentences as JSON); ``chunk_from_metadata``
    reads it back."""
    meta: dict[str, object] = {"source": c.source, "title": c.title, "section": c.section, "position": c.position,
                               "start": c.start, "end": c.end, "text": c.text,
                               "sentences": json.dumps([[s.text, s.start, s.end] for s in c.sentences])}
    if c.page is not None:
        meta["page"] = c.page
    return meta


def chunk_from_metadata(chunk_id: str, m: dict) -> Chunk:
    sentences = tuple(Sentence(t, int(a), int(b)) for t, a, b in json.loads(m["sentences"]))
    page = int(m["page"]) if m.get("page") is not None else None
    return Chunk(chunk_id, m["source"], m["title"], m["section"], int(m["position"]), m["text"],
                 int(m["start"]), int(m["end"]), sentences, page)


def vocabulary(texts) -> frozenset[str]:
    """The corpus words the typo corrector may correct to."""
    return frozenset(w for t in texts for w in words(t) if w not in STOPWORDS and len(w) > 2 and not w.isdigit())
