"""The chain, retriever and embedder as LangChain users meet them: typed schemas, as_tool(), per-call
settings, and LangChain's own standard test suites (langchain-tests) for retrievers and embeddings."""

from __future__ import annotations

import pytest
from langchain_core.runnables import ConfigurableField
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from assistant.embeddings import Embedder
from assistant.errors import SettingsError
from assistant.retrieve import HybridRetriever

QUESTION = "Who performs kyphoplasty?"


def test_input_and_output_schemas_are_typed(chain):
    schema = chain.get_input_jsonschema()
    assert schema["required"] == ["question"]
    assert set(schema["properties"]) == {"question", "chat_history"}
    out = chain.get_output_jsonschema()
    assert {"answer", "citations", "abstained", "urgent", "kind"} <= set(out["properties"])
    # what invoke returns validates against the output schema
    chain.get_output_schema().model_validate(chain.invoke(QUESTION))


def test_as_tool_needs_no_arguments(chain):
    tool = chain.as_tool()
    assert tool.name == "ask_the_guide"
    assert "cit" in tool.description and "Kyphoplasty" in tool.description
    assert set(tool.args) == {"question", "chat_history"}
    result = tool.invoke({"question": "which of them is a surgeon?",
                          "chat_history": [{"role": "user", "content": QUESTION},
                                           {"role": "assistant", "content": chain.invoke(QUESTION)["answer"]}]})
    assert result["citations"] and not result["abstained"]
    assert "surgeon" in result["answer"].lower()


def test_top_k_per_call(chain):
    specs = {s.id: s for s in chain.config_specs}
    assert specs["top_k"].default == chain.settings.top_k and specs["generator"].default == "extractive"
    narrow = chain.invoke("What is kyphoplasty?", config={"configurable": {"top_k": 1}})
    wide = chain.invoke("What is kyphoplasty?")
    assert len(narrow["passages"]) == 1 < len(wide["passages"])
    assert narrow["citations"] and narrow["answer"]
    streamed = list(chain.with_config(configurable={"top_k": 1}).stream("What is kyphoplasty?"))
    assert len(streamed[-1]["passages"]) == 1
    with pytest.raises(SettingsError, match="top_k must be a whole number from 1 to 20"):
        chain.invoke("What is kyphoplasty?", config={"configurable": {"top_k": 0}})


def test_configurable_fields_renames_the_per_call_setting(chain):
    view = chain.configurable_fields(top_k=ConfigurableField(id="passages", name="Passages"))
    assert sorted(s.id for s in view.config_specs) == ["generator", "passages"]  # top_k renamed, generator kept
    result = view.invoke("What is kyphoplasty?", config={"configurable": {"passages": 1}})
    assert len(result["passages"]) == 1
    assert view.index is chain.index  # a view, not a second copy of the index
    with pytest.raises(SettingsError, match="Not a per-call setting: temperature"):
        chain.configurable_fields(temperature=ConfigurableField(id="t"))


def test_retriever_k_at_call_time(chain):
    assert len(chain.retriever.invoke(QUESTION, k=1)) == 1
    assert len(chain.retriever.invoke(QUESTION)) == chain.settings.top_k
    with pytest.raises(ValueError, match="k must be a positive whole number"):
        chain.retriever.invoke(QUESTION, k=0)


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's standard retriever tests, over the real index of the guide."""

    @pytest.fixture(autouse=True)
    def _real_index(self, chain):
        type(self).index = chain.index

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"index": self.index}

    @property
    def retriever_query_example(self) -> str:
        return "What causes vertebral compression fractures?"


class _PackagedEmbedder:
    """The embedder under LangChain's standard embeddings tests: the packaged MiniLM."""

    @property
    def embeddings_class(self) -> type[Embedder]:
        return Embedder

    @property
    def embedding_model_params(self) -> dict:
        return {"model_name": "all-MiniLM-L6-v2"}


class TestEmbedderStandardUnit(_PackagedEmbedder, EmbeddingsUnitTests):
    pass


class TestEmbedderStandard(_PackagedEmbedder, EmbeddingsIntegrationTests):
    pass


def test_generator_per_call(chain):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from assistant.chain import AssistantChain

    with pytest.raises(SettingsError, match="ASSISTANT_LLM"):  # no model configured: said, not ignored
        chain.invoke(QUESTION, config={"configurable": {"generator": "llm"}})
    with pytest.raises(SettingsError, match="'extractive' or 'llm'"):
        chain.invoke(QUESTION, config={"configurable": {"generator": "gpt"}})
    passages = chain.invoke(QUESTION)["passages"]
    n = next(i for i, p in enumerate(passages, 1) if "three types of specialists" in p["text"])
    reply = f"Three types of specialists routinely perform it: interventional radiologists, orthopedic spine " \
            f"surgeons and neurosurgeons [{n}]."
    with_model = AssistantChain(chain.settings.with_(generator="llm"), chain.index, chain.embedder,
                                llm=FakeListChatModel(responses=[reply] * 3))
    assert with_model.invoke(QUESTION)["generator"] == "llm"
    quoted = with_model.invoke(QUESTION, config={"configurable": {"generator": "extractive"}})
    assert quoted["generator"] == "extractive" and quoted["answer"] == chain.invoke(QUESTION)["answer"]
