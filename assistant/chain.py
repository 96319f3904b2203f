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
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import AddableDict

from assistant.answer import ExtractiveGenerator, Quote
from assistant.embeddings import Embedder, cached_vectors, shared_embedder
from assistant.errors import AssistantError, InvalidQuestion
from assistant.grounding import Grounder, PartResult
from assistant.index import Index, ensure_index, open_index, read_manifest
from assistant.prompts import Prompts
from assistant.question import Analyzer, Question
from assistant.ranker import Cues, default_ranker
from assistant.retrieve import HybridRetriever, Passage
from assistant.rewrite import HeuristicRewriter, QueryRewriter, Resolution, Turn
from assistant.safety import Safety, clean
from assistant.settings import Settings, set_offline_env

log = logging.getLogger(__name__)

MAX_TOPICS = 8
FETCH = 2  # retrieve this many times top_k passages per part, then keep the top_k the ranker likes best
MEDICAL_TERMS = Path(__file__).resolve().parent / "data" / "medical_terms.txt"


@dataclass(frozen=True)
class Parsed:
    question: str  # cleaned
    history: list[Turn]
    trimmed: int = 0  # earlier messages dropped or cut to stay within the limits


@dataclass(frozen=True)
class IndexParts:
    """Everything that depends on one index build, swapped as a whole when a new build appears."""

    index: Index
    retriever: HybridRetriever
    grounder: Grounder
    analyzer: Analyzer
    generator: Runnable
    manifest_mtime: int


