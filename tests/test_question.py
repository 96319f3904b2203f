"""Understanding a message: its parts, question types, needs, named things and a plain restatement."""

import pytest

from assistant.question import points_at_statement
from assistant.restate import restate
from tests.conftest import ask


@pytest.fixture(scope="module")
def analyse(chain):
    return chain.analyzer.analyse


def test_the_story_is_not_the_question(analyse):
    q = analyse("My GP mentioned kyphoplasty last week and I've been reading up on it. What is it actually?")
    assert len(q.parts) == 1 and "definition" in q.parts[0].types
    assert "kyphoplasty" in q.parts[0].search  # "it" gets its subject from the story
    assert [t.word for t in q.parts[0].asked_terms] == []  # no word of its own: the story is context
    assert "gp" not in q.parts[0].search.lower().split()  # "it" is a thing: the GP who mentioned it is not asked about


def test_an_aside_after_a_laugh_is_story(analyse):
    q = analyse("does the needle hurt lol im such a wimp")
    assert [p.text for p in q.parts] == ["does the needle hurt"] and q.story == ("I'm such a wimp",)


def test_a_word_of_the_story_the_corpus_uses_is_carried(analyse):
    q = analyse("Now they're talking about some procedure where they put cement in. What would they be doing to her back?")
    carried = {t.word: t for t in q.parts[0].terms if t.carried}
    assert "cement" in carried and not carried["cement"].specific  # helps the search, never required
    assert "talking" not in carried  # an everyday word the corpus does not use


def test_lay_phrases_match_with_words_between(analyse):
    # "a big open back operation" holds "big operation" and "open operation": how invasive it is
    part = analyse("Is kyphoplasty a big open back operation?").parts[0]
    assert "minimally invasive" in part.search
    assert "minimally invasive" not in analyse("Is the operating room big?").parts[0].search  # words out of order


def test_lay_phrases_match_by_stem(analyse):
    terms = {t.word: t for t in analyse("Apart from thinning bones, what else can cause these?").parts[0].terms}
    assert "osteoporosi" in terms["thinning"].alternatives  # "thin bones" in the glossary, "thinning" typed


def test_lay_phrases_match_whatever_the_tense(analyse):
    terms = {t.word: t for t in analyse("Is the bending over caused by the fractures?").parts[0].terms}
    assert "kyphosi" in terms["bending"].alternatives  # "bent over" in the glossary
    assert analyse("And the orthopods?").parts[0].terms[0].alternatives  # no verb: its own stem, still "orthopod"


def test_words_the_story_quotes_are_what_that_asks_about(analyse):
    q = analyse("I had a bad time with an operation years ago. The doctor said this one is done 'through the skin'. "
                "What does that actually mean?")
    assert "skin" in q.parts[0].search.split()
    assert not q.parts[0].specific  # searched for, not required
    q = analyse("My GP said 'wait and see'. Who does kyphoplasty?")
    assert "wait" not in q.parts[0].search  # a question with its own subject borrows nothing


def test_a_follow_up_without_a_word_the_corpus_knows_is_about_the_conversation(chain):
    out = ask(chain, "which one is best?", [("user", "who does kyphoplasty?"),
                                            ("assistant", ask(chain, "who does kyphoplasty?")["answer"])])
    assert out["kind"] == "not_covered" and out["notes"] == ["say which one is best"]  # not "off-topic"


def test_a_pronoun_for_a_person_still_carries_the_people_of_the_story(analyse):
    q = analyse("A neurosurgeon mentioned kyphoplasty to my dad. What training do they have?")
    assert "neurosurgeon" in q.parts[0].search.lower()


def test_a_question_that_names_its_own_subject_does_not_need_the_story_named_things(analyse):
    q = analyse("The MRI showed the broken bone is close to the nerves, though he has no new symptoms. "
                "Why would they send him to a neurosurgeon?")
    assert [t.word for t in q.parts[0].specific] == ["neurosurgeon"]
    q = analyse("The surgeon offered vertebroplasty instead. Is it any safer?")
    assert "vertebroplasty" in [t.word for t in q.parts[0].specific]  # names nothing itself: the story's thing


