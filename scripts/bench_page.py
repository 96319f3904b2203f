"""Benchmark of the chat page under load: N conversations send a question at the same moment; prints,
for each, the time from pressing Enter to the first text of the answer on the page, then the answer
complete. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_page.py [--conversations 20] [--rounds 2] [--pages P]

The server is a real `assistant serve` process started here (the guide's index, built in a temporary
folder). ``--pages P`` (default: all) of the conversations are pages in Debian's headless Chromium
driven by Playwright (as in the tests); the others speak the page's own protocol over HTTP, as the page
does (Gradio's queue: POST ``queue/join``, then the event stream of ``queue/data``), and are timed from
the join to the first streamed message that holds answer text. Every page shares the machine's 2 cores
with the server, and a page draws at 60 frames a second while its question waits (Gradio's progress
timer and spinner); idle, it no longer does (``ui.FRAMES`` ends Gradio 6.31's orphaned loading timer;
``scripts/bench_idle.py`` measures idle pages). So ``--pages 1`` measures what one patient sees while
the server answers 19 other conversations, and the default, all pages, includes 20 browsers' work on
the server's cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
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


def respond_event(url: str) -> tuple[int, int]:
    """The fn_index and trigger id of the page's "question submitted" event, from the page's config."""
    config = httpx.get(url + "config", timeout=30).json()
    question = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "question")
    for n, dep in enumerate(config["dependencies"]):
        if [question, "submit"] in dep.get("targets", []):
            return n, question
    raise SystemExit("no submit event on #question")


def over_http(url: str, event: tuple[int, int], question: str, go: threading.Event, out: list) -> None:
    """One conversation as the page holds it: join the queue, read the event stream; (first text ms,
    complete ms) from the join."""
    session = uuid.uuid4().hex
    state = {"id": session, "turns": [], "rated": None}
    with httpx.Client(timeout=120) as http:
        go.wait()
        start = time.perf_counter()
        http.post(url + "gradio_api/queue/join", json={"data": [question, state], "fn_index": event[0],
                  "trigger_id": event[1], "session_hash": session, "event_data": None}).raise_for_status()
        first = None
        with http.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if first is None and message.get("msg") == "process_generating" and 'class=\\"answer' in line:
                    first = (time.perf_counter() - start) * 1000
                if message.get("msg") == "process_completed":
                    out.append((first, (time.perf_counter() - start) * 1000))
                    return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="questions per conversation, all sent together")
    parser.add_argument("--pages", type=int, help="how many of the conversations are browser pages (default: all); "
                        "the others speak the page's protocol over HTTP")
    args = parser.parse_args()
    n_pages = args.conversations if args.pages is None else min(args.pages, args.conversations)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server, url = start(Path(tmp) / "index", workers=1)  # the chat page is served by one process
        url += "/"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                            args=["--headless", "--no-sandbox", "--disable-gpu"])
                pages = []
                for _ in range(n_pages):
                    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
                    page.goto(url)
                    page.locator("#question textarea").wait_for(state="visible")
                    page.wait_for_function("!document.querySelector('#question textarea').disabled")
                    pages.append(page)
                event = respond_event(url)
                firsts, dones, by_http = [], [], []
                for round_ in range(args.rounds):
                    for i, page in enumerate(pages):
                        page.locator("#question textarea").fill(QUESTIONS[(i + round_) % len(QUESTIONS)])
                    go = threading.Event()
                    threads = [threading.Thread(target=over_http, args=(url, event, QUESTIONS[(i + round_) % len(QUESTIONS)],
                                                                        go, by_http))
                               for i in range(n_pages, args.conversations)]
                    for thread in threads:
                        thread.start()
                    go.set()
                    for page in pages:  # all sent at once: arm the clock and press Enter in every page
                        page.evaluate(ARM)
                        page.keyboard.press("Enter")
                    for page in pages:
                        page.wait_for_function("window.__times.first && window.__times.done", timeout=120_000)
                        times = page.evaluate("window.__times")
                        firsts.append(times["first"])
                        dones.append(times["done"])
                    for thread in threads:
                        thread.join()
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    print(f"{args.conversations} conversations ({n_pages} in Chromium pages, {args.conversations - n_pages} over HTTP) "
          f"x {args.rounds} rounds, all questions sent together ({os.cpu_count()} cores shared by the server and "
          f"Chromium):")
    _report("on the page", firsts, dones)
    if by_http:
        _report("over HTTP", [f for f, _ in by_http if f is not None], [d for _, d in by_http])


def _report(where: str, firsts: list[float], dones: list[float]) -> None:
    if not firsts:
        return
    firsts, dones = sorted(firsts), sorted(dones)
    print(f"  {where}: first answer text p50 {statistics.median(firsts):.0f} ms, "
          f"p95 {firsts[math.ceil(0.95 * len(firsts)) - 1]:.0f} ms, slowest {firsts[-1]:.0f} ms; "
          f"answer complete p50 {statistics.median(dones):.0f} ms, slowest {dones[-1]:.0f} ms ({len(firsts)} answers)")

if __name__ == "__main__":
    main()