class AssistantChain(Runnable[Any, dict]):
    """Grounded question answering over one index. Safe to share between threads and users:
    it keeps no conversation state (the caller passes ``chat_history``). A long-running chain picks
    up a new index build (``assistant index`` run beside it) at its next question; each question is
    answered wholly from one build."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, *,
                 generator: Runnable | None = None, rewriter: QueryRewriter | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.prompts = Prompts(settings.prompts_dir)
        self.cues = Cues(self.prompts.data("question_types.yaml", ("types", "needs")))
        self.ranker = default_ranker()
        self._custom_generator = generator
        self._parts = self._build_parts(index)
        self._reload_lock = threading.Lock()
        self.rewriter = rewriter or HeuristicRewriter()
        self.source_name = settings.source_name
        self.safety = Safety(self.prompts, self.source_name, embed=embedder.encode, embed_fixed=lambda texts: cached_vectors(
            texts, embedder.encode, settings.embedding_model, Path(settings.index_dir) / "cache"))
        self.safety.warm_up()

    # -- the parts that depend on the index build -------------------------------------------
    def _build_parts(self, index: Index) -> IndexParts:
        retriever = HybridRetriever(index=index, k=self.settings.top_k)
        grounder = Grounder(index, self.cues, self.ranker)
        titles = {c.title for c in index.chunks}
        analyzer = Analyzer(self.prompts, index.vocab, grounder.topic_stems, medical_terms(),
                            default_context=titles.pop() if len(titles) == 1 else "")
        generator = self._custom_generator or ExtractiveGenerator(index, grounder.threshold, self.settings.max_sentences)
        return IndexParts(index, retriever, grounder, analyzer, generator, _manifest_mtime(self.settings))

    def _current_parts(self) -> IndexParts:
        """This request's parts; a new build on disk (the manifest changed) is opened first."""
        parts = self._parts
        mtime = _manifest_mtime(self.settings)
        if mtime == parts.manifest_mtime or mtime == 0:
            return parts
        with self._reload_lock:
            if self._parts.manifest_mtime != mtime:
                manifest = read_manifest(Path(self.settings.index_dir))
                try:
                    if manifest is None or manifest.build == self._parts.index.manifest.build:
                        self._parts = replace(self._parts, manifest_mtime=mtime)
                    else:
                        self._parts = self._build_parts(open_index(self.settings, self.embedder))
                        log.warning("Now answering from the new index build %s.", manifest.build)
                except AssistantError as exc:  # keep answering from the build already open
                    log.warning("A new index build could not be opened (%s); still using %s.", exc,
                                self._parts.index.manifest.build)
                    self._parts = replace(self._parts, manifest_mtime=mtime)
            return self._parts

    # the parts in use (a question is answered with the parts taken when it started)
    index = property(lambda self: self._parts.index)
    retriever = property(lambda self: self._parts.retriever)
    grounder = property(lambda self: self._parts.grounder)
    analyzer = property(lambda self: self._parts.analyzer)
    generator = property(lambda self: self._parts.generator)

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
        """Yield the answer in addable pieces as they are made: urgent advice first (before the
        search), then sentence by sentence, then the citations and flags. Adding all pieces gives
        exactly what ``invoke`` returns."""
        steps = self._steps(input, self._current_parts())
        while True:
            try:
                yield AddableDict(answer=next(steps))
            except StopIteration as done:
                result = done.value
                break
        result.pop("answer")
        yield AddableDict(result)

    # -- the pipeline -------------------------------------------------------------------------
    def answer(self, input: Any) -> dict:
        return self.run(input)[0]

    def run(self, input: Any) -> tuple[dict, list[str]]:
        """The answer and the pieces ``stream`` yields, from one index build."""
        steps, pieces = self._steps(input, self._current_parts()), []
        while True:
            try:
                pieces.append(next(steps))
            except StopIteration as done:
                return done.value, pieces

    def _steps(self, input: Any, parts: IndexParts) -> Generator[str, None, dict]:
        """Yields the answer's pieces as soon as each is known (each piece carries the separator
        before it); returns the whole result."""
        parsed = self.parse(input)
        flags, compare = self.safety.red_flags(parsed.question)
        screening = self.safety.screen(parsed.question, flags)
        question = None
        if not screening.small_talk and _has_words(screening.question):
            said = next((text for role, text in reversed(parsed.history) if role == "assistant"), "")
            question = self.understand(screening.question, parsed.history, said, parts)
            if screening.injection:  # never restate a message that tried to change the instructions
                question = replace(question, parts=tuple(replace(p, echo=False) for p in question.parts))
        # one call to the model embeds what the red-flag check and the search both need
        texts = list(dict.fromkeys(compare + (self._search_texts(question, parts) if question else [])))
        vectors = dict(zip(texts, self.embedder.encode(texts))) if texts else {}
        urgent = flags + tuple(g for g in self.safety.similar(compare, np.array([vectors[t] for t in compare]))
                               if g not in flags) if compare else flags
        out = _empty_result(parsed.question)
        out["history_trimmed"] = parsed.trimmed
        said: list[str] = []

        def piece(text: str, separator: str = "\n\n") -> str:
            text = (separator if said else "") + text
            said.append(text)
            return text

        if urgent:
            out.update(urgent=True, urgent_advice=self.safety.advice, urgent_reasons=list(urgent))
            yield piece(self.safety.advice)
        if screening.small_talk and not urgent:
            out.update(kind="small_talk", abstained=True)
            yield piece(screening.small_talk)
            return _finish(out, said)
        if question is None:
            if screening.injection:
                out.update(kind="injection", abstained=True, injection=True)
                yield piece(self.safety.injection_reply + "\n\n" + self._topics_text("off_topic.j2", parts=parts))
            else:
                out.update(kind="unclear", abstained=True)
                if not urgent:
                    yield piece(self._topics_text("unclear.j2", parts=parts))
            return _finish(out, said)
        out["injection"] = screening.injection
        results = self.search(question, vectors, parts)
        coverage = parts.grounder.assess(question, results)
        passages = _merge([r.passages for r in results])
        out.update(search_query=question.search, passages=[_passage_info(p) for p in passages],
                   kind=coverage.verdict, missing=list(coverage.missing), notes=list(coverage.notes))
        if not coverage.answerable:
            out["abstained"] = True
            if urgent:
                return _finish(out, said)
            template = {"off_topic": "off_topic.j2", "unclear": "unclear.j2"}.get(coverage.verdict, "not_covered.j2")
            yield piece(self._topics_text(template, coverage.notes, question.search, parts))
            if screening.decision:
                yield piece(self._decision_note(out))
            return _finish(out, said)
        quotes = parts.generator.invoke({"question": question, "coverage": coverage, "passages": passages})
        quoted = {q.chunk_id for q in quotes} - {p.chunk.id for p in passages}
        if quoted:  # a quoted passage beyond the top k is reported as retrieved too
            extra = {p.chunk.id: p for r in results for p in r.fetched if p.chunk.id in quoted}
            passages += list(extra.values())
            out["passages"] = [_passage_info(p) for p in passages]
        if not quotes:
            out.update(abstained=True, kind="not_covered")
            yield piece(self._topics_text("not_covered.j2", coverage.notes, question.search, parts))
            return _finish(out, said)
        citations, numbers = self._citations(quotes, parts)
        out["citations"] = citations
        for i, quote in enumerate(quotes):
            yield piece(f"{quote.text} [{numbers[quote.chunk_id]}]", "\n\n" if i == 0 else " ")
        if coverage.notes:
            yield piece(self.prompts.render("partial_note.j2", source_name=self.source_name, notes=list(coverage.notes)))
        if screening.decision:
            yield piece(self._decision_note(out))
        return _finish(out, said)

    def understand(self, message: str, history: list[Turn], said: str = "", parts: IndexParts | None = None) -> Question:
        """The message as a ``Question``: follow-ups resolved, parts, types, terms."""
        if isinstance(self.rewriter, HeuristicRewriter):
            resolution = self.rewriter.resolve(message, history)
        else:  # a custom rewriter returns a self-contained question
            resolution = Resolution(self.rewriter.rewrite(message, history))
        return (parts or self._parts).analyzer.analyse(resolution.text, resolution.context, previous=said)

    def _search_texts(self, question: Question, parts: IndexParts | None = None) -> list[str]:
        """What ``search`` embeds: each part as searched, and without the corpus's topic words."""
        grounder = (parts or self._parts).grounder
        return list(dict.fromkeys([p.search for p in question.parts] +
                                  [grounder.without_topic(p.search) for p in question.parts]))

    def search(self, question: Question, vectors: dict[str, np.ndarray] | None = None,
               parts: IndexParts | None = None) -> list[PartResult]:
        """Each part: retrieve passages, score their sentences, keep the passages that answer best."""
        parts = parts or self._parts
        needed = [t for t in self._search_texts(question, parts) if not vectors or t not in vectors]
        vectors = {**(vectors or {}), **(dict(zip(needed, self.embedder.encode(needed))) if needed else {})}
        results = []
        for part in question.parts:
            need = parts.grounder.without_topic(part.search)
            fetched = parts.retriever.search(part.search, vectors[part.search], k=self.settings.top_k * FETCH)
            result = parts.grounder.score(part, vectors[need], fetched)
            best_in: dict[str, float] = {}
            for prob, cand in result.scored:
                best_in.setdefault(cand.chunk_id, prob)
            keep = sorted(fetched, key=lambda p: -best_in.get(p.chunk.id, 0.0))[: self.settings.top_k]
            result.passages = keep  # what is reported as retrieved; every fetched sentence stays a candidate
            results.append(result)
        return results

    def _decision_note(self, out: dict) -> str:
        """A personal decision ("should I...?") ends with: discuss it with your doctor."""
        out["notice"] = self.safety.decision_note
        return self.safety.decision_note

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
        turns, trimmed = normalise_history(history, self.settings.max_history_turns, self.settings.max_turn_chars)
        return Parsed(cleaned, turns, trimmed)

    # -- helpers --------------------------------------------------------------------------------
    def _citations(self, quotes: list[Quote], parts: IndexParts) -> tuple[list[dict], dict[str, int]]:
        """One citation per quoted passage, numbered in the order the answer first quotes it."""
        numbers: dict[str, int] = {}
        citations: list[dict] = []
        for quote in quotes:
            if quote.chunk_id not in numbers:
                numbers[quote.chunk_id] = len(numbers) + 1
                chunk = parts.index.chunk(quote.chunk_id)
                citations.append({"id": numbers[quote.chunk_id], "source": chunk.source,
                                  "section": chunk.heading, "title": chunk.title, "text": chunk.text,
                                  "chunk_id": chunk.id, "start": chunk.start, "end": chunk.end,
                                  **_page(chunk), "quotes": []})
            citations[numbers[quote.chunk_id] - 1]["quotes"].append(
                {"text": quote.text, "start": quote.start, "end": quote.end})
        return citations, numbers

    def _topics_text(self, template: str, notes: tuple[str, ...] = (), query: str = "",
                     parts: IndexParts | None = None) -> str:
        return self.prompts.render(template, source_name=self.source_name, notes=list(notes),
                                   topics=self.topics(query, parts))

    def subject(self) -> str:
        """What the corpus is about: a one-document corpus's title, else the source's name."""
        titles = {c.title for c in self.index.chunks}
        return titles.pop() if len(titles) == 1 else self.source_name

    def example_questions(self) -> list[str]:
        """For the chat page: ``ASSISTANT_EXAMPLES``, else ``examples.yaml`` beside the corpus files,
        else questions made from the corpus's subject and headings."""
        if self.settings.examples.strip():
            return [q.strip() for q in self.settings.examples.split("|") if q.strip()]
        path = Path(self.settings.corpus_dir) / "examples.yaml"
        if path.is_file():
            try:
                listed = yaml.safe_load(path.read_text(encoding="utf-8")) or []
                return [str(q) for q in listed if str(q).strip()][:8]
            except (OSError, yaml.YAMLError) as exc:
                log.warning("Ignoring %s (%s).", path, exc)
        headings = [t for t in self.topics() if not t.startswith("...")][1:3]
        return [f"What is {self.subject()}?"] + [f"What does {self.source_name} say about {h}?" for h in headings]

    def topics(self, query: str = "", parts: IndexParts | None = None) -> list[str]:
        """What the corpus covers: its sections (one document) or its documents (several)."""
        parts = parts or self._parts
        sources = {c.source for c in parts.index.chunks}
        seen: list[str] = []
        if len(sources) == 1:
            for c in parts.index.chunks:
                if c.heading not in seen:
                    seen.append(c.heading)
        else:
            ranked = [p.chunk.title for p in parts.retriever.search(query, k=MAX_TOPICS * 3)] if query else []
            for title in ranked + sorted({c.title for c in parts.index.chunks}):
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


