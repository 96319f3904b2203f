"""Every fixed text renders strictly; every data file has what the code reads."""

import jinja2
import pytest

from assistant.prompts import Prompts
from assistant.settings import Settings

TEMPLATES = {"not_covered.j2": {"notes": ["say how much it costs"], "topics": ["A"]},
             "partial_note.j2": {"notes": ["mention vertebroplasty"]},
             "off_topic.j2": {"topics": ["A"]}, "unclear.j2": {"topics": ["A"]},
             "llm_answer_system.j2": {"max_sentences": 5},
             "llm_answer.j2": {"passages": [{"section": "S", "text": "T"}], "notes": [], "question": "Q?"},
             "llm_rewrite.j2": {"history": [("user", "Q?"), ("assistant", "A.")], "message": "and that?"}}


@pytest.fixture(scope="module")
def prompts():
    return Prompts(Settings().prompts_dir)


@pytest.mark.parametrize("name, variables", TEMPLATES.items())
def test_each_template_renders(prompts, name, variables):
    assert prompts.render(name, source_name="the guide", **variables)


def test_a_missing_variable_fails_loudly(prompts):
    with pytest.raises(jinja2.UndefinedError):
        prompts.render("not_covered.j2", source_name="the guide", topics=[])


@pytest.mark.parametrize("name, keys", [("urgent.yaml", ("advice", "groups", "calm", "threshold")),
                                        ("conversation.yaml", ("injection", "decision", "disclaimer")),
                                        ("question_types.yaml", ("types", "needs"))])
def test_data_files_have_their_keys(prompts, name, keys):
    assert prompts.data(name, keys)


def test_every_red_flag_group_has_patterns_and_exemplars(prompts):
    for group in prompts.data("urgent.yaml")["groups"]:
        assert group["patterns"] and len(group["exemplars"]) >= 5, group["name"]


def test_the_lay_glossary_maps_phrases_to_clinical_words(prompts):
    for entry in prompts.data("lay_terms.yaml"):
        assert entry["lay"] and entry["clinical"]
