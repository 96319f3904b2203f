"""The optional language model: built from Settings, read as text within a hard deadline.

``build_llm(settings)`` makes a LangChain chat model for an OpenAI-compatible server (vLLM,
llama.cpp's server, LM Studio, a cloud endpoint: ``langchain-openai``) or for Ollama
(``langchain-ollama``); any other LangChain chat model can be passed to ``build_chain(llm=...)``.
Nothing connects until the first question.

``stream_text`` reads a model's reply as text pieces as they arrive, and gives up at a deadline:
the HTTP client's own timeouts are per read (a server trickling tokens could hold a patient for
minutes), so the reply is read in a worker thread and the caller stops waiting when time is up.
Every way a model can fail (server down, HTTP error, wrong key, timeout, non-text content, an
enormous reply) ends as one ``ModelFailure`` with a one-line reason; what the patient gets instead
is decided by the chain (the extractive answer).

This module does not judge what the model says: that is ``guard.py``.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from assistant.errors import SettingsError
from assistant.settings import Settings

MAX_REPLY_CHARS = 6000  # a longer reply is cut here (a patient's answer is a few sentences)
_DONE = object()


class ModelFailure(Exception):
    """The model gave no usable reply (an error, a timeout, no text). Not an ``AssistantError``: the
    patient never sees it, the chain answers extractively and logs ``str(exc)``."""


def build_llm(settings: Settings) -> BaseChatModel:
    """The chat model ``ASSISTANT_LLM_*`` describe. Raises ``SettingsError`` when one is missing."""
    if not settings.llm_model.strip():
        raise SettingsError("ASSISTANT_GENERATOR=llm needs ASSISTANT_LLM_MODEL (the model's name on the server).")
    if settings.llm_provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(model=settings.llm_model, base_url=settings.llm_base_url or None, temperature=0,
                          num_predict=settings.llm_max_tokens, client_kwargs={"timeout": settings.llm_timeout})
    if not settings.llm_base_url.strip():
        raise SettingsError("ASSISTANT_GENERATOR=llm needs ASSISTANT_LLM_BASE_URL, e.g. http://127.0.0.1:8000/v1 "
                            "(an OpenAI-compatible server) or ASSISTANT_LLM_PROVIDER=ollama.")
    from langchain_openai import ChatOpenAI

    # a local server needs no key, but the OpenAI client insists on one
    return ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url, api_key=settings.llm_api_key or "none",
                      timeout=settings.llm_timeout, max_retries=0, temperature=0, max_tokens=settings.llm_max_tokens)


def describe(llm: Any, address: bool = True) -> str:
    """'ChatOpenAI qwen2.5 at http://...' for log lines (never the key; ``address=False``: no URL, for
    what clients of the API see)."""
    name = getattr(llm, "model_name", None) or getattr(llm, "model", None) or ""
    where = (getattr(llm, "openai_api_base", None) or getattr(llm, "base_url", None) or "") if address else ""
    return " ".join(str(p) for p in (type(llm).__name__, name, f"at {where}" if where else "") if p)


def stream_text(llm: Any, messages: list, deadline: float, config: RunnableConfig | None = None) -> Iterator[str]:
    """The reply's text as it arrives. Raises ``ModelFailure`` on any error, on a non-text piece, or
    when ``time.monotonic()`` passes ``deadline`` (the worker thread is left to end on its own client
    timeout). A reply longer than ``MAX_REPLY_CHARS`` is cut there."""
    pieces: queue.Queue = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in llm.stream(messages, config=config):
                pieces.put(chunk)
                if stop.is_set():
                    return
        except Exception as exc:  # every client's errors differ: all of them mean "no usable reply"
            pieces.put(exc)
        pieces.put(_DONE)

    context = contextvars.copy_context()  # tracing context travels to the worker
    threading.Thread(target=context.run, args=(read,), daemon=True, name="llm-stream").start()
    size = 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ModelFailure("timed out")
            try:
                item = pieces.get(timeout=left)
            except queue.Empty:
                raise ModelFailure("timed out") from None
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise ModelFailure(_one_line(item))
            text = _text_of(item)
            if size + len(text) > MAX_REPLY_CHARS:
                yield text[: MAX_REPLY_CHARS - size]
                return
            size += len(text)
            yield text
    finally:
        stop.set()


def ask_text(llm: Any, messages: list, deadline: float, config: RunnableConfig | None = None) -> str:
    """The whole reply as one string, within the deadline (for short replies such as a rewrite)."""
    return "".join(stream_text(llm, messages, deadline, config))


def _text_of(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks: keep the text ones
        texts = [b if isinstance(b, str) else b.get("text", "") for b in content
                 if isinstance(b, str) or (isinstance(b, dict) and b.get("type") in ("text", None))]
        if texts or not content:
            return "".join(t for t in texts if isinstance(t, str))
    raise ModelFailure(f"the model sent {type(content).__name__}, not text")


def _one_line(exc: Exception) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message[:200]}" if message else type(exc).__name__


def deadline_after(seconds: float) -> float:
    return time.monotonic() + seconds
