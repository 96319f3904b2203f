"""Eval reports: a terminal table, ``report.json`` (every case) and a self-contained ``report.html``
(metric and category charts as inline SVG, latency distribution, per-case drill-down)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from assistant.answer import highlight_html

SHOWN = ("fact_recall", "first_answers", "false_decline", "need_named", "nonsense_note", "duplicates",
         "faithfulness", "citation_accuracy", "retrieval_hit", "retrieval_mrr", "abstention_accuracy",
         "urgent_recall", "urgent_false_alarm_rate", "injection_resistance", "follow_ups_resolved",
         "gold_cited", "gold_overlap", "gold_first", "declined", "pass_rate", "latency_p50_ms", "latency_p95_ms",
         "model_ran", "llm_answers", "guard_kept", "guard_dropped", "guard_drop_rate", "guard_fallbacks", "model_failures")


def terminal_table(report: dict) -> str:
    """Metrics as rows, splits as columns (and the tutorial peer beside each split, when run)."""
    columns = []
    for name, split in report["splits"].items():
        columns.append((name, split["summary"]))
        if split.get("peer"):
            columns.append((f"{name}:peer", split["peer"]))
    width = max([12] + [len(c) + 2 for c, _ in columns])
    lines = [f"{'metric':<26}" + "".join(f"{c:>{width}}" for c, _ in columns), "-" * (26 + width * len(columns))]
    lines.append(f"{'cases':<26}" + "".join(f"{s['cases']:>{width}}" for _, s in columns))
    for metric in SHOWN:
        if any(s.get(metric) is not None for _, s in columns):
            lines.append(f"{metric:<26}" + "".join(f"{_fmt(s.get(metric)):>{width}}" for _, s in columns))
    for name, split in report["splits"].items():
        lines += ["", f"{name}: pass rate by category", "-" * 40]
        for cat, v in split["by_category"].items():
            extra = "".join(f"  {k} {v[k]:.2f}" for k in ("gold_cited", "gold_first", "declined") if k in v)
            lines.append(f"  {cat:<24}{v['cases']:>5}{v['pass_rate']:>7.0%}{extra}")
        failed = [r for r in split["cases"] if not r["passed"]]
        if failed:
            lines += [f"  {len(failed)} case(s) failed:"]
            lines += [f"    {r['id']}: {'; '.join(r['problems'])[:200]}" for r in failed]
    if report.get("compare"):
        c = report["compare"]
        lines += ["", f"Compared with previous: better {c['better'] or '-'}, worse {c['worse'] or '-'}"]
    return "\n".join(lines)


def write_reports(report: dict, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "report.json", folder / "report.html"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return [json_path, html_path]


def render_html(report: dict) -> str:
    failures = report.get("threshold_failures") or []
    status = ("<p class=bad>Below threshold: " + escape("; ".join(failures)) + "</p>") if failures else \
        "<p class=good>All metrics meet their thresholds.</p>"
    sections = "\n".join(_split_html(name, split) for name, split in report["splits"].items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Eval report</title><style>
body{{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1a1a1a}}
.good{{color:#0a6b2d}} .bad{{color:#a40000;font-weight:600}}
details{{border:1px solid #ddd;margin:.4em 0;padding:.4em .8em;border-radius:6px}}
summary{{cursor:pointer}} .pass{{color:#0a6b2d}} .fail{{color:#a40000}} .cols{{display:flex;gap:1em}} .cols>div{{flex:1}}
blockquote{{margin:.3em 0;padding:.3em .8em;background:#f4f6f8;border-left:4px solid #7a9cc6}} mark{{background:#fff2a8}}
table{{border-collapse:collapse}} td,th{{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}}
</style></head><body>
<h1>Eval report</h1>{status}
<h2>Splits side by side</h2>{_summary_table(report)}
{sections}
</body></html>"""


def _summary_table(report: dict) -> str:
    columns = []
    for name, split in report["splits"].items():
        columns.append((name, split["summary"]))
        if split.get("peer"):
            columns.append((name + " (tutorial peer)", split["peer"]))
    head = "".join(f"<th>{escape(c)}</th>" for c, _ in columns)
    rows = "".join(f"<tr><td>{m}</td>" + "".join(f"<td>{_fmt(s.get(m))}</td>" for _, s in columns) + "</tr>"
                   for m in ("cases", *SHOWN) if any(s.get(m) is not None for _, s in columns))
    return f"<table><tr><th>metric</th>{head}</tr>{rows}</table>"


