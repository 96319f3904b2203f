"""The edges: hostile input, damaged or read-only indexes, odd corpora, feedback faults, privacy.

Each test reproduces a reported defect and fails without its fix.
"""

import json
import os
import sqlite3
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from assistant.build import build_index
from assistant.errors import AssistantError, CorpusError, IndexDamaged, InvalidQuestion, SettingsError
from assistant.feedback import FeedbackStore
from assistant.index import ensure_index, open_index
from assistant.ingest import Document, chunk_document, load_corpus
from assistant.manifest import read_manifest
from assistant.safety import clean
from assistant.settings import Settings
from tests.conftest import ask

HOSTILE = ["<script" * 40000, "[" * 200000, "](" * 100000, "![a](" * 50000, "<" * 200000, "&lt;" * 50000,
           "\x1b[" * 100000, "javascript:" * 20000, "*_`#" * 50000]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:8]))
def test_cleaning_is_linear_on_hostile_text(text):
    start = time.perf_counter()
    clean(text)
    assert time.perf_counter() - start < 2.0  # a quadratic pattern takes minutes on these


def test_a_huge_history_turn_is_cut_not_chewed(chain):
    start = time.perf_counter()
    out = chain.invoke({"question": "What are its risks?", "chat_history": [["user", "<script" * 40000]] * 3})
    assert time.perf_counter() - start < 5.0 and out["history_trimmed"] >= 1


def test_only_the_latest_turns_are_read(chain):
    history = [("user", "What causes compression fractures?"), ("assistant", "Osteoporosis.")] * 30
    assert ask(chain, "what about tumours?", history)["history_trimmed"] == 60 - chain.settings.max_history_turns


def test_terminal_codes_and_none_entries_leave_no_fragments(chain):
    out = ask(chain, "\x1b[31mWho performs kyphoplasty?\x1b[0m", [None, ("user", None)])
    assert "31m" not in out["question"] and "Neurosurgeons" in out["answer"]
    assert "none" not in out["search_query"].lower()


# -- index faults ------------------------------------------------------------------------------------