@pytest.mark.parametrize("message, things", [
    ("what's the difference between a neurosurgeon and an orthopedic surgeon?", ["neurosurgeon", "orthopedic surgeon"]),
    ("kyphoplasty vs vertebroplasty, whats the diff", ["kyphoplasty", "vertebroplasty"]),
    ("how is an orthopaedic surgeon different from a neurosurgeon?", ["orthopaedic surgeon", "neurosurgeon"]),
])
def test_a_comparison_asks_what_each_side_is(analyse, message, things):
    parts = analyse(message).parts
    assert [p.text for p in parts] == [f"what is {t}?" for t in things]
    assert all("definition" in p.types and p.compares for p in parts)


@pytest.mark.parametrize("message", ["Earlier, when you went through choosing a doctor, what was the bit about the place?",
                                     "When we saw the surgeon last week, who did he say does it?"])
def test_a_time_clause_before_the_question_asks_nothing(analyse, message):
    q = analyse(message)
    assert len(q.parts) == 1 and not q.parts[0].text.lower().startswith("when"), [p.text for p in q.parts]


def test_when_can_still_asks(analyse):
    assert [p.text for p in analyse("when can I drive, and who does it?").parts][0].lower().startswith("when can")


def test_a_message_with_two_questions_has_two_parts(analyse):
    q = analyse("My dad is 82. Who actually does this procedure, and roughly how much is it going to cost us?")
    assert len(q.parts) == 2
    assert "who" in q.parts[0].types and "amount" in q.parts[1].needs


@pytest.mark.parametrize("message, types, needs", [
    ("what causes these fractures?", {"cause"}, set()),
    ("how long is recovery after kyphoplasty?", set(), {"duration"}),
    ("how much does it cost?", set(), {"amount"}),
    ("is kyphoplasty better than vertebroplasty?", set(), {"ranking"}),
    ("where is it done?", {"where"}, set()),
    ("what do they actually do to her?", {"procedure"}, set()),  # a hedge does not change what is asked
    ("what's that bend in her back called?", {"name"}, set()),
    ("which sort of back bone specialist would I need?", {"who"}, set()),
    ("will they do anything to stop me breaking another bone?", {"prevention"}, set()),
    ("what should I be looking at when I choose?", {"advice"}, set()),
    ("is there a proper name for it?", {"name"}, set()),
    ("what's the full name of IR?", {"name"}, set()),
    ("is there only one kind of doctor qualified for this?", {"who"}, set()),  # which kinds of doctor do it
    ("can different types of surgeon do it?", {"who"}, set()),
    ("My grandson has Lennox-Gastaut. What kind of epilepsy is this?", {"definition"}, set()),  # what it is
    ("what percentage of people get pain relief?", set(), {"number"}),
    ("what research (or clinical trials) is being done for glaucoma?", {"research"}, set()),
    ("are there any clinical trials for it?", {"research"}, set()),
    ("you said the pain gets worse with something - what was it?", set(), set()),  # a change, not a ranking
    ("will I get better?", set(), set()),
    ("is a radiologist better than a surgeon?", set(), {"ranking"}),
    ("will it get worse as I get older?", set(), {"course"}),
    ("does the cement stay there for good?", set(), {"course"}),
])
def test_question_types_and_needs(analyse, message, types, needs):
    part = analyse(message).parts[0]
    assert types <= set(part.types) and needs <= set(part.needs)


@pytest.mark.parametrize("message, asks_risks", [
    ("what are the risks of kyphoplasty?", True), ("can anything go wrong?", True),
    ("Is she at higher risk of a compression fracture?", False),  # who is at risk: risk factors, not a treatment's risks
    ("does osteoporosis put me at risk for these fractures?", False),
])
def test_being_at_risk_of_a_condition_is_not_asking_a_treatment_s_risks(analyse, message, asks_risks):
    needs = analyse(message).parts[0].needs
    assert ("risks" in needs) is asks_risks and ("risk_factors" in needs) is not asks_risks


