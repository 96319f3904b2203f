"""The chat page with a language model: the guarded answer streams in, a removed sentence never shows,
and staff (``ASSISTANT_SHOW_GUARD``) see which generator answered and what the guard removed."""

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.chain import AssistantChain
from assistant.ui import _render_answer, staff_note
from tests.processes import free_port
from tests.test_ui import ARGS, CHROMIUM, _page

INVENTED = "Recovery takes 6 weeks"


def test_the_staff_note_says_who_answered_and_what_was_removed():
    removed = {"sentence": f"{INVENTED}.", "reason": "'6 week' is not in the cited passage"}
    llm = {"generator": "llm", "guard": {"kept": 2, "dropped": 1, "reasons": [removed], "fallback": "", "failure": ""}}
    assert staff_note(llm) == ("Staff: written by the language model; the guard kept 2 sentence(s) and removed 1: "
                               f"“{INVENTED}.” ('6 week' is not in the cited passage).")
    fell_back = {"generator": "extractive", "guard": {"kept": 0, "dropped": 0, "reasons": [], "failure": "timed out",
                                                      "fallback": "the model failed (timed out)"}}
    assert staff_note(fell_back) == "Staff: extractive answer, because the model failed (timed out)."
    assert staff_note({"generator": "extractive", "guard": None}).startswith("Staff: extractive answer (no")
    html = _render_answer("An answer. [1]", {"staff": "Staff: <b>x</b> [1]"}, 0)
    assert 'class="staff-note"' in html and "<b>" not in html  # shown as text


@pytest.mark.browser
@pytest.mark.server
def test_the_page_streams_the_guarded_answer_and_shows_staff_what_was_removed(chain, settings):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    from assistant.ui import build_ui, launch_options

    number = next(i for i, p in enumerate(chain.invoke("Who performs kyphoplasty?")["passages"], 1)
                  if "three types of specialists" in p["text"])
    reply = (f"Kyphoplasty is done by doctors with advanced training in spinal anatomy [{number}]. {INVENTED} "
             f"[{number}]. Three types of specialists routinely perform it [{number}].")
    llm = FakeListChatModel(responses=[reply], sleep=0.01)
    served = settings.with_(generator="llm", show_guard=True, host="127.0.0.1", port=free_port())
    demo = build_ui(AssistantChain(served, chain.index, chain.embedder, llm=llm), served)
    demo.launch(**launch_options(served), prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = _page(browser, f"http://127.0.0.1:{served.port}/")
            seen: list[str] = []
            page.expose_function("record", lambda text: seen.append(text))
            page.evaluate("""() => new MutationObserver(() => {
                const a = document.querySelector('#chat .answer'); if (a) window.record(a.textContent);
              }).observe(document.body, {childList: true, subtree: true, characterData: true})""")
            page.locator("#question textarea").fill("Who performs kyphoplasty?")
            page.keyboard.press("Enter")
            answer = page.locator("#chat .answer").first
            expect(answer.locator(".staff-note")).to_contain_text("removed 1", timeout=30_000)
            expect(answer).to_contain_text("Three types of specialists routinely perform it.")
            assert not any(INVENTED in text.split("Staff:")[0] for text in seen)  # never shown, even mid-stream
            assert any("spinal anatomy" in t and "Three types" not in t for t in seen)  # it streamed in
            browser.close()
    finally:
        demo.close()
