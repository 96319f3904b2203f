"""The learned sentence ranker: the shipped weights load and rank a known case; the training script runs."""

import json
import subprocess
import sys

import numpy as np
import pytest

from assistant.ranker import FEATURES, MODEL_PATH, Ranker, cue_counts, term_weights
from assistant.settings import ROOT
from tests.conftest import SHARED


def test_the_shipped_model_matches_the_feature_code():
    ranker = Ranker.load()
    assert MODEL_PATH.exists() and len(ranker.weights) == len(FEATURES)
    assert 0.0 < ranker.threshold < 1.0
    held_out = ranker.meta["held_out"]
    assert held_out["top1_precision"] > held_out["top1_precision_previous_selector"]  # the card's claim


@pytest.mark.parametrize("question, counted", [
    ("does a compression fracture cause back pain?", True),  # the pain follows "causes": it answers
    ("What sort of pain does a vertebral compression fracture usually cause?", True),  # the effect asked first
    ("what usually causes a VCF?", False),  # says what the collapse causes, not what causes it
    # one asked word ("vertebral") after the cue is not what is asked: most of it must follow
    ("What causes vertebral compression fractures?", False),
    ("why do old people's backs break so easily", False),  # no cue in the question: most of what it asks
])
def test_a_forward_cause_word_counts_only_when_what_is_asked_about_follows_it(chain, question, counted):
    part = chain.analyzer.analyse(question).parts[0]
    effects = [(s, w, alt) for s, w, _, alt in term_weights(part, chain.grounder.topic_stems) if w >= 0.5]
    sentence = ("The collapse causes severe, localized back pain that often worsens with movement and can lead to a "
                "loss of vertebral height and a forward spinal curvature known as kyphosis.")
    assert (cue_counts(sentence, part, chain.cues, effects)[0] > 0) is counted


def test_a_passive_cause_question_counts_the_cue_that_leads_to_its_effect(chain):
    part = chain.analyzer.analyse("Is back pain caused by osteoporosis?").parts[0]
    effects = [(s, w, alt) for s, w, _, alt in term_weights(part, chain.grounder.topic_stems) if w >= 0.5]
    assert cue_counts("Osteoporosis causes back pain.", part, chain.cues, effects)[0] > 0


def test_more_evidence_means_a_higher_probability():
    ranker = Ranker.load()
    base = np.array([ranker.mean], dtype=np.float32)
    better = base.copy()
    for name in ("cos", "lex", "lex_passage"):
        better[0, FEATURES.index(name)] += 2 * ranker.scale[FEATURES.index(name)]
    assert ranker.probabilities(better)[0] > ranker.probabilities(base)[0]


def test_a_known_question_ranks_the_answering_sentence_first(chain):
    question = chain.analyzer.analyse("What causes compression fractures?")
    result = chain.search(question)[0]
    assert "osteoporosis" in result.scored[0][1].text or "result from" in result.scored[0][1].text


@pytest.mark.slow
def test_the_training_script_runs_end_to_end(tmp_path):
    if not (SHARED / "benchmarks" / "medquad-train").exists():
        pytest.skip("../shared/benchmarks is not beside this checkout")
    out = tmp_path / "ranker.json"
    run = subprocess.run([sys.executable, "scripts/train_ranker.py", "--docs", "12", "--out", str(out),
                          "--workdir", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    model = json.loads(out.read_text())
    assert model["features"] == list(FEATURES) and "top1_precision" in model["meta"]["held_out"]
