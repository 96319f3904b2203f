"""PDF, Word and web pages, built for real in the test: text, sections, pages, and what cannot be read."""

import shutil
import subprocess
from pathlib import Path

import pytest

from assistant.convert import Unreadable, convert
from assistant.ingest import chunk_corpus, load_corpus
from assistant.settings import Settings

PAGE = """<!doctype html><html><head><title>Discharge after kyphoplasty</title>
<style>.next {page-break-before: always}</style>
<script>var tracker = "ANALYTICS_SCRIPT";</script></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/clinics">Find a clinic NAVLINK</a></li></ul></nav>
<header><div class="banner">We use cookies COOKIEBANNER. Accept all?</div></header>
<main><article><h1>Discharge after kyphoplasty</h1>
<p>You can usually go home on the same day as the procedure. Someone should drive you home and stay overnight.</p>
<h2>Wound care</h2>
<p>Keep the small dressing dry for 48 hours. After that you may shower, but do not soak in a bath for a week.</p>
<ul><li>Check the site every day for redness.</li><li>Call the clinic if it leaks fluid.</li></ul>
<h2 class="next">Pain relief</h2>
<p>Mild soreness at the needle site is common for a few days. Take paracetamol as advised by your doctor.</p>
<h3>When to call</h3>
<p>Call 999 if you have new weakness or numbness in your legs, or lose control of your bladder or bowels.</p>
</article></main>
<footer>Copyright FOOTERTEXT 2026 Clinic Trust. <a href="/privacy">Privacy</a></footer>
<script>console.log("INLINE_SCRIPT")</script></body></html>
"""
JUNK = ("NAVLINK", "COOKIEBANNER", "FOOTERTEXT", "ANALYTICS_SCRIPT", "INLINE_SCRIPT", "<", ">")


def _sections(chunks, source):
    return {c.section for c in chunks if c.source == source}


def _docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Consent for kyphoplasty", level=1)
    d.add_paragraph("This leaflet explains the benefits and risks of the procedure. Please read it before you sign.")
    d.add_heading("Benefits", level=2)
    d.add_paragraph("Most patients have less back pain within two days.")
    d.add_paragraph("Pain relief often lasts for years.", style="List Bullet")
    d.add_heading("Risks", level=2)
    d.add_paragraph("Cement can leak outside the bone in a small number of cases.")
    table = d.add_table(rows=2, cols=2)
    cells = [*table.rows[0].cells, *table.rows[1].cells]
    for cell, text in zip(cells, ["Risk", "How often", "Infection", "Less than 1 in 100"]):
        cell.text = text
    d.save(str(path))
    return path


