"""Train the sentence ranker (``assistant/models/ranker.json``) and calibrate its answer threshold.

    .venv/bin/python scripts/train_ranker.py [--docs 600] [--out assistant/models/ranker.json]

Data: MedQuAD training pairs, ``../shared/benchmarks/medquad-train/qa.jsonl.gz`` (Ben Abacha &
Demner-Fushman, "A question-entailment approach to question answering", BMC Bioinformatics 20:511,
2019; CC BY 4.0). The topic pages of the eval collection (``evals/medquad-large/docs.txt``) are left
out. ``--docs`` topic pages are drawn at random (seed 1), each answer written as a page as in
``scripts/medquad_collection.py``, and indexed with the real ``build_index`` and MiniLM.

Questions: every answer's own (templated) question, and one lay rewording made from general
templates per question type ("how is {x} treated", "my mum was just diagnosed with {x}. what
causes it?"), with a letter dropped from the topic name now and then. Each question is analysed
and searched with the real chain; every sentence of the retrieved passages is a candidate, labelled
1 when it belongs to the answer's page. To teach the model when *nothing* answers, a third of the
questions are searched again without their answer's page (on-topic but not covered) and a sixth
without their whole topic (off-topic): every candidate is then 0. Half of the topics with three
or more pages are also searched as in a one-topic corpus (the kyphoplasty guide is one): among
their own pages only, the topic left implicit ("how is it treated?", the topic carried as context
and left out of the compared text, as the chain does), with and without the answer's page, half of
them with headings that say nothing about the question type.

Model: logistic regression over ``assistant.ranker.FEATURES`` (standardised; weights constrained to
the signs in ``ranker.SIGNS``: more evidence never lowers the probability), fitted on 80 % of
the topic pages; the other 20 % (never seen in fitting) give the figures printed at the end:
top-1 precision against the previous hand-weighted selector, and the decline rates that set the
thresholds (the highest ones keeping false declines on answerable held-out questions <= 4 %, one
for many-topic corpora and one for one-topic corpora).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from medquad_collection import by_doc, page, page_name, read_pairs  # noqa: E402

SEED = 1
FALSE_DECLINE_BUDGET = 0.04
LAY = {  # general consumer wordings of each MedQuAD question type; {x} is the topic
    "information": ["what is {x}?", "what exactly is {x}", "can you explain {x} to me", "{x} - what is it?",
                    "my doctor mentioned {x}, what does that mean?", "never heard of {x}, what is it"],
    "symptoms": ["what are the signs of {x}?", "how do i know if i have {x}", "what does {x} feel like",
                 "my son was diagnosed with {x}. what symptoms should we expect?", "{x} symptoms?"],
    "treatment": ["how is {x} treated?", "what can be done for {x}", "is there a cure for {x}",
                  "my mum was just diagnosed with {x}. how do they treat it?", "{x} treatment options"],
    "causes": ["what causes {x}?", "why do people get {x}", "how do you get {x}",
               "my daughter has {x}. what causes it?"],
    "inheritance": ["is {x} passed down in families?", "can my kids get {x} from me", "does {x} run in families",
                    "is {x} genetic?"],
    "frequency": ["how common is {x}?", "how many people get {x}", "is {x} rare?"],
    "genetic changes": ["what gene is involved in {x}?", "which mutation causes {x}", "what genetic change leads to {x}"],
    "exams and tests": ["how is {x} diagnosed?", "what tests are there for {x}", "how would a doctor check for {x}"],
    "outlook": ["what is the outlook for {x}?", "what is the life expectancy with {x}", "will {x} get better"],
    "research": ["is there any research on {x}?", "are there clinical trials for {x}"],
    "susceptibility": ["who is at risk of {x}?", "who gets {x}", "am i likely to get {x}"],
    "considerations": ["what should i know about living with {x}?", "anything i should watch out for with {x}"],
    "prevention": ["how can {x} be prevented?", "can i avoid getting {x}", "how do i stop {x} happening"],
    "stages": ["what are the stages of {x}?", "how is {x} staged"],
    "complications": ["what complications can {x} cause?", "what problems can {x} lead to"],
}


def lay_question(row: dict, rng: random.Random) -> str:
    focus = re.sub(r"\s*\([^)]*\)", "", row["focus"]).strip()
    if rng.random() < 0.5:
        focus = focus.lower()
    if rng.random() < 0.2:  # a typo in a long word
        longs = [w for w in focus.split() if len(w) >= 7]
        if longs:
            w = rng.choice(longs)
            i = rng.randrange(1, len(w) - 1)
            focus = focus.replace(w, w[:i] + w[i + 1:], 1)
    return rng.choice(LAY.get(row["qtype"], LAY["information"])).format(x=focus)


def build(docs: int, workdir: Path):
    from assistant.chain import build_chain
    from assistant.settings import Settings

    rows = read_pairs()
    held_out = set((ROOT / "evals" / "medquad-large" / "docs.txt").read_text().split())
    groups = {k: v for k, v in by_doc(rows).items() if k not in held_out}
    rng = random.Random(SEED)
    keys = sorted(groups)
    rng.shuffle(keys)
    multi = [k for k in keys if len(groups[k]) >= 2]
    chosen = multi[: int(docs * 0.8)] + [k for k in keys if len(groups[k]) == 1][: docs - int(docs * 0.8)]
    corpus = workdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    pairs = []
    for key in chosen:
        for i, row in enumerate(groups[key]):
            name = page_name(row, i)
            (corpus / name).write_text(page(row), encoding="utf-8")
            pairs.append((key, name, row))
    t = time.perf_counter()
    chain = build_chain(Settings(corpus_dir=corpus, index_dir=workdir / "index"))
    print(f"indexed {len(pairs)} answer pages of {len(chosen)} topics in {time.perf_counter() - t:.0f} s")
    return chain, pairs, rng


def examples(chain, pairs, rng):
    """(doc, kind, question, feature matrix, labels, one-topic?) per search; kind: answerable / uncovered / offtopic."""
    from assistant.ranker import features
    from assistant.text import content_words, stem

    doc_pages: dict[str, set[str]] = {}
    for key, name, _ in pairs:
        doc_pages.setdefault(key, set()).add(name)
    k = chain.settings.top_k * 2
    out = []

    def search(text, part, vector, topic, removed, alone, kind, key, name):
        query = chain.embedder.encode([part.search])[0]
        fetched = chain.retriever.search(part.search, query, k=60 if alone else k + 4 * len(removed))
        if alone:
            fetched = [p for p in fetched if p.chunk.source in doc_pages[key]]
        passages = [p for p in fetched if p.chunk.source not in removed][:k]
        cands = chain.grounder.candidates(passages)
        if not cands:
            return
        if alone and rng.random() < 0.5:
            cands = [replace(c, heading_types=()) for c in cands]
        x = features(part, vector, cands, chain.cues, topic)
        y = np.array([chain.index.chunk(c.chunk_id).source == name for c in cands], dtype=np.int8)
        out.append((key, kind, text, x, y, alone))

    for key, name, row in pairs:
        lay = lay_question(row, rng)
        # in a many-topic corpus: the question names its topic
        for text in (row["question"], lay):
            part = chain.analyzer.analyse(text).parts[0]
            vector = chain.embedder.encode([part.search])[0]
            search(text, part, vector, set(), set(), False, "answerable", key, name)
            if rng.random() < 1 / 3:
                search(text, part, vector, set(), {name}, False, "uncovered", key, name)
            if rng.random() < 1 / 6:
                search(text, part, vector, set(), doc_pages[key], False, "offtopic", key, name)
        # as in a one-topic corpus (the kyphoplasty guide is one): only its own pages, the topic implicit
        # ("how is it treated?"), its words carried as context and left out of the compared text
        if len(doc_pages[key]) >= 3 and rng.random() < 1 / 2:
            focus = re.sub(r"\s*\([^)]*\)", "", row["focus"]).strip()
            text = re.sub(re.escape(focus), "it", lay, flags=re.I)
            if text == lay or text.lower().startswith("it "):
                continue
            topic = {stem(w) for w in content_words(focus)}
            part = chain.analyzer.analyse(text, context=focus).parts[0]
            need = " ".join(w for w in part.search.split() if stem(re.sub(r"\W", "", w.lower())) not in topic) or part.search
            vector = chain.embedder.encode([need])[0]
            search(text, part, vector, topic, {"*"}, True, "answerable", key, name)
            search(text, part, vector, topic, {name, "*"}, True, "uncovered", key, name)
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> tuple[np.ndarray, float]:
    """Class-balanced logistic regression whose weights keep the signs of ``ranker.SIGNS`` (more
    evidence never lowers the probability), fitted with L-BFGS-B."""
    from scipy.optimize import minimize

    from assistant.ranker import FEATURES, SIGNS

    w_pos = 0.5 / max(y.mean(), 1e-9)
    w_neg = 0.5 / max(1 - y.mean(), 1e-9)
    sample = np.where(y == 1, w_pos, w_neg) / len(y)

    def loss(theta):
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1 / (1 + np.exp(-z))
        value = np.sum(sample * (np.logaddexp(0, z) - y * z)) + l2 * w @ w
        grad_z = sample * (p - y)
        return value, np.append(x.T @ grad_z + 2 * l2 * w, grad_z.sum())

    bounds = [(0, None) if SIGNS[f] > 0 else (None, 0) if SIGNS[f] < 0 else (None, None) for f in FEATURES]
    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds + [(None, None)])
    return result.x[:-1], float(result.x[-1])


def share_below(values: np.ndarray, limit: float) -> float | None:
    return round(float((values < limit).mean()), 4) if len(values) else None


def old_selector(x: np.ndarray) -> np.ndarray:
    """The hand-weighted sentence score used before the ranker (answer.py until 2026-11-25)."""
    from assistant.ranker import FEATURES

    f = {name: x[:, i] for i, name in enumerate(FEATURES)}
    return 0.55 * f["cos"] + 0.35 * f["lex"] + 0.10 * f["lex_context"] + 0.25 * f["type_answer"]


def main() -> None:
    from assistant.ranker import FEATURES, MODEL_PATH, Ranker

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=600, help="topic pages to train and validate on")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--workdir", type=Path, help="keep the training corpus and index here (reused when present)")
    args = parser.parse_args()
    np.random.seed(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        chain, pairs, rng = build(args.docs, args.workdir or Path(tmp))
        data = examples(chain, pairs, rng)
    docs = sorted({d for d, *_ in data})
    random.Random(SEED).shuffle(docs)
    valid_docs = set(docs[: max(1, len(docs) // 5)])
    train = [e for e in data if e[0] not in valid_docs]
    valid = [e for e in data if e[0] in valid_docs]
    x = np.concatenate([e[3] for e in train])
    y = np.concatenate([e[4] for e in train])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    weights, bias = fit_logistic((x - mean) / scale, y)
    ranker = Ranker(mean.astype(np.float32), scale.astype(np.float32), weights.astype(np.float32), float(bias))

    def best(e, score):
        return float(score(e[3]).max())

    answerable = [e for e in valid if e[1] == "answerable" and e[4].any()]
    one_topic = [e for e in answerable if e[5]]
    answerable_many = [e for e in answerable if not e[5]]
    p_at_1 = np.mean([e[4][int(np.argmax(ranker.probabilities(e[3])))] for e in answerable])
    p_at_1_old = np.mean([e[4][int(np.argmax(old_selector(e[3])))] for e in answerable])
    pos = np.array([best(e, ranker.probabilities) for e in answerable_many])
    neg_unc = np.array([best(e, ranker.probabilities) for e in valid if e[1] == "uncovered" and not e[5]])
    neg_off = np.array([best(e, ranker.probabilities) for e in valid if e[1] == "offtopic"])
    pos_one = np.array([best(e, ranker.probabilities) for e in one_topic])
    neg_one = np.array([best(e, ranker.probabilities) for e in valid if e[1] == "uncovered" and e[5]])
    threshold = float(np.quantile(pos, FALSE_DECLINE_BUDGET))
    threshold_one = float(np.quantile(pos_one, FALSE_DECLINE_BUDGET)) if len(pos_one) else threshold
    ranker.threshold, ranker.threshold_one_topic = round(threshold, 4), round(threshold_one, 4)
    ranker.meta = {
        "trained": time.strftime("%Y-%m-%d"), "data": "MedQuAD train (CC BY 4.0), eval-collection topics left out",
        "topics": len(docs), "questions": len(data), "candidates": int(len(y)), "seed": SEED,
        "held_out": {"questions_answerable": len(answerable), "top1_precision": round(float(p_at_1), 4),
                     "top1_precision_previous_selector": round(float(p_at_1_old), 4),
                     "false_declines_at_threshold": round(float((pos < threshold).mean()), 4),
                     "uncovered_declined_at_threshold": share_below(neg_unc, threshold),
                     "offtopic_declined_at_threshold": share_below(neg_off, threshold),
                     "one_topic_questions_answerable": len(pos_one),
                     "one_topic_false_declines": round(float((pos_one < threshold_one).mean()), 4) if len(pos_one) else None,
                     "one_topic_uncovered_declined": share_below(neg_one, threshold_one)},
        "weights": {f: round(float(w), 3) for f, w in zip(FEATURES, weights)},
    }
    ranker.save(args.out)
    print(json.dumps(ranker.meta, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
