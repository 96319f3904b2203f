"""The index on a real Chroma server (`chroma run` on a free loopback port): build, answer, rebuild while
serving, two app processes without local files reading the same server, and a server that is away."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.build import build_index
from assistant.chain import build_chain
from assistant.errors import IndexError_, IndexMissing
from assistant.settings import ROOT, Settings
from tests.processes import free_port, launch, stop, wait_ready

pytestmark = pytest.mark.server
CHROMA = Path(sys.executable).with_name("chroma")
NEW_SECTION = """

## Recovery at Home

Most patients walk within a few hours and go home the same day. A short course of gentle walking
is encouraged during the first week after kyphoplasty.
"""


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    port = free_port()
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(tmp_path_factory.mktemp("chroma")), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.25)
    else:
        proc.kill()
        pytest.fail("chroma run did not start")
    yield url
    proc.terminate()
    proc.wait(20)


def _settings(chroma_url: str, tmp_path: Path, prefix: str, corpus: Path | None = None) -> Settings:
    return Settings(chroma_url=chroma_url, chroma_prefix=prefix, corpus_dir=corpus or ROOT / "corpus",
                    index_dir=tmp_path / "local", feedback_db=tmp_path / "fb.sqlite3")


def _collections(url: str) -> list[str]:
    import chromadb

    api = chromadb.HttpClient(host="127.0.0.1", port=int(url.rsplit(":", 1)[1]))
    return sorted(c if isinstance(c, str) else c.name for c in api.list_collections())


def test_build_and_answer_as_a_local_index_does(chroma_url, tmp_path, embedder, chain):
    settings = _settings(chroma_url, tmp_path, "same")
    with pytest.raises(IndexMissing, match="No index on the Chroma server"):
        from assistant.index import open_index

        open_index(settings, embedder)
    manifest, built = build_index(settings, embedder)
    assert built and manifest.chunk_count == len(chain.index.chunks)
    assert build_index(settings, embedder) == (manifest, False)  # up to date: nothing rebuilt
    remote = build_chain(settings, embedder=embedder)
    for q in ("Who performs kyphoplasty?", "what causes the bones to collapse?", "How much does it cost?"):
        got, expected = remote.invoke(q), chain.invoke(q)
        assert (got["answer"], got["citations"]) == (expected["answer"], expected["citations"])
    assert not (tmp_path / "local").exists() or not list((tmp_path / "local").glob("build-*"))  # nothing local


def test_rebuilds_while_serving_swap_and_clean_up(chroma_url, tmp_path, embedder, corpus_copy):
    settings = _settings(chroma_url, tmp_path, "swap", corpus_copy)
    first, _ = build_index(settings, embedder)
    serving = build_chain(settings, embedder=embedder)
    assert serving.invoke("how long until I can walk after it?")["abstained"]
    (corpus_copy / "kyphoplasty.md").write_text((corpus_copy / "kyphoplasty.md").read_text() + NEW_SECTION)
    second, built = build_index(settings, embedder)  # no "Collection already exists" on a rebuild
    assert built and second.build != first.build
    time.sleep(1.1)  # a process re-reads the server's manifest at most once a second
    answer = serving.invoke("how long until I can walk after it?")
    assert "walk within a few hours" in answer["answer"] and serving.index.manifest.build == second.build
    third, _ = build_index(settings, embedder, force=True)
    names = [n for n in _collections(chroma_url) if n.startswith("swap-")]
    # the current build and the one before it stay; older builds are deleted
    assert sorted(names) == sorted(["swap-manifest", f"swap-{second.build}-chunks", f"swap-{third.build}-chunks"])


def test_two_app_processes_without_local_files(chroma_url, tmp_path, embedder, chain):
    settings = _settings(chroma_url, tmp_path, "apps")
    build_index(settings, embedder)
    env = {"ASSISTANT_CHROMA_URL": chroma_url, "ASSISTANT_CHROMA_PREFIX": "apps",
           "ASSISTANT_CORPUS_DIR": str(tmp_path / "no-corpus-here")}
    apps = []
    try:
        for n in range(2):  # one app with two worker processes, one with one; each starts in its own folder
            workdir = tmp_path / f"app{n}"
            workdir.mkdir()
            apps.append(launch({**env, "ASSISTANT_INDEX_DIR": str(workdir / "index"),
                                "ASSISTANT_FEEDBACK_DB": str(workdir / "fb.sqlite3")}, "--workers", str(2 - n)))
        for proc, url in apps:
            wait_ready(proc, url)
        urls = [url for _, url in apps]
        question = "Who performs kyphoplasty?"
        expected = chain.invoke(question)
        for url in urls * 3:
            got = httpx.post(url + "/v1/ask", json={"question": question}, timeout=60).json()
            assert (got["answer"], got["citations"]) == (expected["answer"], expected["citations"])
        for n in range(2):  # neither process wrote an index of its own
            assert not list((tmp_path / f"app{n}").rglob("chroma.sqlite3"))
    finally:
        for proc, _ in apps:
            stop(proc)


def test_a_server_that_is_away_is_one_clear_line(tmp_path, embedder):
    settings = _settings(f"http://127.0.0.1:{free_port()}", tmp_path, "away")
    with pytest.raises(IndexError_, match="Cannot reach the Chroma server at http://127.0.0.1:.*chroma run"):
        build_index(settings, embedder)
    result = subprocess.run([sys.executable, "-m", "assistant", "ask", "hello"], capture_output=True, text=True,
                            env={**os.environ, "ASSISTANT_CHROMA_URL": settings.chroma_url}, timeout=120)
    assert result.returncode == 2 and "Cannot reach the Chroma server" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_prefix_or_url_is_refused():
    from assistant.errors import SettingsError

    with pytest.raises(SettingsError, match="ASSISTANT_CHROMA_PREFIX"):
        Settings(chroma_prefix="no spaces!")
    with pytest.raises(SettingsError, match="is not a URL"):
        from assistant.remote_index import client

        client(Settings(chroma_url="ftp://x"))

