"""Follow-ups: list references, "that", "what was that about X", and the exchange a follow-up fits."""

import pytest

from assistant.rewrite import HeuristicRewriter, is_follow_up, list_items, resolve_list_references

WHO = ("Kyphoplasty is performed by medical professionals. [1] The three types of specialists who routinely perform "
       "this procedure are Interventional Radiologists, Orthopedic Spine Surgeons, and Neurosurgeons. [1]")
ITEMS = ["Interventional Radiologists", "Orthopedic Spine Surgeons", "Neurosurgeons"]


def test_an_enumeration_in_an_answer_becomes_a_list():
    assert list_items(WHO) == ITEMS
    assert list_items("- one thing\n- another thing\n") == ["one thing", "another thing"]


@pytest.mark.parametrize("question, resolved", [
    ("tell me more about the second one", "tell me more about Orthopedic Spine Surgeons"),
    ("and the last one?", "and Neurosurgeons?"),
    ("what does the first one do", "what does Interventional Radiologists do"),
    ("number two please", "Orthopedic Spine Surgeons please"),
    ("what about the other two?", "what about Orthopedic Spine Surgeons and Neurosurgeons?"),
    ("can you explain the last bit in simpler words?", "can you explain Neurosurgeons in simpler words?"),
    ("the first time I had it", "the first time I had it"),  # not a list reference
    ("could you go into the second one a little?", "could you go into Orthopedic Spine Surgeons a little?"),
    ("that last kind of doctor, are they surgeons?", "Neurosurgeons, are they surgeons?"),
    ("and no. 2?", "and Orthopedic Spine Surgeons?"),
    ("could you expand on item 2 for me?", "could you expand on Orthopedic Spine Surgeons for me?"),
    ("point three please", "Neurosurgeons please"),
    ("what does #1 do", "what does Interventional Radiologists do"),
    ("this last week was hard", "this last week was hard"),  # not a list reference
    ("and the last one on that list?", "and Neurosurgeons?"),  # where the list was is no part of the question
    ("the second one from your list, what do they do?", "Orthopedic Spine Surgeons, what do they do?"),
    # named or described again in apposition: they say which it is themselves
    *((q, q) for q in ("the last one you listed, the brain surgeons - what do they do?",
                       "the final one, where they use scans - who are they?")),
    ("the second one, where do they work?", "Orthopedic Spine Surgeons, where do they work?"),  # a question, no apposition
])
def test_list_references(question, resolved):
    assert resolve_list_references(question, ITEMS, "tell me about Interventional Radiologists") == resolved


@pytest.mark.parametrize("question, resolved", [
    ("and the one after that?", "and Neurosurgeons?"),
    ("what about the ones you mentioned before them?", "what about Interventional Radiologists?"),
])
def test_the_item_next_to_the_one_last_asked_about(question, resolved):
    assert resolve_list_references(question, ITEMS, "tell me more about the orthopedic ones") == resolved


def test_a_neighbour_is_found_in_the_list_that_held_the_last_subject(chain):
    history = []
    for turn in ("who performs kyphoplasty?", "tell me more about the orthopedic ones"):
        out = chain.invoke({"question": turn, "chat_history": history})
        history += [("user", turn), ("assistant", out["answer"])]
    resolved = chain.rewriter.resolve("ok and the ones you listed before them?", history)
    assert "Interventional Radiologists" in resolved.text


def test_the_subject_comes_from_the_exchange_the_follow_up_fits():
    history = [("user", "What causes compression fractures?"), ("assistant", "The most frequent cause is osteoporosis."),
               ("user", "What should I ask a provider?"), ("assistant", "Ask about specific training and certifications.")]
    r = HeuristicRewriter().resolve("sorry, what was that about osteoporosis again?", history)
    assert "compression" in r.context and "provider" not in r.context
    r = HeuristicRewriter().resolve("and the training?", history)
    assert "provider" in r.context


def test_a_self_contained_question_carries_nothing():
    history = [("user", "Who performs kyphoplasty?"), ("assistant", WHO)]
    assert HeuristicRewriter().resolve("What is osteoporosis?", history).context == ""


@pytest.mark.parametrize("question, follow", [("what causes it?", True), ("and the cost?", True),
                                              ("is that why she's lost height?", True), ("the second one?", True),
                                              ("What is kyphosis?", False), ("other symptoms?", True),
                                              ("Other than osteoporosis, what causes a spinal fracture?", False),
                                              ("what was the full name again?", True),  # asks to be reminded
                                              ("Can kyphoplasty be done again?", False)])
def test_follow_up_detection(question, follow):
    assert is_follow_up(question) is follow


def test_a_number_past_the_end_of_a_short_list_points_at_the_answer_s_statements():
    answer = ("Ask whether they have fellowship experience or specialized certifications. [1] They should discuss "
              "success rates. [1] The procedure is performed in a hospital or specialized outpatient center. [1]")
    history = [("user", "What should I ask?"), ("assistant", answer)]
    r = HeuristicRewriter().resolve("what about the third thing you said?", history)
    assert "hospital" in r.text or "outpatient" in r.text, r.text


def test_the_last_statement_is_found_when_the_history_lost_its_citation_brackets():
    """The chain cleans the history ("[1]" -> "1"): the bare numbers are citation marks, not statements."""
    answer = ("The most frequent underlying cause is osteoporosis. 1 These fractures can also result from "
              "high-energy trauma or tumors that have spread to the spine. 1")
    r = HeuristicRewriter().resolve("can you say more about the last of them", [("user", "what causes it?"),
                                                                               ("assistant", answer)])
    assert "tumors" in r.text, r.text


@pytest.mark.parametrize("question, kept, dropped", [
    ("and for neurosurgeons?", "training", "orthopaedic"),
    ("what about the cement?", "made", "needle"),
])
def test_an_ellipsis_naming_another_thing_asks_the_same_about_it(question, kept, dropped):
    earlier = {"training": "What training do orthopaedic spine surgeons have?", "made": "What is the needle made of?"}[kept]
    r = HeuristicRewriter().resolve(question, [("user", earlier), ("assistant", "...")])
    assert kept in r.context and dropped not in r.context, r.context


def test_an_ellipsis_without_a_named_thing_keeps_the_whole_subject():
    r = HeuristicRewriter().resolve("and in older people?", [("user", "What causes compression fractures?"),
                                                             ("assistant", "...")])
    assert "compression" in r.context


def test_naming_one_item_of_a_list_leaves_the_others_out_of_the_context():
    history = [("user", "Which specialists do kyphoplasty?"), ("assistant", WHO),
               ("user", "which of them is the best?"), ("assistant", "...")]
    r = HeuristicRewriter().resolve("you said something about the neurosurgeons, what was it?", history)
    assert "radiologists" not in r.context.lower() and "orthopedic" not in r.context.lower(), r.context


def test_asking_for_the_full_name_again_brings_the_abbreviation_spelled_out_before(chain):
    history = [("user", "what's the name of the fracture kyphoplasty is for"),
               ("assistant", "The primary reason a patient requires Kyphoplasty is a Vertebral Compression Fracture "
                             "(VCF). [1]")]
    assert "VCF" in HeuristicRewriter().resolve("what's the full name again, V-C-something?", history).context
    out = chain.invoke({"question": "what's the full name again, V-C-something?", "chat_history": history})
    assert out["answer"].startswith("The primary reason a patient requires Kyphoplasty is a Vertebral Compression")
