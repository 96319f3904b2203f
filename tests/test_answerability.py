"""The answerability model: in a one-topic guide, a sentence that only shares the asked-about thing
("cement") does not answer what is asked about it ("can it leak?")."""

import json

import pytest

from assistant.answerability import FEATURES, Answerability, unmatched
from assistant.ranker import MODEL_PATH
from tests.conftest import ask


def test_a_word_the_corpus_lacks_is_unmatched_but_not_a_typo_or_another_form():
    stems, roots = frozenset({"weak", "cement"}), frozenset({"weak", "cement"})
    assert unmatched("leak", stems, roots)
    assert not unmatched("weaker", stems, roots)  # its dictionary lemma "weak" is there
    assert not unmatched("worse", frozenset({"worsen"}), frozenset({"worsen"}))  # "-en" verb: "worsens"
    assert not unmatched("hom", stems, roots)  # no dictionary entry, one letter from "home": a typo says nothing


def test_the_model_is_what_declines_it(chain):
    grounder = chain.grounder
    model, grounder.answerability = grounder.answerability, None
    try:
        without = ask(chain, "Can the cement leak out?")
    finally:
        grounder.answerability = model
    assert without["kind"] == "answer" and "bone cement" in without["answer"]  # the rules alone "answer" it


@pytest.mark.parametrize("question, quoted", [
    ("Do the x-ray doctors do this op as well?", "Interventional Radiologists"),
    ("is thin bones the usual reason for these breaks?", "osteoporosis"),
    ("Could a car accident squash one of the bones in my spine?", "high-energy trauma"),
    ("will the needle go through the skin or do they cut me open?", "through the skin"),
])
def test_lay_questions_the_guide_answers_stay_answered(chain, question, quoted):
    out = ask(chain, question)
    assert out["kind"] == "answer" and quoted in out["answer"]


def test_the_evidence_of_a_question_the_guide_does_not_answer(chain):
    question = chain.analyzer.analyse("can the cement leak out of the bone?")
    result = chain.grounder.decide(chain.search(question)[0])
    ev = result.evidence
    assert [w for w, _ in ev.unmatched] == ["leak"] and ev.yes_no
    assert ev.drop_gain > 0  # without "leak" the question is nearer its best sentence: that sentence is silent on it
    assert not result.covered


def test_the_shipped_model_was_calibrated_on_tuned_data_within_its_budget():
    meta = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["meta"]["answerability"]
    assert tuple(meta["features"]) == FEATURES and Answerability.from_meta({"answerability": meta}) is not None
    assert "untuned" not in meta["data"]
    assert meta["out_of_fold"]["false_declines"] <= meta["false_decline_budget"]


def test_a_library_of_many_topics_has_no_answerability_model(tmp_path, embedder):
    from assistant import build_chain
    from assistant.settings import Settings

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "tea.md").write_text("# Tea\n\n## Green tea\n\nGreen tea is made from unoxidised leaves.\n")
    (corpus / "bread.md").write_text("# Bread\n\n## Baking\n\nBread is baked from flour, water and yeast.\n")
    chain = build_chain(Settings(corpus_dir=corpus, index_dir=tmp_path / "ix"), embedder=embedder)
    assert not chain.grounder.one_topic and chain.grounder.answerability is None