@pytest.fixture
def built(tmp_path, corpus_copy, embedder):
    settings = Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "ix")
    build_index(settings, embedder)
    return settings


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """An index big enough that Chroma keeps a real HNSW graph on disk (it writes one per 1,000 items; the
    rest lives in its log): 1,200 chunks, built by another process, as `assistant index` would."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("populated")
    corpus = root / "corpus"
    corpus.mkdir()
    sections = [f"## Topic {i}\n\n" + " ".join(f"Fact {j} about topic {i} is worth knowing in detail." for j in range(2))
                for i in range(1200)]
    (corpus / "guide.md").write_text("# A long guide\n\n" + "\n\n".join(sections))
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(root / "ix"),
           "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "assistant", "index"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-1500:]
    return Settings(corpus_dir=corpus, index_dir=root / "ix")


def _graph_file(settings, name="data_level0.bin"):
    from assistant.hnsw_check import HNSW_HEADER

    manifest = read_manifest(settings.index_dir)
    for path in sorted((settings.index_dir / manifest.build).rglob(name)):
        header = HNSW_HEADER.unpack((path.parent / "header.bin").read_bytes()[: HNSW_HEADER.size])
        if header[3] > 0:  # a segment with nodes on disk
            return path
    pytest.fail("no HNSW graph on disk")


@pytest.mark.parametrize("name", ["data_level0.bin", "link_lists.bin", "header.bin"])
def test_a_damaged_hnsw_file_is_detected_before_chroma_reads_it(populated, embedder, tmp_path, name):
    import shutil

    settings = populated.with_(index_dir=tmp_path / "ix")
    shutil.copytree(populated.index_dir, settings.index_dir)
    target = _graph_file(settings, name)
    target.write_bytes(os.urandom(target.stat().st_size))  # Chroma would crash the process (segfault) on this
    with pytest.raises(IndexDamaged, match="damaged"):
        open_index(settings, embedder)
    manifest, rebuilt = build_index(settings, embedder)  # `assistant index` checks the files, not only the manifest
    assert rebuilt and open_index(settings, embedder).chunks


def test_a_damaged_index_heals_on_start(populated, embedder, tmp_path):
    import shutil

    settings = populated.with_(index_dir=tmp_path / "ix")
    shutil.copytree(populated.index_dir, settings.index_dir)
    target = _graph_file(settings)
    target.write_bytes(os.urandom(target.stat().st_size))
    assert ensure_index(settings, embedder).chunks


def test_using_an_index_does_not_make_it_look_damaged(populated, embedder):
    import subprocess
    import sys

    code = ("from assistant.chain import build_chain; from assistant.settings import Settings; from pathlib import Path;"
            f"build_chain(Settings(corpus_dir=Path({str(populated.corpus_dir)!r}), "
            f"index_dir=Path({str(populated.index_dir)!r}))).invoke('What is fact 1 about topic 7?')")
    for _ in range(2):  # Chroma rewrites parts of its files when a process that used them exits
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert run.returncode == 0 and "damaged" not in run.stderr, run.stderr[-1500:]
    build = read_manifest(populated.index_dir).build
    assert open_index(populated, embedder).chunks and read_manifest(populated.index_dir).build == build


def test_a_read_only_index_is_served_from_a_copy(built, embedder, monkeypatch):
    import assistant.index as index_module

    paths = [built.index_dir, *built.index_dir.rglob("*")]
    before = {p: p.stat().st_mtime_ns for p in paths if p.is_file()}
    for p in paths:
        p.chmod(0o500 if p.is_dir() else 0o400)
    monkeypatch.setattr(index_module, "_writable", lambda path: os.access(path, os.W_OK) and os.getuid() != 0)
    try:
        index = ensure_index(built, embedder)  # root may write anyway: _writable above says what a user would see
        assert index.chunks and {p: p.stat().st_mtime_ns for p in before} == before
    finally:
        for p in paths:
            p.chmod(0o700 if p.is_dir() else 0o600)


def test_an_empty_build_name_never_opens_the_index_folder_itself(built, embedder):
    manifest_path = built.index_dir / "manifest.json"
    data = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**data, "build": ""}))
    assert read_manifest(built.index_dir) is None
    ensure_index(built, embedder)
    assert not (built.index_dir / "chroma.sqlite3").exists()


def test_partial_builds_of_killed_runs_are_removed(built, embedder):
    orphan = built.index_dir / "build-19990101-000000-dead00"
    orphan.mkdir()
    (orphan / "chroma.sqlite3").write_bytes(b"partial")
    build_index(built, embedder, force=True)
    assert not orphan.exists()


# -- corpus hygiene -----------------------------------------------------------------------------------

def test_duplicate_files_are_indexed_once_and_reported(corpus_copy):
    (corpus_copy / "copy.md").write_bytes((corpus_copy / "kyphoplasty.md").read_bytes())
    corpus = load_corpus(corpus_copy)
    assert len(corpus.documents) == 1 and any("the same text as" in s for s in corpus.skipped)


def test_links_outside_the_corpus_are_refused(corpus_copy, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("Private notes that must not be indexed.")
    (corpus_copy / "link.txt").symlink_to(secret)
    corpus = load_corpus(corpus_copy)
    assert all("Private notes" not in d.text for d in corpus.documents)
    assert any("outside the corpus folder" in s for s in corpus.skipped)


def test_a_corpus_path_that_is_a_file_says_so(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("# Guide\n\nText.")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        load_corpus(path)


def test_chunking_is_linear_in_lines():
    text = "\n".join(f"Heading {i}\nA line of text that is a little longer than its heading." for i in range(60000))
    start = time.perf_counter()
    chunks = chunk_document(Document("big.txt", "Big", text), 600)
    assert chunks and time.perf_counter() - start < 20  # the quadratic version took minutes


# -- feedback -------------------------------------------------------------------------------------------

def test_feedback_db_is_private_and_formulas_are_defused(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.record("down", "=HYPERLINK(\"http://x\",\"y\")", "answer", [], "+1 bad")
    assert stat.S_IMODE((tmp_path / "fb.sqlite3").stat().st_mode) == 0o600
    csv_text = store.export("csv")
    assert "'=HYPERLINK" in csv_text and "'+1 bad" in csv_text


def test_feedback_errors_are_one_line_messages(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.record("up", "q", "a", [], None)  # comment None is no comment
    with pytest.raises(AssistantError, match="is a folder"):
        store.export_to("csv", tmp_path)
    with pytest.raises(AssistantError, match="does not exist"):
        store.export_to("csv", tmp_path / "missing" / "out.csv")
    bad = FeedbackStore(tmp_path / "not-a-db.sqlite3")
    (tmp_path / "not-a-db.sqlite3").write_bytes(b"\x00" * 4096 + b"garbage")
    with pytest.raises(AssistantError, match="cannot be used"):
        bad.record("up", "q", "a", [])


def test_feedback_older_than_the_retention_period_is_deleted(tmp_path):
    path = tmp_path / "fb.sqlite3"
    FeedbackStore(path).record("up", "old question", "answer", [])
    with sqlite3.connect(path) as con:
        con.execute("UPDATE feedback SET created_at = '2000-01-01T00:00:00+00:00'")
    FeedbackStore(path, retention_days=30).record("up", "new question", "answer", [])
    assert [r["question"] for r in FeedbackStore(path).all()] == ["new question"]


# -- privacy and start-up ---------------------------------------------------------------------------

class _Sink(BaseHTTPRequestHandler):
    hits: list = []

    def do_POST(self):  # noqa: N802
        _Sink.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_PATCH = do_POST  # noqa: N815

    def log_message(self, *args):
        pass


def test_tracing_stays_off_even_when_the_environment_turns_it_on(chain, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGCHAIN_TRACING_V2", "true")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("LANGSMITH_API_KEY", "test")
    from assistant.settings import set_offline_env

    set_offline_env()
    ask(chain, "Who performs kyphoplasty?")
    time.sleep(1.5)  # a tracer posts in the background
    server.shutdown()
    assert _Sink.hits == []


def test_prompt_data_missing_a_key_is_named_at_start(tmp_path, settings):
    import shutil

    from assistant.prompts import Prompts
    from assistant.safety import Safety

    folder = tmp_path / "prompts"
    shutil.copytree(settings.prompts_dir, folder)
    text = (folder / "urgent.yaml").read_text()
    (folder / "urgent.yaml").write_text(text.replace("advice:", "advise:", 1))
    with pytest.raises(SettingsError, match="urgent.yaml lacks 'advice'"):
        Safety(Prompts(folder), "the guide")


def test_an_empty_question_is_refused_before_the_model_loads(capsys):
    from assistant.cli import main

    start = time.perf_counter()
    assert main(["ask", "   "]) == 2
    assert "empty" in capsys.readouterr().err and time.perf_counter() - start < 5


def test_a_busy_port_is_a_one_line_error(chain):
    import socket

    from assistant.ui import check_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(AssistantError, match="Choose another port"):
            check_port("127.0.0.1", busy.getsockname()[1])


def test_bad_questions_still_raise_invalid_question(chain):
    with pytest.raises(InvalidQuestion):
        chain.invoke({"question": "\x1b[31m\x1b[0m", "chat_history": []})


def test_settings_outside_a_checkout_point_to_user_folders(monkeypatch, tmp_path):
    import assistant.settings as s

    monkeypatch.setattr(s, "IN_CHECKOUT", False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert s.default_path("index") == tmp_path / "cache" / "kypho-assistant" / "index"
    assert s.default_path("prompts") == Path(s.__file__).parent / "prompts"


def test_a_running_chain_picks_up_a_new_build(tmp_path, corpus_copy, embedder):
    from assistant.chain import build_chain

    settings = Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "ix")
    chain = build_chain(settings, embedder=embedder)
    first = chain.index.manifest.build
    (corpus_copy / "tea.md").write_text("# Green tea\n\nGreen tea is made from unoxidised leaves.\n")
    build_index(settings, embedder)  # another process, say `assistant index`, rebuilds beside the server
    out = ask(chain, "How is green tea made?")
    assert chain.index.manifest.build != first and "unoxidised leaves" in out["answer"]
