"""Train the learned red-flag detector (``assistant/models/redflags.json``) and set its thresholds.

    .venv/bin/python scripts/train_redflags.py      (make train-redflags; about six minutes on 2 cores)

Data (``scripts/data/``, written blind for this project: each writer saw only the guide and a
description of the users and of the red-flag groups, never the code or an eval case):
  redflags-train-a/-b.yaml (2026-11-26)   350 current red flags, 25 per group per writer, each
                                          with the words a clinician would underline (``flag``)
  redflags-train-c/-d.yaml (2026-11-27)   420 more, 30 per group per writer (-d: described by what
                                          the person notices or can no longer do)
  redflags-calm.yaml, -calm-2.yaml        600 calm look-alikes (general and hypothetical questions,
                                          fears, past or resolved symptoms, the condition described,
                                          chronic ache, denials, warnings the team gave, idioms...)
  redflags-ordinary.yaml                  300 ordinary patient messages with a story around them
plus the exemplars and calm exemplars of ``prompts/urgent.yaml``; the calm messages of the TUNED eval
halves named in ``EVAL_CALM`` (never an untuned half, nor any of redflags-3 and -4, written to test
this model); the tuned lay MedQuAD questions (``evals/medquad-lay-tuned.jsonl``); and 2,000 questions
drawn (seeded) from the MedQuAD training pairs (``../shared/benchmarks/medquad-train/``; Ben Abacha &
Demner-Fushman, BMC Bioinformatics 20:511, 2019; CC BY 4.0). The model records a hash of every
file it read (``meta.data_sha256``; a test checks them against the repository), and
``scripts/data/redflags-heldout.yaml`` is never read here (``scripts/measure_redflags.py``).

Each message is cut into the clause pieces the chain compares (``Chain.red_flags``: only clauses
about someone now, what is over left out). A piece of a red flag that holds most of its
underlined words is labelled with the group; one that holds none of them "none"; the rest are left
out. Every piece of a calm message is "none".

Model: a small network (one hidden layer of 128 rectified units, softmax over "none" and the
groups; classes balanced by resampling) on two MiniLM vectors per piece: without its people and
times (what is described) and as written (whether it is over, feared or happening now). On the same
folds it caught more than the multinomial logistic model it replaced (cross-validated 0.78 vs 0.72
at the same budgets; see assistant/models/redflags.md).
A piece counts for a group only when it is also near (cosine >= a floor) one of the group's red-flag
pieces seen in training: a learned model has odd spots ("the bit at the end" leaning to self-harm),
and this keeps its alarms to what resembles a known red flag. The regularisation, the floor and one
threshold per group are chosen in 5-fold cross-validation grouped by message, each held-out
message scored by its most alarming piece: thresholds start at 0.99 and are
lowered step by step where recall gains most per false alarm, while false alarms stay within
budget on each kind of calm message (look-alikes, patients' ordinary messages, library questions).
The figures printed are those cross-validated ones; the untuned eval halves are never read here
(``assistant eval`` measures them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
DATA = ROOT / "scripts" / "data"

from medquad_collection import read_pairs  # noqa: E402

SEED = 1
C_GRID = (10.0, 100.0)  # the inverse of the network's L2 penalty
HIDDEN = 128  # hidden units
FLOORS = (0.0, 0.4, 0.5, 0.6)  # how near a known red flag of the group a piece must be (cosine)
# The calm messages of these TUNED eval halves are trained on (named, not globbed: a new eval file
# must not change the model unseen). Never an untuned half, nor redflags-3/-4 (written to test it).
EVAL_CALM = ("answerability-tuned.yaml", "followups-tuned.yaml", "patients-2-tuned.yaml", "patients-3-tuned.yaml",
             "patients-4-tuned.yaml", "patients-tuned.yaml", "redflags-2-tuned.yaml", "redflags-tuned.yaml",
             "yesno-tuned.yaml", "kyphoplasty.yaml")
LAY_MEDQUAD = "medquad-lay-tuned.jsonl"


def overlap_label(piece: str, flag: str) -> str | None:
    """"flag" when the piece holds most of the underlined words, "none" when it holds none of
    them, None (left out) in between."""
    from assistant.text import content_words, stem

    f = {stem(w) for w in content_words(flag)}
    p = {stem(w) for w in content_words(piece)}
    if not f or not p:
        return None
    shared = len(f & p)
    if shared == 0:
        return "none"
    if shared / len(f) >= 0.5 or (shared >= 2 and shared / len(p) >= 0.5):
        return "flag"
    return None


def messages(chain, read: list[Path]) -> list[dict]:
    """Every training message: {id, kind, group (None when calm), pieces [(text, label)]}. Each
    file read is appended to ``read`` (its hash goes into the model's meta)."""

    def load(path: Path):
        read.append(path)
        return yaml.safe_load(path.read_text(encoding="utf-8"))

    urgent = load(ROOT / "prompts" / "urgent.yaml")
    names = {g["key"]: g["name"] for g in urgent["groups"]}
    out = []

    def add(mid: str, kind: str, text: str, group: str | None = None, flag: str | None = None) -> None:
        _, pieces = chain.red_flags(text)
        labelled = []
        for p in pieces:
            if group is None:
                labelled.append((p, "none"))
            elif flag is None:
                labelled.append((p, group))  # an exemplar: the whole text is the red flag
            else:
                lab = overlap_label(p, flag)
                if lab:
                    labelled.append((p, group if lab == "flag" else "none"))
        if group is not None and flag is not None:
            labelled.append((flag, group))
        out.append({"id": mid, "kind": kind, "group": group, "pieces": labelled, "scored": pieces})

    for g in urgent["groups"]:
        for i, e in enumerate(g["exemplars"]):
            add(f"exemplar-{g['key']}-{i}", "exemplar", e, g["name"])
    for i, e in enumerate(urgent.get("calm") or []):
        add(f"calm-exemplar-{i}", "lookalike", e)
    for path in sorted(DATA.glob("redflags-train-*.yaml")):
        for c in load(path):
            add(c["id"], "red flag", c["message"], names[c["group"]], c["flag"])
    for path in sorted(DATA.glob("redflags-calm*.yaml")):
        for c in load(path):
            add(c["id"], "lookalike", c["message"])
    for path in EVAL_CALM:
        for c in load(ROOT / "evals" / path):
            if c.get("expect") != "urgent" and not c.get("history"):
                kind = "lookalike" if path.startswith("redflags") else "patient"
                add(f"{Path(path).stem}/{c['id']}", kind, c["question"])
    for c in load(DATA / "redflags-ordinary.yaml"):
        add(c["id"], "patient", c["message"])
    read.append(ROOT / "evals" / LAY_MEDQUAD)
    for line in (ROOT / "evals" / LAY_MEDQUAD).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        add(f"medquad-lay/{row['id']}", "patient", row["question"])
    for row in random.Random(SEED).sample(read_pairs(), 2000):
        add(f"medquad/{row.get('id', row['question'])}", "library", row["question"])
    return out


def fit(x: np.ndarray, y: np.ndarray, c: float):
    """A one-hidden-layer network (L2 penalty 1/c); classes balanced by resampling each to the size
    of the largest (scikit-learn's network takes no class weights)."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(SEED)
    counts = np.bincount(y)
    rows = np.concatenate([rng.choice(np.flatnonzero(y == k), counts.max()) for k in np.flatnonzero(counts)])
    return MLPClassifier(hidden_layer_sizes=(HIDDEN,), alpha=1.0 / c, max_iter=300, random_state=SEED).fit(x[rows], y[rows])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "assistant" / "models" / "redflags.json")
    # the look-alike budget sits below the 0.19 that the patterns and exemplars alone raise on
    # redflags-calm.yaml (measured before this model); an ordinary message should almost never alarm
    ap.add_argument("--lookalike-budget", type=float, default=0.15, help="false alarms allowed on look-alikes")
    # patients' ordinary messages: 1.5 %, half a point under the issue's 2 % false-alarm target (at 1 %
    # cross-validated recall was 0.779, at 1.5 % 0.809; the untuned eval's ordinary messages 5 of 409 either way)
    ap.add_argument("--patient-budget", type=float, default=0.015, help="... on patients' ordinary messages")
    ap.add_argument("--library-budget", type=float, default=0.005, help="... on library (MedQuAD) questions")
    args = ap.parse_args()
    budgets = {"lookalike": args.lookalike_budget, "patient": args.patient_budget, "library": args.library_budget}

    from assistant.chain import build_chain
    from assistant.redflag_model import NONE, RedFlagModel
    from assistant.settings import Settings

    t = time.perf_counter()
    settings = Settings.from_env()
    chain = build_chain(settings)
    read: list[Path] = []
    data = messages(chain, read)
    classes = [NONE] + [g["name"] for g in yaml.safe_load((ROOT / "prompts" / "urgent.yaml").read_text())["groups"]]
    texts = sorted({p for m in data for p, _ in m["pieces"]} | {p for m in data for p in m["scored"]})
    compared = chain.safety.compared(texts)
    embedded = dict(zip(compared, chain.embedder.encode(compared)))
    # the model's input, as in Safety.similar: the piece without its people and times, then as written
    vec = {t: np.concatenate([embedded[chain.safety.neutral(t)], embedded[t]]) for t in texts}
    kinds = {k: sum(m["kind"] == k for m in data) for k in ("exemplar", "red flag", "lookalike", "patient", "library")}
    print(f"{len(data)} messages {kinds}, {len(texts)} distinct pieces, in {time.perf_counter() - t:.0f} s")

    rng = np.random.default_rng(SEED)
    fold = rng.integers(0, 5, len(data))

    def pieces_of(ms):
        x = [vec[p] for m in ms for p, _ in m["pieces"]]
        y = [classes.index(lab) for m in ms for _, lab in m["pieces"]]
        return np.array(x), np.array(y)

    groups = classes[1:]
    results = {}  # (C, floor) -> (messages, groups): each message's highest gated probability of each group
    for c in C_GRID:
        scores = {floor: np.zeros((len(data), len(groups))) for floor in FLOORS}
        for k in range(5):
            x, y = pieces_of([m for m, f in zip(data, fold) if f != k])
            model = fit(x, y, c)
            examples, owner = x[y > 0][:, : x.shape[1] // 2], y[y > 0]  # the fold's red-flag pieces, neutral form
            for i, m in enumerate(data):
                if fold[i] == k and m["scored"]:
                    xm = np.array([vec[p] for p in m["scored"]])
                    p = model.predict_proba(xm)
                    near = xm[:, : xm.shape[1] // 2] @ examples.T
                    for j in range(1, len(classes)):
                        pj, nj = p[:, list(model.classes_).index(j)], near[:, owner == j].max(axis=1)
                        for floor in FLOORS:
                            scores[floor][i, j - 1] = (pj * (nj >= floor)).max()
        results.update({(c, floor): sc for floor, sc in scores.items()})

    kind = np.array([m["kind"] for m in data])
    own = np.array([groups.index(m["group"]) if m["kind"] == "red flag" else -1 for m in data])

    def thresholds_for(scores):
        """Per-group thresholds, lowered one step at a time where recall gains most per false alarm
        added, for as long as every kind of calm message stays within its budget."""
        ths = np.full(len(groups), 0.99)
        now = rates(scores, ths)
        while True:
            steps = []
            for g in range(len(groups)):
                trial = ths.copy()
                trial[g] = round(trial[g] - 0.01, 2)
                r = rates(scores, trial)
                if trial[g] >= 0.30 and all(r[k] <= budget for k, budget in budgets.items()):
                    cost = sum((r[k] - now[k]) / budget for k, budget in budgets.items())
                    steps.append(((r["red flag"] - now["red flag"]) / (cost + 1e-3), -cost, g, trial, r))
            if not steps:
                return ths
            _, _, _, ths, now = max(steps, key=lambda step: step[:3])

    def rates(scores, ths):
        fired = (scores >= ths).any(axis=1)
        out = {k: float(fired[kind == k].mean()) for k in ("red flag", "lookalike", "patient", "library")}
        out["by group"] = {g: float(fired[own == i].mean()) for i, g in enumerate(groups)}
        return out

    best = max(results, key=lambda key: rates(results[key], thresholds_for(results[key]))["red flag"])
    c, floor = best
    thresholds = thresholds_for(results[best])
    cv = rates(results[best], thresholds)
    for (cc, ff), scores in results.items():
        r = rates(scores, thresholds_for(scores))
        print(f"  C={cc:<5} floor {ff}: caught {r['red flag']:.3f}, false alarms: look-alikes {r['lookalike']:.3f}, "
              f"patients' messages {r['patient']:.4f}, library questions {r['library']:.4f}")
    print(f"cross-validated, C={c}, floor {floor}: red flags caught {cv['red flag']:.3f}, false alarms on look-alikes "
          f"{cv['lookalike']:.3f}, on patients' ordinary messages {cv['patient']:.4f}, on library questions "
          f"{cv['library']:.4f}")
    for g, th in zip(groups, thresholds):
        print(f"  {g:<58} threshold {th:.2f}  caught {cv['by group'][g]:.3f}")

    x, y = pieces_of(data)
    model = fit(x, y, c)
    examples = sorted({(chain.safety.neutral(p), lab) for m in data for p, lab in m["pieces"] if lab != NONE})
    order = [list(model.classes_).index(i) for i in range(len(classes))]
    hidden = (model.coefs_[0].astype(np.float32), model.intercepts_[0].astype(np.float32))
    weights = model.coefs_[1][:, order].astype(np.float32)
    bias = model.intercepts_[1][order].astype(np.float32)
    meta = {"trained": time.strftime("%Y-%m-%d"), "reading": chain.safety.reading(), "C": c, "floor": floor,
            "messages": kinds,
            "pieces": len(texts), "budgets": budgets,
            "cross_validated": cv,
            # every file read (the MedQuAD sample is fixed by SEED): tests check the model matches them
            "data_sha256": {str(f.relative_to(ROOT)): hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in read}}
    RedFlagModel(classes, weights, bias, dict(zip(groups, thresholds.tolist())), settings.embedding_model,
                 [list(e) for e in examples], floor, meta, hidden).save(args.out)
    print(f"wrote {args.out} in {time.perf_counter() - t:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
