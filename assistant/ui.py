"""The patient chat page (Gradio). ``build_ui(chain, settings)`` returns the Blocks app without
launching it; ``serve(settings)`` builds the chain (indexing first if needed) and launches.

- Each answer carries its own sources: its [n] open that answer's passages, listed under it with
  the quoted sentences highlighted and a link back to the answer.
- The conversation lives in the browser (``gr.BrowserState``): a server restart or a reload keeps
  it, and each tab's conversation is its own. Clearing or starting over clears everything.
- The question shows at once with a typing indicator; the answer streams in as it is made; urgent
  advice comes first and the newest answer is scrolled into view.
- Thumbs on every answer (one record per answer per rating), an optional comment, announced to
  screen readers. "Copy" gives plain text: the answer with [n] and a numbered source list.
- Nothing typed or quoted is ever rendered as HTML or Markdown.
- With ``ASSISTANT_SHOW_GUARD`` (for staff), each answer says which generator wrote it and what the
  citation guard removed, and why.

Named API endpoints: ``/ask`` (the same dict as ``chain.invoke``) and ``/feedback``.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from pathlib import Path

import gradio as gr

from assistant.chain import AssistantChain
from assistant.errors import AssistantError
from assistant.feedback import FeedbackStore
from assistant.settings import Settings

MAX_UPLOAD = "1kb"  # the page takes no files: Gradio's upload route refuses anything bigger than this
REPAINT_AFTER = 0.15  # seconds: streamed pieces closer together than this reach the page as one update
TYPING = '<span class="typing" role="status" aria-label="The assistant is answering">Looking in the guide…</span>'

CSS = """
.gradio-container {font-size: 19px !important; max-width: 960px !important; margin: auto; line-height: 1.55}
#intro h1 {font-size: 1.7em; margin: .2em 0}
#disclaimer {background: #fff8e1; border: 2px solid #8a6d00; color: #2b2200; padding: 10px 14px; border-radius: 8px}
.urgent-box {background: #fde7e7; border: 3px solid #b00020; color: #4a000d; padding: 10px; border-radius: 8px;
             font-weight: 600; margin-bottom: .6em}
