"""Command line: ``assistant index | sources | ask | eval | feedback export | serve``.

Every ``AssistantError`` becomes a one-line message on stderr and exit code 2; nothing else is
caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from assistant.errors import AssistantError
from assistant.settings import Settings, set_offline_env


def main(argv: list[str] | None = None) -> int:
    set_offline_env()
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    for noisy in ("chromadb", "httpx", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if not getattr(args, "command", None):
        parser.print_help()
        return 1
    try:
        settings = Settings.from_env()
        if getattr(args, "corpus", None):
            settings = settings.with_(corpus_dir=Path(args.corpus))
        if getattr(args, "index_dir", None):
            settings = settings.with_(index_dir=Path(args.index_dir))
        return int(args.run(args, settings) or 0)
    except AssistantError as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # always one line
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Grounded answers from a document corpus.")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("index", help="build the index (only if the corpus, model or chunking changed)")
    p.add_argument("--rebuild", action="store_true", help="rebuild even if the index is up to date")
    _corpus_args(p)
    p.set_defaults(run=_index)

    p = sub.add_parser("sources", help="list what is indexed: file, format, pages, sections, chunks, when")
    p.add_argument("--json", action="store_true", help="print the records as JSON")
    _corpus_args(p)
    p.set_defaults(run=_sources)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    _corpus_args(p)
    p.set_defaults(run=_ask)

    p = sub.add_parser("eval", help="run an eval suite (or one dataset) and report the metrics")
    p.add_argument("--suite", type=Path, help="YAML suite of splits (default: evals/suite.yaml)")
    p.add_argument("--dataset", type=Path, help="one YAML or JSONL dataset instead of a suite")
    p.add_argument("--thresholds", type=Path, help="YAML thresholds (default: evals/thresholds.yaml for the default suite)")
    p.add_argument("--peer", action="store_true", help="also run the plain LangChain-tutorial pipeline, side by side")
    p.add_argument("--report", type=Path, help="folder for report.json and report.html")
    p.add_argument("--compare", type=Path, help="a previous report.json to compare with")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--generator", choices=("extractive", "llm"),
                   help="who writes the answers (default: ASSISTANT_GENERATOR); llm reports the guard's figures")
    _corpus_args(p)
    p.set_defaults(run=_eval)

    p = sub.add_parser("feedback", help="patient feedback stored by the UI")
    fsub = p.add_subparsers(dest="action", required=True)
    e = fsub.add_parser("export", help="write the feedback as CSV or JSON")
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    e.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    e.set_defaults(run=_feedback_export)

    p = sub.add_parser("serve", help="serve the chat page and the HTTP API (same as python app.py)")
    p.add_argument("--host", help="address to listen on (default: ASSISTANT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: ASSISTANT_PORT or 7860)")
    p.add_argument("--workers", type=int, help="API processes (default: ASSISTANT_WORKERS or 1; the chat page "
                                               "is served with one)")
    _corpus_args(p)
    p.set_defaults(run=_serve)
    return parser


def _corpus_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="corpus folder (default: ASSISTANT_CORPUS_DIR or corpus/)")
    p.add_argument("--index-dir", help="index folder (default: ASSISTANT_INDEX_DIR or index/)")


def _index(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.build import build_index
    from assistant.embeddings import shared_embedder

    start = time.perf_counter()
    manifest, built = build_index(settings, shared_embedder(settings.embedding_model), force=args.rebuild)
    what = "Built" if built else "Up to date:"
    changes = manifest.changes if built else {"unchanged": len(manifest.files)}
    counts = ", ".join(f"{changes.get(k, 0)} {k}" for k in ("added", "changed", "removed", "unchanged", "embedded"))
    where = f"{settings.chroma_url} ({settings.chroma_prefix})" if settings.chroma_url else settings.index_dir
    print(f"{what} {where} — {manifest.chunk_count} chunks, {manifest.sentence_count} sentences "
          f"from {settings.corpus_dir} ({time.perf_counter() - start:.1f} s)\nFiles: {counts}")
    for reason in manifest.skipped:
        print(f"Not indexed: {reason}")
    return 0


def _sources(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.errors import IndexMissing
    from assistant.manifest import current_manifest

    manifest = current_manifest(settings)
    if manifest is None:
        where = settings.chroma_url or settings.index_dir
        raise IndexMissing(f"No index at {where}. Build it with `assistant index`.")
    if args.json:
        print(json.dumps({"files": manifest.files, "not_indexed": manifest.skipped}, indent=2, ensure_ascii=False))
        return 0
    rows = [("file", "format", "pages", "sections", "chunks", "indexed")]
    rows += [(name, r["format"], str(r["pages"] or "–"), str(r["sections"]), str(r["chunks"]),
              r["indexed_at"].replace("T", " ")) for name, r in manifest.files.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    count = len(manifest.files)
    print(f"{count} file{'' if count == 1 else 's'}, {manifest.chunk_count} chunks; "
          f"built {manifest.built_at.replace('T', ' ')}")
    for reason in manifest.skipped:
        print(f"Not indexed: {reason}")
    return 0


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.chain import build_chain
    from assistant.errors import InvalidQuestion
    from assistant.safety import clean

    if not clean(args.question):  # say so before loading the model
        raise InvalidQuestion("The question is empty. Please type a question.")
    result = build_chain(settings).invoke({"question": args.question, "chat_history": []})
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(result["answer"])
    for c in result["citations"]:
        quoted = " … ".join(q["text"] for q in c["quotes"])
        page = f", page {c['page']}" if c.get("page") else ""
        print(f"\n[{c['id']}] {c['source']}{page} — {c['section']}\n    “{quoted}”")
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.evals import run_cli

    return run_cli(args, settings)


def _feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.feedback import FeedbackStore

    store = FeedbackStore(settings.feedback_db, settings.feedback_retention_days)
    if args.output:
        store.export_to(args.format, args.output)
        print(f"Wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(store.export(args.format))
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.server import serve

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers)) if v is not None}
    settings = settings.with_(**overrides) if overrides else settings
    serve(settings, settings.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
