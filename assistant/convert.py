"""Turn a file a clinic has — PDF, Word (.docx), a saved web page, Markdown or plain text — into text.

The result is Markdown-like text in which headings are ``#`` lines, so ``ingest.py`` cuts every
format into sections the same way, and, for a PDF, the offset where each page starts, so a citation
can name its page. The converters were chosen by comparing their output on the same generated
files (a web page with navigation, banner, footer and scripts; its Chromium print-to-PDF; a Word
file — the files ``tests/test_formats.py`` builds): ``pdfminer.six`` (text boxes with their font
sizes: larger or bold short lines are headings; page by page), ``python-docx`` (heading and list
styles, tables in document order) and ``trafilatura`` (a web page's readable text without
navigation, cookie banners, footers or scripts). MarkItDown kept the web page's navigation, banner
and footer, and gave the PDF neither headings nor pages; pypdf gave pages but no paragraph breaks.

A file that cannot be read raises ``Unreadable`` with a one-line reason; nothing here decides what
to do about it (``ingest.py`` reports it and goes on).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# suffix -> format name shown to users
FORMATS = {".md": "md", ".markdown": "md", ".txt": "txt", ".pdf": "pdf", ".docx": "docx", ".html": "html",
           ".htm": "html"}
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL)
HEADING_SCALE = 1.15  # a text box this much larger than the body text is a heading
HEADING_MAX_CHARS = 120


class Unreadable(Exception):
    """The file cannot be turned into text; the message says why in one line."""


@dataclass(frozen=True)
class Converted:
    text: str
    format: str  # md, txt, pdf, docx, html
    plain: bool = False  # headings are plain-text title lines (``.txt``), not ``#`` lines
    page_starts: tuple[int, ...] = ()  # PDF: offset in ``text`` where page 1, 2, ... begins


def convert(path: Path, raw: bytes) -> Converted:
    """Convert one file (its bytes already read) by its suffix; text files holding a whole HTML page
    are read as HTML, so no tag or script reaches a patient."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise Unreadable(f"{path.suffix or 'no suffix'} is not a format the assistant reads "
                         "(PDF, Word .docx, HTML, Markdown or text)")
    if fmt in ("md", "txt") and _HTML_START.match(raw[:4096]):
        return _html(raw)
    if fmt == "pdf":
        return _pdf(path)
    if fmt == "docx":
        return _docx(path)
    if fmt == "html":
        return _html(raw)
    return Converted(_decode(raw).replace("\r\n", "\n").replace("\r", "\n"), fmt, plain=fmt == "txt")


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise Unreadable("binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text") from None


# -- PDF -------------------------------------------------------------------------------------------

def _pdf(path: Path) -> Converted:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTChar, LTTextContainer, LTTextLine
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    boxes: list[tuple[int, str, float, bool]] = []  # page, text, font size, all bold
    try:
        for number, page in enumerate(extract_pages(str(path)), 1):
            for element in page:
                if not isinstance(element, LTTextContainer):
                    continue
                chars = [c for line in element if isinstance(line, LTTextLine) for c in line if isinstance(c, LTChar)]
                text = _join_lines(element.get_text())
                if text and chars:
                    size = statistics.median(round(c.size, 1) for c in chars)
                    bold = all("bold" in c.fontname.lower() for c in chars if c.get_text().strip())
                    boxes.append((number, text, size, bold))
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise Unreadable("an encrypted (password-protected) PDF; save an unprotected copy") from None
    except Exception as exc:  # pdfminer raises many kinds on a damaged file
        raise Unreadable(f"not a readable PDF ({type(exc).__name__}); it may be damaged") from None
    if not boxes:
        raise Unreadable("a PDF with no text layer (an image-only scan?); run OCR on it first")
    body = Counter()
    for _, text, size, _ in boxes:
        body[size] += len(text)
    body_size = body.most_common(1)[0][0]
    heading_sizes = sorted({s for _, t, s, _ in boxes if s >= body_size * HEADING_SCALE and _short(t)}, reverse=True)
    parts: list[str] = []
    starts: list[int] = []
    pos, page = 0, 0
    for number, text, size, bold in boxes:
        while page < number:  # a page may have no text: it still gets a start
            page += 1
            starts.append(pos)
        if size in heading_sizes:
            text = "#" * min(heading_sizes.index(size) + 1, 5) + " " + text
        elif bold and _short(text) and size >= body_size:
            text = "#" * min(len(heading_sizes) + 1, 6) + " " + text
        parts.append(text)
        pos += len(text) + 2
    return Converted("\n\n".join(parts), "pdf", page_starts=tuple(starts))


