"""One Settings, read from ASSISTANT_* variables; bad values name the variable."""

from pathlib import Path

import pytest

from assistant.errors import SettingsError
from assistant.settings import Settings, set_offline_env


def test_environment_overrides_and_types():
    s = Settings.from_env({"ASSISTANT_TOP_K": "6", "ASSISTANT_CORPUS_DIR": "/tmp/c", "ASSISTANT_SOURCE_NAME": "the leaflet"})
    assert s.top_k == 6 and s.corpus_dir == Path("/tmp/c") and s.source_name == "the leaflet"


@pytest.mark.parametrize("variable, value", [("ASSISTANT_TOP_K", "many"), ("ASSISTANT_TOP_K", "0"),
                                             ("ASSISTANT_MAX_HISTORY_TURNS", "-1")])
def test_bad_values_name_the_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_settings_are_immutable():
    with pytest.raises(AttributeError):
        Settings().top_k = 3  # type: ignore[misc]


def test_offline_variables_are_set(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    set_offline_env()
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["LANGSMITH_TRACING"] == "false"