def _reportlab_pdf(path: Path, encrypt: str | None = None, image_only: bool = False) -> Path:
    """Two pages: a 20-pt title and 15-pt headings over 11-pt body text (or, image_only, a picture of text)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)
    if image_only:
        from PIL import Image, ImageDraw

        picture = Image.new("RGB", (600, 200), "white")
        ImageDraw.Draw(picture).text((10, 80), "Scanned leaflet: fasting from midnight", fill="black")
        picture_path = path.with_suffix(".png")
        picture.save(picture_path)
        c.drawImage(str(picture_path), 50, 500, 500, 160)
        c.showPage()
        c.save()
        return path
    pages = [[("Helvetica-Bold", 20, "Fasting before your procedure"), ("Helvetica", 11, "Do not eat for six hours before "
              "kyphoplasty. You may sip water until two hours before."), ("Helvetica-Bold", 15, "Your medicines"),
              ("Helvetica", 11, "Take your usual blood pressure tablets with a sip of water.")],
             [("Helvetica-Bold", 15, "On the day"), ("Helvetica", 11, "Arrive at the day unit at seven in the morning. "
              "Bring a list of your medicines.")]]
    for page in pages:
        y = 780
        for font, size, text in page:
            c.setFont(font, size)
            c.drawString(50, y, text[:95])
            if len(text) > 95:
                y -= size + 4
                c.drawString(50, y, text[95:])
            y -= size + 14
        c.showPage()
    c.save()
    return path


def test_a_web_page_is_reduced_to_its_readable_text_with_headings():
    converted = convert(Path("leaflet.html"), PAGE.encode())
    assert "# Discharge after kyphoplasty" in converted.text and "## Wound care" in converted.text
    assert "Keep the small dressing dry for 48 hours." in converted.text
    assert not any(junk in converted.text for junk in JUNK)


def test_a_short_page_loses_its_navigation_too():
    # one paragraph: too little for trafilatura to find the main content, so it falls back to all text
    page = (b'<html><head><title>Recovery</title></head><body><nav><a href="/">Home NAVLINK</a></nav>'
            b"<main><h1>Recovery</h1><p>Patients usually go home the same day.</p></main>"
            b"<footer>FOOTERTEXT</footer></body></html>")
    text = convert(Path("short.html"), page).text
    assert "Patients usually go home the same day." in text
    assert "NAVLINK" not in text and "FOOTERTEXT" not in text


def test_html_saved_as_text_is_read_as_html(tmp_path):
    (tmp_path / "leaflet.txt").write_text(PAGE)
    chunks = chunk_corpus(load_corpus(tmp_path), 600)
    assert _sections(chunks, "leaflet.txt") >= {"Wound care", "Pain relief", "When to call"}
    assert not any(junk in c.text for c in chunks for junk in JUNK)


def test_a_markdown_file_with_a_less_than_sign_is_not_taken_for_html(tmp_path):
    (tmp_path / "note.md").write_text("# Note\n\nCall if your temperature is <38C for 2 days or > 39C once.\n")
    (chunk,) = chunk_corpus(load_corpus(tmp_path), 600)
    assert "<38C" in chunk.text and "> 39C" in chunk.text


def test_word_headings_lists_and_tables(tmp_path):
    _docx(tmp_path / "consent.docx")
    corpus = load_corpus(tmp_path)
    (doc,) = corpus.documents
    assert doc.format == "docx" and doc.title == "Consent for kyphoplasty"
    chunks = chunk_corpus(corpus, 600)
    assert _sections(chunks, "consent.docx") == {"Benefits", "Risks"} | ({""} & _sections(chunks, "consent.docx"))
    risks = " ".join(c.text for c in chunks if c.section == "Risks")
    assert "Cement can leak" in risks and "Risk: Infection; How often: Less than 1 in 100." in risks
    assert any("Pain relief often lasts for years." in c.text for c in chunks if c.section == "Benefits")


def test_pdf_headings_by_font_size_and_page_numbers(tmp_path):
    _reportlab_pdf(tmp_path / "fasting.pdf")
    corpus = load_corpus(tmp_path)
    (doc,) = corpus.documents
    assert doc.format == "pdf" and doc.title == "Fasting before your procedure" and len(doc.page_starts) == 2
    chunks = chunk_corpus(corpus, 600)
    by_section = {c.section: c for c in chunks}
    assert by_section["Your medicines"].page == 1 and "blood pressure tablets" in by_section["Your medicines"].text
    assert by_section["On the day"].page == 2 and "seven in the morning" in by_section["On the day"].text
    assert all(c.page in (1, 2) for c in chunks)


@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium is not installed")
def test_a_page_printed_to_pdf_by_chromium_keeps_sections_and_pages(tmp_path):
    (tmp_path / "page.html").write_text(PAGE)
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-pdf-header-footer", f"--print-to-pdf={corpus_dir / 'discharge.pdf'}",
                    str(tmp_path / "page.html")], check=True, capture_output=True, timeout=120)
    chunks = chunk_corpus(load_corpus(corpus_dir), 600)
    pages = {c.section: c.page for c in chunks}
    assert pages["Wound care"] == 1 and pages["Pain relief"] == 2 and pages["When to call"] == 2
    assert any("Keep the small dressing dry for 48 hours." in c.text for c in chunks)


BAD = {
    "locked.pdf": ("encrypted", lambda p: _reportlab_pdf(p, encrypt="secret")),
    "scan.pdf": ("no text layer", lambda p: _reportlab_pdf(p, image_only=True)),
    "broken.pdf": ("not a readable PDF", lambda p: p.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)),
    "broken.docx": ("not a readable Word file", lambda p: p.write_bytes(b"PK\x03\x04 this is no zip archive" * 10)),
    "old.doc": ("not a format the assistant reads", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0 old word")),
    "empty.html": ("no readable text", lambda p: p.write_text("<html><body><script>x()</script></body></html>")),
}


@pytest.mark.parametrize("name", BAD)
def test_a_file_that_cannot_be_read_is_named_in_one_line_and_the_rest_indexed(tmp_path, name):
    reason, make = BAD[name]
    make(tmp_path / name)
    (tmp_path / "good.md").write_text("# Good\n\nA readable sentence.\n")
    corpus = load_corpus(tmp_path)
    assert [d.source for d in corpus.documents] == ["good.md"]
    (line,) = [s for s in corpus.skipped if s.startswith(name)]
    assert reason in line and "\n" not in line


def test_unreadable_error_says_why():
    with pytest.raises(Unreadable, match="not UTF-8"):
        convert(Path("notes.txt"), "caf\xe9".encode("latin-1"))


@pytest.mark.slow
def test_citations_of_a_pdf_carry_the_page_and_other_formats_none(tmp_path, embedder):
    from assistant.chain import build_chain

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _reportlab_pdf(corpus / "fasting.pdf")
    _docx(corpus / "consent.docx")
    (corpus / "leaflet.html").write_text(PAGE)
    chain = build_chain(Settings(corpus_dir=corpus, index_dir=tmp_path / "ix"), embedder=embedder)
    out = chain.invoke({"question": "What time should I arrive at the day unit?", "chat_history": []})
    (cited,) = [c for c in out["citations"] if c["source"] == "fasting.pdf"]
    assert cited["page"] == 2 and "seven in the morning" in cited["text"]
    out = chain.invoke({"question": "How long must I keep the dressing dry?", "chat_history": []})
    assert out["citations"] and all("page" not in c for c in out["citations"] if c["source"] != "fasting.pdf")
    assert any("48 hours" in c["text"] for c in out["citations"])
