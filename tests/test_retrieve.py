"""Hybrid retrieval: dense and BM25 ranks fused; a LangChain retriever over the same index."""

from assistant.retrieve import to_document


def test_search_returns_k_passages_best_first(chain):
    passages = chain.retriever.search("Which specialists use fluoroscopy?", k=3)
    assert len(passages) == 3 and [p.rank for p in passages] == [0, 1, 2]
    assert passages[0].fused >= passages[1].fused >= passages[2].fused
    assert any(p.chunk.section == "Interventional Radiologists (IR)" for p in passages)


def test_keyword_only_matches_are_found(chain):
    passages = chain.retriever.search("fellowship certifications", k=2)
    assert "fellowship" in passages[0].chunk.text and passages[0].lexical > 0


def test_documents_carry_their_place(chain):
    doc = to_document(chain.retriever.search("osteoporosis", k=1)[0])
    assert {"chunk_id", "source", "section", "start", "end", "dense", "lexical"} <= set(doc.metadata)
