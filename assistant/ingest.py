"""Load a corpus folder and split it into section-aware, sentence-aligned chunks.

``scan_corpus`` finds the document files (PDF, Word .docx, HTML, Markdown, text) and hashes them;
``read_documents`` converts them (``convert.py``); every file found and not indexed is named with
the reason. Markdown headings (and the headings of converted files) become section titles; in plain
text, a short line without closing punctuation followed by a paragraph is taken as a heading. Each
chunk keeps its source file, section, PDF page, character offsets and the offsets of each of its
sentences, so a citation can point at the exact sentence and page used. A chunk never crosses a
section or a page.

Does not embed or store anything: see ``build.py``.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from assistant.convert import FORMATS, Unreadable, convert
from assistant.errors import CorpusError

log = logging.getLogger(__name__)

PROGRESS_CHARS = 5_000_000  # report progress while chunking corpora larger than this
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ABBREVIATIONS = (
    "dr", "mr", "mrs", "ms", "st", "vs", "e.g", "i.e", "etc", "u.s", "no", "fig", "approx", "jr", "sr",
)
# A sentence ends at . ! ? (optionally followed by a closing quote or bracket) before whitespace.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+")
NOT_DOCUMENTS = ("examples.yaml",)  # the chat page's example questions, kept beside the documents


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset in the source file's text
    end: int


@dataclass(frozen=True)
class Chunk:
    id: str
    source: str  # path relative to the corpus folder
    title: str  # the document's title
    section: str  # nearest heading ("" for text before the first heading)
    position: int  # chunk number within its source file
    text: str
    start: int
    end: int
    sentences: tuple[Sentence, ...]
    page: int | None = None  # PDF page the chunk is on (a chunk never crosses a page); None for other formats

    @property
    def heading(self) -> str:
        """What a reader sees as the passage's title."""
        return self.section or self.title

    def embedding_text(self) -> str:
        """The text that is embedded and keyword-indexed: the titles help retrieval."""
        return f"{self.title}. {self.section}. {self.text}" if self.section else f"{self.title}. {self.text}"

    def sentence_text(self, n: int) -> str:
        """What is embedded for sentence ``n``: with its heading, so that "They perform this procedure"
        is found for the question its section answers."""
        return f"{self.heading}: {self.sentences[n].text}"


@dataclass(frozen=True)
class Document:
    source: str
    title: str
    text: str  # the file's text (a PDF, Word file or web page as converted by ``convert.py``)
    format: str = ""  # md, txt, pdf, docx, html ("" : by the file name)
    page_starts: tuple[int, ...] = ()  # PDF: offset where each page begins
    plain: bool | None = None  # headings are plain-text title lines (None: every file but .md)

    def page_at(self, offset: int) -> int | None:
        return bisect.bisect_right(self.page_starts, offset) if self.page_starts else None


@dataclass(frozen=True)
class SourceFile:
    """A document file found in the corpus folder, before it is read."""

    source: str  # path relative to the corpus folder
    path: Path
    sha256: str


@dataclass(frozen=True)
class Scan:
    """What the corpus folder holds: the files to index (by content hash) and those refused and why.
    Cheap (no conversion): it is what tells whether the index is up to date."""

    files: tuple[SourceFile, ...]
    skipped: tuple[str, ...]  # "name: reason" for each file found and not indexed

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f"{f.source}\x00{f.sha256}\x00".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    skipped: tuple[str, ...]  # files that could not be read, with the reason
    content_hash: str


