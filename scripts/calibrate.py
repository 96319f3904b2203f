"""Calibrate, on the tuned splits only, when a one-topic corpus counts a question part as answered,
and how the sentences of an answer are ordered.

    .venv/bin/python scripts/calibrate.py [--write] [--large-index DIR]      (make calibrate)

The ranker's threshold for many-topic corpora comes from MedQuAD (``scripts/train_ranker.py``).
For a one-topic corpus, held-out MedQuAD topics searched alone cannot tell an on-topic question
that the source does not answer from one it does, so the limits are set on labelled questions
about the guide itself: the TUNED splits only (``evals/kyphoplasty.yaml``, ``evals/patients-tuned.yaml``,
``evals/patients-2-tuned.yaml``, ``evals/patients-3-tuned.yaml``; the untuned splits are never read
here). Parts decided by a rule (a named thing absent, a price or a duration asked for) are left
out; multi-part messages too, since their labels are per message.

Three limits are searched on a grid: the one-topic threshold on the ranker's best probability, the
share of the question's words a sentence must hold (``min_words_found``) unless the probability
reaches ``confident``. The choice: the most declines of unanswerable parts with at most
``FALSE_DECLINE_BUDGET`` of answerable parts declined (a margin below the 5 % target), then the
smallest limits.

The sentence order (``grounding.order_scores``) blends the ranker's probability with the sentence's
own similarity and word match, the answer-type cue words and a penalty for "It ..."/"They ..."
openings. Its weights are searched on a grid for the most questions whose FIRST quoted sentence
answers: on the guide, a sentence matching the case's ``first`` patterns (or, for the team's cases,
its ``facts``); on the 2,500-answer MedQuAD collection (``make medquad-collection``), a sentence
of the gold answer, for the lay questions of
``evals/medquad-lay-tuned.jsonl``. Weights are chosen separately for one-topic corpora (from the
guide) and many-topic ones (from the collection).

Last, the answerability model for one-topic corpora (``assistant/answerability.py``): a logistic
model over the evidence of single-part questions that the limits above leave answered, labelled by
the case's ``expect``, from every tuned split (``evals/kyphoplasty.yaml`` and ``evals/*-tuned.yaml``;
conversations left out) and 200 blind training messages (``scripts/data/answerability-train.yaml``).
Its strength C is chosen by cross-validated log-loss; its threshold is the highest one whose
out-of-fold probabilities decline at most ``FALSE_DECLINE_BUDGET`` of the answerable parts, so the
figure it promises was measured on parts the fitted model did not see.
``--write`` stores everything in ``assistant/models/ranker.json``; ``--answerability`` fits and
stores only this model, over the limits already shipped.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TUNED = [ROOT / "evals" / name for name in (
    "kyphoplasty.yaml", "patients-tuned.yaml", "patients-2-tuned.yaml", "patients-3-tuned.yaml")]
FALSE_DECLINE_BUDGET = 0.01  # of answerable tuned parts declined: well below the 5 % target
ANSWERABILITY_SPLITS = [ROOT / "evals" / "kyphoplasty.yaml", *sorted((ROOT / "evals").glob("*-tuned.yaml")),
                        ROOT / "scripts" / "data" / "answerability-train.yaml"]
ANSWERABILITY_C = (0.01, 0.03, 0.1, 0.3, 1.0)
FOLDS = 5
LAY_DECLINE_BUDGET = 0.05


def single_parts(chain, paths, expects: tuple[str, ...]):
    """(case, searched part) for each single-turn, single-part, non-urgent case expecting one of ``expects``."""
    for path in paths:
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            if case.get("expect", "answer") not in expects or case.get("history"):
                continue
            screening = chain.safety.screen(chain.analyzer.normalise(case["question"]))
            if screening.urgent or screening.small_talk or not screening.question:
                continue
            question = chain.understand(screening.question, [])
            if len(question.parts) == 1:
                yield case, chain.search(question)[0]


def labelled_parts(chain) -> list[tuple[float, float, bool, str]]:
    return [(result.best, result.words_found, case.get("expect", "answer") == "answer", case["question"])
            for case, result in single_parts(chain, TUNED, ("answer", "decline", "abstain"))
            if not chain.grounder.absent(result.part) and not result.part.needs]


def answerability_rows(chain) -> tuple[np.ndarray, np.ndarray]:
    """Evidence of the single-part tuned questions the rules leave answered, and whether each
    should be answered (the case's ``expect``)."""
    grounder = chain.grounder
    model, grounder.answerability = grounder.answerability, None  # the rules alone
    xs, ys = [], []
    try:
        for case, result in single_parts(chain, ANSWERABILITY_SPLITS, ("answer", "decline")):
            result = grounder.decide(result)
            if result.covered:
                xs.append(grounder.evidence(result).vector())
                ys.append(case.get("expect", "answer") == "answer")
    finally:
        grounder.answerability = model
    return np.array(xs), np.array(ys, dtype=bool)


def fit_answerability(x: np.ndarray, y: np.ndarray) -> dict:
    """C by cross-validated log-loss; the threshold from out-of-fold probabilities (module docstring)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from assistant.answerability import FEATURES

    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)

    def out_of_fold(c: float) -> np.ndarray:
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        return cross_val_predict(model, z, y, cv=folds, method="predict_proba")[:, 1]

    losses = {c: float(-np.mean(np.where(y, np.log(p := np.clip(out_of_fold(c), 1e-6, 1)), np.log(1 - p + 1e-6))))
              for c in ANSWERABILITY_C}
    c = min(losses, key=losses.get)
    oof = out_of_fold(c)
    allowed = int(FALSE_DECLINE_BUDGET * y.sum())
    threshold = float(np.sort(oof[y])[allowed]) if allowed < y.sum() else 0.0  # at most `allowed` below it
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(z, y)
    declined = oof < threshold
    return {"features": list(FEATURES), "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
            "weights": model.coef_[0].round(6).tolist(), "bias": round(float(model.intercept_[0]), 6),
            "threshold": round(threshold, 4), "C": c,
            "out_of_fold": {"parts": int(len(y)), "answerable": int(y.sum()),
                            "false_declines": round(float((declined & y).sum() / y.sum()), 4),
                            "unanswerable_declined": round(float((declined & ~y).sum() / max(1, (~y).sum())), 4)},
            "data": "single-part questions the rules answer, from " + ", ".join(p.name for p in ANSWERABILITY_SPLITS),
            "false_decline_budget": FALSE_DECLINE_BUDGET}


def calibrate_answerability(chain) -> dict:
    x, y = answerability_rows(chain)
    answerability = fit_answerability(x, y)
    print(f"answerability: C {answerability['C']}, threshold {answerability['threshold']}, weights "
          f"{dict(zip(answerability['features'], answerability['weights']))}; out of fold {answerability['out_of_fold']}")
    return answerability


def store(meta: dict, **fields) -> None:
    """Update ``assistant/models/ranker.json``: the top-level ``fields`` and the ``meta`` entries."""
    from assistant.ranker import MODEL_PATH

    model = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    model.update(fields)
    model["meta"].update(meta)
    MODEL_PATH.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_PATH}")


def first_sentence_sets(chain, cases: list[dict], label) -> list[tuple]:
    """(features, probabilities, labels) of the candidates of each single-part answerable question."""
    from assistant.grounding import need_shares
    from assistant.ranker import features

    out = []
    for case in cases:
        screening = chain.safety.screen(chain.analyzer.normalise(case["question"]))
        if screening.urgent or not screening.question:
            continue
        question = chain.understand(screening.question, [])
        if len(question.parts) != 1:
            continue
        part = question.parts[0]
        result = chain.search(question)[0]
        cands = [c for _, c in result.scored]
        if not cands:
            continue
        vector = chain.embedder.encode([chain.grounder.without_topic(part.search)])[0]
        x = features(part, vector, cands, chain.cues, chain.grounder.topic_stems)
        y = np.array([label(case, c) for c in cands], dtype=bool)
        need = need_shares(chain.grounder, part, cands)
        if y.any():
            out.append((x, chain.ranker.probabilities(x), y, need, "definition" in part.types))
    return out


def choose_order(groups: list[list[tuple]]) -> tuple[dict, float]:
    from assistant.grounding import order_scores

    best, best_score = None, -1.0
    grid = np.arange(0.0, 1.01, 0.1)
    for prob, cos, typ, ana, first in itertools.product(grid, grid, (0.0, 0.1, 0.2), (0.0, 0.1, 0.2), (0.0, 0.1, 0.2)):
        lex = 1.0 - prob - cos
        if lex < -1e-9:
            continue
        weights = {"prob": prob, "cos": cos, "lex": abs(round(lex, 2)), "type": typ, "anaphoric": ana, "first": first}
        score = np.mean([np.mean([y[int(np.argmax(order_scores(x, p, n, weights, d)))] for x, p, y, n, d in g])
                         for g in groups if g])
        if score > best_score + 1e-9:
            best, best_score = weights, float(score)
    return {k: round(float(v), 2) for k, v in best.items()}, best_score


def choose(rows):
    best = None
    for threshold, words, confident in itertools.product(np.arange(0.0, 0.31, 0.01), np.arange(0.0, 0.61, 0.05),
                                                         np.arange(0.2, 1.01, 0.05)):
        answered = [(p >= threshold and (w >= words or p >= confident), ok) for p, w, ok, _ in rows]
        fd = sum(ok and not a for a, ok in answered) / max(1, sum(ok for _, ok in answered))
        caught = sum((not ok) and not a for a, ok in answered) / max(1, sum(not ok for _, ok in answered))
        if fd <= FALSE_DECLINE_BUDGET:
            key = (caught, -threshold, -words, confident)
            if best is None or key > best[0]:
                best = (key, round(float(threshold), 3), round(float(words), 3), round(float(confident), 3), fd, caught)
    return best


def main() -> None:
    from assistant import build_chain
    from assistant.ranker import MODEL_PATH
    from assistant.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"store the limits in {MODEL_PATH}")
    parser.add_argument("--large-index", type=Path, help="index folder of evals/medquad-large/corpus (default: the "
                        "one `make eval-medquad` keeps; built if missing)")
    parser.add_argument("--answerability", action="store_true", help="only the answerability model, over the "
                        "shipped limits")
    args = parser.parse_args()
    chain = build_chain(Settings.from_env())
    if args.answerability:
        answerability = calibrate_answerability(chain)
        if args.write:
            store({"answerability": answerability})
        return
    large_corpus = ROOT / "evals" / "medquad-large" / "corpus"
    if args.large_index is None and large_corpus.is_dir():
        from assistant.evals.runner import corpus_cache_dir

        args.large_index = corpus_cache_dir(chain.settings, large_corpus)
    guide_cases = [c for path in TUNED for c in yaml.safe_load(path.read_text(encoding="utf-8"))
                   if c.get("expect", "answer") == "answer" and not c.get("history") and (c.get("first") or c.get("facts"))]

    def guide_label(case, cand):
        patterns = case.get("first") or [a for fact in case.get("facts", []) for a in fact]
        return any(re.search(p, cand.text, re.I) for p in patterns)

    groups = [first_sentence_sets(chain, guide_cases, guide_label)]
    if args.large_index:
        from assistant.evals.dataset import load_cases
        from assistant.evals.runner import resolve_gold

        corpus = ROOT / "evals" / "medquad-large" / "corpus"
        large = build_chain(Settings(corpus_dir=corpus, index_dir=args.large_index))
        lay = resolve_gold(load_cases(ROOT / "evals" / "medquad-lay-tuned.jsonl"), corpus)
        gold = {c.id: {" ".join(g.split()).lower() for g in c.gold} for c in lay}
        groups.append(first_sentence_sets(large, [{"question": c.question, "id": c.id} for c in lay],
                                          lambda case, cand: any(" ".join(cand.text.split()).lower()[1:] in g
                                                                 for g in gold[case["id"]])))
    order_one, score_one = choose_order(groups[:1])
    print(f"sentence order, one-topic corpora {order_one}: first sentence answers in {score_one:.3f} "
          f"({len(groups[0])} questions)")
    order, order_score = choose_order(groups[1:]) if len(groups) > 1 else (order_one, score_one)
    threshold_many = chain.ranker.threshold
    if len(groups) > 1:  # real lay questions score lower than MedQuAD's own: keep <= 5 % of them declined
        lay_best = np.array([float(p.max()) for _, p, *_ in groups[1]])
        threshold_many = round(min(threshold_many, float(np.quantile(lay_best, LAY_DECLINE_BUDGET))), 4)
        print(f"many-topic threshold {threshold_many} (was {chain.ranker.threshold}): "
              f"{(lay_best < threshold_many).mean():.3f} of {len(lay_best)} tuned lay questions below it")
    if len(groups) > 1:
        print(f"sentence order, many-topic corpora {order}: first sentence answers in {order_score:.3f} "
              f"({len(groups[1])} questions)")
    chain.ranker.order_one_topic = chain.grounder.order = order_one
    rows = labelled_parts(chain)
    _, threshold, words, confident, fd, caught = choose(rows)
    print(f"{len(rows)} labelled parts ({sum(r[2] for r in rows)} answerable): threshold_one_topic {threshold}, "
          f"min_words_found {words}, confident {confident} -> false declines {fd:.3f}, unanswerable declined {caught:.3f}")
    chain.ranker.threshold_one_topic = chain.grounder.threshold = threshold
    chain.ranker.min_words_found, chain.ranker.confident = words, confident
    answerability = calibrate_answerability(chain)
    if args.write:
        calibration = {
            "first_sentence_answers_one_topic": round(score_one, 4), "first_sentence_answers": round(order_score, 4),
            "order_questions": [len(g) for g in groups],
            "data": "tuned splits: " + ", ".join(p.name for p in TUNED) + " (single-part, rule-free)",
            "parts": len(rows), "false_declines": round(fd, 4), "unanswerable_declined": round(caught, 4),
            "false_decline_budget": FALSE_DECLINE_BUDGET}
        store(dict(min_words_found=words, confident=confident, order=order, order_one_topic=order_one,
                   answerability=answerability, calibration=calibration),
              threshold_one_topic=threshold, threshold=threshold_many)


if __name__ == "__main__":
    main()
