"""Word knowledge: stems, word families, everyday vs specific words, and a speller that leaves real words alone."""

import pytest

from assistant.text import DERIVED, Speller, common_typo, related, stem, zipf


@pytest.mark.parametrize("a, b", [("treatments", "treat"), ("certificates", "certifications"), ("centre", "center"),
                                  ("orthopaedic", "orthopedic"), ("anaesthesia", "anesthesia"), ("radiologist", "radiology"),
                                  ("diagnosis", "diagnose"), ("injection", "injecting"), ("fractures", "fractured"),
                                  ("spine", "spinal")])  # a silent e the stemmer keeps
def test_word_families_meet(a, b):
    assert related(stem(a), stem(b)) >= DERIVED, (stem(a), stem(b))


@pytest.mark.parametrize("a, b", [("vertebroplasty", "vertebral"), ("medicare", "medical"), ("plain", "pain"),
                                  ("operation", "opera"), ("cost", "costume"), ("fine", "final")])
def test_look_alikes_do_not_meet(a, b):
    assert related(stem(a), stem(b)) == 0.0


def test_everyday_words_are_common_and_terms_are_rare():
    assert zipf("matter") > 5 and zipf("worth") > 5
    assert zipf("vertebroplasty") < 2 and zipf("kyphoplasy") == 0.0


VOCAB = ["kyphoplasty", "neurosurgeons", "osteoporosis", "vertebral", "medical", "pain", "injecting", "operating",
         "fracture", "radiologists"]


@pytest.mark.parametrize("typo, fixed", [("kyphoplasy", "kyphoplasty"), ("kyfoplasty", "kyphoplasty"),
                                         ("nuerosurgeons", "neurosurgeons"), ("osteoporsis", "osteoporosis"),
                                         ("radiolagists", "radiologists")])
def test_typos_of_corpus_words_are_corrected(typo, fixed):
    assert Speller(VOCAB).correct_word(typo) == fixed


@pytest.mark.parametrize("word", ["plain", "injection", "operation", "medicare", "vertebroplasty", "guide", "wot"])
def test_real_words_are_never_corrected(word):
    assert Speller(VOCAB).correct_word(word) == word


@pytest.mark.parametrize("typo, fixed", [("rong", "wrong"), ("nurce", "nurse"), ("tomorow", "tomorrow"),
                                         ("painfull", "painful"), ("wich", "wich"),  # "which" or "with"? kept
                                         ("alendronate", "alendronate"), ("bupa", "bupa"), ("prolia", "prolia")])
def test_typos_of_everyday_words_are_corrected_and_names_kept(typo, fixed):
    assert Speller(VOCAB).correct_word(typo) == fixed


def test_correct_keeps_the_rest_of_the_text():
    assert Speller(VOCAB).correct("Who does kyphoplasy, please?") == "Who does kyphoplasty, please?"


@pytest.mark.parametrize("text", ["Shouldn't a good doctor say?", "Doesn't it hurt?", "Couldn’t they wait?",
                                  "We're told it's fine, haven't we?", "wouldn't, didn't, aren't, mightn't"])
def test_contractions_are_words_not_typos(text):
    assert Speller(VOCAB).correct(text) == text  # not "should't", "does't"


def test_a_possessive_is_corrected_as_its_word():
    assert Speller(VOCAB).correct("the nuerosurgeons' room, the kyphoplasy's cost") == \
        "the neurosurgeons' room, the kyphoplasty's cost"


@pytest.mark.parametrize("typo, word", [("usualy", "usually"), ("finaly", "finally"), ("actualy", "actually")])
def test_forms_of_one_word_are_not_rival_corrections(typo, word):
    assert common_typo(typo) == word  # "usual"/"usually" are one word's forms, not an ambiguity


def test_rival_words_still_leave_a_typo_alone():
    assert common_typo("wich") is None  # "which" or "with"?


def test_a_typo_of_another_inflection_of_a_corpus_word_is_corrected():
    speller = Speller(["collapses", "surgeons"])
    assert speller.correct_word("colapsing") == "collapsing"  # "collapses" is in the corpus, "collapsing" is not
    assert speller.correct_word("surgen") == "surgeon"


@pytest.mark.parametrize("typo, word", [("thye", "they"), ("waht", "what"), ("freind", "friend")])
def test_two_swapped_letters_beat_a_commoner_word_one_letter_away(typo, word):
    assert common_typo(typo) == word  # "thye": "the" is commoner, but "they" keeps every letter typed


@pytest.mark.parametrize("typed, meant", [("shrinkin", "shrinking"), ("Feelin", "Feeling"), ("gettin", "getting"),
                                          ("raisin", "raisin"), ("aspirin", "aspirin"), ("within", "within")])
def test_an_ing_word_typed_as_said_gets_its_g_back_and_real_words_stay(typed, meant):
    assert Speller(VOCAB).correct_word(typed) == meant


@pytest.mark.parametrize("typo, fixed", [("radiolagy", "radiology"),  # of the corpus's "radiologists" family
                                         ("anestheisa", "anesthesia")])  # a medical term the corpus lacks
def test_an_unknown_token_one_edit_from_a_word_of_the_field_is_that_word(typo, fixed):
    assert Speller(VOCAB, frozenset({"anesthesia", "vertebrae"})).correct_word(typo) == fixed


@pytest.mark.parametrize("name", ["forteo", "tymlos", "romosozumab"])  # drugs: "forteo" is one edit from "forte"
def test_an_unknown_name_is_not_made_an_everyday_word(name):
    assert Speller(VOCAB, frozenset({"anesthesia"})).correct_word(name) == name


def test_ph_written_as_it_sounds_is_one_letter_not_three():
    assert Speller(VOCAB).correct_word("kyfolasty") == "kyphoplasty"  # "ph" as "f", and a letter dropped


def test_a_word_in_quotes_is_corrected_too():
    assert Speller(VOCAB).correct("What does 'kyphoplasy' mean?") == "What does 'kyphoplasty' mean?"
    assert Speller(VOCAB).correct("they'd said o'clock") == "they'd said o'clock"  # a letter after an apostrophe


@pytest.mark.parametrize("typo, fixed", [("keyholle", "keyhole"), ("bakcbone", "backbone"), ("hunnch", "hunch"),
                                         ("thinng", "thing"),  # the everyday word first: not the "thin" of "thin bones"
                                         ("prolia", "prolia")])  # a name one edit from nothing lay is kept
def test_typos_of_lay_words_are_corrected(typo, fixed):
    speller = Speller(VOCAB, lay=frozenset({"keyhole", "backbone", "hunch", "thin", "bones"}))
    assert speller.correct_word(typo) == fixed


def test_the_nearer_everyday_word_beats_a_corpus_word_two_letters_away():
    assert Speller(["timing", "imaging"]).correct_word("thhing") == "thing"


def test_a_drug_name_is_never_corrected_into_a_corpus_word():
    # two edits from "boning" (a form of the corpus's "bone"), but a drug: a known name is no typo
    speller = Speller(["bone", "bones"], medical=frozenset({"boniva"}))
    assert speller.correct_word("boniva") == "boniva"
    assert Speller(["bone", "bones"]).correct_word("boniva") == "boning"  # what an unknown token would become