def _manifest_mtime(settings: Settings) -> int:
    try:
        return (Path(settings.index_dir) / "manifest.json").stat().st_mtime_ns
    except OSError:
        return 0


def normalise_history(history: Any, max_turns: int = 20, max_chars: int = 4000) -> tuple[list[Turn], int]:
    """LangChain messages, (role, text) tuples or {"role", "content"} dicts -> ([(role, text)], how many
    were dropped or cut). Only the last ``max_turns`` entries are read, each cut to ``max_chars``
    before it is cleaned, so no history can make one request slow; ``None`` entries are skipped."""
    if not isinstance(history, (list, tuple)):
        raise InvalidQuestion("chat_history must be a list of messages or (role, text) pairs.")
    items = [item for item in history if item is not None]
    trimmed = max(0, len(items) - max_turns)
    turns: list[Turn] = []
    for item in items[-max_turns:] if max_turns else []:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            role, text = item
        elif isinstance(item, dict):
            role, text = item.get("role", ""), item.get("content", "")
        elif hasattr(item, "type") and hasattr(item, "content"):
            role, text = item.type, item.content
        else:
            raise InvalidQuestion(f"Cannot read chat_history entry {item!r:.80}.")
        role = {"human": "user", "ai": "assistant", "bot": "assistant"}.get(str(role).lower(), str(role).lower())
        if text is None:
            continue
        if not isinstance(text, str):
            text = " ".join(str(part.get("text", "")) if isinstance(part, dict) else str(part)
                            for part in (text if isinstance(text, list) else [text]) if part is not None)
        if len(text) > max_chars:
            text, trimmed = text[-max_chars:], trimmed + 1
        turns.append((role, clean(text)))
    return turns, trimmed


