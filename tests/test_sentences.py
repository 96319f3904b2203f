"""Sentence ends a patient did not type: a direct question inside a run of words is read as a question."""

import pytest

from assistant.sentences import punctuate
from tests.conftest import ask


@pytest.mark.parametrize("text, split", [
    ("the nurse said i still need to come back to clinic is that normal", "come back to clinic. is that normal"),
    ("my mum does her exercises every day can she still have it", "every day. can she still have it"),
    ("they found a crushed bone on the scan what is it exactly", "on the scan. what is it exactly"),
    ("she has osteoporosis does that mean she will need it again", "osteoporosis. does that mean"),
    ("the report says the fracture is close to the nerve roots would a neurosurgeon be the right one",
     "nerve roots. would a neurosurgeon be"),
    ("i dont even know where to start what should we be asking", "where to start. what should we be asking"),
    ("everything i read says its old ladies with thin bones can cancer really cause them", "thin bones. can cancer"),
])
def test_a_question_inside_a_run_of_words_starts_a_sentence(text, split):
    assert split in punctuate(text)


@pytest.mark.parametrize("text", [
    "which sort of back bone specialist would i need to see to get this done",  # one question from its first word
    "how many of these operations should a doctor have done before i trust them",
    "the radiologist is the best bet because of all the imaging",  # a statement: its subject comes first
    "the surgeon has the results",
    "the worry is she won't cope",
    "the main thing is it hurts all the time",
    "nobody explained what it is",  # reported speech: subject before verb
    "we picked a private clinic across town which is a lot closer for us",  # a relative clause
    "can you tell me what is kyphoplasty",  # what is asked of "me"
    "cancer in spine can it break the bones",  # the topic said first, no statement of its own
    "Her bones were that weak. Is it normal?",  # its writer ended each sentence: read as written
    "my back hurts when i walk is that the fracture?",
])
def test_statements_and_punctuated_questions_are_read_as_written(text):
    assert punctuate(text) == text


@pytest.mark.parametrize("message", [
    "my dad had an mri last week and it showed a fracture near the nerves would a neurosurgeon be the right doctor "
    "for that",
    "my wife broke her wrist in the summer and now the gp thinks she has a spine fracture too who does kyphoplasty",
])
def test_a_run_on_message_is_answered_not_declined_for_its_story(chain, message):
    out = ask(chain, message)  # read as one question, the story's "mri" / "wrist" had to be in the guide
    assert out["kind"] in ("answer", "partial") and out["citations"]
