"""Benchmark: cold start to first answer, warm latency p50/p95, index build time and peak memory,
on the kyphoplasty guide, the MedQuAD dev corpus and (when built) the 2,500-answer MedQuAD
collection. Prints figures; asserts nothing.

    .venv/bin/python scripts/benchmark.py [--runs 5] [--no-peer] [--large]

Each measurement runs in a fresh subprocess (cold start means a cold process: imports, model load,
index open). Baselines in the same run: the bare embedding call for one question (the floor any
answer pays; the answer latency is also given as a ratio to it), and the plain LangChain-tutorial
pipeline (``assistant/evals/peer.py``: 1,000/200 splits, same MiniLM, Chroma, k=4, top chunk) built
and queried on the same corpus.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEDQUAD = ROOT.parent / "shared" / "benchmarks" / "medquad-seniorhealth-dev"
LARGE = ROOT / "evals" / "medquad-large" / "corpus"
GUIDE_QUESTIONS = [
    "Who performs kyphoplasty?", "What causes compression fractures?", "What should I ask a provider?",
    "How much does kyphoplasty cost?", "what is kyphosis", "where is the procedure done?",
    "What do neurosurgeons do?", "does insurance cover it", "what does a compression fracture feel like?",
    "what imaging do they use to guide the needle",
]

CHILD = r"""
import json, resource, statistics, sys, time
t0 = time.perf_counter()
from pathlib import Path
from assistant.settings import Settings, set_offline_env
set_offline_env()
from assistant.embeddings import shared_embedder
from assistant.build import build_index
cfg = json.loads(sys.argv[1])
settings = Settings(corpus_dir=Path(cfg["corpus"]), index_dir=Path(cfg["index"]))
emb = shared_embedder(settings.embedding_model)
out = {}
if cfg["mode"] == "build":
    emb.warm_up()
    t = time.perf_counter(); build_index(settings, emb, force=True); out["build_s"] = time.perf_counter() - t
elif cfg["mode"] == "peer":
    from assistant.evals.peer import TutorialPipeline
    emb.warm_up()
    t = time.perf_counter(); peer = TutorialPipeline(settings.corpus_dir, emb, Path(cfg["index"]) / "peer")
    out["build_s"] = time.perf_counter() - t
    lat = []
    for _ in range(cfg["runs"]):
        for q in cfg["questions"]:
            t = time.perf_counter(); peer.invoke({"question": q}); lat.append(time.perf_counter() - t)
    lat.sort()
    out["p50_ms"] = 1000 * statistics.median(lat)
    out["p95_ms"] = 1000 * lat[int(0.95 * (len(lat) - 1))]
else:
    from assistant.chain import build_chain
    chain = build_chain(settings, embedder=emb)
    chain.invoke({"question": cfg["questions"][0], "chat_history": []})
    out["cold_start_s"] = time.perf_counter() - t0
    lat, base = [], []
    for _ in range(cfg["runs"]):
        for q in cfg["questions"]:
            t = time.perf_counter(); chain.invoke({"question": q, "chat_history": []}); lat.append(time.perf_counter() - t)
            t = time.perf_counter(); emb.encode([q]); base.append(time.perf_counter() - t)
    lat.sort(); base.sort()
    # 20 conversations at once, as the page serves them: time to the first piece of each streamed answer
    import threading
    firsts = []
    def converse(q):
        t = time.perf_counter()
        for _ in chain.stream({"question": q, "chat_history": []}):
            firsts.append(time.perf_counter() - t)
            break
    threads = [threading.Thread(target=converse, args=(cfg["questions"][i % len(cfg["questions"])],)) for i in range(20)]
    for th in threads: th.start()
    for th in threads: th.join()
    firsts.sort()
    out["first_text_20_p50_ms"] = 1000 * statistics.median(firsts)
    out["first_text_20_max_ms"] = 1000 * firsts[-1]
    out["p50_ms"] = 1000 * statistics.median(lat)
    out["p95_ms"] = 1000 * lat[int(0.95 * (len(lat) - 1))]
    out["embed_p50_ms"] = 1000 * statistics.median(base)
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(cfg: dict, root: Path = ROOT, code: str = CHILD) -> dict:
    run = subprocess.run([sys.executable, "-c", code, json.dumps(cfg)], capture_output=True, text=True, cwd=root)
    if run.returncode:
        sys.exit(run.stderr)
    return json.loads(run.stdout.strip().splitlines()[-1])


