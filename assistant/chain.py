"""The answer chain: one question (plus the conversation so far) in, a cited answer out.

    screen (urgent? small talk? injection?)  ->  rewrite follow-ups  ->  hybrid retrieval
    ->  coverage (answer / partial / abstain)  ->  generator (extractive by default)  ->  citations

``build_chain()`` returns an ``AssistantChain``, a LangChain ``Runnable``: ``invoke``, ``batch``,
``stream`` (the answer sentence by sentence, as addable dict chunks) and ``ainvoke`` all work.
Input: ``{"question": str, "chat_history": [...]}`` (LangChain messages, ``(role, text)`` tuples or
``{"role", "content"}`` dicts) or a bare string. Output: see ``AssistantChain.invoke``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import AddableDict

from assistant.answer import ExtractiveGenerator, Quote
from assistant.embeddings import Embedder, shared_embedder
from assistant.errors import InvalidQuestion
from assistant.grounding import Coverage, Grounder, Lexicon
from assistant.index import Index, ensure_index
from assistant.prompts import Prompts
from assistant.retrieve import HybridRetriever, Passage
from assistant.rewrite import HeuristicRewriter, QueryRewriter, Turn
from assistant.safety import Safety, clean
from assistant.settings import Settings, set_offline_env

log = logging.getLogger(__name__)

MAX_TOPICS = 8


@dataclass(frozen=True)
class Parsed:
    question: str  # cleaned
    history: list[Turn]


class AssistantChain(Runnable[Any, dict]):
    """Grounded question answering over one index. Safe to share between threads and users:
    it keeps no conversation state (the caller passes ``chat_history``)."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, *,
                 generator: Runnable | None = None, rewriter: QueryRewriter | None = None) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.prompts = Prompts(settings.prompts_dir)
        self.lexicon = Lexicon(self.prompts.path("lay_terms.yaml"))
        self.lexicon.learn_abbreviations([c.text for c in index.chunks])
        self.retriever = HybridRetriever(index=index, k=settings.top_k)
        self.grounder = Grounder(index, self.lexicon)
        self.generator = generator or ExtractiveGenerator(
            index, self.lexicon, self.prompts.data("question_types.yaml"), self.grounder.topic_stems,
            settings.max_sentences)
        self.rewriter = rewriter or HeuristicRewriter()
        self.source_name = settings.source_name
        self.safety = Safety(self.prompts, self.source_name)

    # -- Runnable ---------------------------------------------------------------------------
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        """Answer one question. Returns a dict with:

        answer (str with [n] markers), citations (list of dicts: id, source, section, title,
        text, quotes, chunk_id, start, end), abstained (bool), urgent (bool), urgent_advice (str),
        kind (answer | partial | not_covered | off_topic | unclear | small_talk | injection),
        missing (what the source does not cover), notice (e.g. "discuss with your doctor"),
        search_query (the question as searched) and passages (what was retrieved).
        """
        return self._call_with_config(self.answer, input, config, run_type="chain")

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[dict]:
        """Yield the answer in addable pieces: urgent advice first, then sentence by sentence,
        then the citations and flags. Adding all pieces gives exactly what ``invoke`` returns."""
        result, pieces = self.run(input)
        result.pop("answer")
        for piece in pieces:
            yield AddableDict(answer=piece)
        yield AddableDict(result)

    # -- the pipeline -------------------------------------------------------------------------
    def answer(self, input: Any) -> dict:
        return self.run(input)[0]

    def run(self, input: Any) -> tuple[dict, list[str]]:
        """The answer and the pieces ``stream`` yields."""
        parsed = self.parse(input)
        screening = self.safety.screen(parsed.question)
        pieces: list[str] = []
        out = _empty_result(parsed.question)
        if screening.urgent:
            out.update(urgent=True, urgent_advice=self.safety.advice, urgent_reasons=list(screening.urgent))
            pieces.append(self.safety.advice + "\n\n")
        if screening.small_talk:
            out.update(kind="small_talk", abstained=True)
            pieces.append(screening.small_talk)
            return _finish(out, pieces)
        if screening.injection and not _has_words(screening.question):
            out.update(kind="injection", abstained=True, injection=True)
            pieces.append(self.safety.injection_reply + "\n\n" + self._topics_text("off_topic.j2", []))
            return _finish(out, pieces)
        out["injection"] = screening.injection
        search_query = self.grounder.correct(self.rewriter.rewrite(screening.question, parsed.history))
        passages, coverage, vectors = self.retrieve(search_query, screening.question)
        out.update(search_query=search_query, passages=[_passage_info(p) for p in passages],
                   kind=coverage.verdict, missing=list(coverage.missing))
        if not coverage.answerable:
            if screening.urgent and coverage.verdict != "answer":
                out["abstained"] = True
                return _finish(out, pieces)
            template = {"off_topic": "off_topic.j2", "unclear": "unclear.j2"}.get(coverage.verdict, "not_covered.j2")
            out["abstained"] = True
            pieces.append(self._topics_text(template, coverage.missing, search_query))
            self._decision_note(screening.decision, out, pieces)
            return _finish(out, pieces)
        said = next((text for role, text in reversed(parsed.history) if role == "assistant"), "")
        quotes = self.generator.invoke({"question": search_query, "asked": screening.question, "said": said,
                                        "passages": passages,
                                        "coverage": coverage, "query_vector": vectors})
        if not quotes:
            out.update(abstained=True, kind="not_covered")
            pieces.append(self._topics_text("not_covered.j2", [], search_query))
            return _finish(out, pieces)
        citations = self._cite(quotes, out, pieces)
        out["citations"] = citations
        if coverage.verdict == "partial":
            pieces.append("\n\n" + self.prompts.render(
                "partial_note.j2", source_name=self.source_name, missing=_join(coverage.missing)))
        self._decision_note(screening.decision, out, pieces)
        return _finish(out, pieces)

    def _decision_note(self, decision: bool, out: dict, pieces: list[str]) -> None:
        """A personal decision ("should I...?") ends with: discuss it with your doctor."""
        if decision:
            out["notice"] = self.safety.decision_note
            pieces.append("\n\n" + self.safety.decision_note)

    def retrieve(self, query: str, asked: str | None = None) -> tuple[list[Passage], Coverage, np.ndarray]:
        """Passages for the (rewritten) query, whether they cover it, and the query vector(s)."""
        texts = [query] if not asked or asked == query else [query, asked]
        vectors = self.embedder.encode(texts)
        passages = self.retriever.search(self.lexicon.expand(query), vectors[0])
        return passages, self.grounder.assess(query, passages, asked), vectors

    def parse(self, input: Any) -> Parsed:
        if isinstance(input, str):
            question, history = input, []
        elif isinstance(input, dict):
            question = input.get("question", input.get("input"))
            history = input.get("chat_history") or []
        else:
            raise InvalidQuestion(f"Expected a question (text) or a dict with 'question', got {type(input).__name__}.")
        if not isinstance(question, str):
            raise InvalidQuestion(f"The question must be text, not {type(question).__name__}.")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestion(
                f"The question is {len(question):,} characters long; please keep it under "
                f"{self.settings.max_question_chars:,} characters and ask one thing at a time.")
        cleaned = clean(question)
        if not cleaned:
            raise InvalidQuestion("The question is empty. Please type a question about " + self.source_name + ".")
        return Parsed(cleaned, normalise_history(history))

    # -- helpers --------------------------------------------------------------------------------
    def _cite(self, quotes: list[Quote], out: dict, pieces: list[str]) -> list[dict]:
        numbers: dict[str, int] = {}
        citations: list[dict] = []
        for i, quote in enumerate(quotes):
            if quote.chunk_id not in numbers:
                numbers[quote.chunk_id] = len(numbers) + 1
                chunk = self.index.chunk(quote.chunk_id)
                citations.append({"id": numbers[quote.chunk_id], "source": chunk.source,
                                  "section": chunk.heading, "title": chunk.title, "text": chunk.text,
                                  "chunk_id": chunk.id, "start": chunk.start, "end": chunk.end,
                                  "quotes": []})
            citation = citations[numbers[quote.chunk_id] - 1]
            citation["quotes"].append({"text": quote.text, "start": quote.start, "end": quote.end})
            pieces.append(("" if i == 0 else " ") + f"{quote.text} [{numbers[quote.chunk_id]}]")
        return citations

    def _topics_text(self, template: str, missing: list[str] | tuple[str, ...], query: str = "") -> str:
        return self.prompts.render(template, source_name=self.source_name,
                                   missing=_join(missing) if missing else "", topics=self.topics(query))

    def topics(self, query: str = "") -> list[str]:
        """What the corpus covers: its sections (one document) or its documents (several)."""
        sources = {c.source for c in self.index.chunks}
        seen: list[str] = []
        if len(sources) == 1:
            for c in self.index.chunks:
                if c.heading not in seen:
                    seen.append(c.heading)
        else:
            ranked = [p.chunk.title for p in self.retriever.search(query, k=MAX_TOPICS * 3)] if query else []
            for title in ranked + sorted({c.title for c in self.index.chunks}):
                if title not in seen:
                    seen.append(title)
        extra = len(seen) - MAX_TOPICS
        return seen[:MAX_TOPICS] + ([f"... and {extra} more topics"] if extra > 0 else [])


