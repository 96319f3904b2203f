"""The command line. In-process (``cli.main``) on temp index folders, so the model loads once for the
suite; one test runs a real subprocess to check the process boundary (exit codes, stderr)."""

import json
import os
import subprocess
import sys

import pytest

from assistant.cli import main
from assistant.settings import ROOT


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys, embedder):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "ix"))
    monkeypatch.chdir(ROOT)

    def run(*args, **env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_index_is_idempotent_and_rebuild_forces(cli):
    code, out, _ = cli("index")
    assert code == 0 and out.startswith("Built") and "8 chunks" in out
    assert cli("index")[1].startswith("Up to date")
    assert cli("index", "--rebuild")[1].startswith("Built")


def test_ask_prints_answer_and_sources_or_json(cli):
    code, out, _ = cli("ask", "Who performs kyphoplasty?")
    assert code == 0 and "Neurosurgeons" in out and "[1] kyphoplasty.md" in out
    as_json = json.loads(cli("ask", "How much does it cost?", "--json")[1])
    assert as_json["abstained"] is True and as_json["citations"] == [] and as_json["notes"]


@pytest.mark.parametrize("args, env, message", [
    (("ask", "hi"), {"ASSISTANT_CORPUS_DIR": "/nonexistent/corpus"}, "does not exist"),
    (("ask", "   "), {}, "empty"),
    (("ask", "hi"), {"ASSISTANT_TOP_K": "many"}, "ASSISTANT_TOP_K"),
    (("index",), {"ASSISTANT_EMBEDDING_MODEL": "some/hub-model"}, "cannot be downloaded"),
    (("eval", "--dataset", "evals/kyphoplasty.yaml", "--compare", "/nonexistent/report.json"), {}, "compare"),
    (("eval", "--dataset", "evals/kyphoplasty.yaml", "--thresholds", "README.md"), {}, "thresholds file"),
    (("feedback", "export", "-o", "/nonexistent/folder/out.csv"), {}, "does not exist"),
])
def test_user_errors_are_one_line_and_exit_2(cli, args, env, message):
    code, _, err = cli(*args, **env)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_threshold_gate_applies_to_a_relative_dataset_path(cli, tmp_path, monkeypatch):
    import assistant.evals.runner as runner

    impossible = tmp_path / "thresholds.yaml"
    impossible.write_text("kyphoplasty:\n  min: {fact_recall: 1.01}\n")
    monkeypatch.setattr(runner, "DEFAULT_THRESHOLDS", impossible)
    code, _, err = cli("eval", "--dataset", "evals/kyphoplasty.yaml", "--no-progress")
    assert code == 1 and "fact_recall" in err


def test_the_process_boundary(tmp_path):
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(tmp_path / "ix"), "ASSISTANT_CORPUS_DIR": str(tmp_path / "none")}
    run = subprocess.run([sys.executable, "-m", "assistant", "ask", "hi"], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=300)
    assert run.returncode == 2 and run.stderr.startswith("error:") and "Traceback" not in run.stderr
    helped = subprocess.run([sys.executable, "app.py", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert helped.returncode == 0 and "--port" in helped.stdout
