"""Eval reports: a terminal table, ``report.json`` (every case) and a self-contained ``report.html``
(metric and category charts as inline SVG, latency distribution, per-case drill-down)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from assistant.answer import highlight_html

SHOWN = ("fact_recall", "faithfulness", "citation_accuracy", "retrieval_hit", "retrieval_mrr",
         "abstention_accuracy", "urgent_recall", "urgent_false_alarm_rate", "injection_resistance",
         "gold_cited", "gold_overlap", "pass_rate", "latency_p50_ms", "latency_p95_ms")


def terminal_table(report: dict) -> str:
    s = report["summary"]
    lines = [f"{'metric':<26}{'value':>10}", "-" * 36]
    lines += [f"{name:<26}{_fmt(s.get(name)):>10}" for name in SHOWN if s.get(name) is not None]
    lines += ["", f"{'category':<26}{'cases':>6}{'pass':>8}", "-" * 40]
    lines += [f"{cat:<26}{v['cases']:>6}{v['pass_rate']:>8.0%}" for cat, v in report["by_category"].items()]
    failed = [r for r in report["cases"] if not r["passed"]]
    if failed:
        lines += ["", f"{len(failed)} case(s) failed:"]
        lines += [f"  {r['id']}: {'; '.join(r['problems'])}" for r in failed]
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
    s = report["summary"]
    metrics = [(n, s[n]) for n in SHOWN if s.get(n) is not None and not n.startswith("latency")]
    cats = [(c, v["pass_rate"]) for c, v in report["by_category"].items()]
    latencies = [r["latency_ms"] for r in report["cases"]]
    rows = "\n".join(_case_html(r) for r in report["cases"])
    failures = report.get("threshold_failures") or []
    status = ("<p class=bad>Below threshold: " + escape("; ".join(failures)) + "</p>") if failures else \
        "<p class=good>All metrics meet their thresholds.</p>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Eval report</title><style>
body{{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1a1a1a}}
.good{{color:#0a6b2d}} .bad{{color:#a40000;font-weight:600}}
details{{border:1px solid #ddd;margin:.4em 0;padding:.4em .8em;border-radius:6px}}
summary{{cursor:pointer}} .pass{{color:#0a6b2d}} .fail{{color:#a40000}} .cols{{display:flex;gap:1em}} .cols>div{{flex:1}}
blockquote{{margin:.3em 0;padding:.3em .8em;background:#f4f6f8;border-left:4px solid #7a9cc6}} mark{{background:#fff2a8}}
table{{border-collapse:collapse}} td,th{{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}}
</style></head><body>
<h1>Eval report</h1><p>Dataset: {escape(str(report.get("dataset", "")))} · corpus: {escape(str(report.get("corpus", "")))} ·
{s["cases"]} cases · latency p50 {_fmt(s.get("latency_p50_ms"))} ms, p95 {_fmt(s.get("latency_p95_ms"))} ms</p>
{status}
<h2>Metrics</h2>{_bars(metrics)}
<h2>Pass rate by category</h2>{_bars(cats)}
<h2>Latency distribution (ms)</h2>{_histogram(latencies)}
<h2>Cases</h2>{rows}
</body></html>"""


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
