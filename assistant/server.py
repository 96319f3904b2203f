"""The HTTP API and the chat page in one FastAPI app (``assistant serve``).

    POST /v1/ask               the chain's result, as ``chain.invoke`` returns it
    POST /v1/ask/stream        Server-Sent Events: ``answer`` pieces as they are made, then ``result``
    POST /v1/chat/completions  OpenAI-compatible (streaming or not): the assistant as a "model"
    GET  /v1/models            the one model it offers
    GET  /v1/info              corpus, index build, embedding model, generator
    GET  /healthz, /readyz     alive; index loaded and answering
    GET  /docs                 OpenAPI docs with the request and response schemas
    /                          the patients' chat page (Gradio), when served

Every error is a 4xx/5xx with a JSON body ``{"error": {"message", "type"}}`` (OpenAI's shape), never a
200 with an error inside and never a stack trace. Bodies over ``max_request_bytes`` are refused, the
API routes want ``Authorization: Bearer <ASSISTANT_API_KEY>`` when that is set, and no origin may call
the API from a browser unless ``ASSISTANT_CORS_ORIGINS`` names it. At most ``concurrency`` answers are
computed at once and ``max_queue`` more wait; beyond that the reply is 503 with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.chain import AssistantChain
from assistant.errors import AssistantError, IndexError_, InvalidQuestion, SettingsError
from assistant.schemas import AskResult, Message
from assistant.settings import Settings

log = logging.getLogger(__name__)


# -- request and response bodies ------------------------------------------------------------------

class AskRequest(BaseModel):
    question: str = Field(description="the question, in the patient's own words", examples=["Who performs kyphoplasty?"])
    chat_history: list[Message] = Field(default_factory=list, description="earlier messages, oldest first")
    top_k: int | None = Field(None, ge=1, le=20, description="passages retrieved per question part (default: the server's)")
    generator: Literal["extractive", "llm"] | None = Field(
        None, description="who writes the answer (default: the server's); 'llm' needs a model configured")


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """OpenAI's chat-completions request. The last user message is the question, earlier user and
    assistant messages the conversation; system messages are ignored (they cannot change what the
    assistant may say), as are sampling options such as temperature."""

    model: str = Field("", description="any value; GET /v1/models lists the one model")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    model_config = {"extra": "allow"}


class Health(BaseModel):
    status: str
    detail: str = ""


class Info(BaseModel):
    source_name: str
    subject: str
    corpus_dir: str
    index_build: str
    chunks: int
    sources: list[str]
    embedding_model: str
    generator: str
    model_id: str


class ErrorBody(BaseModel):
    error: dict[str, str] = Field(examples=[{"message": "The question is empty.", "type": "invalid_request_error"}])


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (400, 401, 413, 422, 503)}


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers or {}


def _error(status: int, message: str, kind: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)


# -- admission: a bounded number of answers at once, a bounded queue -------------------------------

class Gate:
    """At most ``running`` answers at once and ``waiting`` more queued; anyone beyond is told to retry."""

    def __init__(self, running: int, waiting: int) -> None:
        import anyio

        self._limiter = anyio.CapacityLimiter(running)
        self._admitted, self._most = 0, running + waiting

    def admit(self) -> None:
        if self._admitted >= self._most:
            raise ApiError(503, "The assistant is busy; please try again in a few seconds.", "busy",
                           {"Retry-After": "5"})
        self._admitted += 1

    def leave(self) -> None:
        self._admitted -= 1

    async def run(self, fn, *args: Any) -> Any:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)


# -- the app ----------------------------------------------------------------------------------------

def create_app(settings: Settings | None = None, chain: AssistantChain | None = None, *, page: bool = True) -> FastAPI:
    """The API (and, with ``page``, the chat page at /) over one chain, built here when not given."""
    from assistant.chain import build_chain

    settings = settings or Settings.from_env()
    chain = chain or build_chain(settings)
    chain.warm_up()
    gate = Gate(settings.concurrency, settings.max_queue)
    app = FastAPI(title=f"Questions about {chain.subject()}", version=_version(),
                  description=f"Grounded, cited answers from {settings.source_name}. Every answer sentence "
                              "carries [n]; `citations[n-1]` is the passage it comes from.")
    app.state.chain, app.state.settings, app.state.gate = chain, settings, gate
    app.state.prefill = chain.prefill()  # sentence vectors filled in the background (set it to stop)
    _add_error_handlers(app)
    if settings.cors_origins.strip():
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    api = [Depends(_bearer(settings.api_key))]

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health}}, tags=["health"])
    def readyz():
        """The index is loaded and a question can be answered."""
        try:
            parts = chain._current_parts()
        except Exception as exc:  # noqa: BLE001 - any reason not to be ready is reported, not raised
            return JSONResponse(Health(status="not ready", detail=str(exc)).model_dump(), status_code=503)
        return Health(status="ready", detail=f"index build {parts.index.manifest.build}")

    @app.get("/v1/info", response_model=Info, dependencies=api, responses=ERRORS, tags=["assistant"])
    def info() -> Info:
        """What the assistant answers from."""
        parts = chain._current_parts()
        return Info(source_name=settings.source_name, subject=chain.subject(), corpus_dir=str(settings.corpus_dir),
                    index_build=parts.index.manifest.build, chunks=len(parts.index.chunks),
                    sources=sorted({c.source for c in parts.index.chunks}), embedding_model=settings.embedding_model,
                    generator=_generator_name(chain), model_id=settings.model_id)

    @app.post("/v1/ask", response_model=AskResult, response_model_exclude_unset=True, dependencies=api,
              responses=ERRORS, tags=["assistant"])
    async def ask(body: AskRequest) -> dict:
        """One question (and the conversation so far) in, a cited answer out: what ``chain.invoke`` returns."""
        gate.admit()
        try:
            return await gate.run(chain.invoke, _chain_input(body), _config(body))
        finally:
            gate.leave()

    @app.post("/v1/ask/stream", dependencies=api, responses={200: {"content": {"text/event-stream": {}}}, **ERRORS},
              tags=["assistant"])
    async def ask_stream(body: AskRequest) -> StreamingResponse:
        """Server-Sent Events: ``event: answer`` with ``{"text": piece}`` as each piece of the answer is made
        (urgent advice first), then ``event: result`` with the whole result (as /v1/ask), then ``event: done``.
        A failure after the stream started is ``event: error`` with ``{"message"}``."""
        chain.parse(_chain_input(body))  # a bad question or setting is a 400 before the stream starts
        _check_generator(chain, _config(body))
        gate.admit()

        async def events() -> AsyncIterator[str]:
            try:
                text = ""
                async for piece in _pieces(gate, chain, _chain_input(body), _config(body)):
                    if "answer" in piece:
                        text += piece["answer"]
                        yield _sse("answer", {"text": piece["answer"]})
                    else:
                        yield _sse("result", {**piece, "answer": text})
                yield _sse("done", {})
            except Exception as exc:  # noqa: BLE001 - the client gets one plain line, the log the details
                yield _sse("error", {"message": _plain(exc)})
            finally:
                gate.leave()

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @app.get("/v1/models", dependencies=api, responses=ERRORS, tags=["openai"])
    def models() -> dict:
        """OpenAI-compatible: the one "model" this server offers."""
        return {"object": "list", "data": [{"id": settings.model_id, "object": "model", "created": 0,
                                             "owned_by": "kypho-assistant"}]}

    @app.post("/v1/chat/completions", dependencies=api, responses=ERRORS, tags=["openai"])
    async def chat_completions(body: ChatRequest):
        """OpenAI-compatible chat completions, streaming (``"stream": true``) or not. The reply's content is
        the answer followed by a numbered "Sources" list; the extra ``citations`` field (and, when
        streaming, the last chunk's) carries them as structured data, and ``assistant`` the flags
        (abstained, urgent, kind)."""
        question, history = _from_openai(body.messages)
        given = {"question": question, "chat_history": history}
        chain.parse(given)
        gate.admit()
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not body.stream:
            try:
                result = await gate.run(chain.invoke, given, None)
            finally:
                gate.leave()
            return {"id": reply_id, "object": "chat.completion", "created": created, "model": settings.model_id,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": result["answer"] + _sources_footer(result)}}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    "citations": result["citations"], "assistant": _flags(result)}

        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
            return "data: " + json.dumps({"id": reply_id, "object": "chat.completion.chunk", "created": created,
                                          "model": settings.model_id, **extra,
                                          "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]},
                                         ensure_ascii=False) + "\n\n"

        async def events() -> AsyncIterator[str]:
            try:
                yield chunk({"role": "assistant", "content": ""})
                async for piece in _pieces(gate, chain, given, None):
                    if "answer" in piece:
                        yield chunk({"content": piece["answer"]})
                    else:
                        yield chunk({"content": _sources_footer(piece)}, "stop",
                                    citations=piece["citations"], assistant=_flags(piece))
            except Exception as exc:  # noqa: BLE001
                yield "data: " + json.dumps({"error": {"message": _plain(exc), "type": "server_error"}}) + "\n\n"
            finally:
                gate.leave()
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @app.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def unknown(rest: str, request: Request) -> None:
        methods = {m for r in app.routes if getattr(r, "path", "") == f"/v1/{rest}" for m in getattr(r, "methods", ())}
        if methods:
            raise ApiError(405, f"/v1/{rest} takes {' or '.join(sorted(methods))}, not {request.method}.",
                           headers={"Allow": ", ".join(sorted(methods))})
        raise ApiError(404, f"There is no /v1/{rest}. See /docs for the routes.", "not_found")

    if page:
        import gradio as gr

        from assistant.ui import build_ui, mount_options

        app = gr.mount_gradio_app(app, build_ui(chain, settings), path="/", **mount_options(settings))
    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory`` (``assistant serve --workers N``): settings from the environment."""
    from assistant.chain import build_chain
    from assistant.settings import set_offline_env

    set_offline_env()
    settings = Settings.from_env()
    if settings.workers <= 1:
        return create_app(settings)
    # several processes: each reads a private copy of the index build (Chroma is not process-safe)
    return create_app(settings, build_chain(settings, private_index=True), page=False)


def serve(settings: Settings, workers: int = 1) -> None:
    """Run the app with uvicorn; ``workers`` > 1 runs that many processes over the same index."""
    import os
    from dataclasses import fields

    import uvicorn

    from assistant.embeddings import shared_embedder
    from assistant.index import ensure_index
    from assistant.ui import check_port

    check_port(settings.host, settings.port)
    if workers <= 1:
        app = create_app(settings)
        print(f"Open http://{settings.host}:{settings.port} in your browser (API docs at /docs).", flush=True)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        return
    ensure_index(settings, shared_embedder(settings.embedding_model))  # built once, here, before the workers open it
    for field in fields(settings):  # the workers read their settings from the environment
        os.environ[f"ASSISTANT_{field.name.upper()}"] = str(getattr(settings, field.name))
    os.environ["ASSISTANT_WORKERS"] = str(workers)
    print(f"API on http://{settings.host}:{settings.port}/v1 with {workers} worker processes (docs at /docs). "
          "The chat page needs one process: run `assistant serve` without --workers for it.", flush=True)
    uvicorn.run("assistant.server:app_factory", factory=True, host=settings.host, port=settings.port,
                workers=workers, log_level="warning")


# -- helpers ----------------------------------------------------------------------------------------

class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not they say their length."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/gradio_api", "/upload")):
            return await self.app(scope, receive, send)  # Gradio has its own limits (max_file_size)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _too_large(self.limit)(scope, receive, send)
        seen, refused = 0, False

        async def counted():  # a body without Content-Length is counted as it arrives
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    await _too_large(self.limit)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def unless_refused(message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted, unless_refused)
        except Exception:
            if not refused:
                raise


