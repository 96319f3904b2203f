"""Coverage decisions, per part: a named thing absent, a kind of statement missing, or nothing relevant."""

import pytest

from tests.conftest import ask


def test_the_guide_is_about_kyphoplasty(chain):
    assert chain.grounder.topic_stems == {"kyphoplasti"} and chain.grounder.one_topic
    assert chain.grounder.without_topic("how much does kyphoplasty cost") == "how much does cost"
    assert chain.grounder.without_topic("what is kyphoplasty") == "what is kyphoplasty"  # nothing else left


@pytest.mark.parametrize("question, note", [
    ("Can I take alendronate after it?", "mention alendronate"),
    ("will I need an MRI first?", "mention MRI"),  # as the patient wrote it
    ("can i take boniva after kyphoplasty?", "mention boniva"),  # a drug brand, not a typo of "boning"
    ("can osteoporosis be cured?", "say whether osteoporosis can be cured"),  # not "does not mention cured"
    ("when can i go back to work, i'm a cleaner so lots of bending", "say when you can go back to work"),  # no aside
    ("how much does kyphoplasty cost?", "say how much kyphoplasty costs"),
    ("Will they knock me out for it?", "say whether they will knock you out for it"),
    # who can have it and what else can be done: kinds of statement the guide never makes
    ("Is my mother too old for kyphoplasty? She is 94.", "say whether your mother is too old for kyphoplasty"),
    ("is there an age limit for kyphoplasty?", "say whether there is an age limit for kyphoplasty"),
    ("Are there alternatives to kyphoplasty?", "say whether there are alternatives to kyphoplasty"),
    ("what would kyphoplasty set me back?", "say what kyphoplasty would set you back"),
    # something the guide only names: the answerability model (tests/test_answerability.py) declines these
    ("Can the cement leak out?", "say whether the cement can leak out"),
    ("Will the cement wear out after a few years?", "say whether the cement will wear out after a few years"),
    ("does the cement go hard straight away?", "say whether the cement goes hard straight away"),
    # the noun "which"/"what" asks for, a weighty word the guide never uses: the answer would have to name one
    ("Which painkillers am I allowed after the procedure?", "mention painkillers"),
    ("what kind of brace will I need afterwards?", "mention brace"),
    # "the procedure" only points at the subject: the story's drug is what "it" is
    ("My doctor put me on alendronate. Will he stop it before the procedure?", "mention alendronate"),
    ("My mum is on alendronate. Will she have to stop beforehand?", "mention alendronate"),  # "she": still the drug
    # "that" is the story's drug, asked about with the guide's own subject: no unrelated sentences quoted
    ("my mum is on reclast, is that ok with kyphoplasty?", "mention reclast"),
    ("She takes warfarin. Does that matter for kyphoplasty?", "mention warfarin"),
])
def test_uncovered_parts_and_their_notes(chain, question, note):
    out = ask(chain, question)
    assert out["abstained"] and out["kind"] == "not_covered" and out["notes"] == [note] and out["citations"] == []


def test_a_person_s_name_in_the_story_is_never_required_of_the_corpus(chain):
    out = ask(chain, "Right, we're meeting Dr Osei on Friday and my wife wants a written list. "
                     "What exactly should we ask about his training?")
    assert out["kind"] == "answer" and "training" in out["answer"]


def test_a_question_of_its_own_is_answered_and_the_story_s_missing_things_named(chain):
    out = ask(chain, "He had a stroke two years ago and takes clopidogrel. "
                     "Is it reasonable to expect my doctor to go through the success rates with us?")
    assert out["kind"] == "partial" and "success rates" in out["answer"]
    assert out["notes"] == ["mention stroke or clopidogrel"]


@pytest.mark.parametrize("question, note", [
    ("I've had chemotherapy for lymphoma. Can I still have kyphoplasty?", "mention chemotherapy or lymphoma"),
    ("My GP mentioned sacroplasty and kyphoplasty. What's the difference between the two?", "mention sacroplasty"),
])
def test_a_question_about_the_story_s_missing_things_stays_declined(chain, question, note):
    out = ask(chain, question)
    assert out["kind"] == "not_covered" and note in out["notes"]


