"""Fixed texts and templates, loaded from the ``prompts/`` folder and rendered strictly.

Templates are Jinja2 with ``StrictUndefined``: a missing variable raises instead of printing
nothing. Data files (``*.yaml``) hold word lists and the urgent-care advice. Nothing is inlined in
code, so staff can change wording without touching Python.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from assistant.errors import SettingsError


class Prompts:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SettingsError(f"The prompts folder {self.folder} does not exist (ASSISTANT_PROMPTS_DIR).")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.folder)), undefined=jinja2.StrictUndefined,
            autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True,
        )

    def render(self, name: str, **variables: Any) -> str:
        """Render ``prompts/<name>`` with the given variables (all must be supplied)."""
        try:
            return self._env.get_template(name).render(**variables).strip()
        except jinja2.TemplateNotFound:
            raise SettingsError(f"Missing prompt file {self.folder / name}.") from None

    def data(self, name: str, required: tuple[str, ...] = ()) -> Any:
        """A YAML data file; ``required`` keys must be present (a missing one names the file and key)."""
        data = _load_yaml(self.folder / name)
        missing = [key for key in required if not isinstance(data, dict) or key not in data]
        if missing:
            raise SettingsError(f"The prompt data file {self.folder / name} lacks {', '.join(map(repr, missing))}.")
        return data

    def path(self, name: str) -> Path:
        return self.folder / name


@lru_cache(maxsize=32)
def _load_yaml(path: Path) -> Any:
    if not path.exists():
        raise SettingsError(f"Missing prompt data file {path}.")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SettingsError(f"The prompt data file {path} is not valid YAML ({exc}).") from None