def _too_large(limit: int) -> JSONResponse:
    return _error(413, f"The request is larger than {limit:,} bytes.", "request_too_large")


def _bearer(key: str):
    async def check(request: Request) -> None:
        if not key:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise ApiError(401, "A valid API key is needed: send 'Authorization: Bearer <key>'.", "authentication_error",
                           {"WWW-Authenticate": "Bearer"})
    return check


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.kind, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg', '')}"
                             for e in exc.errors()[:5])
        return _error(422, f"The request is not valid: {problems}", "invalid_request_error")

    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        if isinstance(exc, IndexError_):
            return _error(503, str(exc), "index_unavailable")
        status = 400 if isinstance(exc, (InvalidQuestion, SettingsError)) else 500
        return _error(status, str(exc), "invalid_request_error" if status == 400 else "server_error")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = exc.status_code
        kind = "not_found" if code == 404 else "invalid_request_error" if code < 500 else "server_error"
        return _error(exc.status_code, str(exc.detail), kind)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unexpected error on %s", request.url.path)
        return _error(500, "Sorry, something went wrong while answering. Please try again.", "server_error")


def _chain_input(body: AskRequest) -> dict:
    return {"question": body.question, "chat_history": [m.model_dump() for m in body.chat_history]}


def _config(body: AskRequest) -> dict | None:
    options = {k: v for k, v in (("top_k", body.top_k), ("generator", body.generator)) if v is not None}
    return {"configurable": options} if options else None


