"""One typed, immutable Settings object, read once from ``ASSISTANT_*`` environment variables.

Only this module reads the environment. Everything else receives a ``Settings`` and never
looks anywhere else, so tests can build their own with ``Settings(corpus_dir=tmp_path, ...)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from assistant.errors import SettingsError

ROOT = Path(__file__).resolve().parent.parent

# Offline by construction: no model hub, no telemetry. Set before any library reads them.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def set_offline_env() -> None:
    """Make every library stay offline (keeps any value the user already set)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Paths may be relative to the working directory."""

    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "index"
    prompts_dir: Path = ROOT / "prompts"
    source_name: str = "the guide"  # how answers refer to the corpus
    embedding_model: str = "all-MiniLM-L6-v2"  # the packaged model, or a local folder
    chunk_size: int = 600  # characters, upper bound; chunks end on sentence boundaries
    chunk_overlap: int = 0  # sentences repeated at the start of the next chunk
    top_k: int = 4  # passages retrieved per question
    max_sentences: int = 4  # answer sentences (a list-like question may take one more)
    max_question_chars: int = 2000
    feedback_db: Path = ROOT / "feedback.sqlite3"
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 8  # answers computed at once by the UI
    max_queue: int = 64  # waiting requests before the UI says "busy"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``ASSISTANT_<FIELD>`` variables (e.g. ``ASSISTANT_CORPUS_DIR``); overrides win."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name.startswith("_"):
                continue
            raw = environ.get(f"ASSISTANT_{f.name.upper()}")
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _convert(f.name, raw.strip(), type(getattr(cls, f.name)))
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        for name in ("corpus_dir", "index_dir", "prompts_dir", "feedback_db"):
            object.__setattr__(self, name, Path(getattr(self, name)).expanduser())
        for name in ("chunk_size", "top_k", "max_sentences", "max_question_chars", "concurrency"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(f"ASSISTANT_{name.upper()} must be at least 1.")


def _convert(name: str, raw: str, kind: type) -> object:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"ASSISTANT_{name.upper()}={raw!r} is not a whole number.") from None
    if issubclass(kind, Path):
        return Path(raw)
    return raw
