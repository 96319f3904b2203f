"""Hybrid retrieval: dense (Chroma, cosine) plus lexical (BM25), fused by reciprocal rank.

``HybridRetriever`` is a LangChain ``BaseRetriever``, so it composes with any LangChain chain.
It returns ``Document``s whose metadata carries the chunk id, source, section and the scores.
The chain itself calls ``search()``, which also takes an already computed query vector and
returns plain ``Passage`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr
from rank_bm25 import BM25Okapi

from assistant.index import Index
from assistant.ingest import Chunk
from assistant.text import content_stems

RRF_K = 60  # the usual reciprocal-rank-fusion constant


@dataclass(frozen=True)
class Passage:
    chunk: Chunk
    rank: int  # 0 = best
    dense: float  # cosine similarity to the question
    lexical: float  # BM25 score
    fused: float  # reciprocal-rank fusion score


class HybridRetriever(BaseRetriever):
    """Top-k chunks of an ``Index`` by fused dense and BM25 rank."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    k: int = 4
    fetch_k: int = 20
    _bm25: BM25Okapi = PrivateAttr()

    def model_post_init(self, __context: object) -> None:
        self._bm25 = BM25Okapi([content_stems(c.embedding_text()) or ["_"] for c in self.index.chunks])

    def search(self, query: str, query_vector: np.ndarray | None = None, k: int | None = None) -> list[Passage]:
        k = k or self.k
        if query_vector is None:
            query_vector = np.asarray(self.index.store.embeddings.embed_query(query), dtype=np.float32)
        fetch = min(max(self.fetch_k, k), len(self.index.chunks))
        dense_hits = self.index.store.similarity_search_by_vector_with_relevance_scores(
            query_vector.tolist(), k=fetch
        )
        dense = {doc.id: 1.0 - float(distance) for doc, distance in dense_hits}  # cosine distance
        tokens = content_stems(query)
        lexical_scores = self._bm25.get_scores(tokens) if tokens else np.zeros(len(self.index.chunks))
        lexical_order = [i for i in np.argsort(-lexical_scores)[:fetch] if lexical_scores[i] > 0]
        fused: dict[str, float] = {}
        for rank, chunk_id in enumerate(dense):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, i in enumerate(lexical_order):
            chunk_id = self.index.chunks[i].id
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        lexical_by_id = {self.index.chunks[i].id: float(lexical_scores[i]) for i in lexical_order}
        best = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
        return [
            Passage(self.index.chunk(cid), rank, dense.get(cid, 0.0), lexical_by_id.get(cid, 0.0), fused[cid])
            for rank, cid in enumerate(best)
        ]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        """``retriever.invoke(query, k=2)`` overrides ``k`` for one call."""
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ValueError(f"k must be a positive whole number, not {k!r}.")
        return [to_document(p) for p in self.search(query, k=k)]


def to_document(p: Passage) -> Document:
    c = p.chunk
    return Document(
        id=c.id,
        page_content=c.text,
        metadata={"chunk_id": c.id, "source": c.source, "title": c.title, "section": c.heading,
                  "start": c.start, "end": c.end, "rank": p.rank, "dense": p.dense,
                  "lexical": p.lexical, "fused": p.fused},
    )
