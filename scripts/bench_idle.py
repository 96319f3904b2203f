"""What idle chat pages cost: P pages open in one headless Chromium, each loaded and left alone, then the
CPU time Chromium and the server use over a window, and the page's requestAnimationFrame calls. Each
round measures the page as served and the same page with ``ui.FRAMES`` taken out of its HTML (the page
as Gradio 6.31 sends it, redrawing 60 times a second), one after the other, in the same run against the
same server. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_idle.py [--pages 20] [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench_api import start  # scripts/ is on the path when this runs

COUNT_FRAMES = """(() => { window.__frames = 0; const request = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) => { window.__frames += 1; return request(callback); }; })();"""


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (those that have ended count 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def chromium_processes() -> list[int]:
    """Chromium's processes (browser, zygotes, renderers, GPU), all below this script through Playwright's
    driver; not the driver itself, nor the server."""
    found = []
    for pid in descendants(os.getpid()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().startswith("chrom"):
                found.append(pid)
        except OSError:
            continue
    return found


def descendants(root: int) -> list[int]:
    """Every process below ``root``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def measure(browser, url: str, pages: int, seconds: float, fixed: bool, server_pid: int) -> dict:
    from assistant.ui import FRAMES

    def without_fix(route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace(FRAMES, "", 1))

    contexts, opened = [], []
    for _ in range(pages):
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        context.add_init_script(COUNT_FRAMES)
        if not fixed:
            context.route(url, without_fix)
        page = context.new_page()
        if (FRAMES in page.goto(url).text()) != fixed:
            raise SystemExit("the page is not the variant meant: is this the tree with ui.FRAMES?")
        page.locator("#question textarea").wait_for(state="visible")
        contexts.append(context)
        opened.append(page)
    time.sleep(5)  # the last page's loading spinner finishes its turn (about 4 s)
    others = chromium_processes()
    frames0 = sum(page.evaluate("window.__frames") for page in opened)
    browser0, server0, start_ = cpu_seconds(others), cpu_seconds([server_pid]), time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - start_
    browser1, server1 = cpu_seconds(others), cpu_seconds([server_pid])
    frames1 = sum(page.evaluate("window.__frames") for page in opened)
    for context in contexts:
        context.close()
    return {"browser": (browser1 - browser0) * seconds / elapsed, "server": (server1 - server0) * seconds / elapsed,
            "frames": (frames1 - frames0) / elapsed / pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10, help="length of the idle window measured")
    parser.add_argument("--rounds", type=int, default=2, help="times each variant is measured, alternating")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"{args.pages} idle chat pages in one headless Chromium, CPU seconds per {args.seconds:g} s "
          f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start):")
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start(Path(tmp) / "index", workers=1)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                            args=["--headless", "--no-sandbox", "--disable-gpu"])
                for round_ in range(args.rounds):
                    for fixed in (False, True) if round_ % 2 == 0 else (True, False):
                        got = measure(browser, url + "/", args.pages, args.seconds, fixed, server.pid)
                        name = "as served (ui.FRAMES)" if fixed else "without ui.FRAMES (Gradio's page)"
                        print(f"  round {round_ + 1}, {name:34s} Chromium {got['browser']:5.2f} s, server "
                              f"{got['server']:4.2f} s, requestAnimationFrame {got['frames']:5.1f} calls/s a page",
                              flush=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