def _join_lines(text: str) -> str:
    """A text box's wrapped lines as one paragraph; bulleted lines stay lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    out: list[str] = []
    for line in lines:
        if out and not re.match(r"^[•\-\u2022\u25aa\u25cf*]\s", line):
            out[-1] += ("" if out[-1].endswith("-") else " ") + line
        else:
            out.append(line)
    return "\n".join(out)


def _short(text: str) -> bool:
    return len(text) <= HEADING_MAX_CHARS and "\n" not in text and not text.rstrip().endswith((".", ",", ";", ":"))


# -- Word ------------------------------------------------------------------------------------------

def _docx(path: Path) -> Converted:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise Unreadable("an encrypted or old-format Word file; save it as an unprotected .docx")
    try:
        document = docx.Document(str(path))
        blocks = list(_docx_blocks(document))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Unreadable(f"not a readable Word file ({type(exc).__name__}); it may be damaged") from None
    text = "\n\n".join(b for b in blocks if b.strip())
    if not text.strip():
        raise Unreadable("a Word file with no text")
    return Converted(text, "docx")


def _docx_blocks(document) -> list[str]:
    """Paragraphs and tables in document order; heading styles become ``#`` lines, list styles ``-``."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    out: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            text = " ".join(paragraph.text.split())
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            level = re.fullmatch(r"Heading (\d)", style)
            if not text:
                continue
            if style == "Title":
                out.append(f"# {text}")
            elif level:
                out.append("#" * min(int(level.group(1)), 6) + " " + text)
            elif style.startswith("List") or paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None:
                out.append(f"- {text}")
            else:
                out.append(text)
        elif tag == "tbl":
            out += _table_lines(Table(child, document))
    return out


def _table_lines(table) -> list[str]:
    """One line per row, each cell named by its column header: 'Risk: Infection; How often: 1 in 100.'"""
    rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in table.rows]
    rows = [r for r in rows if any(r)]
    if len(rows) < 2:
        return ["; ".join(c for c in r if c) + "." for r in rows]
    header, lines = rows[0], []
    for row in rows[1:]:
        cells = [f"{h}: {c}" if h else c for h, c in zip(header, row) if c]
        lines.append("; ".join(cells).rstrip(".") + ".")
    return lines


# -- HTML ------------------------------------------------------------------------------------------

_NOT_CONTENT = ["//nav", "//footer", "//aside", "//*[@role='navigation']", "//*[@role='contentinfo']"]


def _html(raw: bytes) -> Converted:
    import trafilatura

    # Navigation, footers and sidebars are dropped before extraction: on a short page (one paragraph)
    # trafilatura finds no main content and falls back to the whole text, menus included, headings lost.
    text = trafilatura.extract(raw, output_format="markdown", include_tables=True, include_links=False,
                               include_images=False, include_comments=False, favor_recall=True,
                               prune_xpath=_NOT_CONTENT)
    if not text or not text.strip():
        raise Unreadable("a web page with no readable text")
    title = _html_title(raw)
    if title and not re.search(r"^# ", text, re.MULTILINE):
        text = f"# {title}\n\n{text}"
    return Converted(text, "html")


def _html_title(raw: bytes) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", raw[:65536], re.IGNORECASE | re.DOTALL)
    if not match:
        return ""
    import html

    return " ".join(html.unescape(match.group(1).decode("utf-8", "replace")).split())
