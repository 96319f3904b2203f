"""The eval suite: each metric can fail, and the kyphoplasty suite meets its thresholds."""

import copy
import hashlib
import json

import pytest

from assistant.evals import Case, check_thresholds, evaluate, load_cases, run_eval
from assistant.evals.runner import DEFAULT_DATASET, DEFAULT_SUITE, DEFAULT_THRESHOLDS, load_suite, load_thresholds
from assistant.settings import ROOT
from tests.conftest import MEDQUAD, ask

WHO = Case(id="who", question="Who performs kyphoplasty?",
           facts=(("interventional radiolog",), ("orthop(a)?edic",), ("neurosurgeon",)))


@pytest.fixture(scope="module")
def good(chain):
    return ask(chain, WHO.question)


def test_a_good_answer_scores_full_marks(good, embedder):
    v = evaluate(WHO, good, embedder.encode)
    assert v.passed and v.fact_recall == v.faithfulness == v.citation_accuracy == 1.0
    assert v.retrieval_hit == 1.0


def test_a_fabricated_sentence_lowers_faithfulness(good, embedder):
    bad = copy.deepcopy(good)
    bad["answer"] += " Kyphoplasty cures cancer in most patients within a week. [1]"
    v = evaluate(WHO, bad, embedder.encode)
    assert v.faithfulness < 1.0 and "cures cancer" in v.unsupported[0] and not v.passed


def test_a_wrong_citation_lowers_citation_accuracy(chain, good, embedder):
    other = ask(chain, "What causes compression fractures?")["citations"][0]
    bad = copy.deepcopy(good)
    bad["citations"][0] = {**other, "id": 1}
    v = evaluate(WHO, bad, embedder.encode)
    assert v.citation_accuracy < 1.0 and not v.passed


def test_a_missing_fact_lowers_recall(good):
    bad = copy.deepcopy(good)
    bad["answer"] = bad["answer"].replace("Neurosurgeons", "other doctors")
    v = evaluate(WHO, bad)
    assert v.fact_recall == pytest.approx(2 / 3) and v.missing_facts == ["neurosurgeon"]


def test_an_answered_off_topic_case_fails(good):
    case = Case(id="off", question="What is the capital of France?", expect="decline")
    assert evaluate(case, good).behaviour == 0.0


def test_an_urgent_false_alarm_fails(chain):
    out = ask(chain, "I fell and now have sudden severe back pain")
    v = evaluate(Case(id="x", question="q", facts=(("pain",),)), out)
    assert "urgent false alarm" in v.problems


def test_thresholds_name_the_failing_metric():
    failures = check_thresholds({"fact_recall": 0.5, "urgent_false_alarm_rate": 0.2},
                                {"min": {"fact_recall": 0.9}, "max": {"urgent_false_alarm_rate": 0.0}})
    assert len(failures) == 2 and failures[0].startswith("fact_recall = 0.5")


def test_dataset_is_large_and_covers_every_section():
    cases = load_cases(DEFAULT_DATASET)
    assert len(cases) >= 50
    categories = {c.category for c in cases}
    assert {"overview", "conditions", "specialists", "interventional radiology", "orthopedic surgeons",
            "neurosurgeons", "choosing a provider", "not covered", "off-topic", "urgent", "injection",
            "follow-up", "small talk"} <= categories
    assert any(c.history for c in cases) and any(c.expect == "urgent" for c in cases)


def test_the_first_sentence_and_the_note_are_checked(good):
    case = Case(id="x", question="q", facts=(("neurosurgeon",),), first=("never in any answer",))
    assert "first quoted sentence" in " ".join(evaluate(case, good).problems)
    declined = {"answer": "I'm sorry, the guide does not say how much it costs.", "abstained": True,
                "kind": "not_covered", "citations": [], "notes": ["say how much it costs"], "urgent": False}
    assert evaluate(Case(id="d", question="q", expect="decline", missing=("cost",)), declined).passed
    assert not evaluate(Case(id="d", question="q", expect="decline", missing=("insur",)), declined).passed


def test_a_note_denying_a_word_the_source_has_is_nonsense():
    out = {"answer": "...", "abstained": True, "kind": "not_covered", "citations": [], "urgent": False,
           "notes": ["mention hospital"]}
    v = evaluate(Case(id="n", question="q", expect="decline"), out, corpus_text="performed in a hospital")
    assert v.nonsense_note == 1.0 and not v.passed


