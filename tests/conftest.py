"""Shared fixtures: a real Chroma index in a temp folder, the real MiniLM model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.settings import ROOT, Settings, set_offline_env

set_offline_env()

SHARED = ROOT.parent / "shared"
MEDQUAD = SHARED / "benchmarks" / "medquad-seniorhealth-dev"


@pytest.fixture(scope="session")
def embedder():
    from assistant.embeddings import shared_embedder

    e = shared_embedder("all-MiniLM-L6-v2")
    e.warm_up()
    return e


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """The real corpus, indexed into a temp folder once per test session."""
    return Settings(index_dir=tmp_path_factory.mktemp("index"),
                    feedback_db=tmp_path_factory.mktemp("fb") / "feedback.sqlite3")


@pytest.fixture(scope="session")
def chain(settings, embedder):
    from assistant.chain import build_chain

    return build_chain(settings, embedder=embedder)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A private copy of the corpus that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", target)
    return target


def ask(chain, question: str, history: list | None = None) -> dict:
    return chain.invoke({"question": question, "chat_history": history or []})
