"""The patient chat page (Gradio). ``build_ui(chain, settings)`` returns the Blocks app without
launching it; ``serve(settings)`` builds the chain (indexing first if needed) and launches.

Per-session state only (``gr.State``): conversations never mix. Named API endpoints: ``/ask``
(the same dict as ``chain.invoke``) and ``/feedback``.
"""

from __future__ import annotations

import html
import re

import gradio as gr

from assistant.answer import highlight_html
from assistant.chain import AssistantChain, build_chain
from assistant.errors import AssistantError
from assistant.feedback import FeedbackStore
from assistant.settings import Settings

CSS = """
.gradio-container {font-size: 18px !important; max-width: 1200px !important; margin: auto}
#disclaimer {background: #fff8e1; border: 2px solid #8a6d00; color: #3d3000; padding: 10px 14px; border-radius: 8px}
.urgent-box {background: #fde7e7; border: 3px solid #b00020; color: #5c0011; padding: 10px; border-radius: 8px;
              font-weight: 600}
.abstained-box {background: #eef2f7; border-left: 6px solid #5b6b82; padding: 8px 12px; border-radius: 6px}
.source {border: 1px solid #c9d3e0; border-radius: 8px; padding: 10px 14px; margin-bottom: 10px; background: #fbfcfe}
.source:target, .source.active {outline: 3px solid #1f5fbf}
.source mark {background: #ffe066; color: #111}
a.cite {font-weight: 700; color: #1f4fa0; text-decoration: underline}
button {min-height: 44px}
"""

SOURCES_EMPTY = "<p id='sources-empty'>Sources for each answer appear here.</p>"


def build_ui(chain: AssistantChain, settings: Settings) -> gr.Blocks:
    store = FeedbackStore(settings.feedback_db, settings.feedback_retention_days)
    disclaimer = chain.safety.disclaimer

    def respond(message: str, chat: list, history: list):
        """Stream one answer into the chat; the sources panel fills when it is complete."""
        message = message if isinstance(message, str) else ""
        try:
            chain.parse({"question": message, "chat_history": []})
        except AssistantError as exc:
            gr.Warning(str(exc))
            yield message, chat, history, gr.skip(), gr.skip()
            return
        chat = chat + [{"role": "user", "content": _inert(message.strip())},
                       {"role": "assistant", "content": "…"}]
        text, result = "", {}
        for piece in chain.stream({"question": message, "chat_history": history}):
            if "answer" in piece:
                text += piece["answer"]
                chat[-1] = {"role": "assistant", "content": _render_answer(text, {})}
                yield "", chat, history, gr.skip(), gr.skip()
            else:
                result = dict(piece)
        result["answer"] = text
        chat[-1] = {"role": "assistant", "content": _render_answer(text, result)}
        history = history + [("user", message), ("assistant", text)]
        yield "", chat, history, _render_sources(result), result

    def new_conversation():
        return [], [], SOURCES_EMPTY, {}, "", "Started a new conversation."

    def give_feedback(rating: str, comment: str, result: dict):
        if not result or not result.get("answer"):
            return comment, "Ask a question first, then rate its answer."
        try:
            store.record(rating, result.get("question", ""), result["answer"], result.get("citations", []), comment)
        except AssistantError as exc:
            return comment, f"Sorry, your feedback could not be saved: {exc}"
        return "", "Thank you — your feedback was saved."

    def api_ask(question: str, chat_history: list) -> dict:
        """The same result as chain.invoke: answer, citations, abstained, urgent, ..."""
        try:
            return chain.invoke({"question": question, "chat_history": chat_history or []})
        except AssistantError as exc:
            return {"error": str(exc)}

    def api_feedback(rating: str, question: str, answer: str, comment: str = "") -> dict:
        """Store feedback on an answer (rating 'up' or 'down')."""
        try:
            return {"id": store.record(rating, question, answer, [], comment)}
        except AssistantError as exc:
            return {"error": str(exc)}

    name = settings.source_name
    with gr.Blocks(title=f"Questions about {name}") as demo:
        gr.Markdown(f"# Ask about {_inert(chain.subject())}\nAnswers come only from {_inert(name)}, "
                    "and every sentence links to the passage it comes from.")
        gr.HTML(f"<div id='disclaimer' role='note'>ℹ️ {html.escape(disclaimer)}</div>")
        history = gr.State([])
        last = gr.State({})
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chatbot = gr.Chatbot(label="Conversation", height=460, elem_id="chat", sanitize_html=True,
                                     feedback_options=None, buttons=["copy"])
                question = gr.Textbox(label="Your question", placeholder="Type your question and press Enter",
                                      lines=1, max_lines=6, elem_id="question", autofocus=True)
                with gr.Row():
                    ask_btn = gr.Button("Ask", variant="primary", elem_id="ask")
                    new_btn = gr.Button("New conversation", elem_id="new-conversation")
                gr.Examples(list(settings.examples) or chain.example_questions(), inputs=question,
                            label="Example questions (click one)")
            with gr.Column(scale=2, min_width=300):
                sources = gr.HTML(SOURCES_EMPTY, label="Sources", elem_id="sources")
                gr.Markdown("### Was this answer helpful?")
                with gr.Row():
                    up = gr.Button("👍 Helpful", elem_id="thumbs-up")
                    down = gr.Button("👎 Not helpful", elem_id="thumbs-down")
                comment = gr.Textbox(label="Comment (optional)", lines=2, elem_id="feedback-comment")
                status = gr.Markdown("", elem_id="feedback-status")

        outputs = [question, chatbot, history, sources, last]
        question.submit(respond, [question, chatbot, history], outputs, api_visibility="private")
        ask_btn.click(respond, [question, chatbot, history], outputs, api_visibility="private")
        new_btn.click(new_conversation, None, [chatbot, history, sources, last, question, status],
                      api_visibility="private")
        up.click(lambda c, r: give_feedback("up", c, r), [comment, last], [comment, status], api_visibility="private")
        down.click(lambda c, r: give_feedback("down", c, r), [comment, last], [comment, status],
                   api_visibility="private")
        gr.api(api_ask, api_name="ask")
        gr.api(api_feedback, api_name="feedback")
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.max_queue)
    demo.css_text = CSS
    return demo


