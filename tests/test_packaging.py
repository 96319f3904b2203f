"""The wheel carries everything the assistant needs, and an installed (non-editable) copy works from
any folder: prompts, evals, the guide, the ranker and the word list ship inside the package; the index
and feedback go to the user's cache and data folders."""

import os
import subprocess
import sys
import zipfile

import pytest

from assistant.settings import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT),
                          "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return next(out.glob("*.whl"))


def test_the_wheel_holds_prompts_evals_corpus_and_models(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("assistant/evals/runner.py", "assistant/prompts/urgent.yaml", "assistant/prompts/not_covered.j2",
                   "assistant/eval_data/suite.yaml", "assistant/eval_data/patients-untuned.yaml",
                   "assistant/corpus/kyphoplasty.md", "assistant/models/ranker.json",
                   "assistant/data/medical_terms.txt"):
        assert needed in names, needed


@pytest.mark.slow
def test_an_installed_copy_answers_from_another_folder(wheel, tmp_path):
    site = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("ASSISTANT_")}
    ask = subprocess.run([sys.executable, "-m", "assistant", "ask", "Who performs kyphoplasty?"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=600)
    assert ask.returncode == 0, ask.stderr[-2000:]
    assert "Neurosurgeons" in ask.stdout
    assert (tmp_path / "cache" / "kypho-assistant" / "index" / "manifest.json").exists()
    assert str(site) in subprocess.run([sys.executable, "-c", "import assistant; print(assistant.__file__)"],
                                       capture_output=True, text=True, env=env, cwd=tmp_path).stdout