def test_a_note_names_two_words_written_together_as_one_thing(chain):
    out = ask(chain, "My wife has rheumatoid arthritis and takes methotrexate. Can she still have kyphoplasty?")
    assert out["notes"][0] == "mention rheumatoid arthritis or methotrexate"  # not "rheumatoid, arthritis or ..."
    # a lay name of the guide's thing ("a day case": outpatient) asks something of its own, and so does a kind of
    # answer ("where": a place): answered, with the note naming the story's things as the patient wrote them
    for question in ("Is it done as a day case?", "Where is the procedure done?"):
        out = ask(chain, f"My wife has rheumatoid arthritis and takes methotrexate. {question}")
        assert out["kind"] == "partial" and "outpatient" in out["answer"], question
        assert out["notes"] == ["mention rheumatoid arthritis or methotrexate"], question


@pytest.mark.parametrize("message, seen", [("My wife has diabetes. Who does it?", "three types of specialists"),
                                           ("She had a stroke last year. Where is it done?", "outpatient"),
                                           ("He has dementia. How is it done?", "injecting bone cement")])
def test_who_where_and_how_the_subject_is_done_do_not_depend_on_the_story_s_things(chain, message, seen):
    """What the subject is, who does it, where and how: facts a story's drug or condition does not change.
    Answered, with the note naming what the guide does not mention."""
    out = ask(chain, message)
    assert out["kind"] == "partial" and seen in out["answer"] and out["notes"][0].startswith("mention "), out


def test_it_pointing_at_the_story_s_drug_names_the_drug_in_the_note(chain):
    """"What does it do to my bones?" after "I take prednisolone": the answer may not pass for one about the
    drug; the note says the guide does not mention it."""
    out = ask(chain, "I take prednisolone. What does it do to my bones?")
    assert "mention prednisolone" in out["notes"], out


@pytest.mark.parametrize("message", ["My mum is on warfarin. How should she stop it before the procedure?",
                                     "Dad takes clopidogrel. Will they stop it before the procedure?"])
def test_a_question_about_the_story_s_drug_stays_declined(chain, message):
    out = ask(chain, message)
    assert out["abstained"] and out["citations"] == [], out


def test_a_place_in_the_story_is_never_required_of_the_corpus(chain):
    out = ask(chain, "We live outside Harrogate and my husband is booked in for his kyphoplasty next month. "
                     "Where is this usually done?")
    assert out["kind"] == "answer" and "outpatient" in out["answer"]


def test_a_recall_word_does_not_spare_a_new_question_the_answerability_check(chain):
    history = [("user", "Who performs kyphoplasty?"), ("assistant", ask(chain, "Who performs kyphoplasty?")["answer"])]
    out = ask(chain, "Remind me, can the cement leak out?", history)
    assert out["kind"] == "not_covered" and out["notes"] == ["say whether the cement can leak out"]


@pytest.mark.parametrize("request_again, said", [
    ("Can you remind me what you said about the height loss?", "loss of vertebral height"),
    ("could you go back over the part about osteoporosis please", "osteoporosis"),
])
def test_asking_to_hear_part_of_an_answer_again_is_answered_from_it(chain, request_again, said):
    first = "What does a compression fracture do, and what causes it?"
    history = [("user", first), ("assistant", ask(chain, first)["answer"])]
    assert said in history[1][1]  # the earlier answer said it
    out = ask(chain, request_again, history)
    assert out["kind"] == "answer" and said in out["citations"][0]["quotes"][0]["text"], out["answer"]


@pytest.mark.parametrize("request_again", ["what did you say about the success rates bit?",
                                           "Sorry, what was that about success rates?"])
