"""The chat UI: built with the real chain, served on 127.0.0.1, driven by gradio_client and a real
browser (Playwright + Debian's Chromium)."""

import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.settings import ROOT
from tests.processes import free_port

pytestmark = pytest.mark.server
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def app(chain, settings):
    from assistant.ui import build_ui, launch_options

    served = settings.with_(host="127.0.0.1", port=free_port())
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
    from assistant.ui import _render_answer

    cited = {"citations": [{"id": 1, "section": "S", "source": "s.md", "quotes": [],
                            "text": "<script>alert(1)</script> ![x](http://127.0.0.1:9/p.png)"}]}
    body = _render_answer("See ![x](http://127.0.0.1:9/p.png) and <img src=x> **bold** [1]", cited, 3)
    assert "<img" not in body and "![" not in body and "](" not in body and "**" not in body
    assert "<script" not in body and '<a class="cite" href="#a3-s1"' in body and 'id="a3-s1"' in body


def test_a_pdf_citation_shows_its_page():
    from assistant.ui import _render_answer, _slim

    cited = {"citations": _slim([{"id": 1, "section": "Aftercare", "source": "leaflet.pdf", "page": 2, "quotes": [],
                                  "text": "Rest for a day."}, {"id": 2, "section": "S", "source": "guide.md",
                                                               "quotes": [], "text": "T."}])}
    body = _render_answer("Rest for a day. [1] T. [2]", cited, 0)
    assert "(leaflet.pdf, page 2)" in body and "(guide.md)" in body


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


# -- a real browser ---------------------------------------------------------------------------------

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: `make test` installs it with apt")
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _page(browser, url, width=1366, height=900, dark=False):
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="dark" if dark else "light")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = context.new_page()
    page.goto(url + ("?__theme=dark" if dark else ""))
    return page


def _ask(page, question):
    from playwright.sync_api import expect

    before = page.locator("#chat .answer .answer-tools").count()
    page.locator("#question textarea").fill(question)
    page.keyboard.press("Enter")
    expect(page.locator("#chat .answer .answer-tools")).to_have_count(before + 1, timeout=30_000)
    # done when Gradio has no event pending: its last update redraws the chat, and a click made before
    # it can be lost (seen once on a busy machine)
    expect(page.locator('[data-testid="status-tracker"]:not(.hide) .progress-text')).to_have_count(0, timeout=30_000)
    return page.locator("#chat .answer").nth(before)


@pytest.mark.browser
def test_each_answer_keeps_its_own_sources(browser, app):
    from playwright.sync_api import expect

    page = _page(browser, app)
    first = _ask(page, "Who performs kyphoplasty?")
    second = _ask(page, "which of them usually works outpatient?")
    first.locator("a.cite").first.click()
    active = page.locator(".source.active")
    expect(active).to_have_count(1)
    assert active.get_attribute("id").startswith("a0-")  # the first answer's own passage, not the latest
    expect(active).to_contain_text("The Primary Specialists Who Perform Kyphoplasty")
    expect(active.locator("mark").first).to_be_visible()
    assert page.evaluate("document.activeElement.id") == active.get_attribute("id")  # focus follows
    second.locator("a.cite").first.click()
    assert page.locator(".source.active").get_attribute("id").startswith("a1-")
    page.locator(".source.active a.back").click()
    expect(second).to_be_in_viewport()
    page.context.close()


