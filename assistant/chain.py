"""The answer chain: one question (plus the conversation so far) in, a cited answer out.

    screen (urgent? small talk? injection?)  ->  rewrite follow-ups  ->  hybrid retrieval
    ->  coverage (answer / partial / abstain)  ->  generator (extractive by default)  ->  citations

With ``ASSISTANT_GENERATOR=llm`` (or ``build_chain(llm=any_chat_model)``) a language model writes the
answer from the passages the extractive steps chose, and only once they decided the question is
answerable; the citation guard (``guard.py``) removes every sentence its passage does not support,
and the extractive answer is given when nothing passes or the model fails (``llm_answer.py``).

``build_chain()`` returns an ``AssistantChain``, a LangChain ``Runnable``: ``invoke``, ``batch``,
``stream`` and ``astream`` (the answer sentence by sentence, as addable dict chunks), ``ainvoke`` and
``astream_events`` all work; tracing shows the rewriter, retriever, generator and guard as child runs.
Input: ``{"question": str, "chat_history": [...]}`` (LangChain messages, ``(role, text)`` tuples or
``{"role", "content"}`` dicts) or a bare string. Output: see ``AssistantChain.invoke``; both are
described by the pydantic models in ``assistant.schemas`` (``get_input_schema``, ``as_tool()``).
Per-call settings go in ``config={"configurable": {"top_k": 2}}`` (see ``OPTIONS``).
"""

from __future__ import annotations

import atexit
import copy
import logging
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from langchain_core.language_models import BaseLanguageModel
from langchain_core.runnables import ConfigurableField, Runnable, RunnableConfig, RunnableLambda
from langchain_core.runnables.config import get_callback_manager_for_config, patch_config, run_in_executor
from langchain_core.runnables.utils import AddableDict, ConfigurableFieldSpec
from pydantic import BaseModel

from assistant import redflag_model
from assistant.answer import ExtractiveGenerator, Quote
from assistant.embeddings import Embedder, cached_vectors, shared_embedder
from assistant.errors import AssistantError, InvalidQuestion, SettingsError
from assistant.grounding import Coverage, Grounder, PartResult
from assistant.guard import SUPPORT, CitationGuard, EvidenceVectors, GuardReport
from assistant.index import Index, ensure_index, open_index
from assistant.ingest import Chunk
from assistant.llm import build_llm, deadline_after, describe
from assistant.llm_answer import ModelAnswerer
from assistant.manifest import current_build, index_version
from assistant.neighbours import WordNeighbours
from assistant.onnx_encoder import cache_root
from assistant.prompts import Prompts
from assistant.question import Analyzer, Part, Question
from assistant.ranker import Cues, default_ranker
from assistant.restate import restate
from assistant.retrieve import HybridRetriever, Passage
from assistant.rewrite import HeuristicRewriter, ModelRewriter, QueryRewriter, Resolution, Turn
from assistant.safety import Safety, clean
from assistant.schemas import AskInput, AskResult
from assistant.settings import Settings, set_offline_env

log = logging.getLogger(__name__)

MAX_TOPICS = 8
FETCH = 2  # retrieve this many times top_k passages per part, then keep the top_k the ranker likes best
MEDICAL_TERMS = Path(__file__).resolve().parent / "data" / "medical_terms.txt"
DRUG_NAMES = Path(__file__).resolve().parent / "data" / "drug_names.txt"
# Settings a caller may change per call, through config={"configurable": {...}}: name -> (type, description)
OPTIONS = {
    "top_k": (int, "passages retrieved per question part (1-20)"),
    "generator": (str, "who writes the answer: 'extractive' (quotes) or 'llm' (the configured model, guarded)"),
}
REWRITE_SHARE = 0.25  # a model rewrite may use this share of ASSISTANT_LLM_TIMEOUT; the answer gets the rest
_DONE = object()


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
    version: str  # index_version() when these parts were made


