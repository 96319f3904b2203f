"""The chat UI: built with the real chain, served on 127.0.0.1, driven by gradio_client and a real
browser (Playwright + Debian's Chromium)."""

import os
import socket
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.settings import ROOT

pytestmark = pytest.mark.server
CHROMIUM = Path("/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(chain, settings):
    from assistant.ui import build_ui, launch_options

    served = settings.with_(host="127.0.0.1", port=_free_port())
    demo = build_ui(chain, served)
    demo.launch(**launch_options(served), prevent_thread_lock=True, quiet=True)
    port = served.port
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app, verbose=False)


def test_importing_the_ui_launches_nothing():
    code = "import assistant.ui, assistant; import sys; print('chromadb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False"


def test_api_ask_returns_the_chain_result(client):
    out = client.predict("Who performs kyphoplasty?", [], api_name="/ask")
    assert not out["abstained"] and "Neurosurgeons" in out["answer"]
    assert out["citations"][0]["section"] == "The Primary Specialists Who Perform Kyphoplasty"


def test_api_follow_up_with_history(client):
    first = client.predict("Who performs kyphoplasty?", [], api_name="/ask")
    history = [["user", "Who performs kyphoplasty?"], ["assistant", first["answer"]]]
    out = client.predict("which of them usually works outpatient?", history, api_name="/ask")
    assert "IR specialists often perform this procedure in an outpatient setting." in out["answer"]


def test_api_bad_input_gets_a_message(client):
    assert "empty" in client.predict("   ", [], api_name="/ask")["error"]


def test_feedback_is_stored_in_sqlite(client, settings):
    out = client.predict("up", "Who performs kyphoplasty?", "Three specialties.", "clear answer", api_name="/feedback")
    with sqlite3.connect(settings.feedback_db) as con:
        row = con.execute("SELECT rating, comment, question FROM feedback WHERE id = ?", (out["id"],)).fetchone()
    assert row == ("up", "clear answer", "Who performs kyphoplasty?")
    assert "error" in client.predict("meh", "q", "a", "", api_name="/feedback")


def test_feedback_export_cli(tmp_path, monkeypatch, capsys):
    from assistant.cli import main
    from assistant.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.record("down", "How much?", "Not covered.", [{"id": 1, "source": "k.md", "section": "S", "quotes": []}], "hm")
    monkeypatch.setenv("ASSISTANT_FEEDBACK_DB", str(tmp_path / "fb.sqlite3"))
    assert main(["feedback", "export", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "How much?" in out and out.startswith("id,created_at,rating")


def test_feedback_with_no_comment_is_stored(client):
    assert "id" in client.predict("down", "q", "a", None, api_name="/feedback")


def test_markdown_and_html_in_messages_and_sources_stay_text():
    from assistant.ui import _render_answer, _render_sources

    body = _render_answer("See ![x](http://127.0.0.1:9/p.png) and <img src=x> **bold** [1]", {})
    assert "<img" not in body and "![" not in body and "](" not in body and "**" not in body
    assert '<a class="cite" href="#source-1"' in body
    sources = _render_sources({"citations": [{"id": 1, "section": "S", "source": "s.md", "quotes": [],
                                              "text": "<script>alert(1)</script>"}]})
    assert "<script>" not in sources


def test_the_page_accepts_no_uploads(app):
    import urllib.error
    import urllib.request

    boundary = "xyz"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.bin\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    body = head + b"0" * 2_000_000 + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(app + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code in (400, 413)


def test_twenty_concurrent_sessions_stay_isolated(app):
    from gradio_client import Client

    conversations = [
        (["Who performs kyphoplasty?", "which of them usually works outpatient?"], "outpatient setting", "osteoporosis"),
        (["What is a compression fracture?", "what causes it?"], "osteoporosis", "outpatient setting"),
    ]

    def session(i: int) -> bool:
        turns, expected, foreign = conversations[i % 2]
        c = Client(app, verbose=False)
        history: list = []
        for q in turns:
            out = c.predict(q, history, api_name="/ask")
            history += [["user", q], ["assistant", out["answer"]]]
        return expected in out["answer"] and foreign not in out["answer"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(session, range(20)))
    assert all(results), results


@pytest.mark.browser
def test_real_browser_chat_with_citations_and_feedback(app, settings, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: `make test` installs it with apt")
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(app)
        expect(page.locator("#disclaimer")).to_contain_text("not medical advice")
        page.get_by_text("Who performs kyphoplasty?").first.click()  # an example question
        page.locator("#ask").click()
        answer = page.locator("#chat .cite").first
        expect(answer).to_be_visible(timeout=30_000)
        expect(page.locator("#chat")).to_contain_text("Neurosurgeons")
        answer.click()  # the [1] marker opens its source
        source = page.locator("#source-1")
        expect(source).to_contain_text("The Primary Specialists Who Perform Kyphoplasty")
        expect(source.locator("mark", has_text="three types of specialists")).to_be_visible()
        page.locator("#feedback-comment textarea").fill("Very clear, thank you")
        page.locator("#thumbs-up").click()
        expect(page.locator("#feedback-status")).to_contain_text("saved")
        # the README's picture is refreshed only on request (UPDATE_SCREENSHOT=1): tests write no tracked file
        shot = ROOT / "docs" / "screenshot.png" if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "page.png"
        page.screenshot(path=str(shot), full_page=True)
        # keyboard only: a follow-up typed and sent with Enter uses this page's conversation
        page.locator("#question textarea").fill("What is a compression fracture?")
        page.keyboard.press("Enter")
        expect(page.locator("#chat")).to_contain_text("Vertebral Compression Fracture", timeout=30_000)
        page.locator("#question textarea").fill("what causes it?")
        page.keyboard.press("Enter")
        expect(page.locator("#chat")).to_contain_text("osteoporosis", timeout=30_000)
        page.locator("#new-conversation").click()
        expect(page.locator("#chat")).not_to_contain_text("osteoporosis")
        expect(page.locator("#sources")).to_contain_text("Sources for each answer appear here")
        # phone width still works
        page.set_viewport_size({"width": 390, "height": 844})
        expect(page.locator("#question textarea")).to_be_visible()
        browser.close()
    with sqlite3.connect(settings.feedback_db) as con:
        assert con.execute("SELECT rating FROM feedback WHERE comment = 'Very clear, thank you'").fetchone() == ("up",)