@pytest.mark.parametrize("message, need, asked", [
    ("how big is the needle?", "size", True),
    ("is an outpatient centre as safe as a hospital?", "ranking", True),  # "as safe as" compares
    ("can I go home as soon as it's done?", "ranking", False),
    ("should the doctor tell me about their success rates?", "number", False),  # asks about the talk, not figures
    ("what are the success rates?", "number", True),
])
def test_what_a_need_asks_for(analyse, message, need, asked):
    assert (need in analyse(message).parts[0].needs) == asked


def test_a_clause_going_on_without_its_own_subject_belongs_to_the_question_before(analyse):
    parts = analyse("Does that mean his spine is unstable and could give way any minute?").parts
    assert len(parts) == 1 and parts[0].text.endswith("could give way any minute?")
    assert len(analyse("who does it and can it be done as a day case?").parts) == 2
    # after the modal a gerund is the new question's subject, not a verb going on from the first
    assert len(analyse("what does osteoporosis do to your bones, and can walking more stop it?").parts) == 2


@pytest.mark.parametrize("message, asked", [
    ("Can someone explain it in simple terms? My cousin had a fracture and has spotty skin.", 1),
    ("Will it get better? My dad had a stroke and now can't write or do maths.", 1),
    ("My mum is 80 and has osteoporosis. Is she a good candidate and will it hurt?", 2),
    ("what is kyphoplasty and is it safe?", 2),
    ("what causes it and how is it treated", 2),
])
def test_a_statement_going_on_with_and_is_story_not_a_question(analyse, message, asked):
    question = analyse(message)
    assert len(question.parts) == asked
    assert not any(p.text.lower().startswith(("has ", "do ")) for p in question.parts)


@pytest.mark.parametrize("message, asked", [
    ("The GP sent her for a scan, which showed a broken bone in her back. What is kyphoplasty?", ["What is kyphoplasty?"]),
    ("My sister, who is a nurse, says it's safe. Is it?", ["Is it?"]),
    ("He saw a surgeon last week, when the pain got worse, and we are worried. Who does it?", ["Who does it?"]),
    # inverted: a question of its own even without a question mark
    ("My mum has a fracture, which doctor should she see.", ["which doctor should she see."]),
    ("I had it done on Monday, when will I be able to drive.", ["when will I be able to drive."]),
])
def test_a_relative_clause_inside_a_statement_is_story_not_a_question(analyse, message, asked):
    assert [p.text for p in analyse(message).parts] == asked


@pytest.mark.parametrize("message", ["what's that got to do with my back breaking?",
                                     "what has osteoporosis got to do with it?",
                                     "what does my age have to do with it?"])
def test_asking_how_two_things_are_linked_is_not_asking_what_one_is(analyse, message):
    types = set(analyse(message).parts[0].types)
    assert "cause" in types and "definition" not in types


@pytest.mark.parametrize("message, points", [
    ("Is that why she's shorter?", True), ("does that mean the bone has healed?", True),
    ("What's that got to do with it?", True), ("Is that one of the causes?", True),
    ("Is that doctor any good?", False), ("tell me more about that one", False),
    ("Is it true that cement can leak?", False),
    # asking whether what someone said is right is asking about what they said
    ("Is my sister right?", True), ("was he just being kind?", True), ("is that true?", True),
    ("is my sister right that it matters?", True),
])
def test_that_standing_alone_points_at_what_was_said(message, points):
    assert points_at_statement(message) is points


def test_a_claim_check_in_a_library_carries_the_story(chain):
    # a library (no subject of its own) carries the story even when the part does not refer back; a part that
    # also points at it ("is my doctor right?") used to fail there (IndexError)
    from assistant.chain import medical_terms
    from assistant.question import Analyzer

    library = Analyzer(chain.prompts, chain.index.vocab, chain.grounder.topic_stems, medical_terms())  # no subject
    part = library.analyse("My doctor says the cement helps. Is my doctor right?").parts[0]
    assert "cement" in {t.word for t in part.asked_terms}


def test_is_that_why_asks_for_a_cause(analyse):
    assert "cause" in analyse("My bones are thin. Is that really why my back broke?").parts[0].types


