"""A small OpenAI-compatible HTTP server for tests: ``/v1/chat/completions`` answers with scripted
completions (streamed as server-sent events, or as one JSON body), errors, delays or garbage, so the
real ``langchain-openai`` client is exercised end to end. It runs no model: each request's reply is
``script(request_body)``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # before the first byte
    token_delay: float = 0.0  # between streamed pieces
    raw: bytes | None = None  # sent as the body instead (garbage)
    sse: bool | None = None  # None: as the request asked


class ScriptedServer:
    """``with ScriptedServer(script) as server:`` — ``server.url`` is the base URL (``.../v1``),
    ``server.requests`` the JSON bodies and headers received."""

    def __init__(self, script: Callable[[dict], Reply]) -> None:
        self.script = script
        self.requests: list[tuple[dict, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append((body, dict(self.headers)))
                reply = outer.script(body)
                time.sleep(reply.delay)
                try:
                    outer._send(self, body, reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its deadline): fine

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, body: dict, reply: Reply) -> None:
        if reply.status != 200 or reply.raw is not None:
            data = reply.raw if reply.raw is not None else json.dumps(
                {"error": {"message": f"scripted error {reply.status}", "type": "server_error"}}).encode()
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        model = body.get("model", "scripted")
        if not (body.get("stream") if reply.sse is None else reply.sse):
            data = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": model,
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": reply.text}}],
                               "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        pieces = [reply.text[i:i + 7] for i in range(0, len(reply.text), 7)]
        for piece in pieces:
            event = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            handler.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            handler.wfile.flush()
            time.sleep(reply.token_delay)
        end = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        handler.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        handler.wfile.flush()
