"""The chain's input and output as pydantic models: LangChain's ``get_input_schema`` /
``get_output_schema`` and ``as_tool()``, and the HTTP API's OpenAPI docs, all read them.

The chain itself keeps taking and returning plain dicts (and a bare string as the question); these
models describe those dicts and validate what arrives over HTTP.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Message(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant", "human", "ai"] = Field(description="who wrote it")
    content: str = Field(description="what was written")


class AskInput(BaseModel):
    """A patient's question and, for follow-ups, the conversation so far."""

    question: str = Field(description="the question, in the patient's own words", min_length=1)
    chat_history: list[Message] = Field(default_factory=list, description="earlier messages, oldest first")


class Quote(BaseModel):
    text: str = Field(description="a sentence of the passage the answer quotes")
    start: int = Field(description="its first character in the passage")
    end: int = Field(description="one past its last character in the passage")


class Citation(BaseModel):
    """A passage of the source that the answer cites as [id]."""

    model_config = ConfigDict(extra="allow")

    id: int = Field(description="the number the answer shows as [id]")
    source: str = Field(description="the corpus file")
    section: str = Field(description="the section heading")
    title: str = Field(description="the document's title")
    text: str = Field(description="the whole passage")
    quotes: list[Quote] = Field(description="the sentences of the passage the answer uses")
    chunk_id: str
    start: int = Field(description="the passage's first character in the source file")
    end: int
    page: int | None = Field(None, description="the page of a PDF the passage is on (absent for other formats)")


class PassageInfo(BaseModel):
    """A passage that retrieval returned (cited or not), with its scores."""

    model_config = ConfigDict(extra="allow")

    chunk_id: str
    source: str
    section: str
    rank: int
    dense: float = Field(description="cosine similarity to the question")
    lexical: float = Field(description="BM25 score")
    text: str


Kind = Literal["answer", "partial", "not_covered", "off_topic", "unclear", "small_talk", "injection"]


class AskResult(BaseModel):
    """A grounded answer: every sentence carries [n], and citations[n-1] is where it comes from."""

    model_config = ConfigDict(extra="allow")  # later fields (e.g. which generator answered) pass through

    question: str = Field(description="the question as cleaned")
    answer: str = Field(description="the answer, with [n] after each quoted sentence")
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = Field(description="the source does not answer this question")
    urgent: bool = Field(description="the message describes symptoms that need urgent care")
    urgent_advice: str = Field("", description="the urgent-care advice, also first in the answer")
    kind: Kind = "answer"
    missing: list[str] = Field(default_factory=list, description="what the question asks that the source does not cover")
    notes: list[str] = Field(default_factory=list)
    notice: str = Field("", description="e.g. 'discuss this decision with your doctor'")
    injection: bool = Field(False, description="the message tried to change the assistant's instructions")
    search_query: str = Field("", description="the question as searched (follow-ups resolved)")
    passages: list[PassageInfo] = Field(default_factory=list)
    history_trimmed: int = Field(0, description="earlier messages dropped or cut to stay within the limits")
    generator: Literal["extractive", "llm"] = Field("extractive", description="who wrote the answer")
    guard: dict | None = Field(None, description="with a model: what the citation guard kept and dropped, and why "
                                                 "(kept, dropped, reasons, fallback, failure); reasons and gaps "
                                                 "hold the removed, unsupported sentences: for staff, never patients")
