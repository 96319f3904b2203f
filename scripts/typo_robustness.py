"""How often a question the chain answers is declined once it is typed with slips.

    .venv/bin/python scripts/typo_robustness.py [--variants 2] [--seed 7] [--show]

Takes the single-message answerable cases of the TUNED eval splits (``evals/kyphoplasty.yaml`` and
``evals/*-tuned.yaml``; the untuned halves are never read), keeps those the chain answers as written,
and types each again ``--variants`` times with slips patients make: two words of five letters or more
get one slip each (a letter dropped, doubled, swapped with the next one, or a vowel for another), and
every other variant is also written in text speak ("u", "wot", "b4", "shud") and lower case. It prints
how many of the variants are no longer answered (declined, or declined in part), and with ``--show``
each of them with its note. Seeded: the same code gives the same figures.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT_SPEAK = {"you": "u", "are": "r", "before": "b4", "what": "wot", "your": "ur", "because": "cos", "please": "pls",
              "should": "shud", "would": "wud", "could": "cud", "people": "ppl", "doctor": "dr", "thanks": "thx"}


def slip(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice("drsv")
    if kind == "d":
        return word[:i] + word[i + 1:]
    if kind == "r":
        return word[:i] + word[i] + word[i:]
    if kind == "s":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + (rng.choice("aeiou") if word[i] in "aeiou" else word[i]) + word[i + 1:]


def variant(question: str, n: int, rng: random.Random) -> str:
    tokens = re.findall(r"\w+|\W+", question)
    long_words = [i for i, t in enumerate(tokens) if t.isalpha() and len(t) >= 5]
    for i in rng.sample(long_words, min(2, len(long_words))):
        tokens[i] = slip(tokens[i], rng)
    text = "".join(tokens)
    if n % 2:
        text = re.sub(r"\b\w+\b", lambda m: TEXT_SPEAK.get(m.group(0).lower(), m.group(0)), text).lower()
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--show", action="store_true", help="print each declined variant and its note")
    args = ap.parse_args()

    from assistant.chain import build_chain

    chain = build_chain()
    paths = [ROOT / "evals" / "kyphoplasty.yaml", *sorted((ROOT / "evals").glob("*-tuned.yaml"))]
    cases = [c for p in paths for c in yaml.safe_load(p.read_text(encoding="utf-8"))
             if c.get("expect", "answer") == "answer" and not c.get("history")]
    rng = random.Random(args.seed)
    answered = declined = 0
    for case in cases:
        if chain.invoke({"question": case["question"]})["kind"] != "answer":
            continue
        answered += 1
        for n in range(args.variants):
            text = variant(case["question"], n, rng)
            out = chain.invoke({"question": text})
            if out["kind"] in ("not_covered", "partial", "off_topic", "unclear"):
                declined += 1
                if args.show:
                    print(f"{case['id']}~{n} {out['kind']}: {text[:140]} | note: {out.get('notes')}")
    total = answered * args.variants
    print(f"{answered} tuned questions answered as written; typed with slips, {declined} of {total} variants "
          f"({declined / max(1, total):.1%}) are no longer answered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
