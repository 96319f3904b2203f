"""Benchmark: index build throughput, beside the LangChain-tutorial pipeline's, and one-file re-indexing.

    .venv/bin/python scripts/bench_build.py [--large] [--torch] [--repeat N]

For each corpus (the kyphoplasty guide, the MedQuAD dev corpus, and with ``--large`` the 2,500-answer
collection of ``scripts/medquad_collection.py``), in fresh processes, on a private copy of the corpus:

- our full build (``build_index(force=True)``): seconds, chunks/s, MB/min, peak RSS;
- the tutorial pipeline built on the same files in the same run (``assistant/evals/peer.py``:
  ``RecursiveCharacterTextSplitter`` 1,000/200, the same MiniLM through sentence-transformers on torch,
  as the tutorial's ``HuggingFaceEmbeddings`` runs it, Chroma): seconds, chunks/s, MB/min, peak RSS;
- a one-file change (a sentence appended to one file), re-indexed by ``assistant index`` as a user runs
  it: the whole command's wall time and the build's own time.

``--torch`` also times our build with the torch backend, to separate what ONNX Runtime gives from what
building less gives. ``--against REV`` instead times full builds of this tree and of an earlier revision
(a git worktree, run with this tree's packages), alternating, on the same corpora. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEDQUAD = ROOT.parent / "shared" / "benchmarks" / "medquad-seniorhealth-dev" / "corpus"
LARGE = ROOT / "evals" / "medquad-large" / "corpus"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from assistant.settings import Settings, set_offline_env
set_offline_env()
from assistant.embeddings import Embedder
cfg = json.loads(sys.argv[1])
settings = Settings(corpus_dir=Path(cfg["corpus"]), index_dir=Path(cfg["index"]))
out = {}
if cfg["mode"] == "peer":
    from assistant.evals.peer import TutorialPipeline
    emb = Embedder(settings.embedding_model, backend="torch"); emb.warm_up()
    t = time.perf_counter(); peer = TutorialPipeline(settings.corpus_dir, emb, Path(cfg["index"]) / "peer")
    out["build_s"] = time.perf_counter() - t; out["chunks"] = peer.chunks
else:
    from assistant.build import build_index
    emb = Embedder(settings.embedding_model, backend=cfg["backend"]); emb.warm_up()
    t = time.perf_counter(); manifest, _ = build_index(settings, emb, force=True)
    out["build_s"] = time.perf_counter() - t; out["chunks"] = manifest.chunk_count
    out["sentences"] = manifest.sentence_count
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(cfg: dict) -> dict:
    run = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True, text=True, cwd=ROOT)
    if run.returncode:
        sys.exit(run.stderr[-3000:])
    return json.loads(run.stdout.strip().splitlines()[-1])


def reindex_one_file(corpus: Path, index: Path) -> tuple[float, str]:
    """Append a sentence to one file and run `assistant index` as a user would: (wall seconds, its report)."""
    target = sorted(p for p in corpus.rglob("*.md"))[len(list(corpus.rglob("*.md"))) // 2]
    with target.open("a", encoding="utf-8") as handle:
        handle.write("\n\nThis sentence was added to time a one-file re-index.\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "assistant", "index", "--corpus", str(corpus), "--index-dir", str(index)],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    if run.returncode:
        sys.exit(run.stderr[-3000:])
    return wall, " | ".join(line for line in run.stdout.splitlines() if not line.startswith("Not indexed"))


def bench(name: str, source: Path, torch: bool, repeat: int) -> None:
    """Ours and the tutorial's builds alternate ``repeat`` times (on a shared machine the load drifts);
    the figures are medians."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(source, corpus)
        mb = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file()) / 1e6
        runs: dict[str, list[dict]] = {"ours": [], "peer": [], "torch": []}
        for n in range(repeat):
            runs["ours"].append(child({"mode": "build", "backend": "auto", "corpus": str(corpus), "index": f"{tmp}/ix"}))
            runs["peer"].append(child({"mode": "peer", "corpus": str(corpus), "index": f"{tmp}/peer{n}"}))
            if torch:
                runs["torch"].append(child({"mode": "build", "backend": "torch", "corpus": str(corpus),
                                            "index": f"{tmp}/ixt"}))
        ours, peer = _median(runs["ours"]), _median(runs["peer"])
        ours_torch = _median(runs["torch"]) if torch else None
        wall, report = reindex_one_file(corpus, Path(tmp) / "ix")
    print(f"\n{name}: {mb:.3f} MB ({source})")
    rows = [("ours (ONNX Runtime)", ours)] + ([("ours (torch)", ours_torch)] if ours_torch else []) + [
        ("tutorial pipeline", peer)]
    for label, r in rows:
        print(f"  {label:<20} build {r['build_s']:8.2f} s  {r['chunks']:6,} chunks  {r['chunks'] / r['build_s']:7.1f} "
              f"chunks/s  {mb / (r['build_s'] / 60):6.2f} MB/min  peak RSS {r['peak_rss_mb']:5.0f} MB")
    times = {k: [round(r["build_s"], 1) for r in v] for k, v in runs.items()}
    print(f"  ours / tutorial build time: {ours['build_s'] / peer['build_s']:.2f}  (medians of {repeat}: ours "
          f"{times['ours']} s, tutorial {times['peer']} s)")
    print(f"  one-file change, `assistant index` wall time {wall:.2f} s: {report}")