def _empty_result(question: str) -> dict:
    return {"question": question, "answer": "", "citations": [], "abstained": False, "urgent": False,
            "urgent_advice": "", "kind": "answer", "missing": [], "notes": [], "notice": "", "injection": False,
            "search_query": question, "passages": []}


def _finish(out: dict, pieces: list[str]) -> dict:
    out["answer"] = "".join(pieces)
    return out


def _passage_info(p: Passage) -> dict:
    return {"chunk_id": p.chunk.id, "source": p.chunk.source, "section": p.chunk.heading, **_page(p.chunk),
            "rank": p.rank, "dense": round(p.dense, 4), "lexical": round(p.lexical, 4), "text": p.chunk.text}


def _page(chunk) -> dict:
    """``{"page": n}`` for a passage of a PDF; nothing for other formats."""
    return {"page": chunk.page} if chunk.page is not None else {}


def _has_words(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _merge(lists: list[list[Passage]]) -> list[Passage]:
    seen, out = set(), []
    for passages in lists:
        for p in passages:
            if p.chunk.id not in seen:
                seen.add(p.chunk.id)
                out.append(p)
    return out


@lru_cache(maxsize=1)
def medical_terms() -> frozenset[str]:
    """Words NIH consumer-health text uses far more than general English (see scripts/build_lexicon.py)."""
    lines = MEDICAL_TERMS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