def _render_answer(text: str, result: dict) -> str:
    """Answer as safe HTML: [n] markers become links to the sources panel."""
    body = _inert(text)
    body = re.sub(r"&#91;(\d+)&#93;", r'<a class="cite" href="#source-\1" aria-label="source \1">[\1]</a>', body)
    body = body.replace("\n\n", "<br><br>").replace("\n", "<br>")
    if result.get("urgent") and result.get("urgent_advice"):
        advice = _inert(result["urgent_advice"])
        body = body.replace(advice, f'<div class="urgent-box" role="alert">{advice}</div>', 1)
    if result.get("abstained") and not result.get("urgent"):
        body = f'<div class="abstained-box">{body}</div>'
    return body


# HTML specials and Markdown punctuation as character references, in one pass
_INERT = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'[]()!*_`#~|\\$:"})


def _inert(text: str) -> str:
    """Text shown exactly as typed or quoted: no HTML and no Markdown (a "![x](url)" in a message or a
    corpus file must not become an image the browser fetches)."""
    return text.translate(_INERT)


def _render_sources(result: dict) -> str:
    citations = result.get("citations") or []
    if not citations:
        return "<p id='sources-empty'>No passages were cited for this reply.</p>"
    parts = []
    for c in citations:
        parts.append(f'<div class="source" id="source-{c["id"]}"><b>[{c["id"]}] {html.escape(c["section"])}</b>'
                     f'<br><small>{html.escape(c["source"])}</small><p>{highlight_html(c["text"], c["quotes"])}</p></div>')
    return "".join(parts)


MAX_UPLOAD = "1kb"  # the page takes no files: Gradio's upload route refuses anything bigger than this


def serve(settings: Settings) -> None:
    """Build the chain and serve the page; a port in use or not allowed is a one-line AssistantError."""
    chain = build_chain(settings)
    demo = build_ui(chain, settings)
    _check_port(settings.host, settings.port)
    print(f"Open http://{settings.host}:{settings.port} in your browser.")
    demo.launch(**launch_options(settings))


def launch_options(settings: Settings) -> dict:
    """How the page is served (also by the tests): loopback by default, no error details, no uploads."""
    return {"server_name": settings.host, "server_port": settings.port, "css": CSS, "show_error": False,
            "max_file_size": MAX_UPLOAD}


def _check_port(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AssistantError(f"Cannot serve on {host}:{port} ({exc.strerror}). Choose another port with "
                                 "--port or ASSISTANT_PORT.") from None