def build_chain(settings: Settings | None = None, *, generator: Runnable | None = None,
                rewriter: QueryRewriter | None = None, embedder: Embedder | None = None) -> AssistantChain:
    """The ready-to-use chain. Builds (or rebuilds) the index first if it is missing or stale."""
    set_offline_env()
    settings = settings or Settings.from_env()
    embedder = embedder or shared_embedder(settings.embedding_model)
    index = ensure_index(settings, embedder)
    return AssistantChain(settings, index, embedder, generator=generator, rewriter=rewriter)


def normalise_history(history: Any) -> list[Turn]:
    """LangChain messages, (role, text) tuples or {"role", "content"} dicts -> [(role, text)]."""
    if not isinstance(history, (list, tuple)):
        raise InvalidQuestion("chat_history must be a list of messages or (role, text) pairs.")
    turns: list[Turn] = []
    for item in history:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            role, text = item
        elif isinstance(item, dict):
            role, text = item.get("role", ""), item.get("content", "")
        elif hasattr(item, "type") and hasattr(item, "content"):
            role, text = item.type, item.content
        else:
            raise InvalidQuestion(f"Cannot read chat_history entry {item!r:.80}.")
        role = {"human": "user", "ai": "assistant", "bot": "assistant"}.get(str(role).lower(), str(role).lower())
        if not isinstance(text, str):
            text = " ".join(str(part.get("text", "")) if isinstance(part, dict) else str(part)
                            for part in (text if isinstance(text, list) else [text]))
        turns.append((role, clean(text)))
    return turns


def _empty_result(question: str) -> dict:
    return {"question": question, "answer": "", "citations": [], "abstained": False, "urgent": False,
            "urgent_advice": "", "kind": "answer", "missing": [], "notice": "", "injection": False,
            "search_query": question, "passages": []}


def _finish(out: dict, pieces: list[str]) -> tuple[dict, list[str]]:
    out["answer"] = "".join(pieces).strip()
    # what stream() yields: the same text, cut where sentences end
    if pieces:
        pieces[-1] = pieces[-1].rstrip()
        while pieces and not pieces[0].strip():
            pieces.pop(0)
        if pieces:
            pieces[0] = pieces[0].lstrip()
    return out, pieces


def _passage_info(p: Passage) -> dict:
    return {"chunk_id": p.chunk.id, "source": p.chunk.source, "section": p.chunk.heading, "rank": p.rank,
            "dense": round(p.dense, 4), "lexical": round(p.lexical, 4), "text": p.chunk.text}


def _has_words(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _join(items: list[str] | tuple[str, ...]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