def bench(name: str, corpus: Path, questions: list[str], runs: int, peer: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = {"corpus": str(corpus), "index": tmp, "questions": questions, "runs": runs}
        build = child({**base, "mode": "build"})
        ask = child({**base, "mode": "ask"})
        tutorial = child({**base, "mode": "peer"}) if peer else None
    print(f"\n{name} ({corpus})")
    print(f"  index build           {build['build_s']:8.2f} s   (peak RSS {build['peak_rss_mb']:.0f} MB)")
    print(f"  cold start → answer   {ask['cold_start_s']:8.2f} s")
    print(f"  warm answer p50       {ask['p50_ms']:8.1f} ms  ({len(questions)} questions × {runs} runs)")
    print(f"  warm answer p95       {ask['p95_ms']:8.1f} ms")
    print(f"  baseline: embed one question p50 {ask['embed_p50_ms']:.1f} ms → answer/embed ratio "
          f"{ask['p50_ms'] / ask['embed_p50_ms']:.2f}")
    print(f"  peak RSS (answering)  {ask['peak_rss_mb']:8.0f} MB")
    if "first_text_20_p50_ms" in ask:
        print(f"  20 conversations at once: first text p50 {ask['first_text_20_p50_ms']:.0f} ms, "
              f"slowest {ask['first_text_20_max_ms']:.0f} ms")
    if tutorial:
        ratio = build["build_s"] / tutorial["build_s"]
        print(f"  tutorial pipeline: build {tutorial['build_s']:.2f} s (ours/peer {ratio:.2f}), "
              f"answer p50 {tutorial['p50_ms']:.1f} ms / p95 {tutorial['p95_ms']:.1f} ms "
              f"(ours/peer p50 {ask['p50_ms'] / tutorial['p50_ms']:.2f}), peak RSS {tutorial['peak_rss_mb']:.0f} MB")


def against(revision: str, runs: int = 3) -> None:
    """Cold start of this tree and of an earlier revision (a git worktree), alternately, same machine."""
    import statistics

    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), revision], cwd=ROOT, check=True)
        try:
            their_child = (other / "scripts" / "benchmark.py").read_text().split('CHILD = r"""')[1].split('"""')[0]
            trees = {"this tree": (ROOT, CHILD), revision: (other, their_child)}
            times: dict[str, list[float]] = {name: [] for name in trees}
            for name, (root, code) in trees.items():
                base = {"corpus": str(root / "corpus"), "index": str(Path(tmp) / name.replace(" ", "-")),
                        "questions": GUIDE_QUESTIONS[:1], "runs": 1}
                child({**base, "mode": "build"}, root, code)
            for _ in range(runs):
                for name, (root, code) in trees.items():
                    base = {"corpus": str(root / "corpus"), "index": str(Path(tmp) / name.replace(" ", "-")),
                            "questions": GUIDE_QUESTIONS[:1], "runs": 1}
                    times[name].append(child({**base, "mode": "ask"}, root, code)["cold_start_s"])
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT)
    print(f"\nCold start → first answer on the guide (median of {runs} fresh processes each)")
    for name, values in times.items():
        print(f"  {name:<12} {statistics.median(values):6.2f} s   {[round(v, 2) for v in values]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true", help="skip the LangChain-tutorial baseline")
    parser.add_argument("--large", action="store_true", help="also the 2,500-answer collection (make medquad-collection)")
    parser.add_argument("--against", metavar="REV", help="only compare cold start with an earlier git revision")
    args = parser.parse_args()
    if args.against:
        against(args.against)
        return
    bench("Kyphoplasty guide", ROOT / "corpus", GUIDE_QUESTIONS, args.runs, not args.no_peer)
    if MEDQUAD.exists():
        questions = [json.loads(line)["question"] for line in (MEDQUAD / "questions.jsonl").open()][:30]
        bench("MedQuAD seniorhealth dev", MEDQUAD / "corpus", questions, max(1, args.runs // 2), not args.no_peer)
    else:
        print(f"\n(MedQuAD not found at {MEDQUAD}; skipped)")
    if args.large:
        if not LARGE.exists():
            sys.exit(f"No collection at {LARGE}: run `make medquad-collection` first.")
        lay = ROOT / "evals" / "medquad-lay-untuned.jsonl"
        questions = [json.loads(line)["question"] for line in lay.open()][:30]
        bench("MedQuAD 2,500-answer collection", LARGE, questions, 1, not args.no_peer)


if __name__ == "__main__":
    main()
