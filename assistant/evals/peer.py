"""The peer in every comparison: the plain LangChain-tutorial RAG pipeline.

What a developer gets by following LangChain's RAG tutorial with the same parts: the same corpus
files, ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``, the same MiniLM
embeddings, a Chroma vector store (cosine), ``k=4`` similarity search, and — with no language model
offline — the top chunk as the answer. It never declines, never checks urgency and ignores the
conversation. Its result has the same shape as the assistant's, so the same metrics score it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from assistant.embeddings import Embedder
from assistant.ingest import load_corpus

CHUNK_SIZE, CHUNK_OVERLAP, K = 1000, 200, 4


class TutorialPipeline:
    def __init__(self, corpus_dir: Path, embedder: Embedder, persist_dir: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        corpus = load_corpus(corpus_dir)
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        docs = splitter.create_documents([d.text for d in corpus.documents],
                                         metadatas=[{"source": d.source, "title": d.title} for d in corpus.documents])
        ids = [hashlib.sha256(f"{d.metadata['source']}\0{i}\0{d.page_content}".encode()).hexdigest()[:20]
               for i, d in enumerate(docs)]
        client = chromadb.PersistentClient(path=str(persist_dir), settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma(collection_name="tutorial", embedding_function=embedder, client=client,
                            collection_metadata={"hnsw:space": "cosine"})
        if self.store._collection.count() != len(docs):
            for i in range(0, len(docs), 1000):
                self.store.add_documents(docs[i : i + 1000], ids=ids[i : i + 1000])
        self.chunks = len(docs)

    def invoke(self, input: Any, config: Any = None) -> dict:
        question = input["question"] if isinstance(input, dict) else str(input)
        hits = self.store.similarity_search_with_score(question, k=K)
        passages = [{"chunk_id": d.id, "source": d.metadata["source"], "section": d.metadata.get("title", ""),
                     "text": d.page_content, "dense": round(1 - float(dist), 4)} for d, dist in hits]
        if not passages:
            return {"question": question, "answer": "", "citations": [], "abstained": True, "urgent": False,
                    "urgent_advice": "", "kind": "not_covered", "notes": [], "passages": []}
        top = passages[0]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", top["text"]) if s.strip()]
        quotes = [{"text": s, "start": top["text"].find(s), "end": top["text"].find(s) + len(s)} for s in sentences]
        citation = {"id": 1, "source": top["source"], "section": top["section"], "title": top["section"],
                    "text": top["text"], "chunk_id": top["chunk_id"], "quotes": quotes}
        return {"question": question, "answer": f"{top['text']} [1]", "citations": [citation], "abstained": False,
                "urgent": False, "urgent_advice": "", "kind": "answer", "notes": [], "passages": passages}