# A full build in a given tree, written for the older layouts too (build_index moved to assistant.build).
AGAINST_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from assistant.settings import Settings, set_offline_env
set_offline_env()
from assistant.embeddings import Embedder
try:
    from assistant.build import build_index
except ImportError:
    from assistant.index import build_index
settings = Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]))
emb = Embedder(settings.embedding_model); emb.warm_up()
t = time.perf_counter(); manifest, _ = build_index(settings, emb, force=True)
print(json.dumps({"build_s": time.perf_counter() - t, "chunks": manifest.chunk_count,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _build_in(tree: Path, corpus: Path, index: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", AGAINST_CHILD, str(corpus), str(index)], capture_output=True,
                         text=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})
    if run.returncode:
        sys.exit(run.stderr[-3000:])
    return json.loads(run.stdout.strip().splitlines()[-1])


def against(revision: str, corpora: list[tuple[str, Path]], repeat: int) -> None:
    """Full builds of this tree and of ``revision``, alternating ``repeat`` times on each corpus (medians)."""
    import statistics

    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), revision], cwd=ROOT, check=True)
        try:
            for name, source in corpora:
                corpus = Path(tmp) / "corpus"
                shutil.rmtree(corpus, ignore_errors=True)
                shutil.copytree(source, corpus)
                runs: dict[str, list[dict]] = {"this tree": [], revision: []}
                for n in range(repeat):
                    runs["this tree"].append(_build_in(ROOT, corpus, Path(tmp) / f"ix-this-{n}"))
                    runs[revision].append(_build_in(other, corpus, Path(tmp) / f"ix-other-{n}"))
                medians = {label: statistics.median(r["build_s"] for r in rs) for label, rs in runs.items()}
                print(f"\n{name}: full build, medians of {repeat}")
                for label, rs in runs.items():
                    print(f"  {label:<12} {medians[label]:8.2f} s  {rs[0]['chunks']:6,} chunks  peak RSS "
                          f"{max(r['peak_rss_mb'] for r in rs):5.0f} MB  {[round(r['build_s'], 1) for r in rs]}")
                print(f"  {revision} / this tree: {medians[revision] / medians['this tree']:.2f}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT)


def _median(results: list[dict]) -> dict:
    return sorted(results, key=lambda r: r["build_s"])[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", action="store_true", help="also the 2,500-answer collection (make medquad-collection)")
    parser.add_argument("--torch", action="store_true", help="also time our build on torch instead of ONNX Runtime")
    parser.add_argument("--repeat", type=int, default=1, help="alternate the builds this many times (medians)")
    parser.add_argument("--only-large", action="store_true", help="skip the guide and the dev corpus")
    parser.add_argument("--against", metavar="REV", help="only compare full builds with an earlier git revision")
    args = parser.parse_args()
    if args.against:
        corpora = [] if args.only_large else [("Kyphoplasty guide", ROOT / "corpus"), ("MedQuAD dev", MEDQUAD)]
        corpora += [("2,500-answer collection", LARGE)] if args.large or args.only_large else []
        against(args.against, corpora, args.repeat)
        return
    if not args.only_large:
        bench("Kyphoplasty guide", ROOT / "corpus", args.torch, args.repeat)
        if MEDQUAD.exists():
            bench("MedQuAD seniorhealth dev (24 topics)", MEDQUAD, args.torch, args.repeat)
        else:
            print(f"\n(MedQuAD not found at {MEDQUAD}; skipped)")
    if args.large or args.only_large:
        if not LARGE.exists():
            sys.exit(f"No collection at {LARGE}: run `make medquad-collection` first.")
        bench("MedQuAD 2,500-answer collection", LARGE, args.torch, args.repeat)

if __name__ == "__main__":
    main()