def test_what_was_said_about_a_figure_word_is_no_request_for_the_figures(chain, request_again):
    # "success rates" asks for a figure, which the guide never gives; asked what was said about them, it answers
    first = "how do i pick a good kyphoplasty doctor"
    history = [("user", first), ("assistant", ask(chain, first)["answer"])]
    out = ask(chain, request_again, history)
    assert out["kind"] == "answer" and "success rates" in out["citations"][0]["quotes"][0]["text"], out["answer"]


def test_what_was_said_about_a_thing_the_guide_never_names_is_still_declined(chain):
    first = "how do i pick a good kyphoplasty doctor"
    history = [("user", first), ("assistant", ask(chain, first)["answer"])]
    assert ask(chain, "what did you say about how much it costs?", history)["kind"] == "not_covered"


def test_what_was_said_about_a_word_comes_before_the_rest_of_the_last_answer(chain):
    history = []
    for turn in ("What do orthopaedic spine surgeons do?", "And neurosurgeons?"):
        history += [("user", turn), ("assistant", ask(chain, turn, history)["answer"])]
    out = ask(chain, "sorry, what did you say about spinal alignment?", history)
    assert "alignment" in out["citations"][0]["quotes"][0]["text"], out["answer"]


def test_a_named_thing_the_corpus_has_is_not_absent(chain):
    part = chain.analyzer.analyse("what does osteoporosis do to bones?").parts[0]
    assert chain.grounder.absent(part) == ()


def test_a_typo_of_a_function_word_is_not_a_missing_named_thing(chain):
    part = chain.analyzer.analyse("who dose kyphoplasty").parts[0]  # "dose" for "does"
    assert chain.grounder.absent(part) == ()


def test_figures_missing_from_a_good_answer_make_it_partial(chain):
    out = ask(chain, "Who performs kyphoplasty and what percentage of patients get better?")
    assert out["kind"] == "partial" and "Neurosurgeons" in out["answer"]


def test_a_sentence_about_the_asked_figures_comes_first_when_the_figures_are_missing(chain):
    out = ask(chain, "How many of these operations should a doctor have done before I trust them?")
    assert out["kind"] == "partial" and out["notes"] == ["give figures or percentages"]
    assert "number of procedures" in out["citations"][0]["quotes"][0]["text"]


def test_a_word_that_asks_for_figures_is_not_a_missing_named_thing(chain):
    out = ask(chain, "What percentage of people feel better after kyphoplasty?")
    assert out["notes"] != ["mention percentage"] and out["kind"] == "not_covered"  # the need, in words
    assert chain.grounder.absent(chain.analyzer.analyse("what percentage of patients get complications").parts[0]) == ()


def test_a_missing_thing_is_named_with_its_noun_phrase(chain):
    out = ask(chain, "Should he stop his blood thinners before the procedure?")
    assert out["notes"] == ["mention blood thinners"]  # not "mention thinners"


def test_nothing_of_the_corpus_is_off_topic(chain):
    assert ask(chain, "What is the capital of France?")["kind"] == "off_topic"


def test_a_time_word_without_its_event_is_about_the_guide_s_subject(chain):
    out = ask(chain, "how soon can I drive after?")  # after the procedure: not covered, its need named
    assert out["kind"] == "not_covered" and out["notes"] == ["say how soon you can drive after"]
    assert ask(chain, "who won the football last night?")["kind"] == "off_topic"


@pytest.mark.parametrize("message, kind", [
    ("How long is recovery?", "not_covered"),  # a duration asked, nothing foreign named: the guide's subject
    ("How long is the Nile?", "off_topic"),  # a named thing the guide lacks
    ("What is the capital of France?", "off_topic"),  # no need asked
])
def test_a_need_asked_without_a_foreign_name_is_about_the_guide_s_subject(chain, message, kind):
    out = ask(chain, message)
    assert out["kind"] == kind
    if kind == "not_covered":
        assert out["notes"] == ["say how long recovery is"] and "does not say how long recovery is" in out["answer"]