.abstained-box {background: #eef2f7; border-left: 6px solid #4d5b70; color: #1b2430; padding: 8px 12px; border-radius: 6px}
.sources {margin-top: .7em; border-top: 1px solid #9aa8ba; padding-top: .4em}
.sources summary {cursor: pointer; font-weight: 600; color: #163d7a}
.source {border: 1px solid #9aa8ba; border-radius: 8px; padding: 8px 12px; margin: 8px 0; background: #f7f9fc;
         color: #1a1a1a}
.source.active, .source:focus {outline: 3px solid #1f4fa0}
.source mark {background: #ffe066; color: #111}
a.cite {font-weight: 700; color: #163d7a; text-decoration: underline}
a.back {font-weight: 700; color: #163d7a; text-decoration: underline}
a.copy-answer {font-weight: 700; color: #163d7a; text-decoration: underline}
a.cite {padding: 0 2px}
.plain {display: none}
.answer-tools {margin-top: .4em; font-size: .9em}
.typing {font-style: italic; color: #3b4654}
.staff-note {font-size: .8em; color: #3b4654; border-top: 1px dashed #9aa8ba; margin-top: .5em; padding-top: .3em}
#status {min-height: 1.4em; color: #0b4d1f; font-weight: 600}
button {min-height: 44px}
button.primary {background: #1f4fa0 !important; color: #ffffff !important; border-color: #1f4fa0 !important}
footer {display: none !important}
#reconnecting {position: fixed; top: 0; left: 0; right: 0; z-index: 1000; background: #1f4fa0; color: #fff;
               padding: 10px 16px; text-align: center; font-weight: 600}
.dark #disclaimer {background: #3a3000; border-color: #e0c04a; color: #fff6d6}
.dark .urgent-box {background: #4a0a12; border-color: #ff6b7d; color: #ffe3e6}
.dark .abstained-box {background: #26303d; border-left-color: #9fb3cc; color: #eef3f9}
.dark .source {background: #1e2530; border-color: #6f7f95; color: #eef1f5}
.dark .source mark {background: #f5d76e; color: #111}
.dark a.cite {color: #9cc3ff}
.dark a.back {color: #9cc3ff}
.dark a.copy-answer {color: #9cc3ff}
.dark .sources summary {color: #9cc3ff}
.dark .typing {color: #c9d3df}
.dark .staff-note {color: #c9d3df}
.dark #status {color: #8fe3a8}
@media (max-width: 600px) {.gradio-container {font-size: 17px !important; padding: 0 6px !important}}
"""

# In the page: [n] opens and focuses that answer's source; "Back to the answer" returns; "Copy"
# copies the plain text; the newest answer is scrolled into view as it arrives.
HEAD = """
<script>
(() => {
  const reveal = (el) => { if (!el) return; const d = el.closest('details'); if (d) d.open = true;
    document.querySelectorAll('.source.active').forEach(s => s.classList.remove('active'));
    el.classList.add('active'); el.scrollIntoView({block: 'center'}); el.focus({preventScroll: true}); };
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a.cite, a.back, a.copy-answer');
    if (!a) return;
    e.preventDefault();
    const id = (a.getAttribute('href') || '').slice(1);
    if (a.classList.contains('copy-answer')) {
      const text = document.getElementById(id);
      if (text && navigator.clipboard) navigator.clipboard.writeText(text.textContent)
        .then(() => { a.textContent = 'Copied'; setTimeout(() => { a.textContent = 'Copy answer'; }, 2000); });
      return;
    }
    const target = document.getElementById(id);
    if (a.classList.contains('back')) {
      if (target) { target.scrollIntoView({block: 'start'}); target.focus({preventScroll: true}); }
      return;
    }
    reveal(target);
  });
  const live = () => { const s = document.getElementById('status');
    if (s && !s.getAttribute('role')) { s.setAttribute('role', 'status'); s.setAttribute('aria-live', 'polite'); } };
  let last = '';
  const follow = () => {
    const answers = document.querySelectorAll('#chat .answer');
    const newest = answers[answers.length - 1];
    const key = newest ? newest.id + newest.textContent.length : '';
    if (newest && key !== last) { last = key; newest.scrollIntoView({block: 'start'}); }
    live();
  };
  new MutationObserver(follow).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
  // a lost connection (a restart, a network drop) is said in plain words; the conversation stays
  const banner = document.createElement('div');
  banner.id = 'reconnecting'; banner.setAttribute('role', 'status'); banner.hidden = true;
  banner.textContent = 'The assistant is reconnecting. Your conversation is kept on this page; please wait a moment.';
  const check = () => fetch(window.location.pathname + 'gradio_api/info', {cache: 'no-store'})
    .then(r => { banner.hidden = r.ok; }).catch(() => { banner.hidden = false; });
  const start = () => { document.body.prepend(banner); setInterval(check, 3000); };
  if (document.readyState === 'complete') start(); else window.addEventListener('load', start);
})();
</script>
"""

# Gradio 6.31's loading indicator starts an elapsed-time loop (each animation frame asks for the next)
# and is removed from the page in the same update that would stop the loop, so every idle page redraws
# 60 times a second for as long as it is open. The loop calls the status tracker module's own reference
# to requestAnimationFrame, taken when the module is evaluated. This script is served before Gradio's
# modules, at the start of the page's <head> (``FirstInHead``; ``HEAD`` comes too late: Gradio's
# frontend adds it after its modules have run), and puts a wrapper in place of requestAnimationFrame.
# Until the first status tracker is on the page the wrapper passes every call through; from then on
# (the module has its reference) the page's own function is back for every caller that looks it up,
# and only the kept reference goes on through the wrapper, under one rule: a chain of frames (a
# callback that asks for the next frame while it runs) that has gone on for 2 s is ended unless an
# event is pending (a status tracker shows its queue place or timer, ".progress-text"). A pending
# event's timer runs as long as it shows, and stops itself after; the orphaned loop ends 2 s after the
# page loaded, or at its first frame once nothing is pending. Nothing else on the page is touched.
FRAMES = """<script>
(() => {
  const own = window.requestAnimationFrame;
  const tracker = '[data-testid="status-tracker"]';
  const pending = () => document.querySelector(`${tracker}:not(.hide) .progress-text`) !== null;
  let kept = false;  // the status tracker module has taken its reference
  let began = null;  // when the chain of the callback running now began
  const wrapper = (callback) => {
    if (!kept && document.querySelector(tracker)) {
      kept = true;
      window.requestAnimationFrame = own;
    }
    if (!kept) return own.call(window, callback);
    const chain = began ?? performance.now();
    return own.call(window, (time) => {
      if (time - chain > 2000 && !pending()) return;  // a timer that nothing pending shows: end it
      began = chain;
      try { callback(time); } finally { began = null; }
    });
  };
  window.requestAnimationFrame = wrapper;
})();
</script>"""


def build_ui(chain: AssistantChain, settings: Settings) -> gr.Blocks:
    store = FeedbackStore(settings.feedback_db, settings.feedback_retention_days)
    disclaimer = chain.safety.disclaimer
    name = settings.source_name

    def restore(saved: dict):
        """A reload or a server restart: the conversation comes back from the browser. The question box
        opens only then, so that nothing typed first is answered without it or wiped by it."""
        saved = _valid(saved)
        return _messages(saved), saved, gr.update(interactive=True)

    def respond(message: str, saved: dict):
        """Show the question at once, then stream the answer into the page."""
        saved = _valid(saved)
        message = message if isinstance(message, str) else ""
        try:
            chain.parse({"question": message, "chat_history": []})
        except AssistantError as exc:
            gr.Warning(str(exc))
            yield message, _messages(saved), gr.skip(), gr.skip()
            return
        turn = len(saved["turns"])
        shown = _messages(saved) + [{"role": "user", "content": _inert(message.strip())},
                                    {"role": "assistant", "content": TYPING}]
        yield "", shown, gr.skip(), ""  # the saved conversation changes once, with the whole answer
        text, result, painted = "", {}, 0.0
        try:
            for piece in chain.stream({"question": message, "chat_history": _history(saved)}):
                if "answer" in piece:
                    text += piece["answer"]
                    if time.monotonic() - painted < REPAINT_AFTER:
                        continue  # pieces that come quickly are shown together: fewer repaints in every browser
                    painted = time.monotonic()
                    shown[-1] = {"role": "assistant", "content": _render_answer(text, {}, turn)}
                    yield gr.skip(), shown, gr.skip(), gr.skip()  # a question typed meanwhile stays in the box
                else:
                    result = dict(piece)
        except AssistantError as exc:
            gr.Warning(str(exc))
            yield message, _messages(saved), gr.skip(), gr.skip()
            return
        except Exception:  # never a stack trace or a parse error on the patient's page
            gr.Warning("Sorry, something went wrong while answering. Please try again in a moment.")
            yield message, _messages(saved), gr.skip(), gr.skip()
            return
        result["answer"] = text
        turns = saved["turns"] + [{"question": message.strip(), "answer": text,
                                   "citations": _slim(result.get("citations", [])), "urgent": bool(result.get("urgent")),
                                   "urgent_advice": result.get("urgent_advice", ""),
                                   "abstained": bool(result.get("abstained")),
                                   "staff": staff_note(result) if settings.show_guard else ""}]
        saved = {**saved, "turns": turns}
        yield gr.skip(), _messages(saved), saved, ""

    def new_conversation():
        return [], _fresh(), "", "Started a new conversation."

    def on_like(data: gr.LikeData, saved: dict):
        saved = _valid(saved)
        turn = data.index // 2 if isinstance(data.index, int) else data.index[0] // 2
        if data.liked is None or not 0 <= turn < len(saved["turns"]):
            return saved, ""
        t = saved["turns"][turn]
        rating = "up" if data.liked else "down"
        try:
            record = store.record(rating, t["question"], t["answer"], t.get("citations", []),
                                  key=f"{saved['id']}:{turn}")
        except AssistantError as exc:
            return saved, f"Sorry, your feedback could not be saved: {exc}"
        saved = {**saved, "rated": record}
        return saved, "Thank you — your feedback was saved. You can add a comment below."

    def send_comment(comment: str, saved: dict):
        saved = _valid(saved)
        if not saved.get("rated"):
            return comment, "Rate an answer with a thumb first, then add your comment."
        try:
            store.add_comment(int(saved["rated"]), comment or "")
        except AssistantError as exc:
            return comment, f"Sorry, your comment could not be saved: {exc}"
        return "", "Thank you — your comment was saved."

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

    with gr.Blocks(title=f"Questions about {name}") as demo:
        gr.HTML(f"<div id='intro'><h1>Ask about {_inert(chain.subject())}</h1><p>Answers come only from "
                f"{_inert(name)}, and every sentence links to the passage it comes from.</p>"
                f"<div id='disclaimer' role='note'>{_inert(disclaimer)}</div></div>")
        saved = gr.BrowserState(_fresh(), storage_key=_STORAGE_KEY, secret=_browser_secret(settings))
        chatbot = gr.Chatbot(show_label=False, label="Conversation", height=520, elem_id="chat", autoscroll=True,
                             sanitize_html=False, render_markdown=False, buttons=[], feedback_options=("Like", "Dislike"),
                             placeholder=f"<p class='placeholder'>Ask a question about {_inert(chain.subject())} below. "
                                         "You can write it in your own words.</p>")
        question = gr.Textbox(label="Your question", placeholder="Type your question and press Enter",
                              lines=1, max_lines=6, elem_id="question", interactive=False)
        with gr.Row():
            ask_btn = gr.Button("Ask", variant="primary", elem_id="ask")
            new_btn = gr.Button("New conversation", elem_id="new-conversation")
        gr.Examples(chain.example_questions(), inputs=question, label="Example questions (click one)",
                    examples_per_page=8)
        status = gr.HTML("", elem_id="status")
        with gr.Row():
            comment = gr.Textbox(label="Comment on the answer you rated (optional)", lines=1, elem_id="feedback-comment",
                                 scale=4)
            comment_btn = gr.Button("Send comment", elem_id="send-comment", scale=1)

        demo.load(restore, saved, [chatbot, saved, question], api_visibility="private").then(
            None, js="() => document.querySelector('#question textarea')?.focus()")
        outputs = [question, chatbot, saved, status]
        for trigger in (question.submit, ask_btn.click):  # a question sent while one is answered waits its turn
            trigger(respond, [question, saved], outputs, api_visibility="private", trigger_mode="always_last")
        # The browser's copy is dropped at once, not when the server answers: a reload or a closed tab
        # right after clearing must not bring the old conversation back.
        new_btn.click(new_conversation, None, [chatbot, saved, question, status], api_visibility="private",
                      js=_FORGET_JS)
        chatbot.clear(lambda: (_fresh(), "Started a new conversation."), None, [saved, status],
                      api_visibility="private", js=_FORGET_JS)
        chatbot.like(on_like, saved, [saved, status], api_visibility="private")
        comment_btn.click(send_comment, [comment, saved], [comment, status], api_visibility="private")
        gr.api(api_ask, api_name="ask", queue=True)
        gr.api(api_feedback, api_name="feedback", queue=True)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.max_queue)
    return demo


# -- the conversation as the browser keeps it ------------------------------------------------------

_STORAGE_KEY = "kypho-assistant-conversation"
_FORGET_JS = f"() => {{ try {{ localStorage.removeItem('{_STORAGE_KEY}'); }} catch (e) {{}} }}"


def _browser_secret(settings: Settings) -> str:
    """The key the browser's copy of the conversation is encrypted with. Kept in a private file beside
    the index so that a restarted server can still read it (Gradio's default is new at every start)."""
    path = Path(settings.index_dir) / ".browser-secret"
    try:
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(24)
        path.touch(mode=0o600)
        path.write_text(secret, encoding="utf-8")
        return secret
    except OSError:  # a read-only deployment: conversations last as long as this process
        return secrets.token_urlsafe(24)


def _fresh() -> dict:
    return {"id": uuid.uuid4().hex, "turns": [], "rated": None}


def _valid(saved: object) -> dict:
    """What the browser sent back, checked: anything malformed starts a new conversation."""
    if not isinstance(saved, dict) or not isinstance(saved.get("turns"), list) or not saved.get("id"):
        return _fresh()
    turns = [t for t in saved["turns"] if isinstance(t, dict) and isinstance(t.get("question"), str)
             and isinstance(t.get("answer"), str)][-50:]
    return {"id": str(saved["id"])[:64], "turns": turns, "rated": saved.get("rated")}


def _messages(saved: dict) -> list[dict]:
    out = []
    for k, t in enumerate(saved["turns"]):
        shown = {key: t.get(key) for key in ("citations", "urgent", "urgent_advice", "abstained", "staff")}
        out += [{"role": "user", "content": _inert(t["question"])},
                {"role": "assistant", "content": _render_answer(t["answer"], shown, k)}]
    return out


def _history(saved: dict) -> list[tuple[str, str]]:
    return [m for t in saved["turns"] for m in (("user", t["question"]), ("assistant", t["answer"]))]


def _slim(citations: list[dict]) -> list[dict]:
    """What the browser keeps of each citation: enough to show it again after a restart."""
    return [{"id": c["id"], "section": c["section"], "source": c["source"], "text": c["text"],
             "quotes": [{"start": q["start"], "end": q["end"], "text": q["text"]} for q in c.get("quotes", [])],
             **({"page": c["page"]} if c.get("page") else {})}
            for c in citations]


def where(c: dict) -> str:
    """A citation's file, and its page for a PDF: "leaflet.pdf, page 2"."""
    return f"{c['source']}, page {c['page']}" if c.get("page") else c["source"]


# -- rendering ---------------------------------------------------------------------------------------

# HTML specials and Markdown punctuation as character references, in one pass
_INERT = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'[]()!*_`#~|\\$:"})


def _inert(text: str) -> str:
    """Text shown exactly as typed or quoted: no HTML and no Markdown (a "![x](url)" in a message or a
    corpus file must not become an image the browser fetches)."""
    return text.translate(_INERT)


def _render_answer(text: str, result: dict, turn: int = 0) -> str:
    """One answer as HTML: [n] link to this answer's own sources, listed under it; lists as lists;
    urgent advice in a red box; a declined question in a grey one; a plain-text copy for "Copy"."""
    anchor = f"a{turn}"
    blocks = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        items = [line[2:] for line in lines if line.startswith("- ")]
        head = [line for line in lines if not line.startswith("- ")]
        html_block = "<br>".join(_inert(line) for line in head)
        if items:
            html_block += "<ul>" + "".join(f"<li>{_inert(i)}</li>" for i in items) + "</ul>"
        blocks.append(f"<p>{html_block}</p>" if html_block else "")
    body = "".join(blocks)
    body = re.sub(r"&#91;(\d+)&#93;", lambda m: f'<a class="cite" href="#{anchor}-s{m.group(1)}" '
                  f'aria-label="source {m.group(1)}">[{m.group(1)}]</a>', body)
    if result.get("urgent") and result.get("urgent_advice"):
        advice = f"<p>{_inert(result['urgent_advice'])}</p>"
        body = body.replace(advice, f'<div class="urgent-box" role="alert">{advice}</div>', 1)
    if result.get("abstained") and not result.get("urgent"):
        body = f'<div class="abstained-box">{body}</div>'
    citations = result.get("citations") or []
    sources = ""
    if citations:
        items = "".join(
            f'<div class="source" id="{anchor}-s{c["id"]}" tabindex="-1"><b>[{c["id"]}] {_inert(c["section"])}</b> '
            f'<small>({_inert(where(c))})</small><p>{_passage_html(c["text"], c.get("quotes", []))}</p>'
            f'<a class="back" href="#{anchor}">Back to the answer</a></div>' for c in citations)
        sources = (f'<details class="sources"><summary>Sources for this answer ({len(citations)})</summary>'
                   f"{items}</details>")
    tools = ""
    if text and result:
        plain = text + ("\n\nSources:\n" + "\n".join(f"[{c['id']}] {c['section']} ({where(c)})" for c in citations)
                        if citations else "")
        tools = (f'<pre class="plain" id="{anchor}-text">{_inert(plain)}</pre>'
                 f'<div class="answer-tools"><a class="copy-answer" href="#{anchor}-text" role="button">Copy answer</a>'
                 "</div>")
    staff = f'<p class="staff-note">{_inert(result["staff"])}</p>' if result.get("staff") else ""
    return f'<div class="answer" id="{anchor}" tabindex="-1">{body}{sources}{tools}{staff}</div>'


def staff_note(result: dict) -> str:
    """For staff: which generator wrote the answer and what the citation guard removed, in one line."""
    guard = result.get("guard")
    if not guard:
        return "Staff: extractive answer (no language model used)."
    removed = "; ".join(f"“{r['sentence'][:80]}” ({r['reason']})" for r in guard["reasons"][:3])
    if result.get("generator") == "llm":
        note = f"Staff: written by the language model; the guard kept {guard['kept']} sentence(s)"
        note += f" and removed {guard['dropped']}: {removed}." if guard["dropped"] else " and removed none."
    else:
        note = f"Staff: extractive answer, because {guard['fallback']}"
        note += f"; the guard removed {guard['dropped']}: {removed}." if guard["dropped"] else "."
    return note + (f" The model stopped: {guard['failure']}." if guard["failure"] and result.get("generator") == "llm"
                   else "")


def _passage_html(text: str, quotes: list[dict]) -> str:
    """A passage, inert, with its quoted spans marked."""
    out, pos = [], 0
    for q in sorted(quotes, key=lambda q: q["start"]):
        if q["start"] < pos or q["start"] < 0:
            continue
        out += [_inert(text[pos : q["start"]]), "<mark>", _inert(text[q["start"] : q["end"]]), "</mark>"]
        pos = q["end"]
    return "".join(out) + _inert(text[pos:])


# -- serving -----------------------------------------------------------------------------------------

def launch_options(settings: Settings) -> dict:
    """How the page is served on its own (``demo.launch``, the tests): loopback by default."""
    return {"server_name": settings.host, "server_port": settings.port, **mount_options(settings)}


def mount_options(settings: Settings) -> dict:
    """No error details, no uploads, no "Use via API" footer, no copy of patients' questions kept in
    the browser's run history, and no endless redrawing (``FRAMES``). ``assistant serve`` mounts the
    page with these on the API's app."""
    from starlette.middleware import Middleware

    return {"css": CSS, "head": HEAD, "show_error": False, "max_file_size": MAX_UPLOAD, "footer_links": [],
            "run_history": False, "app_kwargs": {"middleware": [Middleware(FirstInHead, html=FRAMES)]}}


class FirstInHead:
    """ASGI middleware that puts ``html`` first in the <head> of every HTML page (GET) the app sends:
    Gradio's page, whose own scripts come after it. Given to Gradio's app through ``app_kwargs`` (so
    that ``demo.launch`` and ``gr.mount_gradio_app`` both have it), it runs inside Gradio's middleware,
    compression included: it gets the page as Gradio's route made it, plain text (a compressed body
    would pass unchanged), and sets the new Content-Length."""

    def __init__(self, app, html: str) -> None:
        self.app, self.html = app, html.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        start: dict | None = None
        body = b""

        async def edit(message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                headers = dict(message["headers"])
                if not headers.get(b"content-type", b"").startswith(b"text/html") or b"content-encoding" in headers:
                    return await send(message)
                start = message  # an HTML page: held back until its whole body is here
            elif start is None:
                await send(message)
            else:
                body += message.get("body", b"")
                if message.get("more_body"):
                    return
                body = body.replace(b"<head>", b"<head>" + self.html, 1)
                headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
                await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, edit)


def check_port(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AssistantError(f"Cannot serve on {host}:{port} ({exc.strerror}). Choose another port with "
                                 "--port or ASSISTANT_PORT.") from None