@pytest.mark.browser
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_no_serious_accessibility_problems(browser, app, dark, width, height):
    from axe_playwright_python.sync_playwright import Axe

    page = _page(browser, app, width, height, dark)
    _ask(page, "How much does it cost?")
    _ask(page, "Who performs kyphoplasty?").locator("details.sources summary").click()
    violations = Axe().run(page).response["violations"]
    serious = [(v["id"], v["nodes"][0]["target"]) for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == []
    if os.environ.get("UPDATE_SCREENSHOT") and not dark:  # the README's pictures, refreshed on request
        page.screenshot(path=str(ROOT / "docs" / ("screenshot.png" if width > 800 else "screenshot-phone.png")),
                        full_page=width > 800)
    page.context.close()


@pytest.mark.browser
def test_a_new_answer_and_urgent_advice_always_come_into_view(browser, app):
    from playwright.sync_api import expect

    page = _page(browser, app)
    _ask(page, "Who performs kyphoplasty?")
    _ask(page, "What causes compression fractures?")
    page.locator("#chat .answer").first.locator("a.cite").first.click()  # the reader is up in an old answer
    page.mouse.wheel(0, -5000)
    _ask(page, "I can't feel my legs since my procedure yesterday")
    expect(page.locator("#chat .urgent-box").last).to_be_in_viewport()
    page.context.close()


@pytest.mark.browser
def test_copy_gives_the_answer_and_its_sources_as_plain_text(browser, app):
    page = _page(browser, app)
    answer = _ask(page, "Who performs kyphoplasty?")
    answer.locator("a.copy-answer").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "[1]" in copied and "Sources:" in copied and "Neurosurgeons" in copied
    assert "<" not in copied and "class=" not in copied
    page.context.close()


@pytest.mark.browser
def test_clearing_forgets_the_conversation(browser, app):
    from playwright.sync_api import expect

    page = _page(browser, app)
    _ask(page, "Who performs kyphoplasty?")
    page.locator("#chat button[aria-label*='lear']").first.click()  # the chat's trash icon
    expect(page.locator("#chat .answer")).to_have_count(0)
    page.reload()  # at once, before the server has answered the clear: the browser's copy must already be gone
    expect(page.locator("#question textarea")).to_be_visible()
    assert page.locator("#chat .answer").count() == 0  # nothing kept for the next answer to use
    page.context.close()


@pytest.mark.browser
def test_phone_width_sources_are_next_to_the_answer(browser, app):
    from playwright.sync_api import expect

    page = _page(browser, app, 390, 844)
    answer = _ask(page, "What is kyphosis?")
    answer.locator("a.cite").first.click()
    expect(page.locator(".source.active")).to_be_in_viewport()
    page.locator(".source.active a.back").click()
    expect(answer).to_be_in_viewport()
    assert not page.locator("#chat label").is_visible()  # no label over the first line
    page.context.close()


@pytest.mark.browser
def test_the_question_shows_at_once_and_a_second_one_waits_its_turn(browser, app):
    from playwright.sync_api import expect

    page = _page(browser, app)
    page.locator("#question textarea").fill("What is kyphoplasty?")
    page.keyboard.press("Enter")
    expect(page.locator("#chat")).to_contain_text("What is kyphoplasty?", timeout=5_000)
    page.locator("#question textarea").fill("Who performs kyphoplasty?")  # the input stays usable
    page.keyboard.press("Enter")
    expect(page.locator("#chat .answer .answer-tools")).to_have_count(2, timeout=60_000)
    expect(page.locator("#chat")).to_contain_text("Neurosurgeons")
    page.context.close()


@pytest.mark.browser
def test_thumbs_on_every_answer_one_record_each(browser, app, settings):
    from playwright.sync_api import expect

    page = _page(browser, app)
    _ask(page, "Who performs kyphoplasty?")
    _ask(page, "What is kyphosis?")
    bots = page.locator("#chat .message-buttons-bot, #chat [data-testid='bot'] ~ * button[aria-label='Like']")
    likes = page.locator("#chat button[aria-label='Like']")
    expect(likes).to_have_count(2)
    likes.nth(0).click()
    expect(page.locator("#status")).to_contain_text("saved")
    assert page.locator("#status").get_attribute("aria-live") == "polite"
    page.locator("#chat button[aria-label='Dislike']").nth(1).click()
    page.locator("#feedback-comment textarea").fill("Clear, thank you")
    page.locator("#send-comment").click()
    expect(page.locator("#status")).to_contain_text("comment was saved")
    with sqlite3.connect(settings.feedback_db) as con:
        rows = con.execute("SELECT rating, answer_key, comment FROM feedback WHERE answer_key != '' "
                           "ORDER BY id DESC LIMIT 2").fetchall()
    assert {r[0] for r in rows} == {"up", "down"} and rows[0][2] == "Clear, thank you"
    assert len({r[1] for r in rows}) == 2 and bots is not None
    page.context.close()


@pytest.mark.browser
def test_typed_markup_is_shown_as_typed(browser, app):
    from playwright.sync_api import expect

    page = _page(browser, app)
    _ask(page, "**bold** [click](javascript:alert(1)) who does it?")
    user = page.locator("#chat").get_by_text("**bold**")
    expect(user).to_be_visible()
    assert page.locator("#chat a[href^='javascript']").count() == 0 and page.locator("#chat strong").count() == 0
    page.context.close()


# Counts the page's requestAnimationFrame calls; an init script runs before any of the page's own.
COUNT_FRAMES = """(() => { window.__frames = 0; const request = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) => { window.__frames += 1; return request(callback); }; })();"""


def _counting_page(browser, url):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(COUNT_FRAMES)
    page = context.new_page()
    page.goto(url)
    page.locator("#question textarea").wait_for(state="visible")
    return page


def _quietest(page, windows: int = 7) -> int:
    """The fewest frames the page asks for in a 2-second window, over up to ``windows`` windows in a
    row (stopping at one under 10). Gradio's spinner finishes its turn for about 4 s after loading or
    answering; an idle page asks for none after that (120 a window with Gradio 6.31's orphaned loop)."""
    fewest = 10**9
    for _ in range(windows):
        before = page.evaluate("window.__frames")
        page.wait_for_timeout(2000)
        fewest = min(fewest, page.evaluate("window.__frames") - before)
        if fewest < 10:
            break
    return fewest


@pytest.mark.browser
def test_an_idle_page_stops_drawing(browser, app):
    """Gradio 6.31's removed loading indicator asks for a frame 60 times a second (120 in 2 s) for
    as long as the page is open; with ``ui.FRAMES`` an idle page stops, once loaded and after answers."""
    page = _counting_page(browser, app)
    assert _quietest(page) < 10
    _ask(page, "Who performs kyphoplasty?")
    assert _quietest(page) < 10
    page.context.close()


class _SlowAnswers:
    """The chain, with every streamed answer starting 6 s late."""

    def __init__(self, chain) -> None:
        self._chain = chain

    def __getattr__(self, name):
        return getattr(self._chain, name)

    def stream(self, *args, **kwargs):
        import time

        time.sleep(6)
        yield from self._chain.stream(*args, **kwargs)


@pytest.mark.browser
def test_a_waiting_question_keeps_its_progress_moving(browser, chain, settings):
    """One answer at a time and a slow one running: a question sent from an idle page (its orphaned
    loop ended) shows its place in the queue with a timer that counts on past 2 s and a turning spinner."""
    import re

    from playwright.sync_api import expect

    from assistant.ui import build_ui, launch_options

    served = settings.with_(host="127.0.0.1", port=free_port(), concurrency=1)
    demo = build_ui(_SlowAnswers(chain), served)
    demo.launch(**launch_options(served), prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{served.port}/"
    pages = []
    try:
        pages += [first := _counting_page(browser, url), waiting := _counting_page(browser, url)]
        assert _quietest(waiting) < 10  # idle: the orphaned loop has ended
        first.locator("#question textarea").fill("Who performs kyphoplasty?")
        first.keyboard.press("Enter")
        waiting.wait_for_timeout(500)
        waiting.locator("#question textarea").fill("What is kyphosis?")
        waiting.keyboard.press("Enter")
        tracker = waiting.locator("#chat [data-testid='status-tracker']")
        expect(tracker).to_contain_text("queue")
        expect(tracker).to_contain_text(re.compile(r"\b[3-9]\.\ds"), timeout=8_000)  # the timer counts on
        spinner = waiting.locator("#question [data-testid='status-tracker'] svg g").first
        turns = {spinner.evaluate("g => g.style.transform")}
        for _ in range(3):
            waiting.wait_for_timeout(200)
            turns.add(spinner.evaluate("g => g.style.transform"))
        assert len(turns) > 1
        expect(waiting.locator("#chat .answer .answer-tools")).to_have_count(1, timeout=30_000)
    finally:
        for page in pages:
            page.context.close()
        demo.close()


def test_a_full_queue_is_refused_not_stalled(chain, settings):
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    from assistant.ui import build_ui, launch_options

    served = settings.with_(host="127.0.0.1", port=free_port(), concurrency=1, max_queue=2)
    demo = build_ui(chain, served)
    demo.launch(**launch_options(served), prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{served.port}/"

    def call(i):
        try:
            Client(url, verbose=False).predict("Who performs kyphoplasty?", [], api_name="/ask")
            return "answered"
        except Exception as exc:  # gradio_client raises on a refused request
            return "refused" if "queue" in str(exc).lower() or "full" in str(exc).lower() else f"error: {exc}"

    try:
        with ThreadPoolExecutor(max_workers=30) as pool:
            outcomes = list(pool.map(call, range(30)))
    finally:
        demo.close()
    assert "answered" in outcomes and "refused" in outcomes, outcomes


@pytest.mark.browser
def test_a_restart_keeps_the_conversation_and_says_it_is_reconnecting(browser, chain, settings):
    from playwright.sync_api import expect

    from assistant.ui import build_ui, launch_options

    served = settings.with_(host="127.0.0.1", port=free_port())
    url = f"http://127.0.0.1:{served.port}/"
    demo = build_ui(chain, served)
    demo.launch(**launch_options(served), prevent_thread_lock=True, quiet=True)
    page = _page(browser, url)
    _ask(page, "Who performs kyphoplasty?")
    demo.close()  # the server goes away...
    expect(page.locator("#reconnecting")).to_be_visible(timeout=15_000)
    demo = build_ui(chain, served)  # ...and comes back, with no memory of this conversation
    demo.launch(**launch_options(served), prevent_thread_lock=True, quiet=True)
    try:
        expect(page.locator("#reconnecting")).to_be_hidden(timeout=15_000)
        page.reload()
        expect(page.locator("#chat")).to_contain_text("Who performs kyphoplasty?")  # kept by the browser
        follow_up = _ask(page, "and the last one?")  # answered with the conversation so far
        expect(follow_up).to_contain_text("Neurosurgeons")
    finally:
        page.context.close()
        demo.close()