def scan_corpus(corpus_dir: Path) -> Scan:
    """Find every file under ``corpus_dir`` and hash it; refuse links out of the folder, unsupported
    formats and duplicates (each named with the reason). Hidden files (``.DS_Store``) are ignored."""
    corpus_dir = Path(corpus_dir)
    if corpus_dir.is_file():
        raise CorpusError(f"The corpus path {corpus_dir} is a file, not a folder. Point ASSISTANT_CORPUS_DIR at "
                          "the folder that holds the documents.")
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"The corpus folder {corpus_dir} does not exist. Create it and put PDF, Word, HTML, Markdown or text "
            "files in it, or point ASSISTANT_CORPUS_DIR at an existing folder."
        )
    root = corpus_dir.resolve()
    paths = sorted(p for p in corpus_dir.rglob("*") if p.is_file() and not _hidden(p.relative_to(corpus_dir))
                   and p.name not in NOT_DOCUMENTS)
    files, skipped = [], []
    seen: dict[str, str] = {}  # content hash -> the file that had it first
    for path in paths:
        rel = path.relative_to(corpus_dir).as_posix()
        if not path.resolve().is_relative_to(root):
            skipped.append(f"{rel}: a link to a file outside the corpus folder, not read")
            continue
        if path.suffix.lower() not in FORMATS:
            skipped.append(f"{rel}: {path.suffix or 'a file without a suffix'} is not a format the assistant reads "
                           "(PDF, Word .docx, HTML, Markdown or text)")
            continue
        try:
            raw = path.read_bytes()
        except OSError as exc:
            skipped.append(f"{rel}: {exc.strerror or exc}")
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if digest in seen:
            skipped.append(f"{rel}: the same text as {seen[digest]}, indexed once")
            continue
        seen[digest] = rel
        files.append(SourceFile(rel, path, digest))
    return Scan(tuple(files), tuple(skipped))


def read_document(f: SourceFile) -> Document:
    """Read and convert one file; raises ``Unreadable`` (one-line reason) when it cannot be."""
    raw = f.path.read_bytes()
    converted = convert(f.path, raw)
    text = converted.text
    if not text.strip():
        raise Unreadable("empty file")
    return Document(f.source, _title(text, f.path), text, converted.format, converted.page_starts, converted.plain)


def read_documents(files: Iterable[SourceFile]) -> tuple[list[Document], list[str]]:
    """Convert files; those that cannot be read are named with the reason and left out."""
    documents, skipped = [], []
    for f in files:
        try:
            documents.append(read_document(f))
        except Unreadable as exc:
            skipped.append(f"{f.source}: {exc}")
        except OSError as exc:
            skipped.append(f"{f.source}: {exc.strerror or exc}")
    return documents, skipped


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read every document under ``corpus_dir``; files that cannot be read are skipped and reported."""
    scan = scan_corpus(corpus_dir)
    documents, unreadable = read_documents(scan.files)
    skipped = [*scan.skipped, *unreadable]
    for reason in skipped:
        log.warning("Skipped %s", reason)
    if not documents:
        found = len(scan.files) + len(scan.skipped)
        detail = f" ({found} found, none readable: {'; '.join(skipped)})" if found else ""
        raise CorpusError(f"The corpus folder {corpus_dir} has no readable PDF, Word, HTML, Markdown or text "
                          f"files{detail}.")
    return Corpus(tuple(documents), tuple(skipped), scan.content_hash)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def chunk_corpus(corpus: Corpus, chunk_size: int, overlap: int = 0) -> list[Chunk]:
    chunks: list[Chunk] = []
    total = sum(len(d.text) for d in corpus.documents)
    done, reported = 0, 0
    for doc in corpus.documents:
        chunks += chunk_document(doc, chunk_size, overlap)
        done += len(doc.text)
        if total > PROGRESS_CHARS and done - reported >= PROGRESS_CHARS:
            log.warning("Chunking: %.0f of %.0f MB read, %d chunks", done / 1e6, total / 1e6, len(chunks))
            reported = done
    return chunks


def chunk_document(doc: Document, chunk_size: int, overlap: int = 0) -> list[Chunk]:
    """Split one document into chunks of whole sentences that never cross a section or a page."""
    chunks: list[Chunk] = []
    for section, body_start, body in _sections(doc):
        sentences = _split_long(split_sentences(body, body_start), chunk_size)
        group: list[Sentence] = []
        page = None
        for sentence in sentences:
            size = sentence.end - group[0].start if group else 0
            sentence_page = doc.page_at(sentence.start)
            if group and sentence_page != page:
                chunks.append(_make_chunk(doc, section, len(chunks), group, page))
                group = []
            elif group and size > chunk_size:
                chunks.append(_make_chunk(doc, section, len(chunks), group, page))
                group = group[len(group) - overlap :] if 0 < overlap < len(group) else []
            group.append(sentence)
            page = sentence_page
        if group:
            chunks.append(_make_chunk(doc, section, len(chunks), group, page))
    return chunks


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Split prose into sentences with their offsets (``offset`` is added to each)."""
    sentences: list[Sentence] = []
    for paragraph in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text):
        start = paragraph.start()
        para_end = paragraph.end()
        for match in _SENTENCE_END.finditer(text, paragraph.start(), para_end):
            if is_abbreviation(text[start : match.start() + 1]) or not _next_starts_sentence(
                text, match.end()
            ):
                continue
            _append(sentences, text, start, match.end(), offset)
            start = match.end()
        _append(sentences, text, start, para_end, offset)
    return sentences


