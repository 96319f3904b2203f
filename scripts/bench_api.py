"""Load benchmark of the HTTP API: throughput and latency p50/p95 at 1, 8 and 32 concurrent clients over
loopback, one worker process vs two, on the guide's index. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_api.py [--requests 64] [--seconds 60] [--levels 1,8,32]

Each level sends at most ``--requests`` POST /v1/ask calls and stops early after ``--seconds``. The
baseline in the same run is GET /healthz at the same concurrency: what the HTTP stack alone costs.
The servers are real `assistant serve` processes started here and stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Who performs kyphoplasty?", "What causes compression fractures?", "What should I ask a provider?",
    "How much does kyphoplasty cost?", "what is kyphosis", "where is the procedure done?",
    "my mum is 82 and the doctor said her spine bone collapsed, would kyphoplasty help her?",
    "wot training do they need", "does insurance cover it", "What do neurosurgeons do?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(index_dir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir), "ASSISTANT_MAX_QUEUE": "256",
           "ASSISTANT_FEEDBACK_DB": str(index_dir / "feedback.sqlite3")}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--workers", str(workers)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(480):
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.25)
    proc.kill()
    raise SystemExit("the server did not start")


async def load(url: str, clients: int, most: int, seconds: float, route: str) -> dict:
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient, me: int) -> None:
        nonlocal sent, errors
        while sent < most and time.perf_counter() < deadline:
            n, sent = sent, sent + 1
            t = time.perf_counter()
            if route == "ask":
                r = await http.post(url + "/v1/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]})
            else:
                r = await http.get(url + "/healthz")
            latencies.append(time.perf_counter() - t)
            errors += r.status_code != 200

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http, i) for i in range(clients)))
        wall = time.perf_counter() - start
    latencies.sort()
    return {"n": len(latencies), "errors": errors, "rps": len(latencies) / wall,
            "p50": statistics.median(latencies) * 1000,
            "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=64, help="most requests per level")
    parser.add_argument("--seconds", type=float, default=60, help="most seconds per level")
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients, comma-separated")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir)}
        subprocess.run([sys.executable, "-m", "assistant", "index"], env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"{'workers':>7} {'clients':>7} {'route':>8} {'requests':>8} {'errors':>6} {'req/s':>7} "
              f"{'p50 ms':>8} {'p95 ms':>8}")
        rps: dict[tuple[int, int], float] = {}
        for workers in (1, 2):
            proc, url = start(index_dir, workers)
            try:
                for _ in range(4 * workers):  # fresh connections, so that every worker has answered before timing
                    httpx.post(url + "/v1/ask", json={"question": QUESTIONS[0]}, timeout=120)
                for clients in levels:
                    for route in ("healthz", "ask"):
                        r = asyncio.run(load(url, clients, args.requests, args.seconds, route))
                        if route == "ask":
                            rps[(workers, clients)] = r["rps"]
                        print(f"{workers:>7} {clients:>7} {route:>8} {r['n']:>8} {r['errors']:>6} {r['rps']:>7.1f} "
                              f"{r['p50']:>8.1f} {r['p95']:>8.1f}", flush=True)
            finally:
                proc.terminate()
                proc.wait(30)
        for clients in levels:
            print(f"throughput, 2 workers / 1 worker at {clients} clients: "
                  f"{rps[(2, clients)] / rps[(1, clients)]:.2f}x")
        print(f"({os.cpu_count()} CPU cores; /v1/ask over the guide's index, questions cycled from a list of "
              f"{len(QUESTIONS)})")


if __name__ == "__main__":
    main()
