"""Run eval cases through a chain, aggregate the metrics per split and check them against thresholds.

A *suite* (``evals/suite.yaml`` by default) names splits, each a dataset and optionally its own
corpus. The kyphoplasty suite has the team's cases, the tuned half of the blind patient cases and
the frozen untuned half; ``evals/medquad-suite.yaml`` has the MedQuAD dev set and the lay questions
over the 2,500-answer collection. ``--peer`` also runs the plain LangChain-tutorial pipeline on every
split, so both are reported side by side from the same run.
"""

from __future__ import annotations

import json
import re
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
from assistant.settings import Settings, default_path

DEFAULT_SUITE = default_path("evals") / "suite.yaml"
DEFAULT_DATASET = default_path("evals") / "kyphoplasty.yaml"
DEFAULT_THRESHOLDS = default_path("evals") / "thresholds.yaml"
MEANS = ("fact_recall", "faithfulness", "citation_accuracy", "retrieval_hit", "first_answers", "duplicates",
         "false_decline", "need_named", "nonsense_note", "gold_cited", "gold_overlap", "gold_first", "declined")


def run_eval(chain: Any, cases: list[Case], *, progress: bool = False, embed=None, corpus_text: str | None = None) -> dict:
    """Answer every case (replaying its history first) and score it. Returns the full report.
    ``corpus_text`` (for the nonsense-note check) defaults to the chain's own corpus."""
    if corpus_text is None:
        index = getattr(chain, "index", None)
        corpus_text = " ".join(d.text for d in index.corpus.documents) if index is not None else ""
    rows = []
    for i, case in enumerate(cases, 1):
        history: list[tuple[str, str]] = []
        for turn in case.history:
            prior = chain.invoke({"question": turn, "chat_history": history})
            history += [("user", turn), ("assistant", prior["answer"])]
        start = time.perf_counter()
        out = chain.invoke({"question": case.question, "chat_history": history})
        latency = (time.perf_counter() - start) * 1000
        verdict = evaluate(case, out, embed, corpus_text)
        rows.append({"id": case.id, "category": case.category, "question": case.question,
                     "history": list(case.history), "expect": case.expect, "answer": out["answer"],
                     "kind": out["kind"], "abstained": out["abstained"], "urgent": out["urgent"],
                     "notes": out.get("notes", []), "citations": out["citations"], "passages": out["passages"],
                     "latency_ms": round(latency, 2), "passed": verdict.passed,
                     "generator": out.get("generator", "extractive"), "guard": out.get("guard"),
                     **{k: v for k, v in asdict(verdict).items()}})
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
    follow_ups = [r for r in rows if expects[r["id"]].history]
    latencies = sorted(r["latency_ms"] for r in rows)
    summary = {"cases": len(rows), **{k: mean(k) for k in MEANS}}
    summary.update({
        "retrieval_mrr": mean("retrieval_rr"), "behaviour": mean("behaviour"),
        "abstention_accuracy": mean("behaviour", unanswerable),
        "urgent_recall": mean("behaviour", urgent),
        "urgent_false_alarm_rate": round(sum(r["urgent"] for r in calm) / len(calm), 4) if calm else None,
        "injection_resistance": mean("behaviour", injection),
        "follow_ups_resolved": round(sum(r["passed"] for r in follow_ups) / len(follow_ups), 4) if follow_ups else None,
        "pass_rate": round(sum(r["passed"] for r in rows) / len(rows), 4) if rows else None,
        "latency_p50_ms": _percentile(latencies, 50), "latency_p95_ms": _percentile(latencies, 95),
    })
    summary.update(guard_summary(rows))
    return summary


def guard_summary(rows: list[dict]) -> dict:
    """With a language model: how often it ran and answered, and what the guard did (empty without one)."""
    ran = [r["guard"] for r in rows if r.get("guard")]
    if not ran:
        return {}
    kept, dropped = sum(g["kept"] for g in ran), sum(g["dropped"] for g in ran)
    return {"model_ran": len(ran),
            "llm_answers": round(sum(r.get("generator") == "llm" for r in rows if r.get("guard")) / len(ran), 4),
            "guard_kept": kept, "guard_dropped": dropped,
            "guard_drop_rate": round(dropped / (kept + dropped), 4) if kept + dropped else None,
            "guard_fallbacks": sum(bool(g["fallback"]) for g in ran),
            "model_failures": sum(bool(g["failure"]) for g in ran)}


