"""The index on a Chroma server (``ASSISTANT_CHROMA_URL``), for several app processes or machines.

On the server, named with ``ASSISTANT_CHROMA_PREFIX`` (so several corpora can share one server)::

    <prefix>-manifest                 an empty collection whose metadata holds the manifest (JSON)
    <prefix>-<build>-chunks           the chunks of one build, with their vectors, texts and sentences

A build writes a new collection and only then replaces the manifest: that one metadata update is the
atomic swap, so a failed build leaves the previous index answering. Afterwards the collections of
every build but the new one and the one before it are deleted (a process still answering from the
previous build finishes its question). App processes need no local files: the chunks, their texts and
sentences and the vocabulary come from the server (sentence vectors are made on first use, as with a
local index); a corpus folder, where there is one, is compared with the manifest to notice a stale
index. Re-indexing on a server always embeds the whole corpus (the local index re-embeds only the
files that changed).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlparse

from assistant.build import add_chunks, count_changes, embed_texts, file_record, readable_scan
from assistant.embeddings import Embedder
from assistant.errors import CorpusError, IndexError_, IndexMissing, IndexStale, SettingsError
from assistant.index import COSINE, Index, read_collection
from assistant.ingest import chunk_document, read_documents, scan_corpus
from assistant.manifest import Manifest, expected_manifest
from assistant.settings import Settings

log = logging.getLogger(__name__)

_VERSION_TTL = 1.0  # seconds a process trusts the build name it last read
_seen: dict[tuple[str, str], tuple[float, str]] = {}


def client(settings: Settings):  # -> chromadb.ClientAPI
    """A client of the server named by ``chroma_url`` (``http://host:port``); one clear line if it is down."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    url = urlparse(settings.chroma_url if "://" in settings.chroma_url else "http://" + settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise SettingsError(f"ASSISTANT_CHROMA_URL={settings.chroma_url!r} is not a URL such as http://127.0.0.1:8000.")
    try:
        api = chromadb.HttpClient(host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                                  ssl=url.scheme == "https", settings=ChromaSettings(anonymized_telemetry=False))
        api.heartbeat()
    except Exception as exc:  # noqa: BLE001 - chromadb raises several kinds for a server that is not there
        raise IndexError_(f"Cannot reach the Chroma server at {settings.chroma_url} ({type(exc).__name__}). "
                          "Start it (`chroma run --path DIR --port N`) or fix ASSISTANT_CHROMA_URL.") from None
    return api


def names(settings: Settings, build: str = "") -> tuple[str, str]:
    """The manifest's collection, and this build's chunks collection."""
    return f"{settings.chroma_prefix}-manifest", f"{settings.chroma_prefix}-{build}-chunks"


def read_manifest(settings: Settings, api=None) -> Manifest | None:
    api = api or client(settings)
    try:
        meta = api.get_collection(names(settings)[0], embedding_function=None).metadata or {}
        return Manifest(**json.loads(meta["manifest"])) if "manifest" in meta else None
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("Unreadable manifest on the Chroma server (%s); it will be rebuilt.", exc)
        return None
    except Exception:  # noqa: BLE001 - no manifest collection yet: no index
        return None


def current_build(settings: Settings) -> str:
    """The build the server's manifest names ("" when none), read at most once a second per process."""
    key = (settings.chroma_url, settings.chroma_prefix)
    now = time.monotonic()
    if key in _seen and now - _seen[key][0] < _VERSION_TTL:
        return _seen[key][1]
    try:
        manifest = read_manifest(settings)
    except IndexError_:
        manifest = None  # the server is away: keep answering from the build already open
    build = manifest.build if manifest else ""
    _seen[key] = (now, build)
    return build


def build_index(settings: Settings, embedder: Embedder, *, force: bool = False) -> tuple[Manifest, bool]:
    """Build on the server unless an identical, complete build is current there."""
    scan = readable_scan(settings.corpus_dir)
    wanted = expected_manifest(settings, scan)
    api = client(settings)
    current = read_manifest(settings, api)
    if current and not force and current.same_recipe(wanted) and _complete(api, settings, current):
        return current, False
    documents, unreadable = read_documents(scan.files)
    if not documents:
        raise CorpusError(f"No file in the corpus folder can be read: {'; '.join([*scan.skipped, *unreadable])}.")
    per_source = {d.source: chunk_document(d, wanted.chunk_size, wanted.chunk_overlap) for d in documents}
    chunks = [c for d in documents for c in per_source[d.source]]
    build = f"build-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    manifest_name, chunks_name = names(settings, build)
    try:
        collection = api.create_collection(chunks_name, metadata=COSINE, embedding_function=None)
        add_chunks(collection, chunks, embed_texts([c.embedding_text() for c in chunks], embedder))
        count = collection.count()
    except BaseException:
        _delete(api, chunks_name)
        raise
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    sha = {f.source: f.sha256 for f in scan.files}
    files = {d.source: file_record(d, per_source[d.source], sha[d.source], now) for d in documents}
    changes = count_changes(files, current.files if current else {}, len(files))
    manifest = Manifest(**{**asdict(wanted), "build": build, "chunk_count": count,
                           "sentence_count": sum(r["sentences"] for r in files.values()), "built_at": now,
                           "files": dict(sorted(files.items())), "skipped": [*scan.skipped, *unreadable],
                           "changes": changes})
    holder = api.get_or_create_collection(manifest_name, embedding_function=None)
    holder.modify(metadata={"manifest": json.dumps(asdict(manifest)),
                            "previous": current.build if current else ""})  # the swap
    keep = {b for b in (build, current.build if current else "") if b}
    prefix = f"{settings.chroma_prefix}-build-"
    for col in api.list_collections():
        name = col if isinstance(col, str) else col.name
        if name.startswith(prefix) and not any(name.startswith(f"{settings.chroma_prefix}-{b}-") for b in keep):
            _delete(api, name)
    return manifest, True


def open_index(settings: Settings, embedder: Embedder) -> Index:
    api = client(settings)
    manifest = read_manifest(settings, api)
    if manifest is None or not _complete(api, settings, manifest):
        raise IndexMissing(f"No index on the Chroma server at {settings.chroma_url} (prefix "
                           f"{settings.chroma_prefix!r}). Build it with `assistant index`.")
    corpus_dir = Path(settings.corpus_dir)
    if corpus_dir.is_dir():
        wanted = expected_manifest(settings, scan_corpus(corpus_dir))
        if not manifest.same_recipe(wanted):
            raise IndexStale(f"The index on the Chroma server at {settings.chroma_url} is stale "
                             f"({', '.join(manifest.differences(wanted))} changed). Rebuild it with `assistant index`.")
    try:
        return read_collection(api, names(settings, manifest.build)[1], manifest, corpus_dir, embedder)
    except Exception as exc:  # noqa: BLE001 - deleted or half-written collections: say what to do
        raise IndexError_(f"The index on the Chroma server at {settings.chroma_url} cannot be read ({exc}). "
                          "Rebuild it with `assistant index --rebuild`.") from exc


def _complete(api, settings: Settings, manifest: Manifest) -> bool:
    try:
        return api.get_collection(names(settings, manifest.build)[1], embedding_function=None).count() == \
            manifest.chunk_count
    except Exception:  # noqa: BLE001 - a missing collection
        return False


def _delete(api, name: str) -> None:
    try:
        api.delete_collection(name)
    except Exception as exc:  # noqa: BLE001 - already gone
        log.debug("Could not delete collection %s (%s).", name, exc)