def _append(out: list[Sentence], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    if piece.lstrip("-*• ").strip():
        s = start + lead
        out.append(Sentence(re.sub(r"\s+", " ", piece), s + offset, s + len(piece) + offset))


def is_abbreviation(candidate: str) -> bool:
    """Whether text that ends at a full stop ends with an abbreviation ("e.g.", "Dr."), not a sentence."""
    word = candidate.rsplit(None, 1)[-1].rstrip(".").lower() if candidate.strip() else ""
    return word in _ABBREVIATIONS or bool(re.fullmatch(r"[a-z]", word))


def _next_starts_sentence(text: str, pos: int) -> bool:
    return pos >= len(text) or not text[pos].islower()


def _split_long(sentences: list[Sentence], limit: int) -> list[Sentence]:
    """Cut a sentence longer than a chunk at '; ' or ' - ' (list items), else at a space."""
    out: list[Sentence] = []
    for s in sentences:
        while s.end - s.start > limit:
            cut = max(s.text.rfind("; ", 0, limit), s.text.rfind(" - ", 0, limit), s.text.rfind(" ", 0, limit))
            if cut <= 0:
                break
            head = s.text[: cut + 1].strip()
            rest = s.text[cut + 1 :].lstrip()
            out.append(Sentence(head, s.start, s.start + len(head)))
            s = Sentence(rest, s.end - len(rest), s.end)
        out.append(s)
    return out


def _make_chunk(doc: Document, section: str, position: int, group: list[Sentence], page: int | None) -> Chunk:
    start, end = group[0].start, group[-1].end
    text = " ".join(s.text for s in group)
    key = f"{doc.source}\x00{position}\x00{text}".encode()
    chunk_id = hashlib.sha256(key).hexdigest()[:20]
    return Chunk(chunk_id, doc.source, doc.title, section, position, text, start, end, tuple(group), page)


def _sections(doc: Document) -> list[tuple[str, int, str]]:
    """(heading, offset of body, body) for each section; markdown or plain-text headings."""
    lines = doc.text.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    plain = doc.plain if doc.plain is not None else not doc.source.lower().endswith(".md")
    sections: list[tuple[str, int, str]] = []
    heading, body_start = "", 0

    def close(end: int) -> None:
        body = doc.text[body_start:end]
        if body.strip():
            sections.append((heading, body_start, body))

    next_text = _next_nonblank(lines)
    for i, line in enumerate(lines):
        title = _heading_text(line, next_text[i], plain)
        if title is None:
            continue
        close(offsets[i])
        heading = "" if (i == 0 and title == doc.title and not plain) else title
        body_start = offsets[i] + len(line) + 1
    close(len(doc.text))
    return sections


def _next_nonblank(lines: list[str]) -> list[str]:
    """For each line, the next non-blank line after it ("" at the end): one pass, not one per line."""
    out, nxt = [""] * len(lines), ""
    for i in range(len(lines) - 1, -1, -1):
        out[i] = nxt
        if lines[i].strip():
            nxt = lines[i]
    return out


def _heading_text(line: str, nxt: str, plain: bool) -> str | None:
    match = _HEADING.match(line)
    if match:
        return match.group(2).strip()
    if not plain:
        return None
    stripped = line.strip()
    looks_like_title = (
        0 < len(stripped) <= 80
        and stripped[-1] not in ".!?:;,"
        and stripped[0].isupper()
        and len(stripped.split()) <= 10
        and len(nxt.strip()) > len(stripped)
    )
    return stripped if looks_like_title else None


def _title(text: str, path: Path) -> str:
    for line in text.split("\n", 20)[:20]:
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return match.group(2).strip()
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
