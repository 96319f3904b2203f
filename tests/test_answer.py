"""The extractive generator: the answering sentence first, antecedents, no repeats, safe highlighting."""

import pytest

from assistant.answer import _repeats, highlight_html
from tests.conftest import ask


def test_the_sentence_that_answers_comes_first(chain):
    out = ask(chain, "Who performs kyphoplasty?")
    assert out["answer"].startswith("The three types of specialists who routinely perform this procedure")


def test_a_definition_is_short_and_complete(chain):
    out = ask(chain, "What is kyphoplasty?")
    sentences = [q["text"] for c in out["citations"] for q in c["quotes"]]
    assert sentences[0].startswith("Kyphoplasty is a minimally invasive")
    assert "It involves injecting bone cement" in out["answer"]
    assert len(sentences) <= 3


def test_the_passage_goes_on_with_the_kind_of_answer_asked_for(chain):
    out = ask(chain, "what causes a VCF")  # the general sentence answers best; the named cause must come along
    assert out["answer"].startswith("A VCF occurs when")
    assert "The most frequent underlying cause is osteoporosis" in out["answer"]


def test_a_name_is_answered_by_the_sentence_that_names_it(chain):
    out = ask(chain, "what is the forward bend in the spine called?")
    assert "known as kyphosis" in out["citations"][0]["quotes"][0]["text"]


@pytest.mark.parametrize("history, question, spelled", [
    ([], "what does ir stand for", "Interventional Radiologists (IR)"),  # typed in lower case
    ([], "My doctor wrote VCF on the scan report. What does that stand for?", "Fracture (VCF)"),  # in the story
    (["What's the primary reason someone would need kyphoplasty?"], "What does that abbreviation stand for?",
     "Fracture (VCF)"),  # in the previous answer
])
def test_the_sentence_that_spells_out_an_abbreviation_comes_first(chain, history, question, spelled):
    turns = []
    for earlier in history:
        turns += [("user", earlier), ("assistant", ask(chain, earlier, turns)["answer"])]
    first = ask(chain, question, turns)["citations"][0]["quotes"][0]["text"]
    assert spelled in first, first


def test_no_sentence_is_quoted_twice(chain):
    out = ask(chain, "Who performs kyphoplasty and which specialists do it?")
    quoted = [q["text"] for c in out["citations"] for q in c["quotes"]]
    assert len(quoted) == len(set(quoted))


def test_near_duplicates_are_recognised():
    assert _repeats("Osteoporosis reduces bone density and strength.", ["Osteoporosis reduces bone density and strength!"])
    assert not _repeats("Neurosurgeons manage complicated cases.", ["Osteoporosis reduces bone density."])


def test_highlighting_escapes_the_passage():
    html = highlight_html("<b>a</b> then b", [{"start": 9, "end": 15}])
    assert html == "&lt;b&gt;a&lt;/b&gt; <mark>then b</mark>"


def test_a_question_in_the_source_is_never_quoted_as_an_answer(tmp_path, embedder):
    """Library pages put their questions in the text ("What causes X?" before the answer); quoting one
    answers nothing."""
    from assistant.chain import build_chain
    from assistant.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "gout.md").write_text(
        "# Gout\n\nWhat causes gout? Gout is caused by too much uric acid in the blood. Uric acid crystals "
        "collect in the joints. What are the symptoms of gout? Gout causes sudden, severe pain in a joint.\n",
        encoding="utf-8")
    chain = build_chain(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder=embedder)
    out = chain.invoke("what causes gout?")
    assert out["kind"] == "answer" and "uric acid" in out["answer"]
    assert "?" not in out["answer"].split("\n\n")[0].replace("[1]", "")


def test_a_word_in_few_sentences_counts_more_than_one_in_many(chain):
    # "fractures" and "spine" are in many of the guide's sentences, "osteoporosis" in two: the sentence
    # with the rare asked word comes first, not the one sharing the two common ones
    rarity = chain._parts.grounder.rarity
    assert rarity["osteoporosi"] > rarity["fractur"]
    out = ask(chain, "is osteoporosis usually what's behind these spine fractures?")
    assert out["answer"].startswith("The most frequent underlying cause is osteoporosis")


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder):
    """A library of four pages, each with its causes and its treatment."""
    from assistant.chain import build_chain
    from assistant.settings import Settings

    corpus = tmp_path_factory.mktemp("library")
    pages = {  # name: (what causes it, how it is treated)
        "gout": ("Too much uric acid in the blood forms crystals in a joint.",
                 "Drugs that lower uric acid, such as allopurinol, prevent attacks."),
        "shingles": ("The chickenpox virus wakes up again years later.",
                     "Treatments are available: antiviral medicines such as acyclovir shorten an outbreak."),
        "glaucoma": ("Fluid builds up in the front of the eye and raises the pressure.",
                     "Several treatments are available, and eye drops lower the pressure in the eye."),
        "asthma": ("Airways swell and narrow when something irritates them.",
                   "Inhalers open the airways; a steroid inhaler calms them over weeks."),
    }
    for name, (cause, treatment) in pages.items():
        (corpus / f"{name}.md").write_text(f"# {name.title()}\n\n## Causes\n\n{cause}\n\n## Treatment\n\n{treatment}\n",
                                           encoding="utf-8")
    return build_chain(Settings(corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("library-index")),
                       embedder=embedder)