class AssistantChain(Runnable[Any, dict]):
    """Grounded question answering over one index. Safe to share between threads and users:
    it keeps no conversation state (the caller passes ``chat_history``). A long-running chain picks
    up a new index build (``assistant index`` run beside it) at its next question; each question is
    answered wholly from one build."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, *,
                 generator: Runnable | None = None, rewriter: QueryRewriter | None = None,
                 llm: BaseLanguageModel | None = None, private_index: bool = False) -> None:
        if isinstance(generator, BaseLanguageModel):  # a chat model passed as the generator writes the answer
            generator, llm = None, generator
        if llm is not None and settings.generator == "extractive":
            settings = settings.with_(generator="llm")
        self.settings = settings
        self.embedder = embedder
        self._llm = llm
        self._model_parts: tuple[ModelAnswerer, ModelRewriter] | None = None
        self._evidence = EvidenceVectors(embedder.encode)  # the guard's passage vectors, embedded once
        self.prompts = Prompts(settings.prompts_dir)
        self.cues = Cues(self.prompts.data("question_types.yaml", ("types", "needs")))
        self.ranker = default_ranker()
        self._custom_generator = generator
        self.private_index = private_index  # each new build is read from a private copy (see build_chain)
        self._live = _Live(self._build_parts(index))  # shared with the views configurable_fields() returns
        self._aliases: dict[str, str] = {name: name for name in OPTIONS}  # config key -> option
        self.rewriter = rewriter or HeuristicRewriter()
        self.source_name = settings.source_name
        # the fixed exemplar lists are embedded once per machine (cached by model and texts), not per index
        self.safety = Safety(self.prompts, self.source_name, embed=embedder.encode, embed_fixed=self._fixed_vectors,
                             model=redflag_model.load_for(settings.embedding_model))
        self.safety.warm_up()
        if settings.generator == "llm":
            self.model()  # a missing ASSISTANT_LLM_* setting is reported now, not at the first question

    def _fixed_vectors(self, texts: list[str]) -> np.ndarray:
        """Texts that are the same at every start (exemplar lists, a corpus's words), embedded once per
        machine: cached on disk by model and texts."""
        return cached_vectors(texts, self.embedder.encode, self.settings.embedding_model, cache_root().parent / "vectors")

    # -- the parts that depend on the index build -------------------------------------------
    def _build_parts(self, index: Index) -> IndexParts:
        retriever = HybridRetriever(index=index, k=self.settings.top_k)
        grounder = Grounder(index, self.cues, self.ranker, embed=self.embedder.encode,
                            search=lambda part, top_k: self._search_part(part, retriever, grounder, top_k))
        titles = {c.title for c in index.chunks}
        neighbours = WordNeighbours(index.vocab, self.embedder.encode, self._fixed_vectors)
        neighbours.warm_up()  # the corpus words' vectors: made once per machine and vocabulary, then read from disk
        analyzer = Analyzer(self.prompts, index.vocab, grounder.topic_stems, medical_terms(),
                            default_context=titles.pop() if len(titles) == 1 else "", neighbours=neighbours)
        generator = self._custom_generator or ExtractiveGenerator(index, grounder.threshold, self.settings.max_sentences)
        return IndexParts(index, retriever, grounder, analyzer, generator, index_version(self.settings))

    @property
    def _parts(self) -> IndexParts:
        return self._live.parts

    @_parts.setter
    def _parts(self, parts: IndexParts) -> None:
        self._live.parts = parts

    def _current_parts(self) -> IndexParts:
        """This request's parts; a new build on disk (the manifest changed) is opened first."""
        parts = self._parts
        version = index_version(self.settings)
        if version == parts.version or not version:
            return parts
        with self._live.lock:
            if self._parts.version != version:
                try:
                    build = current_build(self.settings)
                    if not build or build == self._parts.index.manifest.build:
                        self._parts = replace(self._parts, version=version)
                    else:
                        self._parts = self._build_parts(open_index(self.settings, self.embedder,
                                                                   private=self.private_index))
                        log.warning("Now answering from the new index build %s.", build)
                except AssistantError as exc:  # keep answering from the build already open
                    log.warning("A new index build could not be opened (%s); still using %s.", exc,
                                self._parts.index.manifest.build)
                    self._parts = replace(self._parts, version=version)
            return self._parts

    # the parts in use (a question is answered with the parts taken when it started)
    index = property(lambda self: self._parts.index)
    retriever = property(lambda self: self._parts.retriever)
    grounder = property(lambda self: self._parts.grounder)
    analyzer = property(lambda self: self._parts.analyzer)
    generator = property(lambda self: self._parts.generator)

    # -- the language model (optional) -------------------------------------------------------
    def model(self, settings: Settings | None = None) -> tuple[ModelAnswerer, ModelRewriter] | None:
        """The model's answerer and rewriter when the generator (this call's ``settings``, else the
        chain's) is "llm"; built on first use."""
        if (settings or self.settings).generator != "llm":
            return None
        if self._model_parts is None:
            with self._live.lock:
                if self._model_parts is None:
                    llm = self._llm or build_llm(self.settings)
                    answerer = ModelAnswerer(llm, self.prompts, self.source_name, self.settings.max_sentences)
                    rewriter = ModelRewriter(llm, self.prompts, self.source_name, fallback=HeuristicRewriter())
                    self._model_parts = (answerer, rewriter)
        return self._model_parts

    def citation_guard(self, passages: list[Chunk], parts: IndexParts | None = None,
                       support: float = SUPPORT) -> CitationGuard:
        """The guard for one answer from these passages (numbered from 1), as the LLM path uses it."""
        return CitationGuard(passages, self.embedder.encode, (parts or self._parts).analyzer.is_specific,
                             lambda text: self.safety.strip_injection(text)[0], self._evidence, support=support)

    # -- Runnable ---------------------------------------------------------------------------
    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return AskInput

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return AskResult

    def as_tool(self, args_schema: Any = None, *, name: str | None = None, description: str | None = None,
                arg_types: dict[str, type] | None = None) -> Any:
        """This chain as a LangChain tool an agent can call (``chain.as_tool()`` needs no arguments)."""
        description = description or (
            f"Answers a patient's question about {self.subject()} only from {self.source_name}, citing the "
            "passages it quotes; says so when the source does not cover the question, and gives urgent-care "
            "advice first when symptoms need it. Input: the question, optionally the earlier messages.")
        return super().as_tool(args_schema, name=name or "ask_" + _identifier(self.source_name),
                               description=description, arg_types=arg_types)

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [ConfigurableFieldSpec(id=key, annotation=OPTIONS[option][0], name=option,
                                      description=OPTIONS[option][1], default=getattr(self.settings, option))
                for key, option in self._aliases.items()]

    def configurable_fields(self, **fields: ConfigurableField) -> AssistantChain:
        """LangChain's way to expose per-call settings under a name of your choice:
        ``chain.configurable_fields(top_k=ConfigurableField(id="passages"))`` then
        ``.invoke(q, config={"configurable": {"passages": 2}})``. The view shares this chain's index."""
        unknown = sorted(set(fields) - set(OPTIONS))
        if unknown:
            raise SettingsError(f"Not a per-call setting: {', '.join(unknown)} (choose from {', '.join(OPTIONS)}).")
        view = copy.copy(self)
        renamed = {field.id: option for option, field in fields.items()}
        view._aliases = {**{k: v for k, v in self._aliases.items() if v not in renamed.values()}, **renamed}
        return view

    def call_settings(self, config: RunnableConfig | None) -> Settings:
        """This chain's settings with the per-call options in ``config["configurable"]`` applied."""
        given = (config or {}).get("configurable") or {}
        changes: dict[str, Any] = {}
        for key, option in self._aliases.items():
            if given.get(key) is None:
                continue
            value = given[key]
            if option == "top_k" and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20):
                raise SettingsError(f"{key} must be a whole number from 1 to 20, not {value!r}.")
            if option == "generator" and value not in ("extractive", "llm"):
                raise SettingsError(f"{key} must be 'extractive' or 'llm', not {value!r}.")
            changes[option] = value
        return self.settings.with_(**changes) if changes else self.settings

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        """Answer one question. Returns a dict with:

        answer (str with [n] markers), citations (list of dicts: id, source, section, title,
        text, quotes, chunk_id, start, end), abstained (bool), urgent (bool), urgent_advice (str),
        kind (answer | partial | not_covered | off_topic | unclear | small_talk | injection),
        missing (what the source does not cover), notice (e.g. "discuss with your doctor"),
        search_query (the question as searched), passages (what was retrieved), generator
        ("extractive" | "llm": which wrote the answer) and guard (None when no model ran, else
        kept, dropped, reasons, gaps, fallback, failure, stopped: see ``guard.GuardReport``).
        """
        return self._call_with_config(self._invoke, input, config, run_type="chain")

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[dict]:
        """Yield the answer in addable pieces as they are made: urgent advice first (before the
        search), then sentence by sentence (with a model: each as soon as it passed the guard), then
        the citations and flags. Adding all pieces gives exactly what ``invoke`` returns."""
        yield from self._transform_stream_with_config(iter([input]), self._transform, config)

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[dict]:
        """``stream`` for asyncio: each piece is made in a worker thread and yielded as soon as it is ready."""
        async def one() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(one(), self._atransform, config):
            yield chunk

    def _invoke(self, input: Any, config: RunnableConfig) -> dict:
        steps = self._steps(input, self._current_parts(), config)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    def _transform(self, inputs: Iterator[Any], config: RunnableConfig) -> Iterator[dict]:
        for input in inputs:
            yield from self._pieces(input, config)

    async def _atransform(self, inputs: AsyncIterator[Any], config: RunnableConfig) -> AsyncIterator[dict]:
        async for input in inputs:
            pieces = self._pieces(input, config)
            try:
                while (chunk := await run_in_executor(config, next, pieces, _DONE)) is not _DONE:
                    yield chunk
            finally:
                pieces.close()

    def _pieces(self, input: Any, config: RunnableConfig | None) -> Iterator[dict]:
        steps = self._steps(input, self._current_parts(), config)
        while True:
            try:
                yield AddableDict(answer=next(steps))
            except StopIteration as done:
                result = done.value
                break
        result.pop("answer")
        yield AddableDict(result)

    def red_flags(self, question: str, read: str = "") -> tuple[tuple[str, ...], list[str]]:
        """Red flags in the message as typed and as read (``read``, worked out when not given: "hes a bit
        muddled" -> "he's a bit muddled": the patterns are written in standard spelling); the pieces for
        ``Safety.similar`` are taken from the message as read."""
        typed, _ = self.safety.red_flags(question)
        found, pieces = self.safety.red_flags(read or self.analyzer.normalise(question))
        return tuple(dict.fromkeys(typed + found)), pieces

    def urgent(self, question: str) -> tuple[str, ...]:
        """The red-flag groups the message describes as happening now, as an answer decides them
        (scripts and tests; an answer embeds these texts with its search in one call)."""
        flags, pieces = self.red_flags(question)
        texts = self.safety.compared(pieces)
        return self.safety.with_similar(flags, pieces, dict(zip(texts, self.embedder.encode(texts))) if texts else {},
                                        question)

    # -- the pipeline -------------------------------------------------------------------------
    def _steps(self, input: Any, parts: IndexParts, config: RunnableConfig | None = None) -> Generator[str, None, dict]:
        """Yields the answer's pieces as soon as each is known (each piece carries the separator
        before it); returns the whole result. Safety, understanding, search and coverage are
        deterministic and come first; a model, if any, only writes the answer. Per-call settings
        (``config["configurable"]``, see ``call_settings``) choose top_k and the generator."""
        settings = self.call_settings(config)
        parsed = self.parse(input)
        model = self.model(settings)
        deadline = deadline_after(settings.llm_timeout) if model else 0.0
        read = parts.analyzer.normalise(parsed.question)  # spelling corrected: what the patterns are written for
        flags, compare = self.red_flags(parsed.question, read)
        screening = self.safety.screen(parsed.question, flags, read=read)
        question = None
        if not screening.small_talk and _has_words(screening.question):
            said = next((text for role, text in reversed(parsed.history) if role == "assistant"), "")
            question = self.understand(screening.question, parsed.history, said, parts, config, deadline)
            if screening.injection:  # never restate a message that tried to change the instructions
                question = replace(question, parts=tuple(replace(p, echo=False) for p in question.parts))
        # one call to the model embeds what the red-flag check and the search both need
        searched = self._search_texts(question, parts) if question else []
        texts = list(dict.fromkeys(self.safety.compared(compare) + searched))
        vectors = dict(zip(texts, self.embedder.encode(texts))) if texts else {}
        urgent = self.safety.with_similar(flags, compare, vectors, parsed.question)
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
        results = RunnableLambda(lambda q: self.search(q, vectors, parts, top_k=settings.top_k),
                                 name="retriever").invoke(question, config)
        coverage = parts.grounder.assess(question, results)
        if coverage.verdict == "not_covered":
            coverage = parts.grounder.with_story_things(coverage, question, parts.analyzer.story_things(question))
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
        quotes = parts.generator.invoke({"question": question, "coverage": coverage, "passages": passages},
                                        patch_config(config, run_name="extractive" if model else "generator"))
        quoted = {q.chunk_id for q in quotes} - {p.chunk.id for p in passages}
        if quoted:  # a quoted passage beyond the top k is reported as retrieved too
            extra = {p.chunk.id: p for r in results for p in r.fetched if p.chunk.id in quoted}
            passages += list(extra.values())
            out["passages"] = [_passage_info(p) for p in passages]
        if not quotes:
            out.update(abstained=True, kind="not_covered")
            yield piece(self._topics_text("not_covered.j2", coverage.notes, question.search, parts))
            return _finish(out, said)
        if not model or not (yield from self._model_answer(model[0], screening.question, question, coverage, passages,
                                                            out, piece, parts, deadline, config)):
            citations, numbers = self._citations(quotes, parts)
            out["citations"] = citations
            for i, quote in enumerate(quotes):
                yield piece(f"{quote.text} [{numbers[quote.chunk_id]}]", "\n\n" if i == 0 else " ")
        if coverage.notes:
            yield piece(self.prompts.render("partial_note.j2", source_name=self.source_name, notes=list(coverage.notes)))
        if screening.decision:
            yield piece(self._decision_note(out))
        return _finish(out, said)

    def understand(self, message: str, history: list[Turn], said: str = "", parts: IndexParts | None = None,
                   config: RunnableConfig | None = None, deadline: float = 0.0) -> Question:
        """The message as a ``Question``: follow-ups resolved, parts, types, terms. With a model (and
        ``llm_rewrite``) the model rewrites follow-ups, within ``REWRITE_SHARE`` of the time left."""
        model = self.model(self.call_settings(config))
        analyzer = (parts or self._parts).analyzer

        def resolve(text: str, config: RunnableConfig) -> Resolution:
            if not isinstance(self.rewriter, HeuristicRewriter):  # a custom rewriter returns a self-contained question
                return Resolution(self.rewriter.rewrite(text, history))
            # text-message spellings expanded first: "y tho" refers back as "why though" does
            text = analyzer.normalise(text)
            turns = [(role, analyzer.normalise(t) if role == "user" else t) for role, t in history]
            if model and self.settings.llm_rewrite:
                limit = min(deadline, deadline_after(self.settings.llm_timeout * REWRITE_SHARE))
                return model[1].resolve(text, turns, limit, config)
            return self.rewriter.resolve(text, turns)

        resolution = RunnableLambda(resolve, name="rewriter").invoke(message, config)
        return analyzer.analyse(resolution.text, resolution.context, previous=said, listed=resolution.listed)

    def _search_texts(self, question: Question, parts: IndexParts | None = None) -> list[str]:
        """What ``search`` embeds: each part as searched, and without the corpus's topic words."""
        grounder = (parts or self._parts).grounder
        return list(dict.fromkeys([p.search for p in question.parts] +
                                  [grounder.without_topic(p.search) for p in question.parts]))

    def search(self, question: Question, vectors: dict[str, np.ndarray] | None = None,
               parts: IndexParts | None = None, top_k: int | None = None) -> list[PartResult]:
        """Each part: retrieve passages, score their sentences, keep the passages that answer best."""
        parts = parts or self._parts
        top_k = top_k or self.settings.top_k
        needed = [t for t in self._search_texts(question, parts) if not vectors or t not in vectors]
        vectors = {**(vectors or {}), **(dict(zip(needed, self.embedder.encode(needed))) if needed else {})}
        return [self._search_part(part, parts.retriever, parts.grounder, top_k, vectors) for part in question.parts]

    def _search_part(self, part: Part, retriever: HybridRetriever, grounder: Grounder, top_k: int,
                     vectors: dict[str, np.ndarray] | None = None) -> PartResult:
        """One part (``search``; the grounder's second reading of a part without its story): the texts
        not in ``vectors`` are embedded here."""
        need = grounder.without_topic(part.search)
        missing = [t for t in dict.fromkeys([part.search, need]) if not vectors or t not in vectors]
        vectors = {**(vectors or {}), **(dict(zip(missing, self.embedder.encode(missing))) if missing else {})}
        fetched = retriever.search(part.search, vectors[part.search], k=top_k * FETCH)
        result = grounder.score(part, vectors[need], fetched)
        best_in: dict[str, float] = {}
        for prob, cand in result.scored:
            best_in.setdefault(cand.chunk_id, prob)
        keep = sorted(fetched, key=lambda p: -best_in.get(p.chunk.id, 0.0))[:top_k]
        result.passages = keep  # what is reported as retrieved; every fetched sentence stays a candidate
        return result

    def _model_answer(self, answerer: ModelAnswerer, message: str, question: Question, coverage: Coverage,
                      passages: list[Passage], out: dict, piece: Any, parts: IndexParts, deadline: float,
                      config: RunnableConfig | None) -> Generator[str, None, bool]:
        """The model's answer from the chosen passages, each sentence yielded once it passed the guard.
        Returns False when nothing passed (the caller then gives the extractive answer)."""
        chunks = [p.chunk for p in passages]
        guard, report = self.citation_guard(chunks, parts), GuardReport()
        run = get_callback_manager_for_config(patch_config(config)).on_chain_start(
            None, {"passages": [c.id for c in chunks]}, name="guard")
        numbers: dict[str, int] = {}
        evidence: list[Quote] = []
        messages = answerer.messages(message, chunks, list(coverage.notes))
        model_config = patch_config(config, run_name="generator")  # its raw tokens are tagged as unguarded
        model_config["tags"] = [*model_config.get("tags", []), "unguarded"]
        for judgement in answerer.stream(guard, messages, deadline, report, model_config):
            marks = []
            for n, sentence_no in judgement.evidence:
                chunk = chunks[n - 1]
                numbers.setdefault(chunk.id, len(numbers) + 1)
                evidence.append(ExtractiveGenerator.quote(chunk, sentence_no))
                marks.append(f"[{numbers[chunk.id]}]")
            yield piece(f"{judgement.sentence} {''.join(marks)}", "\n\n" if len(report.kept) == 1 else " ")
        if not report.kept:  # a model that only says the passages are silent is overruled: they answer it
            report.fallback = (f"the model failed ({report.failure})" if report.failure
                               else "the model said the passages do not answer it" if report.gaps and not report.dropped
                               else "no sentence passed the guard")
        if report.failure:
            log.warning("The language model (%s) failed: %s; %s.", describe(answerer.llm), report.failure,
                        "answered extractively" if report.fallback else "its answer so far was kept")
        elif report.fallback:
            log.info("No sentence of the model's answer stands (%s); answered extractively.", report.fallback)
        out["guard"] = report.as_dict()
        run.on_chain_end(out["guard"])
        if report.fallback:
            return False
        out["generator"] = "llm"
        out["citations"] = self._citations(evidence, parts)[0]
        return True

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
            quoted = {"text": quote.text, "start": quote.start, "end": quote.end}
            if quoted not in citations[numbers[quote.chunk_id] - 1]["quotes"]:
                citations[numbers[quote.chunk_id] - 1]["quotes"].append(quoted)
        return citations, numbers

    def _topics_text(self, template: str, notes: tuple[str, ...] = (), query: str = "",
                     parts: IndexParts | None = None) -> str:
        return self.prompts.render(template, source_name=self.source_name, notes=list(notes),
                                   topics=self.topics(query, parts))

    def warm_up(self) -> None:
        """Answer one example question, so that the first patient does not wait for what loads on first use,
        and load the verb forms a note's restated question needs (lemminflect's tables: 0.2 s, which
        20 patients asking at once would otherwise each pay)."""
        self.invoke(self.example_questions()[0])
        restate("does it cost much?")

    def prefill(self) -> threading.Event:
        """Embed the index's sentences in a background thread (a long-running server calls this; a build
        leaves them to the first retrieval). Corpora over ``prefill_sentences`` sentences are left as
        they are. Set the returned event to stop early."""
        stop = threading.Event()
        vectors = self._parts.index.sentence_vectors
        if 0 < len(vectors) <= self.settings.prefill_sentences:
            worker = threading.Thread(target=vectors.fill, args=(stop,), name="prefill-sentences", daemon=True)
            worker.start()
            atexit.register(lambda: (stop.set(), worker.join(10)))  # never cut off inside the model at exit
        return stop

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
                rewriter: QueryRewriter | None = None, embedder: Embedder | None = None,
                llm: BaseLanguageModel | None = None, private_index: bool = False) -> AssistantChain:
    """The ready-to-use chain. Builds (or rebuilds) the index first if it is missing or stale.
    ``llm``: any LangChain chat model to write the answers (default: the one ``ASSISTANT_LLM_*``
    describe when ``ASSISTANT_GENERATOR=llm``). ``private_index``: read a private copy of the build,
    for one of several processes serving it."""
    set_offline_env()
    settings = settings or Settings.from_env()
    embedder = embedder or shared_embedder(settings.embedding_model)
    index = open_index(settings, embedder, private=True) if private_index else ensure_index(settings, embedder)
    return AssistantChain(settings, index, embedder, generator=generator, rewriter=rewriter, llm=llm,
                          private_index=private_index)


class _Live:
    """The index parts in use and the lock that guards swapping them."""

    def __init__(self, parts: IndexParts) -> None:
        self.parts = parts
        self.lock = threading.Lock()


def _identifier(text: str) -> str:
    return "_".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split()) or "source"


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
        elif hasattr(item, "type") and hasattr(item, "content"):  # LangChain messages
            role, text = item.type, item.content
        elif hasattr(item, "role") and hasattr(item, "content"):  # assistant.schemas.Message
            role, text = item.role, item.content
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
            "search_query": question, "passages": [], "generator": "extractive", "guard": None}


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
    """Words NIH consumer-health text uses far more than general English (scripts/build_lexicon.py), and
    drug names general English barely knows, brands too ("boniva"; scripts/build_drug_names.py)."""
    lines = [line for path in (MEDICAL_TERMS, DRUG_NAMES) for line in path.read_text(encoding="utf-8").splitlines()]
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
