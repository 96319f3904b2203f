"""The answer chain end to end: real index, real model, real Chroma."""

import asyncio
import re

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableLambda

from assistant import build_chain
from assistant.answer import Quote
from assistant.errors import AssistantError, InvalidQuestion
from tests.conftest import ask

SPECIALTIES = [r"interventional radiolog", r"orthop(a)?edic", r"neurosurgeon"]


def answer_sentences(answer: str) -> list[tuple[str, int]]:
    """(sentence, citation number) pairs from an answer with [n] markers."""
    return [(m.group(1).strip(), int(m.group(2))) for m in re.finditer(r"([^\[\]]+?)\s*\[(\d+)\]", answer)]


@pytest.mark.parametrize("question", [
    "Who performs kyphoplasty?", "who does kyphoplasy", "What kind of doctor does kyphoplasty?",
    "WHICH SPECIALISTS DO THIS PROCEDURE",
])
def test_who_performs_it_names_all_three_specialties(chain, question):
    out = ask(chain, question)
    assert not out["abstained"]
    for specialty in SPECIALTIES:
        assert re.search(specialty, out["answer"], re.I), (specialty, out["answer"])


def test_what_to_ask_a_provider_covers_the_criteria(chain):
    out = ask(chain, "What should I ask a provider?")
    for criterion in ["number of procedures", "training", "facility", "success rates", "follow-up"]:
        assert criterion in out["answer"], criterion


@pytest.mark.parametrize("question", [
    "Who performs kyphoplasty?", "What causes compression fractures?", "What should I ask a provider?",
    "What is kyphosis?", "where is kyphoplasty done?", "what do neurosurgeons focus on?",
])
def test_every_answer_sentence_is_quoted_from_its_cited_passage(chain, question):
    out = ask(chain, question)
    pairs = answer_sentences(out["answer"])
    assert 1 <= len(pairs) <= 5
    by_id = {c["id"]: c for c in out["citations"]}
    for sentence, n in pairs:
        passage = by_id[n]["text"]
        assert sentence[1:] in passage, (sentence, passage)  # first letter may be re-capitalised
        quotes = [passage[q["start"] : q["end"]] for q in by_id[n]["quotes"]]
        assert any(q[1:] == sentence[1:] for q in quotes)


def test_citation_structure(chain):
    out = ask(chain, "Who performs kyphoplasty?")
    c = out["citations"][0]
    assert {"id", "source", "section", "text", "quotes", "chunk_id"} <= set(c)
    assert c["id"] == 1 and c["source"] == "kyphoplasty.md"
    assert c["section"] == "The Primary Specialists Who Perform Kyphoplasty"


@pytest.mark.parametrize("question, missing", [
    ("How much does kyphoplasty cost?", "cost"),
    ("Does insurance cover kyphoplasty?", "insurance"),
    ("Will medicare pay for it?", ""),
    ("How long is recovery after kyphoplasty?", "recovery"),
    ("how long does the procedure take?", "how long"),
    ("Is kyphoplasty better than vertebroplasty?", "vertebroplasty"),
    ("Is an orthopedic surgeon better than a neurosurgeon?", "better"),
    ("what is vertebroplasty?", "vertebroplasty"),
    ("What is the capital of France?", ""),
    ("Write me a poem about the sea", ""),
    ("What is the best treatment for glaucoma?", ""),
])
def test_uncovered_questions_abstain(chain, question, missing):
    out = ask(chain, question)
    assert out["abstained"], out["answer"]
    assert out["citations"] == []
    assert "[1]" not in out["answer"]
    assert missing in out["answer"]
    assert "Key Factors in Choosing a Kyphoplasty Provider" in out["answer"]  # says what it covers


def test_partly_covered_question_answers_the_covered_part(chain):
    out = ask(chain, "Who performs kyphoplasty and how much does it cost?")
    assert not out["abstained"] and out["kind"] == "partial"
    assert "Neurosurgeons" in out["answer"]
    assert "does not say how much it costs" in out["answer"]
    assert out["notes"] == ["say how much it costs"]


@pytest.mark.parametrize("question, note", [
    ("Is kyphoplasty better than vertebroplasty?", "mention vertebroplasty"),
    ("Will I be put to sleep for it?", "say whether you will be put to sleep for it"),
    ("How long is recovery after kyphoplasty?", "say how long recovery after kyphoplasty is"),
])
def test_notes_name_the_missing_need_in_plain_words(chain, question, note):
    out = ask(chain, question)
    assert out["abstained"] and out["notes"] == [note]
    assert f"does not {note}" in out["answer"]


def test_runnable_interfaces(chain):
    assert isinstance(chain, Runnable)
    q = {"question": "Who performs kyphoplasty?", "chat_history": []}
    full = chain.invoke(q)
    assert [o["answer"] for o in chain.batch([q, q])] == [full["answer"]] * 2
    chunks = list(chain.stream(q))
    assert len(chunks) >= 3  # sentence by sentence, then the citations
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total == full
    assert asyncio.run(chain.ainvoke(q))["answer"] == full["answer"]
    assert chain.invoke("Who performs kyphoplasty?")["answer"] == full["answer"]  # a bare string works


def test_composes_with_other_runnables(chain):
    pipeline = RunnableLambda(lambda q: {"question": q, "chat_history": []}) | chain | (lambda o: o["answer"])
    assert "Neurosurgeons" in pipeline.invoke("Who performs kyphoplasty?")