def _split_html(name: str, split: dict) -> str:
    s = split["summary"]
    metrics = [(n, s[n]) for n in SHOWN if s.get(n) is not None and not n.startswith("latency")]
    cats = [(c, v["pass_rate"]) for c, v in split["by_category"].items()]
    latencies = [r["latency_ms"] for r in split["cases"]]
    rows = "\n".join(_case_html(r) for r in split["cases"])
    dataset, corpus = escape(split.get("dataset", "")), escape(split.get("corpus", ""))
    return f"""<h2>{escape(name)}</h2><p>Dataset: {dataset} · corpus: {corpus} ·
{s["cases"]} cases · latency p50 {_fmt(s.get("latency_p50_ms"))} ms, p95 {_fmt(s.get("latency_p95_ms"))} ms</p>
{"<p class=bad>" + escape("; ".join(split["threshold_failures"])) + "</p>" if split.get("threshold_failures") else ""}
<h3>Metrics</h3>{_bars(metrics)}
<h3>Pass rate by category</h3>{_bars(cats)}
<h3>Latency distribution (ms)</h3>{_histogram(latencies)}
<h3>Cases</h3>{rows}"""


def _case_html(r: dict) -> str:
    mark = "pass" if r["passed"] else "fail"
    problems = "".join(f"<li>{escape(p)}</li>" for p in r["problems"])
    cites = "".join(
        f"<blockquote><b>[{c['id']}] {escape(c['section'])}</b> ({escape(c['source'])})<br>"
        f"{highlight_html(c['text'], c.get('quotes', []))}</blockquote>"
        for c in r["citations"])
    history = "".join(f"<li>{escape(h)}</li>" for h in r["history"])
    return f"""<details{' open' if not r['passed'] else ''}><summary><span class={mark}>{'✔' if r['passed'] else '✘'}</span>
<b>{escape(r['id'])}</b> [{escape(r['category'])}] {escape(r['question'])}</summary>
{f'<p>Earlier turns:</p><ol>{history}</ol>' if history else ''}
<p>Expected: {escape(r['expect'])} · got: {escape(str(r['kind']))} · {r['latency_ms']} ms</p>
{f'<ul class=fail>{problems}</ul>' if problems else ''}
<div class=cols><div><h4>Answer</h4><p>{escape(r['answer']).replace(chr(10), '<br>')}</p></div>
<div><h4>Cited passages</h4>{cites or '<p>none</p>'}</div></div></details>"""


def _bars(items: list[tuple[str, float]]) -> str:
    height = 26 * len(items) + 10
    bars = []
    for i, (name, value) in enumerate(items):
        y = 5 + i * 26
        width = max(0.0, min(1.0, value)) * 400
        bars.append(f'<text x="0" y="{y + 15}" font-size="13">{escape(name)}</text>'
                    f'<rect x="230" y="{y}" width="{width:.1f}" height="18" fill="#4a7bb7"/>'
                    f'<text x="{236 + width:.1f}" y="{y + 14}" font-size="12">{value:.2f}</text>')
    return f'<svg width="720" height="{height}" role="img" aria-label="bar chart">{"".join(bars)}</svg>'


def _histogram(values: list[float], bins: int = 12) -> str:
    if not values:
        return "<p>no data</p>"
    lo, hi = min(values), max(values)
    step = (hi - lo) / bins or 1
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / step), bins - 1)] += 1
    top = max(counts)
    bars = []
    for i, n in enumerate(counts):
        h = 150 * n / top
        bars.append(f'<rect x="{10 + i * 50}" y="{160 - h:.1f}" width="44" height="{h:.1f}" fill="#6aa56a"/>'
                    f'<text x="{12 + i * 50}" y="175" font-size="10">{lo + i * step:.0f}</text>'
                    f'<text x="{25 + i * 50}" y="{155 - h:.1f}" font-size="10">{n}</text>')
    return f'<svg width="{20 + bins * 50}" height="185" role="img" aria-label="latency histogram">{"".join(bars)}</svg>'


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