def test_the_story_that_points_at_is_asked_about(analyse):
    part = analyse("Her scan shows a tumour. Is that what broke the bone?").parts[0]
    pointed = {t.word: t for t in part.asked_terms if t.carried}
    assert "tumour" in pointed and pointed["tumour"].pointed
    # without "that", the story is background: carried, weighed down and not asked about
    other = analyse("Her scan shows a tumour. Will she need it done?").parts[0]
    assert not [t for t in other.asked_terms if t.carried]


def test_an_abbreviation_spelled_out_answers_what_it_stands_for(chain):
    name = chain.cues.answer["name"]
    assert name.search("The primary reason is a Vertebral Compression Fracture (VCF).")
    assert name.search("Interventional Radiologists (IR) are experts")
    assert not name.search("the fracture (see below) heals") and not name.search("done in hospital (usually)")


@pytest.mark.parametrize("heading, kind, other", [("Inheritance", "inheritance", "cause"),
                                                 ("Genetic changes", "cause", "inheritance"),  # what changed
                                                 ("Genetics", "inheritance", "treatment")])
def test_a_heading_names_the_kind_of_answer_it_holds(chain, heading, kind, other):
    types = chain.cues.heading_types(heading)
    assert kind in types and other not in types


def test_named_things_are_specific_and_everyday_words_are_not(analyse):
    terms = {t.word: t for t in analyse("does it matter if I take alendronate? is it worth asking Bupa?").parts[0].terms
             + analyse("is it worth asking Bupa?").parts[0].terms}
    assert terms["alendronate"].specific and terms["bupa"].specific
    assert not terms["matter"].specific and not terms["worth"].specific
    assert terms["alendronate"].weight > terms["matter"].weight


def test_an_abbreviation_typed_in_capitals_is_a_named_thing(analyse, chain):
    # "nhs" is as common in English as a name needs to be to count as everyday-ish (zipf 4.0); in capitals
    # it names something, which the guide must then contain
    terms = {t.word: t for t in analyse("How do I get referred to a radiologist on the NHS?").parts[0].terms}
    assert terms["nhs"].specific
    assert not {t.word: t for t in analyse("how do i get referred on the nhs?").parts[0].terms}["nhs"].specific
    shouted = analyse("WHAT IS THE NHS WAITING TIME FOR THIS").parts[0].terms
    assert not any(t.specific and t.word in {"nhs", "time"} for t in shouted)  # shouting names nothing
    out = ask(chain, "How do I get referred to an interventional radiologist on the NHS?")
    assert out["kind"] != "answer" and "NHS" in out["answer"]


@pytest.mark.parametrize("word", ["carries", "treatments", "performs", "damaged", "medicines"])
def test_an_inflection_of_an_everyday_word_is_not_a_named_thing(chain, word):
    # rarer than its dictionary form ("carries" 4.2 against "carry" 4.9), but no more a named thing
    assert not chain.analyzer.is_specific(word)


@pytest.mark.parametrize("word", ["imaging", "screening", "alendronate"])
def test_a_dictionary_form_of_its_own_keeps_its_own_frequency(chain, word):
    assert chain.analyzer.is_specific(word)  # "imaging" is a noun of its own, not a form of "image"


def test_who_carries_it_out_is_answered(chain):
    out = ask(chain, "Who carries out kyphoplasty?")
    assert out["kind"] == "answer" and "Neurosurgeons" in out["answer"]


def test_text_speak_and_typos_are_normalised(analyse):
    assert analyse("wot is kyfoplasty").text == "what is kyphoplasty"


@pytest.mark.parametrize("typed, read", [
    ("wat does vcf stand 4", "what does vcf stand for"), ("is it good 4 me", "is it good for me"),
    ("can u talk 2 the nurse", "can you talk to the nurse"),
    # numbers stay numbers
    ("i waited 4 weeks", "i waited 4 weeks"), ("she had 2 of them", "she had 2 of them"),
    ("what was her score out of 4?", "what was her score out of 4?"), ("my level was 4", "my level was 4"),
    ("T4 and L2 were done", "T4 and L2 were done"),
])
def test_text_speak_digits_for_words(chain, typed, read):
    assert chain.analyzer.normalise(typed) == read


