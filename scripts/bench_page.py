"""Benchmark of the chat page under load: N conversations in one headless Chromium send a question at
the same moment; prints, for each, the time from pressing Enter to the question showing and to the
first text of the answer on the page, then the answer complete. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_page.py [--conversations 20] [--rounds 2]

The server is a real `assistant serve` process started here (the guide's index, built in a temporary
folder); the browser is Debian's Chromium driven by Playwright (as in the tests). The browser shares
the machine's cores with the server, so the figures include its rendering work too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from bench_api import start  # scripts/ is on the path when this runs

QUESTIONS = ["Who performs kyphoplasty?", "What causes compression fractures?", "How much does it cost?",
             "what is kyphosis", "where is the procedure done?", "What do neurosurgeons do?"]
# In the page, before Enter: note the time, then watch for the new answer's first text and its end.
ARM = """() => {
  const old = document.querySelectorAll('#chat .answer').length;
  const oldDone = document.querySelectorAll('#chat .answer .answer-tools').length;
  const t0 = performance.now();
  window.__times = {};
  const check = () => {
    const now = performance.now() - t0;
    if (!window.__times.first && document.querySelectorAll('#chat .answer').length > old) window.__times.first = now;
    if (!window.__times.done && document.querySelectorAll('#chat .answer .answer-tools').length > oldDone)
      window.__times.done = now;
    if (window.__times.first && window.__times.done) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="questions per conversation, all sent together")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server, url = start(Path(tmp) / "index", workers=1)  # the chat page is served by one process
        url += "/"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                            args=["--headless", "--no-sandbox", "--disable-gpu"])
                pages = []
                for _ in range(args.conversations):
                    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
                    page.goto(url)
                    page.locator("#question textarea").wait_for(state="visible")
                    page.wait_for_function("!document.querySelector('#question textarea').disabled")
                    pages.append(page)
                firsts, dones = [], []
                for round_ in range(args.rounds):
                    for i, page in enumerate(pages):
                        page.locator("#question textarea").fill(QUESTIONS[(i + round_) % len(QUESTIONS)])
                    for page in pages:  # all sent at once: arm the clock and press Enter in every page
                        page.evaluate(ARM)
                        page.keyboard.press("Enter")
                    for page in pages:
                        page.wait_for_function("window.__times.first && window.__times.done", timeout=120_000)
                        times = page.evaluate("window.__times")
                        firsts.append(times["first"])
                        dones.append(times["done"])
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    firsts.sort()
    dones.sort()
    print(f"{args.conversations} conversations x {args.rounds} rounds, all questions sent together "
          f"({os.cpu_count()} cores shared by the server and Chromium):")
    print(f"  first answer text on the page: p50 {statistics.median(firsts):.0f} ms, "
          f"p95 {firsts[int(0.95 * (len(firsts) - 1))]:.0f} ms, slowest {firsts[-1]:.0f} ms")
    print(f"  answer complete: p50 {statistics.median(dones):.0f} ms, slowest {dones[-1]:.0f} ms")


if __name__ == "__main__":
    main()
