"""The language-model generator: a fluent answer written from the passages the extractive pipeline chose,
shown sentence by sentence as each passes the citation guard.

The chain calls it only after its own deterministic steps decided the question is answerable
(urgent advice, injection screening and coverage come first and do not depend on the model), and
gives it only the passages it chose. ``ModelAnswerer.stream`` reads the reply as it arrives
(``llm.stream_text``), cuts it into sentences (``guard.SentenceStream``), judges each
(``guard.CitationGuard``) and yields the ones that pass; the rest are counted with their reason.
It stops reading a model that has written more unsupported sentences than supported ones (at
least ``ABANDON_AFTER``), and ends at the deadline. What happens when nothing passed (the extractive
answer, also when the model only said what the passages do not cover) is the chain's choice.

The prompt is ``prompts/llm_answer_system.j2`` and ``prompts/llm_answer.j2``: passages are numbered
and wrapped in ``<passage>`` tags as data, never instructions.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from assistant.guard import CitationGuard, GuardReport, Judgement, SentenceStream
from assistant.ingest import Chunk
from assistant.llm import ModelFailure, stream_text
from assistant.prompts import Prompts

ABANDON_AFTER = 2  # stop reading once this many sentences were removed and they outnumber those kept
_TAG = re.compile(r"<\s*/?\s*(?=passages?\b|question\b|conversation\b|message\b)", re.I)


class ModelAnswerer:
    """Asks a chat model for an answer and guards it. One per chain; safe to share between threads."""

    def __init__(self, llm: Any, prompts: Prompts, source_name: str, max_sentences: int) -> None:
        self.llm = llm
        self.prompts = prompts
        self.source_name = source_name
        self.max_sentences = max_sentences

    def messages(self, question: str, passages: list[Chunk], notes: list[str]) -> list:
        """The system rules and the numbered passages with the question, as chat messages."""
        system = self.prompts.render("llm_answer_system.j2", source_name=self.source_name,
                                     max_sentences=self.max_sentences + 1)
        shown = [{"section": _data(c.heading or c.title), "text": _data(c.text)} for c in passages]
        user = self.prompts.render("llm_answer.j2", source_name=self.source_name, passages=shown, notes=notes,
                                   question=_data(question))
        return [SystemMessage(system), HumanMessage(user)]

    def stream(self, guard: CitationGuard, messages: list, deadline: float, report: GuardReport,
               config: RunnableConfig | None = None) -> Generator[Judgement, None, None]:
        """Yield each sentence that passes the guard, as soon as it is complete; ``report`` records
        every judgement, the model's failure (an error or the deadline) and an early stop."""
        sentences = SentenceStream()
        try:
            for text in stream_text(self.llm, messages, deadline, config):
                for sentence in sentences.feed(text):
                    if (yield from self._judge(guard, sentence, report)):
                        return
            for sentence in sentences.flush():
                if (yield from self._judge(guard, sentence, report)):
                    return
        except ModelFailure as exc:
            report.failure = str(exc)

    @staticmethod
    def _judge(guard: CitationGuard, sentence: str, report: GuardReport) -> Generator[Judgement, None, bool]:
        """Judge one sentence, yield it if it passes; True when the model should be read no further."""
        judgement = guard.judge(sentence)
        report.add(judgement)
        if judgement.kept:
            yield judgement
        if len(report.dropped) >= ABANDON_AFTER and len(report.dropped) > len(report.kept):
            report.stopped = "more unsupported sentences than supported ones"
            return True
        return False


def _data(text: str) -> str:
    """Text placed inside the prompt's tags, unable to close or open one."""
    return _TAG.sub("‹", text)