def test_an_s_typed_onto_a_short_form_is_its_clitic(analyse):
    assert analyse("wats VCF mean").text == "what's VCF mean"  # listed
    assert analyse("wots the cement for").text == "what's the cement for"  # "wot" + "s"
    assert analyse("the drs are kind").text == "the doctors are kind"  # a listed plural stays a plural


def test_idioms_are_read_in_their_plain_meaning(analyse):
    q = analyse("I'm Scared  Stiff about the operation. Who does it?")
    assert "stiff" not in q.text.lower() and "very scared" in q.text
    assert not [t.word for p in q.parts for t in p.specific]  # nothing named that the guide must mention
    assert analyse("my neck is stiff, who does it?").text == "my neck is stiff, who does it?"  # literal: kept


def test_a_good_sign_asks_about_an_indicator_not_a_symptom(analyse):
    part = analyse("If a surgeon does lots of them every year, is that a good sign?").parts[0]
    assert "symptom" not in part.types and "indicator" in part.text


@pytest.mark.parametrize("message", ["My GP mentioned vertebroplasty. What's the difference?",
                                     "I read about vertebroplasty online. Which is best?"])
def test_a_bare_comparison_is_about_the_story(chain, message):
    """What the comparison is between is the story's named thing, which the guide never mentions."""
    out = ask(chain, message)
    assert out["kind"] == "not_covered" and out["notes"] == ["mention vertebroplasty"]


def test_a_bare_comparison_needs_each_option_the_story_offers(chain):
    """"a brace" is an everyday word, yet one side of the comparison: the guide never mentions it."""
    out = ask(chain, "My GP said there's kyphoplasty or a brace. How do they compare?")
    assert out["kind"] == "not_covered" and out["notes"] == ["mention brace"]
    out = ask(chain, "I was told it's either a neurosurgeon or an orthopaedic surgeon. What's the difference?")
    assert out["kind"] == "answer" and "Neurosurgeons" in out["answer"]  # both sides in the guide


def test_how_to_say_it_is_not_what_is_asked(chain):
    out = ask(chain, "what is kyphoplasty exactly, in plain words pls")
    assert out["kind"] == "answer" and "minimally invasive" in out["answer"]


def test_a_thing_the_guide_lacks_in_a_conversation_is_named_not_called_off_topic(chain):
    first = ask(chain, "who does it?")
    out = chain.invoke({"question": "what about tablets instead, like alendronate?",
                        "chat_history": [("user", "who does it?"), ("assistant", first["answer"])]})
    assert out["kind"] == "not_covered" and out["notes"] == ["mention alendronate"]


def test_a_bare_comparison_after_an_answer_stays_unanswered(chain):
    out = chain.invoke({"question": "what's the difference?", "chat_history": [
        ("user", "Who performs kyphoplasty?"), ("assistant", ask(chain, "Who performs kyphoplasty?")["answer"])]})
    assert out["abstained"]  # between what is not said: not answered with the subject's first sentences


@pytest.mark.parametrize("message", ["I'm scared stiff about the operation. Who does it?",
                                     "I've got butterflies in my stomach about it. Who performs it?"])
def test_an_idiom_in_the_story_does_not_decline_the_question(chain, message):
    out = ask(chain, message)
    assert out["kind"] == "answer" and "Neurosurgeons" in out["answer"], out["notes"]