def test_a_difference_is_answered_with_what_each_side_is(chain):
    out = ask(chain, "nuerosurgeon vs orthapedic surgen whats the diff")
    assert out["kind"] == "answer"
    assert "Neurosurgeons are specialists" in out["answer"] and "Orthopedic Spine Surgeons specialize" in out["answer"]


def test_a_difference_with_one_side_missing_is_not_answered_by_the_other_side(chain):
    out = ask(chain, "What's the difference between kyphoplasty and vertebroplasty?")
    assert out["kind"] == "not_covered" and out["notes"] == ["mention vertebroplasty"] and out["citations"] == []


def test_the_other_two_are_each_described(chain):
    history = []
    for turn in ("who does kyphoplasty?", "tell me about the radiologists"):
        history += [("user", turn), ("assistant", ask(chain, turn, history)["answer"])]
    out = ask(chain, "and the other two?", history)
    assert "Orthopedic Spine Surgeons specialize" in out["answer"] and "Neurosurgeons are specialists" in out["answer"]


@pytest.mark.parametrize("message, kind", [
    ("We've got a holiday booked five weeks after my kyphoplasty. Will I be OK to fly?", "not_covered"),
    ("What is the capital of France?", "off_topic"),
    ("I have a friend visiting from France. What is the capital of France?", "off_topic"),
])
def test_a_story_about_the_corpus_subject_makes_the_message_on_topic(chain, message, kind):
    """Declined as not covered, with its need named, rather than as off-topic."""
    assert chain.invoke(message)["kind"] == kind


def test_the_word_naming_the_kind_of_answer_is_not_a_missing_thing(chain):
    out = ask(chain, "What are the symptoms of a vertebral compression fracture?")
    assert out["kind"] == "answer" and "back pain" in out["answer"], out["answer"]
    out = ask(chain, "Can I still have MRI scans afterwards?")  # a test's name is a thing the guide must mention
    assert out["kind"] == "not_covered" and out["notes"] == ["mention MRI"]


def test_other_x_is_a_follow_up_on_the_conversation_s_subject(chain):
    first = "What kind of pain does a compression fracture cause?"
    history = [("user", first), ("assistant", ask(chain, first)["answer"])]
    out = ask(chain, "other symptoms?", history)
    assert out["kind"] == "answer" and "height" in out["answer"], out["answer"]


def test_a_story_word_naming_the_kind_of_a_thing_the_guide_covers_is_not_required(chain):
    first = "What can cause a spinal compression fracture?"
    history = [("user", first), ("assistant", ask(chain, first)["answer"])]
    out = ask(chain, "My uncle had kidney cancer and his urologist thinks it has reached his spine. "
                     "Could that be the reason for his?", history)
    assert out["kind"] == "answer" and "tumors that have spread" in out["answer"], out["answer"]
    out = ask(chain, "My dad takes warfarin. Can he have it done?", history)  # a drug is still a named thing
    assert out["kind"] == "not_covered" and out["notes"] == ["mention warfarin"]


def test_a_part_of_several_whose_key_word_the_guide_never_uses_is_named(chain):
    # the answerability model judges only self-contained one-part questions: a part of several is
    # declined when its weightiest word is nowhere in the guide, and the rest is still answered
    out = ask(chain, "Where is it done, and can the cement dissolve over time?")
    assert out["kind"] == "partial" and out["notes"] == ["say whether the cement can dissolve over time"]
    assert any("outpatient" in c["text"] for c in out["citations"])


@pytest.mark.parametrize("message, first", [
    ("His scan shows a tumour that has spread into the spine. Could that be what broke the bone?", "tumors"),
    ("The scan says she has lost a lot of bone density. Is that why her vertebra collapsed?", "due to"),
])
def test_that_pointing_at_the_story_asks_about_what_the_story_says(chain, message, first):
    # "that" is the statement just made: its words are what is asked about, not background
    out = ask(chain, message)
    assert out["kind"] == "answer" and first in out["answer"].split("[1]")[0]