UNTUNED = {"evals/patients-untuned.yaml": "4acc84c1908fa0f2f3ecd906c334726ddfd51881e39fa9ed7845cad32d75c983",
           "evals/patients-2-untuned.yaml": "485b13f144885b6ceae61872c1bab2ce1b2781fac881f47858d585d3c7f69c09",
           "evals/patients-3-untuned.yaml": "96af44a3a175e7c5e995bb89740607172b3cb285d69a00bd8f65d246bc2bae86",
           "evals/patients-4-untuned.yaml": "5adbb5bd5d341582a9fe279fb1ad2c3950e0cc82332d6d4fe3e928b1946d749e",
           "evals/patients-5-untuned.yaml": "a3099db79d1e18049adbd08128dcde993c59459ae4612d001146a32ef5f04910",
           "evals/patients-6-untuned.yaml": "c1038c0b48983600a841ec72d0ec5cd3dc8068f037d6344586043bcf63be690f",
           "evals/redflags-untuned.yaml": "da71b8eeb019a83bd90aea6ae14a83d25973328ecbea0ef9b434aebe12b24a0c",
           "evals/redflags-2-untuned.yaml": "e72fc11e79db7520d9067ca0a24e8fd5725bb7ce66bb1e459276421debc33a17",
           "evals/redflags-3-untuned.yaml": "c820e2962f2c3cd9889e044888c3111742b528636506bd8b9542a091a87f7801",
           "evals/redflags-4-untuned.yaml": "f13eaf002727498a9102e08a66881c7d2e62c3f636a508a47b1812ab9b1b72d3",
           "evals/followups-untuned.yaml": "89bdbd022dd8f6374076e0b5cafaa16b431c92f421b47de050667081dfebec60",
           "evals/followups-2-untuned.yaml": "6556bb7f4ee8e3136fc75f0f34ccc5b53c0c8a876632f1b7fd733cde40461fcd",
           "evals/followups-3-untuned.yaml": "8a7c004cb7d6d1a38dfffe62e4526aeb6401c10746b309148ada2b1f063498a4",
           "evals/followups-4-untuned.yaml": "e3f992b6757d4b1083e5e44a3fa6134979f0f058dcb0f0e796a44273d5aeb137",
           "evals/redflags-5-untuned.yaml": "306efb7b6f59e5924c8e8f46335c09bf616ca3c15ce90d33716573a0a04a4e3c",
           "evals/patients-7-untuned.yaml": "72749735682def45622159ace818f609deee225b9d004a4c0576c69311780130",
           "evals/yesno-untuned.yaml": "a209b40ead135ad5615380b7d1be4360ae847e57ddae36a0f3c965ab73f98244",
           "evals/answerability-untuned.yaml": "3f8e4541faa1df68871d1b2f6a2cdda7ad06a9bd8b94512870e99ac97b187793",
           "evals/guard_cases_heldout.yaml": "218fe479f10a97f9a709730a9a0fcaad3475bbcf311578c59117c2cfa37ed24e",
           "evals/guard_cases_heldout2.yaml": "eb8c0855e591f29373a88771b8a25a7163e7ad2cd976d20dafc0b72ca8b02e6b"}


@pytest.mark.parametrize("path, digest", UNTUNED.items())
def test_the_untuned_splits_are_frozen(path, digest):
    assert hashlib.sha256((ROOT / path).read_bytes()).hexdigest() == digest, f"{path} was edited"


@pytest.mark.slow
def test_every_split_meets_its_thresholds(chain, embedder):
    thresholds = load_thresholds(DEFAULT_THRESHOLDS)
    for name, split in load_suite(DEFAULT_SUITE).items():
        report = run_eval(chain, load_cases(split["dataset"]), embed=embedder.encode)
        assert check_thresholds(report["summary"], thresholds[name]) == [], name


@pytest.mark.slow
def test_eval_cli_writes_json_and_html_reports(tmp_path, settings, monkeypatch, capsys, embedder):
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    monkeypatch.chdir(ROOT)
    # one split, twice (the whole suite runs once per session, in the thresholds test above)
    assert main(["eval", "--dataset", "evals/patients-tuned.yaml", "--report", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "fact_recall" in out and "patients-tuned" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert "answer" in report["splits"]["patients-tuned"]["cases"][0]
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "<details" in html and "<script" not in html and "patients-tuned" in html
    main(["eval", "--dataset", "evals/patients-tuned.yaml", "--report", str(tmp_path / "2"), "--no-progress",
          "--compare", str(tmp_path / "report.json")])
    assert "Compared with previous" in capsys.readouterr().out


@pytest.mark.slow
def test_the_tutorial_peer_answers_with_its_top_chunk(tmp_path, embedder):
    from assistant.evals.peer import TutorialPipeline

    peer = TutorialPipeline(ROOT / "corpus", embedder, tmp_path / "peer")
    out = peer.invoke({"question": "Who performs kyphoplasty?"})
    assert out["citations"][0]["text"] in out["answer"] and not out["abstained"]
    assert peer.chunks >= 4  # 1,000-character chunks of the guide


@pytest.mark.slow
def test_medquad_gold_set_over_its_own_corpus(tmp_path, embedder):
    if not MEDQUAD.exists():
        pytest.skip("../shared/benchmarks is not beside this checkout")
    from assistant.chain import build_chain
    from assistant.settings import Settings

    chain = build_chain(Settings(corpus_dir=MEDQUAD / "corpus", index_dir=tmp_path / "ix"), embedder=embedder)
    cases = load_cases(MEDQUAD / "questions.jsonl")[::5]  # every fifth question keeps CI fast
    summary = run_eval(chain, cases)["summary"]
    # measured on the full set (README): gold passage cited 0.90, declined 0.03; margin for the subset
    assert summary["gold_cited"] >= 0.8 and summary["declined"] <= 0.1, summary