@pytest.mark.parametrize("question, restated", [
    ("Will I be put to sleep for it?", "whether you will be put to sleep for it"),
    ("How much does it cost in the US?", "how much it costs in the US"),  # a name in capitals, not "us"
    ("When can mum go back to her gardening?", "when mum can go back to her gardening"),  # "mum": a person
    ("does moving make the back pain worse", "whether moving makes the back pain worse"),  # "make": a verb, not a noun
    ("how much height will I get back?", "how much height you will get back"),
    ("how many kyphoplasty procedures should a good surgeon do a year",
     "how many kyphoplasty procedures a good surgeon should do a year"),
    ("what are the risks or complications?", "what the risks or complications are"),
    ("Does Medicare cover kyphoplasty?", "whether Medicare covers kyphoplasty"),
    ("how much does it cost if I go private", "how much it costs if you go private"),
    ("How long is recovery after kyphoplasty?", "how long recovery after kyphoplasty is"),
    ("when can I drive again", "when you can drive again"),
    ("Will my health insurance pay for it?", "whether your health insurance will pay for it"),
    ("who does it?", "who does it"),
    ("what are the other options if she doesn't want the operation?",
     "what the other options are if she doesn't want the operation"),  # "option" can be a verb; here a noun
    ("what is the success rate for the procedure?", "what the success rate for the procedure is"),
    ("does the other doctor do it?", "whether the other doctor does it"),
    ("is my mum a good candidate?", "whether your mum is a good candidate"),
    ("which one is best?", "which one is best"),
    ("which surgeon is the most experienced?", "which surgeon is the most experienced"),
    ("what kind of doctor is it?", "what kind of doctor it is"),
    ("what type of anaesthetic is used?", "what type of anaesthetic is used"),
    ("which hospital is it in?", "which hospital it is in"),
    ("a brace?", "anything about a brace"),  # an option in a list, asked as a fragment
    ("is a radiologist or a surgeon better for this?", "whether a radiologist or a surgeon is better for this"),
    ("it?", ""),
    ("Can food poisoning cause long-term problems?", "whether food poisoning can cause long-term problems"),
    ("Will the pain after kyphoplasty go away?", "whether the pain after kyphoplasty will go away"),
    ("Should my mum with osteoporosis get it?", "whether your mum with osteoporosis should get it"),
    ("Does the cement wear out?", "whether the cement wears out"),
    ("Is it in there forever?", "whether it is in there forever"),
    ("open surgery?", "anything about open surgery"),
    ("probably nothing?", ""),  # names no option
    ("is the neurosurgeon or the orthopedic surgeon better?",
     "whether the neurosurgeon or the orthopedic surgeon is better"),
    ("is a general anaesthetic needed?", "whether a general anaesthetic is needed"),
    ("is the local anaesthetic enough?", "whether the local anaesthetic is enough"),
    ("is my mum too old?", "whether your mum is too old"),
    ("doesn't insurance pay for it?", "whether insurance doesn't pay for it"),
    ("Can you give me a good recipe for shepherd's pie?", "anything about a good recipe for shepherd's pie"),
])
def test_restatement_for_notes(question, restated):
    assert restate(question) == restated


def test_words_that_name_no_thing():
    from assistant.restate import names_no_thing

    assert names_no_thing("cured") and names_no_thing("droopy")
    assert not names_no_thing("tingling") and not names_no_thing("cement")
    assert not names_no_thing("alendronate")  # not in the dictionary: may be a name


@pytest.mark.parametrize("clipped, full", [("neuro", "neurosurgeon"), ("osteo", "osteoporosi"), ("ortho", "orthoped")])
def test_a_clipped_term_stands_for_the_corpus_words_it_starts(chain, clipped, full):
    term = next(t for t in chain.analyzer.terms(f"what about the {clipped} ones?") if t.word == clipped)
    assert full in term.alternatives
    assert not chain.grounder.absent(chain.analyzer.part(f"what do the {clipped} ones do?"))


def test_a_short_start_of_many_words_is_not_a_clipping(chain):
    assert chain.analyzer.clipped("spin") == frozenset()  # everyday, or too short to say which word
    assert chain.analyzer.clipped("cardio") == frozenset()  # starts no corpus word


@pytest.mark.parametrize("message, more", [("any other causes?", True), ("are there others?", True),
                                           ("what other doctors do it?", True), ("what causes it?", False),
                                           ("and the other one?", False)])
def test_asking_for_others_asks_for_more(analyse, message, more):
    assert analyse(message, context="causes", previous="The most frequent cause is osteoporosis.").more is more


def test_repeat_as_a_word_of_the_question_is_kept(analyse):
    assert analyse("Repeat fractures: are they common after kyphoplasty?").parts[0].text.startswith("Repeat fractures")
    assert analyse("could you repeat the part about nerve roots please?").parts[0].text.startswith("nerve roots")


