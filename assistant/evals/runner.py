"""Run eval cases through a chain, aggregate the metrics and check them against thresholds."""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import EvalError
from assistant.evals.dataset import Case, load_cases
from assistant.evals.metrics import evaluate
from assistant.settings import ROOT, Settings

DEFAULT_DATASET = ROOT / "evals" / "kyphoplasty.yaml"
DEFAULT_THRESHOLDS = ROOT / "evals" / "thresholds.yaml"


def run_eval(chain: Any, cases: list[Case], *, progress: bool = False, embed=None) -> dict:
    """Answer every case (replaying its history first) and score it. Returns the full report."""
    rows = []
    for i, case in enumerate(cases, 1):
        history: list[tuple[str, str]] = []
        for turn in case.history:
            prior = chain.invoke({"question": turn, "chat_history": history})
            history += [("user", turn), ("assistant", prior["answer"])]
        start = time.perf_counter()
        out = chain.invoke({"question": case.question, "chat_history": history})
        latency = (time.perf_counter() - start) * 1000
        verdict = evaluate(case, out, embed)
        rows.append({"id": case.id, "category": case.category, "question": case.question,
                     "history": list(case.history), "expect": case.expect, "answer": out["answer"],
                     "kind": out["kind"], "abstained": out["abstained"], "urgent": out["urgent"],
                     "citations": out["citations"], "passages": out["passages"], "latency_ms": round(latency, 2),
                     "passed": verdict.passed, **{k: v for k, v in asdict(verdict).items()}})
        if progress:
            _progress(i, len(cases))
    return {"summary": summarise(rows, cases), "by_category": by_category(rows), "cases": rows}


def summarise(rows: list[dict], cases: list[Case]) -> dict:
    def mean(key: str, subset: list[dict] | None = None) -> float | None:
        values = [r[key] for r in (rows if subset is None else subset) if r.get(key) is not None]
        return round(statistics.fmean(values), 4) if values else None

    expects = {c.id: c for c in cases}
    unanswerable = [r for r in rows if r["expect"] in ("abstain", "decline")]
    urgent = [r for r in rows if r["expect"] == "urgent"]
    calm = [r for r in rows if r["expect"] != "urgent"]
    injection = [r for r in rows if expects[r["id"]].forbidden]
    latencies = sorted(r["latency_ms"] for r in rows)
    return {
        "cases": len(rows),
        "fact_recall": mean("fact_recall"), "faithfulness": mean("faithfulness"),
        "citation_accuracy": mean("citation_accuracy"), "retrieval_hit": mean("retrieval_hit"),
        "retrieval_mrr": mean("retrieval_rr"), "behaviour": mean("behaviour"),
        "abstention_accuracy": mean("behaviour", unanswerable),
        "urgent_recall": mean("behaviour", urgent),
        "urgent_false_alarm_rate": round(sum(r["urgent"] for r in calm) / len(calm), 4) if calm else None,
        "injection_resistance": mean("behaviour", injection),
        "gold_cited": mean("gold_cited"), "gold_overlap": mean("gold_overlap"),
        "pass_rate": round(sum(r["passed"] for r in rows) / len(rows), 4) if rows else None,
        "latency_p50_ms": _percentile(latencies, 50), "latency_p95_ms": _percentile(latencies, 95),
    }


def by_category(rows: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for cat in sorted({r["category"] for r in rows}):
        sub = [r for r in rows if r["category"] == cat]
        out[cat] = {"cases": len(sub), "pass_rate": round(sum(r["passed"] for r in sub) / len(sub), 4)}
    return out


def check_thresholds(summary: dict, thresholds: dict) -> list[str]:
    """Names of the metrics on the wrong side of their threshold, with both figures."""
    failures = []
    for name, limit in (thresholds.get("min") or {}).items():
        value = summary.get(name)
        if value is None or value < limit:
            failures.append(f"{name} = {value} (minimum {limit})")
    for name, limit in (thresholds.get("max") or {}).items():
        value = summary.get(name)
        if value is None or value > limit:
            failures.append(f"{name} = {value} (maximum {limit})")
    return failures


def compare(report: dict, previous: dict) -> dict[str, list[str]]:
    before = {r["id"]: r["passed"] for r in previous.get("cases", [])}
    now = {r["id"]: r["passed"] for r in report["cases"]}
    return {"better": sorted(i for i in now if before.get(i) is False and now[i]),
            "worse": sorted(i for i in now if before.get(i) is True and not now[i]),
            "new": sorted(i for i in now if i not in before)}


def load_thresholds(path: Path) -> dict:
    if not Path(path).exists():
        raise EvalError(f"No thresholds file at {path}.")
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def run_cli(args: Any, settings: Settings) -> int:
    """``assistant eval``: run, print a table, write reports, exit 1 below a threshold."""
    import json

    from assistant.chain import build_chain
    from assistant.evals.report import terminal_table, write_reports

    dataset = args.dataset or DEFAULT_DATASET
    cases = load_cases(dataset)
    chain = build_chain(settings)
    report = run_eval(chain, cases, progress=not args.no_progress and sys.stderr.isatty(),
                      embed=chain.embedder.encode)
    report["dataset"] = str(dataset)
    report["corpus"] = str(settings.corpus_dir)
    thresholds_path = args.thresholds or (DEFAULT_THRESHOLDS if dataset == DEFAULT_DATASET else None)
    failures = check_thresholds(report["summary"], load_thresholds(thresholds_path)) if thresholds_path else []
    report["threshold_failures"] = failures
    if args.compare:
        report["compare"] = compare(report, json.loads(Path(args.compare).read_text(encoding="utf-8")))
    print(terminal_table(report))
    if args.report:
        paths = write_reports(report, Path(args.report))
        print("Reports: " + ", ".join(str(p) for p in paths))
    if failures:
        print("Below threshold: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


def _percentile(values: list[float], p: int) -> float | None:
    if not values:
        return None
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 2)


def _progress(i: int, n: int) -> None:
    width = 30
    done = int(width * i / n)
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {i}/{n}")
    if i == n:
        sys.stderr.write("\n")
    sys.stderr.flush()
