"""Build ``assistant/data/medical_terms.txt``: words that NIH consumer-health text uses far more than
general English does (drugs, procedures, conditions, body parts), so a question naming one of them
asks about a *specific thing* that the corpus must contain.

    .venv/bin/python scripts/build_lexicon.py

Data: MedQuAD training pairs, ``../shared/benchmarks/medquad-train/qa.jsonl.gz`` (Ben Abacha &
Demner-Fushman, BMC Bioinformatics 20:511, 2019; CC BY 4.0), minus the topic pages of the eval
collection (``evals/medquad-large/docs.txt``). A word is kept when it occurs at least ``MIN_COUNT``
times, its frequency there is at least 10**``MIN_LOG_RATIO`` times its general-English frequency
(``wordfreq``), and it is not an everyday word nor an inflection of one (Zipf < 4.5 for the word and its
lemma: "carries", "treatments" are not named things). Deterministic: same data, same file.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from medquad_collection import read_pairs  # noqa: E402

from assistant.text import EVERYDAY_ZIPF, lemma_zipf, words, zipf  # noqa: E402

MIN_COUNT = 3
MIN_LOG_RATIO = 0.5
OUT = ROOT / "assistant" / "data" / "medical_terms.txt"


def main() -> None:
    held_out = set((ROOT / "evals" / "medquad-large" / "docs.txt").read_text().split())
    counts: Counter[str] = Counter()
    for row in read_pairs():
        if f"{row['source']}/{row['doc']}" not in held_out:
            counts.update(words(row["focus"] + " " + row["answer"]))
    total = sum(counts.values())
    kept = sorted(w for w, n in counts.items()
                  if n >= MIN_COUNT and w.isalpha() and len(w) > 2 and lemma_zipf(w) < EVERYDAY_ZIPF
                  and math.log10(n / total) + 9 - zipf(w) >= MIN_LOG_RATIO)
    header = ("# Medical terms: words NIH consumer-health text (MedQuAD, CC BY 4.0, Ben Abacha & Demner-Fushman 2019)\n"
              f"# uses >= {10 ** MIN_LOG_RATIO:.1f}x more than general English. Built by scripts/build_lexicon.py.\n")
    OUT.write_text(header + "\n".join(kept) + "\n", encoding="utf-8")
    print(f"{len(kept)} terms from {total:,} words -> {OUT}")


if __name__ == "__main__":
    main()
