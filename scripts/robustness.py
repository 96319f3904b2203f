"""How often a question the chain answers is declined once it is written the way patients write.

    .venv/bin/python scripts/robustness.py [--kind typos|story|casual|polite|after] [--uncovered]
                                           [--variants 2] [--seed 7] [--show]

Takes the single-message answerable cases of the TUNED eval splits (``evals/kyphoplasty.yaml`` and
``evals/*-tuned.yaml``; the untuned halves are never read), keeps those the chain answers as written,
and writes each again ``--variants`` times:

- ``typos``: two words of five letters or more get one slip each (a letter dropped, doubled, swapped
  with the next one, or a vowel for another); every other variant is also in text speak ("u", "wot",
  "b4", "shud") and lower case.
- ``story``: a sentence about the patient comes first, naming a condition, a drug, an insurer or a
  person the guide does not mention ("He's on warfarin for his heart."); the question is still
  answerable, with a note that the guide does not mention the story's thing.
- ``casual``: typed in one go: lower case, no question mark or full stop, sentences run together
  (every other variant without apostrophes too: "im", "dont").
- ``polite``: a greeting or an apology first and thanks after ("Hi, sorry if this is a silly
  question. … Thanks so much!").
- ``after``: the story comes after the question ("… Asking for my dad, he's 84.").

It prints how many variants are no longer answered (declined; a partial answer counts as answered)
and how many of the answered ones quote a different first sentence than the question as written,
and with ``--show`` each declined variant with its note.

``--uncovered`` takes the tuned cases the chain declines as written (expected to be declined) instead,
and counts the variants that are answered: a question the guide does not answer must stay declined
however it is written. Seeded: the same code gives the same figures.
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


# written for this check (not taken from any eval case): a patient's background the guide does not cover
STORIES = ["Mum has been on alendronate for her bones for years.", "She's had dementia for a while now.",
           "He's on warfarin for his heart.", "Her GP, Dr Patel, referred her last week.", "He had a stroke two years ago.",
           "My wife has rheumatoid arthritis and takes methotrexate.", "Dad has diabetes and is a bit overweight.",
           "We're with Bupa, if that matters."]


def with_story(question: str, n: int, rng: random.Random) -> str:
    return f"{rng.choice(STORIES)} {question}"


def casual(question: str, n: int, rng: random.Random) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"[?.!]+(?=\s|$)", "", question)).strip().lower()
    return text.replace("'", "").replace("’", "") if n % 2 else text  # every other one without apostrophes too


# written for this check, general pleasantries and asides (not taken from any eval case)
OPENINGS = ["Hi, sorry if this is a silly question.", "Hello there, hope you can help.", "Sorry to bother you.",
            "Good morning,", "Hi, I'm a bit worried and not sure who to ask."]
CLOSINGS = ["Thanks so much!", "Many thanks in advance.", "Any help appreciated, thank you.", "Cheers."]
ASIDES = ["Asking for my dad, he's 84.", "It's for my mum who is in hospital.", "My wife is very anxious about it.",
          "We have an appointment next month.", "I've been reading up on it all week."]


def polite(question: str, n: int, rng: random.Random) -> str:
    return f"{rng.choice(OPENINGS)} {question} {rng.choice(CLOSINGS)}"


def after(question: str, n: int, rng: random.Random) -> str:
    return f"{question} {rng.choice(ASIDES)}"


def with_typos(question: str, n: int, rng: random.Random) -> str:
    tokens = re.findall(r"\w+|\W+", question)
    long_words = [i for i, t in enumerate(tokens) if t.isalpha() and len(t) >= 5]
    for i in rng.sample(long_words, min(2, len(long_words))):
        tokens[i] = slip(tokens[i], rng)
    text = "".join(tokens)
    if n % 2:
        text = re.sub(r"\b\w+\b", lambda m: TEXT_SPEAK.get(m.group(0).lower(), m.group(0)), text).lower()
    return text


DECLINED = ("not_covered", "off_topic", "unclear")
REWRITES = {"typos": with_typos, "story": with_story, "casual": casual, "polite": polite, "after": after}


def first_quote(out: dict) -> str:
    return out["citations"][0]["quotes"][0]["text"] if out.get("citations") else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=sorted(REWRITES), default="typos")
    ap.add_argument("--uncovered", action="store_true", help="the declined cases: count variants that get answered")
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--show", action="store_true", help="print each variant that changed outcome, with its note")
    args = ap.parse_args()

    from assistant.chain import build_chain

    chain = build_chain()
    paths = [ROOT / "evals" / "kyphoplasty.yaml", *sorted((ROOT / "evals").glob("*-tuned.yaml"))]
    wanted = ("decline", "abstain") if args.uncovered else ("answer",)
    cases = [c for p in paths for c in yaml.safe_load(p.read_text(encoding="utf-8"))
             if c.get("expect", "answer") in wanted and not c.get("history")]
    rng = random.Random(args.seed)
    rewrite = REWRITES[args.kind]
    kept = changed = moved = 0
    for case in cases:
        as_written = chain.invoke({"question": case["question"]})
        if (as_written["kind"] in DECLINED) != args.uncovered:
            continue
        kept += 1
        for n in range(args.variants):
            text = rewrite(case["question"], n, rng)
            out = chain.invoke({"question": text})
            if (out["kind"] in DECLINED) != args.uncovered:
                changed += 1
                if args.show:
                    print(f"{case['id']}~{n} {out['kind']}: {text[:140]} | note: {out.get('notes')}")
            elif not args.uncovered and first_quote(out) != first_quote(as_written):
                moved += 1
    total = kept * args.variants
    if args.uncovered:
        print(f"{kept} tuned questions declined as written; with {args.kind}, {changed} of {total} variants "
              f"({changed / max(1, total):.1%}) are answered")
    else:
        print(f"{kept} tuned questions answered as written; with {args.kind}, {changed} of {total} variants "
              f"({changed / max(1, total):.1%}) are no longer answered, and {moved} of the rest quote a "
              f"different first sentence")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