def test_a_parenthesis_after_a_known_word_is_another_name_for_it_not_a_thing_required(analyse):
    # the guide never says "spondylofracture": the patient's gloss of VCF is searched, not required
    part = analyse("what causes a VCF (vertebral spondylofracture)?").parts[0]
    assert "spondylofracture" in part.search and not {t.word: t for t in part.terms}["spondylofracture"].specific
    terms = {t.word: t for t in analyse("is it safe with spondylofracture (my GP's word)?").parts[0].terms}
    assert terms["spondylofracture"].specific  # a parenthesis after it glosses nothing of the guide's


@pytest.mark.parametrize("message, kind", [("What's the most common cause of a vertebral compression fracture?", "cause"),
                                           ("What are the symptoms of a VCF?", "symptom"),
                                           ("whats the treatment for it", "treatment")])
def test_what_is_the_cause_of_x_asks_for_the_cause_not_a_definition(chain, message, kind):
    assert chain.analyzer.types_of(message) == (kind,)


def test_what_is_x_still_asks_what_it_is(chain):
    assert chain.analyzer.types_of("what is osteoporosis?") == ("definition",)
    assert "definition" in chain.analyzer.types_of("what is kyphoplasty used to treat")  # no "the cause of"


def test_a_demonstrative_before_a_noun_names_its_own_thing(chain):
    """"these radiology people" says who is meant; the story's other named things ("gallbladder") are not
    what the question is about and are not required of the guide. "that" alone still points back."""
    from assistant.question import _refers_back

    assert not _refers_back("So with these radiology people I wouldn't be cut open?")
    assert not _refers_back("is this procedure safe")
    assert _refers_back("Is that what made the bone break?") and _refers_back("Is that one of the kinds?")
    out = ask(chain, "I had an awful time when they took my gallbladder out the old-fashioned way. So with these "
                     "radiology people I wouldn't be cut open?", [("user", "What do interventional radiologists do?"),
                                                                  ("assistant", "Interventional Radiologists ...")])
    assert out["kind"] == "answer" and "incisions" in out["answer"]


def test_who_after_a_verb_is_what_is_done_not_the_question(chain):
    # "when we pick who does it": choosing is asked about, not who does it
    assert chain.analyzer.types_of("What should we be checking when we pick who does it?") == ("advice",)
    assert chain.analyzer.types_of("who does it?") == ("who",)
    # a "who" after a person says which person (a relative clause): it asks nobody's name
    assert chain.analyzer.types_of("what should I ask the doctor who does it") == ("advice",)
    assert "who" not in chain.analyzer.types_of("Is a surgeon who does loads of these likely to be more careful?")
    assert chain.analyzer.types_of("so who does them, a surgeon?") == ("who",)


def test_picking_a_doctor_is_choosing_one(chain):
    out = ask(chain, "My dad's been told he needs kyphoplasty. What should we be checking when we pick who does it?")
    assert out["kind"] == "answer" and "number of procedures" in out["answer"]


def test_an_indirect_question_after_a_statement_is_its_own_clause(analyse):
    q = analyse("I'm not dizzy or drowsy at all, just wondering what fluoroscopy is used for in this procedure.")
    assert [p.text for p in q.parts] == ["just wondering what fluoroscopy is used for in this procedure."]
    assert "drowsy" not in {t.word for p in q.parts for t in p.specific}


@pytest.mark.parametrize("message, kept", [("what causes it apart from osteoporosis though?", {"osteoporosi"}),
                                           ("besides the radiologists, who does it?", {"radiolog"}),
                                           ("Apart from the pain she's well. Who does it?", set())])
def test_what_a_question_sets_aside_is_kept_out_of_the_lead(analyse, message, kept):
    assert analyse(message).excluded == kept


@pytest.mark.parametrize("message", ["what should i ask the surgeon", "what should I ask my doctor before kyphoplasty?"])
def test_the_person_a_question_is_put_to_is_not_what_it_asks_about(analyse, message):
    person = next(t for t in analyse(message).parts[0].terms if t.word in ("surgeon", "doctor"))
    assert not person.specific and person.weight < 0.5


def test_asking_what_to_ask_the_surgeon_quotes_what_to_ask(chain):
    assert ask(chain, "what should i ask the surgeon")["answer"].startswith("The provider’s specific experience")