@pytest.mark.parametrize("form", ["tuples", "messages", "dicts"])
def test_chat_history_formats(chain, form):
    first_q = "Who performs kyphoplasty?"
    first_a = ask(chain, first_q)["answer"]
    history = {
        "tuples": [("user", first_q), ("assistant", first_a)],
        "messages": [HumanMessage(first_q), AIMessage(first_a)],
        "dicts": [{"role": "user", "content": first_q}, {"role": "assistant", "content": first_a}],
    }[form]
    out = ask(chain, "which of them usually works outpatient?", history)
    assert "IR specialists often perform this procedure in an outpatient setting." in out["answer"]
    assert "Interventional Radiologists (IR)" in {c["section"] for c in out["citations"]}


@pytest.mark.parametrize("bad, message", [
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("\x00\x01\x02", "empty"),
    ("x" * 50_000, "50,000 characters"),
    (None, "must be text"),
    (42, "must be text"),
    (["who", "performs"], "must be text"),
])
def test_bad_questions_get_a_clear_error(chain, bad, message):
    with pytest.raises(InvalidQuestion, match=message):
        chain.invoke({"question": bad, "chat_history": []})
    assert issubclass(InvalidQuestion, AssistantError)


def test_non_dict_input_and_bad_history(chain):
    with pytest.raises(InvalidQuestion):
        chain.invoke(12)
    with pytest.raises(InvalidQuestion, match="chat_history"):
        chain.invoke({"question": "hi", "chat_history": "not a list"})


def test_control_characters_and_markup_are_cleaned(chain):
    out = ask(chain, "Who\x07 performs <b>kyphoplasty</b>?\x1b[31m")
    assert "Neurosurgeons" in out["answer"]
    assert out["question"] == "Who performs kyphoplasty?"  # the colour code goes whole, the tags too


class FixedGenerator(Runnable):
    """A stand-in generator: always quotes the first sentence of the best passage."""

    def invoke(self, input, config=None, **kwargs):
        chunk = input["passages"][0].chunk
        s = chunk.sentences[0]
        return [Quote(s.text, chunk.id, 0, 0, len(s.text))]


def test_the_generator_is_swappable(settings, embedder):
    chain = build_chain(settings, embedder=embedder, generator=FixedGenerator())
    out = ask(chain, "Who performs kyphoplasty?")
    assert out["answer"].endswith("[1]") and len(answer_sentences(out["answer"])) == 1
    assert ask(chain, "How much does kyphoplasty cost?")["abstained"]  # abstention stays in the chain


def test_settings_from_environment_serve_another_corpus(tmp_path, monkeypatch, embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "tea.md").write_text("# Tea\n\n## Green tea\n\nGreen tea is made from unoxidised leaves.\n")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "ix"))
    out = build_chain(embedder=embedder).invoke({"question": "How is green tea made?", "chat_history": []})
    assert "unoxidised leaves" in out["answer"] and out["citations"][0]["source"] == "tea.md"


def test_real_words_are_not_typo_corrected(chain):
    # "guide" is a form of the corpus word "guided", not a typo of it; "medicare" is not "medical"
    assert chain.analyzer.normalise("what imaging do they use to guide the needle") == \
        "what imaging do they use to guide the needle"
    assert chain.analyzer.normalise("will medicare pay") == "will medicare pay"
    assert chain.analyzer.normalise("who does kyphoplasy") == "who does kyphoplasty"


def test_the_main_subject_missing_means_no_partial_answer(chain):
    out = ask(chain, "can kyphoplasty cause leg numbness?")  # "cause" is in the guide, the rest is not
    assert out["abstained"] and out["citations"] == []


def test_a_lay_word_counts_once_however_many_synonyms_match(chain):
    out = ask(chain, "what training should my doctor have?")
    assert "fellowship" in out["answer"]  # not the sentence naming the most kinds of doctor


def test_the_retriever_is_a_langchain_retriever(chain):
    from langchain_core.retrievers import BaseRetriever

    docs = chain.retriever.invoke("Which specialists work in an outpatient setting?")
    assert isinstance(chain.retriever, BaseRetriever) and len(docs) == chain.settings.top_k
    assert any(d.metadata["section"] == "Interventional Radiologists (IR)" for d in docs)
    assert {"chunk_id", "source", "dense", "lexical"} <= set(docs[0].metadata)


class EchoRewriter:
    """A stand-in for an LLM-based rewriter: always searches a fixed question."""

    def rewrite(self, question, history):
        return "What causes compression fractures?"


def test_the_rewriter_is_swappable(settings, embedder):
    chain = build_chain(settings, embedder=embedder, rewriter=EchoRewriter())
    out = ask(chain, "anything at all")
    assert out["search_query"] == "What causes compression fractures?" and "osteoporosis" in out["answer"]


def test_warm_up_loads_what_a_declined_question_needs(chain):
    """20 patients asking at once must not each load lemminflect's verb forms for their note."""
    from assistant.restate import _inflection

    _inflection.cache_clear()
    chain.warm_up()
    assert _inflection.cache_info().currsize > 0


@pytest.mark.parametrize("question, spelled", [("What does VCF mean?", "Vertebral Compression Fracture (VCF)"),
                                               ("what's IR short for", "Interventional Radiologists (IR)"),
                                               ("What does IR stand for?", "Interventional Radiologists (IR)")])
def test_asked_what_an_abbreviation_means_the_first_sentence_spells_it_out(chain, question, spelled):
    assert spelled in chain.invoke(question)["answer"].split("[1]")[0]


def test_a_declined_message_names_the_story_s_things_the_guide_lacks(chain):
    out = ask(chain, "I'm on warfarin for my heart. Can I still have kyphoplasty?")
    assert out["abstained"] and out["notes"][0] == "mention warfarin"
    assert "does not mention warfarin" in out["answer"]
    # what someone does or feels is no thing to mention ("aches" can be a verb); nor are their people
    out = ask(chain, "My knees ache and Dr Osei thinks I need it. How long is recovery after kyphoplasty?")
    assert out["notes"] == ["say how long recovery after kyphoplasty is"]
