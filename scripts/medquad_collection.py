"""Build the large MedQuAD answer collection used by the evals and the benchmark, reproducibly.

    .venv/bin/python scripts/medquad_collection.py [--out evals/medquad-large] [--answers 2500]

Reads ``../shared/benchmarks/medquad-train/qa.jsonl.gz`` (MedQuAD, Ben Abacha & Demner-Fushman,
"A question-entailment approach to question answering", BMC Bioinformatics 20:511, 2019; CC BY 4.0)
and picks whole topic pages (all answers of a ``doc``) in a seeded random order until about
``--answers`` answers are in. Each answer becomes one short page, ``<doc>-<n>.md``::

    # <focus>
    ## <section named after the question type>
    <NIH answer text>

The pages are written to ``<out>/corpus`` (not committed: they are rebuilt from ``../shared``), and the
ids of the chosen docs to ``<out>/docs.txt`` (committed), so the learned ranker can be trained on the
*other* docs only (``scripts/train_ranker.py`` reads that list and leaves those docs out).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT.parent / "shared" / "benchmarks" / "medquad-train" / "qa.jsonl.gz"
SEED = 20261125
SECTIONS = {
    "information": "Overview", "symptoms": "Symptoms", "treatment": "Treatment", "inheritance": "Inheritance",
    "frequency": "How common is it", "genetic changes": "Genetic changes", "causes": "Causes",
    "exams and tests": "Diagnosis", "outlook": "Outlook", "research": "Research",
    "susceptibility": "Who is at risk", "considerations": "Considerations", "prevention": "Prevention",
    "stages": "Stages", "complications": "Complications",
}


def read_pairs(path: Path = TRAIN) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def by_doc(rows: list[dict]) -> dict[str, list[dict]]:
    docs: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        docs[f"{row['source']}/{row['doc']}"].append(row)
    return docs


def choose_docs(rows: list[dict], answers: int, seed: int = SEED) -> list[str]:
    docs = by_doc(rows)
    order = sorted(docs)
    random.Random(seed).shuffle(order)
    chosen, total = [], 0
    for key in order:
        if total >= answers:
            break
        chosen.append(key)
        total += len(docs[key])
    return sorted(chosen)


def page(row: dict) -> str:
    section = SECTIONS.get(row["qtype"], row["qtype"].capitalize())
    answer = re.sub(r"\s+", " ", row["answer"]).strip()
    return f"# {row['focus'].strip()}\n\n## {section}\n\n{answer}\n"


def write_collection(out: Path, answers: int = 2500) -> tuple[int, int]:
    rows = read_pairs()
    chosen = choose_docs(rows, answers)
    docs = by_doc(rows)
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    n = 0
    for key in chosen:
        for i, row in enumerate(docs[key]):
            name = re.sub(r"[^A-Za-z0-9_-]+", "-", key) + f"-{i}.md"
            (corpus / name).write_text(page(row), encoding="utf-8")
            n += 1
    (out / "docs.txt").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return len(chosen), n


def page_name(row: dict, i: int) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{row['source']}/{row['doc']}") + f"-{i}.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "medquad-large")
    parser.add_argument("--answers", type=int, default=2500)
    args = parser.parse_args()
    docs, pages = write_collection(args.out, args.answers)
    size = sum(p.stat().st_size for p in (args.out / "corpus").glob("*.md"))
    print(f"{pages} answer pages from {docs} topic pages, {size / 1e6:.1f} MB -> {args.out / 'corpus'}")


if __name__ == "__main__":
    main()