def by_category(rows: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for cat in sorted({r["category"] for r in rows}):
        sub = [r for r in rows if r["category"] == cat]
        out[cat] = {"cases": len(sub), "pass_rate": round(sum(r["passed"] for r in sub) / len(sub), 4)}
        for key in ("gold_cited", "gold_first", "declined"):
            values = [r[key] for r in sub if r.get(key) is not None]
            if values:
                out[cat][key] = round(statistics.fmean(values), 4)
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
    def passed(r: dict) -> dict[str, bool]:
        splits = r.get("splits") or {"": r}
        return {f"{name}/{c['id']}" if name else c["id"]: c["passed"] for name, s in splits.items() for c in s["cases"]}

    before, now = passed(previous), passed(report)
    return {"better": sorted(i for i in now if before.get(i) is False and now[i]),
            "worse": sorted(i for i in now if before.get(i) is True and not now[i]),
            "new": sorted(i for i in now if i not in before)}


def load_thresholds(path: Path) -> dict:
    if not Path(path).exists():
        raise EvalError(f"No thresholds file at {path}.")
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise EvalError(f"The thresholds file {path} is not valid YAML ({exc}).") from None
    if not isinstance(data, dict):
        raise EvalError(f"The thresholds file {path} must map split names (or min/max) to limits.")
    return data


def load_suite(path: Path) -> dict[str, dict]:
    """{split: {"dataset": Path, "corpus": Path | None}} with paths resolved against the suite's folder."""
    path = Path(path)
    if not path.exists():
        raise EvalError(f"No eval suite at {path}.")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    splits = {}
    for name, entry in (data.get("splits") or {}).items():
        corpus = entry.get("corpus")
        splits[name] = {"dataset": (path.parent / entry["dataset"]).resolve(),
                        "corpus": (path.parent / corpus).resolve() if corpus else None,
                        "builder": entry.get("build")}
    if not splits:
        raise EvalError(f"{path} names no splits.")
    return splits


def resolve_gold(cases: list[Case], corpus_dir: Path) -> list[Case]:
    """Cases naming a ``gold_source`` get its text (and that of pages with the same title and section)."""
    from dataclasses import replace

    if not any(c.gold_source for c in cases):
        return cases
    pages = {p.name: p.read_text(encoding="utf-8") for p in Path(corpus_dir).glob("*.md")}
    heads = {name: re.findall(r"^#+ (.+)$", text, re.M)[:2] for name, text in pages.items()}
    by_head: dict[tuple, list[str]] = {}
    for name, head in heads.items():
        by_head.setdefault(tuple(h.lower() for h in head), []).append(name)
    out = []
    for c in cases:
        if not c.gold_source:
            out.append(c)
            continue
        if c.gold_source not in pages:
            raise EvalError(f"Gold page {c.gold_source} is not in {corpus_dir}: build the collection first "
                            "(make medquad-collection).")
        same = by_head.get(tuple(h.lower() for h in heads[c.gold_source]), [c.gold_source])
        gold = tuple(re.sub(r"^#+ .*$", "", pages[n], flags=re.M).strip() for n in dict.fromkeys([c.gold_source, *same]))
        out.append(replace(c, gold=gold))
    return out


def run_cli(args: Any, settings: Settings) -> int:
    """``assistant eval``: run a suite (or one dataset), print a table, write reports, exit 1 below a threshold."""
    from assistant.chain import build_chain
    from assistant.embeddings import shared_embedder
    from assistant.evals.report import terminal_table, write_reports

    if args.dataset:  # one dataset: the thresholds of the split of the same name, if any
        splits = {Path(args.dataset).stem: {"dataset": Path(args.dataset), "corpus": None}}
        thresholds_path = args.thresholds or DEFAULT_THRESHOLDS
    else:
        splits = load_suite(args.suite or DEFAULT_SUITE)
        thresholds_path = args.thresholds or (DEFAULT_THRESHOLDS if not args.suite else None)
    thresholds = load_thresholds(thresholds_path) if thresholds_path else {}
    embedder = shared_embedder(settings.embedding_model)
    if getattr(args, "generator", None):
        settings = settings.with_(generator=args.generator)
    report: dict[str, Any] = {"splits": {}, "corpus": str(settings.corpus_dir), "threshold_failures": [],
                              "generator": settings.generator}
    chains: dict[Path, Any] = {}
    for name, split in splits.items():
        corpus = split["corpus"] or Path(settings.corpus_dir)
        if not Path(corpus).is_dir():
            raise EvalError(f"Split {name}: no corpus at {corpus}" + (
                f" (build it with {split['builder']})" if split.get("builder") else "") + ".")
        if corpus not in chains:  # another corpus: its index is kept beside ours, rebuilt only when stale
            own = settings if corpus == Path(settings.corpus_dir) else settings.with_(
                corpus_dir=corpus, index_dir=corpus_cache_dir(settings, corpus))
            chains[corpus] = build_chain(own, embedder=embedder)
        chain = chains[corpus]
        cases = resolve_gold(load_cases(split["dataset"]), corpus)
        corpus_text = " ".join(d.text for d in chain.index.corpus.documents)
        result = run_eval(chain, cases, progress=not args.no_progress and sys.stderr.isatty(),
                          embed=embedder.encode, corpus_text=corpus_text)
        result["dataset"], result["corpus"] = str(split["dataset"]), str(corpus)
        if args.peer:
            from assistant.evals.peer import TutorialPipeline

            peer = TutorialPipeline(corpus, embedder, corpus_cache_dir(settings, corpus, "peer"))
            result["peer"] = run_eval(peer, cases, embed=embedder.encode, corpus_text=corpus_text)["summary"]
        limits = thresholds.get(name) or (thresholds if "min" in thresholds or "max" in thresholds else {})
        failures = check_thresholds(result["summary"], limits) if limits else []
        result["threshold_failures"] = failures
        report["threshold_failures"] += [f"{name}: {f}" for f in failures]
        report["splits"][name] = result
    if args.compare:
        try:
            previous = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EvalError(f"Cannot read the report to compare with, {args.compare} ({exc}).") from None
        report["compare"] = compare(report, previous)
    print(terminal_table(report))
    if args.report:
        try:
            paths = write_reports(report, Path(args.report))
        except OSError as exc:
            raise EvalError(f"Cannot write the reports to {args.report} ({exc.strerror}).") from None
        print("Reports: " + ", ".join(str(p) for p in paths))
    if report["threshold_failures"]:
        print("Below threshold: " + "; ".join(report["threshold_failures"]), file=sys.stderr)
        return 1
    return 0


def corpus_cache_dir(settings: Settings, corpus: Path, kind: str = "index") -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", str(Path(corpus).resolve()).strip("/"))[-60:]
    return Path(settings.index_dir) / "evals" / f"{slug}-{kind}"


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
