"""Calibrate the citation guard's support threshold on sentences written against the guide.

Reads ``evals/guard_cases.yaml`` (faithful paraphrases and unfaithful sentences, each citing a passage
of ``corpus/kyphoplasty.md``; written by hand for this project), judges every one with the guard as
the chain builds it (the real MiniLM embedder, the analyser's named-thing test, the injection
patterns), and prints:

- which unfaithful sentences a rule removes before the score is looked at (figures, named things,
  negation), and any faithful sentence a rule removes (a false removal);
- the support score of every other sentence, and at ``SUPPORT`` how many faithful sentences are
  removed and unfaithful ones kept, and the nearest scores on either side (the margin).

``--write`` is not offered on purpose: ``SUPPORT`` in ``assistant/guard.py`` is set by hand from this
output, so a change to it is a reviewed change. Run: ``python scripts/calibrate_guard.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.chain import build_chain  # noqa: E402
from assistant.guard import SUPPORT  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=ROOT / "evals" / "guard_cases.yaml")
    args = parser.parse_args()
    cases = yaml.safe_load(args.cases.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        chain = build_chain(Settings(index_dir=Path(tmp) / "index"))
        chunks = list(chain.index.chunks)
        guard = chain.citation_guard(chunks, support=0.0)  # score everything; the rules still apply

        def judge(case: dict):
            number = next(i for i, c in enumerate(chunks, 1) if case["cite"] in c.text)
            return guard.judge(f"{case['sentence']} [{number}]")

        faithful = [(c, judge(c)) for c in cases["faithful"]]
        unfaithful = [(c, judge(c)) for c in cases["unfaithful"]]
    print(f"{len(faithful)} faithful and {len(unfaithful)} unfaithful sentences\n")
    print("Removed by a rule before scoring:")
    for case, j in unfaithful:
        if not j.kept and "score" not in j.reason:
            print(f"  unfaithful ({case['kind']}): {j.reason} — {case['sentence']}")
    false_removals = [(c, j) for c, j in faithful if not j.kept]
    for case, j in false_removals:
        print(f"  FAITHFUL (false removal): {j.reason} — {case['sentence']}")
    scored_f = sorted((j.score, c["sentence"]) for c, j in faithful if j.kept)
    scored_u = sorted(((j.score, c["kind"], c["sentence"]) for c, j in unfaithful if j.kept), reverse=True)
    print("\nScores, faithful (weakest first):")
    for score, sentence in scored_f[:8]:
        print(f"  {score:.3f}  {sentence}")
    print("Scores, unfaithful that no rule removed (strongest first):")
    for score, kind, sentence in scored_u:
        print(f"  {score:.3f}  ({kind}) {sentence}")
    faithful_scores = [score for score, _ in scored_f]
    unfaithful_scores = [score for score, _, _ in scored_u]
    removed = sum(x < SUPPORT for x in faithful_scores) + len(false_removals)
    kept = sum(x >= SUPPORT for x in unfaithful_scores)
    below = max([x for x in faithful_scores + unfaithful_scores if x < SUPPORT], default=0.0)
    above = min([x for x in faithful_scores + unfaithful_scores if x >= SUPPORT], default=1.0)
    print(f"\nSUPPORT = {SUPPORT:.2f}: {removed} of {len(faithful)} faithful removed (by a rule or the score), "
          f"{kept} of {len(unfaithful)} unfaithful kept")
    print(f"nearest scores: {below:.3f} below and {above:.3f} above (margin {SUPPORT - below:.3f} / {above - SUPPORT:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
