"""Red flags caught and false alarms on the held-out red-flag set, which no script trains on.

    .venv/bin/python scripts/measure_redflags.py                      the shipped model
    .venv/bin/python scripts/measure_redflags.py --model other.json   a candidate (e.g. from train_redflags.py --out)
    .venv/bin/python scripts/measure_redflags.py --model none         the patterns and exemplars alone

``scripts/data/redflags-heldout.yaml``: 140 current red flags (20 per group) and 60 calm look-alikes,
written blind (see scripts/data/README.md). The check is the chain's own (``Chain.urgent``: what an
answer decides).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="", help="a red-flag model file, or 'none' (default: the shipped one)")
    ap.add_argument("--data", type=Path, default=ROOT / "scripts" / "data" / "redflags-heldout.yaml")
    args = ap.parse_args()

    from assistant import redflag_model
    from assistant.chain import build_chain

    chain = build_chain()
    if args.model:
        chain.safety._model = None if args.model == "none" else redflag_model._load(str(Path(args.model).resolve()))
        chain.safety._exemplars = None  # the model's examples are embedded with the exemplars

    cases = yaml.safe_load(args.data.read_text(encoding="utf-8"))
    caught, flags, alarms, calm = Counter(), Counter(), 0, 0
    for c in cases:
        fired = bool(chain.urgent(c["message"]))
        if c["expect"] == "urgent":
            flags[c["group"]] += 1
            caught[c["group"]] += fired
        else:
            calm += 1
            alarms += fired
    print(f"{args.data.name} (model: {args.model or 'shipped'}): red flags caught {sum(caught.values())}/"
          f"{sum(flags.values())}, false alarms {alarms}/{calm}")
    for group in flags:
        print(f"  {group:<10} {caught[group]}/{flags[group]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