def _check_generator(chain: AssistantChain, config: dict | None) -> None:
    """A model asked for where none is configured is a 400 before anything runs."""
    chain.model(chain.call_settings(config))


async def _pieces(gate: Gate, chain: AssistantChain, given: dict, config: dict | None) -> AsyncIterator[dict]:
    """``chain.stream`` run in the gate's worker threads, one piece at a time."""
    iterator: Iterator[dict] = await gate.run(chain.stream, given, config)
    done = object()
    while (piece := await gate.run(next, iterator, done)) is not done:
        yield piece


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _from_openai(messages: list[ChatMessage]) -> tuple[str, list[dict]]:
    """The last user message is the question; earlier user/assistant messages are the history."""
    said = [(m.role, _text(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1][0] != "user":
        raise ApiError(400, "The last message must be the user's question.")
    return said[-1][1], [{"role": role, "content": text} for role, text in said[:-1]]


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):  # OpenAI content parts: only the text parts are read
        return " ".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return content or ""


def _sources_footer(result: dict) -> str:
    """The citations as plain text, for chat clients that show only the message."""
    if not result.get("citations"):
        return ""
    lines = [f"[{c['id']}] {c['source']}{_page(c)} — {c['section']}: “{' … '.join(q['text'] for q in c['quotes'])}”"
             for c in result["citations"]]
    return "\n\nSources:\n" + "\n".join(lines)


def _page(citation: dict) -> str:
    return f", page {citation['page']}" if citation.get("page") else ""


def _flags(result: dict) -> dict:
    keys = ("abstained", "urgent", "kind", "missing", "notice", "search_query", "generator")
    return {key: result.get(key) for key in keys}


def _generator_name(chain: AssistantChain) -> str:
    """'extractive', or 'llm: ChatOpenAI qwen2.5' (never the key, nor the model server's address)."""
    model = chain.model()
    if model is None:
        return chain.settings.generator
    from assistant.llm import describe

    return f"llm: {describe(model[0].llm, address=False)}" if hasattr(model[0], "llm") else "llm"


def _plain(exc: Exception) -> str:
    if isinstance(exc, AssistantError):
        return str(exc)
    log.exception("Unexpected error while streaming")
    return "Sorry, something went wrong while answering. Please try again."


def _version() -> str:
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        return version("kypho-assistant")
    return "0"
