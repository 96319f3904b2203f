"""The index's manifest: what the current build was made from, and whether its files are still intact.

``manifest.json`` (in the index folder; on a Chroma server, a collection's metadata) names the
current build and records the format version, embedding model, chunking parameters, a fingerprint
of the text analysis, the corpus hash, our own files' checksums and, per file, its content hash,
format, pages, sections and chunks. Comparing it with ``expected_manifest`` (what the settings and
the corpus folder would build now) tells whether the index is stale; ``damaged_files`` tells whether
a build's files changed since it was built. A different model, chunking or text analysis makes every
file's vectors invalid; a different corpus hash only the changed files' (``build.py``).

Reads and checks; does not build (``build.py``) or open (``index.py``) an index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from assistant.hnsw_check import hnsw_problem
from assistant.ingest import Scan
from assistant.settings import PACKAGE, Settings

log = logging.getLogger(__name__)

# 2: sentences embedded with their heading; 3: vocabulary without vectors; 4: checksums;
# 5: per-file records (incremental builds), PDF/Word/HTML, sentence vectors made when first retrieved
FORMAT_VERSION = 5
# What turns files into chunks and words: a change to any of these makes every index stale.
ANALYSIS_CODE = ("ingest.py", "convert.py", "text.py")
CONVERTERS = ("pdfminer.six", "python-docx", "trafilatura")
CHECKED = ("vocab.json",)  # our own files, never rewritten: checked by SHA-256


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


def checksums(build_dir: Path) -> dict[str, str]:
    """The SHA-256 of each of our own files in a build, for the manifest."""
    return {p.relative_to(build_dir).as_posix(): _sha256(p)
            for pattern in CHECKED for p in sorted(build_dir.rglob(pattern)) if p.is_file()}


def damaged_files(build_dir: Path, manifest: Manifest) -> list[str]:
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


def healthy(index_dir: Path, manifest: Manifest) -> bool:
    """Whether the build the manifest names is there and undamaged."""
    build_dir = index_dir / manifest.build
    return build_dir.is_dir() and not damaged_files(build_dir, manifest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
