"""The command line, run as a user would (a subprocess), on temp index folders."""

import json
import os
import subprocess
import sys

from assistant.settings import ROOT


def run(*args, tmp_path, **env):
    environ = {**os.environ, "ASSISTANT_INDEX_DIR": str(tmp_path / "ix"), **env}
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          cwd=ROOT, env=environ, timeout=300)


def test_index_is_idempotent_and_rebuild_forces(tmp_path):
    first = run("index", tmp_path=tmp_path)
    assert first.returncode == 0 and first.stdout.startswith("Built") and "8 chunks" in first.stdout
    again = run("index", tmp_path=tmp_path)
    assert again.stdout.startswith("Up to date") and "8 chunks" in again.stdout
    forced = run("index", "--rebuild", tmp_path=tmp_path)
    assert forced.stdout.startswith("Built") and "8 chunks" in forced.stdout


def test_ask_prints_answer_and_sources_or_json(tmp_path):
    plain = run("ask", "Who performs kyphoplasty?", tmp_path=tmp_path)
    assert plain.returncode == 0 and "Neurosurgeons" in plain.stdout and "[1] kyphoplasty.md" in plain.stdout
    as_json = json.loads(run("ask", "How much does it cost?", "--json", tmp_path=tmp_path).stdout)
    assert as_json["abstained"] is True and as_json["citations"] == []


def test_user_errors_are_one_line_and_exit_2(tmp_path):
    missing = run("ask", "hi", tmp_path=tmp_path, ASSISTANT_CORPUS_DIR=str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    empty = run("ask", "   ", tmp_path=tmp_path)
    assert empty.returncode == 2 and "empty" in empty.stderr and "Traceback" not in empty.stderr
    bad_setting = run("ask", "hi", tmp_path=tmp_path, ASSISTANT_TOP_K="many")
    assert bad_setting.returncode == 2 and "ASSISTANT_TOP_K" in bad_setting.stderr
    bad_model = run("index", tmp_path=tmp_path, ASSISTANT_EMBEDDING_MODEL="some/hub-model")
    assert bad_model.returncode == 2 and "cannot be downloaded" in bad_model.stderr