def test_in_a_library_a_question_naming_only_the_kind_of_answer_is_about_the_story_s_subject(library):
    """'What treatments are available?' after a story naming the disease is about that disease: in a
    library of many topics nothing else says which page's treatments are meant."""
    message = "My son was diagnosed with gout last week. What treatments are available?"
    required = {t.word for t in library.understand(message, []).parts[0].terms if t.specific}
    assert "gout" in required and "diagnosed" not in required  # a verb of the story names no thing
    out = library.invoke(message)
    assert out["citations"][0]["source"] == "gout.md" and "allopurinol" in out["answer"]


def test_in_a_library_the_story_says_which_page_is_meant_but_is_not_required(library):
    out = library.invoke("My daughter has asthma. Which medicines help?")
    assert [c["source"] for c in out["citations"]] == ["asthma.md"]
    out = library.invoke("I take zorbitrex for my heart. What causes asthma?")  # a drug the library lacks
    assert out["kind"] == "answer" and out["citations"][0]["source"] == "asthma.md"


def test_in_a_library_the_second_question_s_it_is_the_first_one_s_subject(library):
    out = library.invoke("what causes gout and how is it treated?")
    assert {c["source"] for c in out["citations"]} == {"gout.md"} and "allopurinol" in out["answer"]


def test_in_a_library_another_page_is_quoted_only_when_the_question_names_it(library):
    """A sentence of another page that scores nearly as well (another disease's treatment) is left out
    unless the question names that page; the guide's single page is unaffected."""
    from dataclasses import replace

    parts = library._parts
    question = library.understand("how is shingles treated?", [])
    result = library.search(question)[0]
    best, lead = result.scored[0]
    asthma = parts.retriever.search("inhalers open the airways")
    other = [c for c in parts.grounder.candidates(asthma) if "Inhalers" in c.text][0]
    crowded = replace(result, scored=[(best, lead), (0.95 * best, other)])
    chosen = parts.generator.select(crowded, "", 4)
    assert (lead.chunk_id, lead.n) in chosen and (other.chunk_id, other.n) not in chosen
    asked = library.understand("how is shingles treated in someone with asthma?", [])
    both = replace(library.search(asked)[0], scored=[(best, lead), (0.95 * best, other)])
    assert (other.chunk_id, other.n) in parts.generator.select(both, "", 4)  # named: "asthma"


def test_when_the_best_section_gives_the_kind_asked_for_the_others_quoted_do_too(library):
    from dataclasses import replace

    parts = library._parts
    question = library.understand("how is asthma treated?", [])
    result = library.search(question)[0]
    best, lead = result.scored[0]
    assert "treatment" in lead.heading_types
    cause = [c for c in parts.grounder.candidates(parts.retriever.search("airways swell and narrow"))
             if c.text.startswith("Airways swell")][0]
    crowded = replace(result, scored=[(best, lead), (0.95 * best, cause)])
    assert (cause.chunk_id, cause.n) not in parts.generator.select(crowded, "", 4)  # a "Causes" section
    untyped = replace(crowded, part=replace(result.part, types=()))
    assert (cause.chunk_id, cause.n) in parts.generator.select(untyped, "", 4)


def test_a_sentence_that_needs_an_antecedent_itself_is_not_put_first_as_one(chain):
    # "Their training provides ..." comes before "They are skilled ... restore vertebral height" in the source,
    # but says no more who "they" are: the sentence that answers leads
    out = ask(chain, "the bone specialist said it would straighten me up a bit, is that right?")
    assert out["answer"].startswith("They are skilled in treating spinal trauma and deformity")


def test_a_question_of_its_own_is_answered_before_one_that_only_asks_about_the_story(chain):
    """"Is that normal?" after a story asks nothing in words of its own; "Who usually does kyphoplasty?"
    says what the patient wants to know, so its answer leads."""
    out = ask(chain, "Dad was told last month his back fracture will be fixed by a neurosurgeon, not a radiologist. "
                     "Is that normal? Who usually does kyphoplasty?")
    assert out["answer"].startswith("The three types of specialists who routinely perform this procedure"), out["answer"]
