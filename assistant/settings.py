"""One typed, immutable Settings object, read once from ``ASSISTANT_*`` environment variables.

Only this module reads the environment. Everything else receives a ``Settings`` and never
looks anywhere else, so tests can build their own with ``Settings(corpus_dir=tmp_path, ...)``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from assistant.errors import SettingsError

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
# Run from a checkout (editable install): the repository's folders. Installed from a wheel: the copies
# shipped inside the package, and the index and feedback in the user's cache and data folders.
IN_CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "prompts").is_dir()


def _user_dir(variable: str, fallback: str) -> Path:
    return Path(os.environ.get(variable) or Path.home() / fallback) / "kypho-assistant"


def default_path(name: str) -> Path:
    """Where ``corpus``, ``prompts``, ``evals``, ``index`` and ``feedback.sqlite3`` are by default."""
    if IN_CHECKOUT:
        return ROOT / name
    return {"corpus": PACKAGE / "corpus", "prompts": PACKAGE / "prompts", "evals": PACKAGE / "eval_data",
            "index": _user_dir("XDG_CACHE_HOME", ".cache") / "index",
            "feedback.sqlite3": _user_dir("XDG_DATA_HOME", ".local/share") / "feedback.sqlite3"}[name]

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


# Tracing posts every question and answer to a tracing service: off, even when LANGSMITH_TRACING /
# LANGCHAIN_TRACING_V2 are set in the environment, unless ASSISTANT_TRACING=1 opts in.
TRACING_ENV = ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING", "LANGSMITH_TRACING_V2")


def set_offline_env() -> None:
    """Make every library stay offline (keeps any value the user already set), and tracing off
    unless ``ASSISTANT_TRACING`` is true."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    if os.environ.get("ASSISTANT_TRACING", "").strip().lower() not in ("1", "true", "yes", "on"):
        for key in TRACING_ENV:
            os.environ[key] = "false"


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Paths may be relative to the working directory."""

    corpus_dir: Path = default_path("corpus")
    index_dir: Path = default_path("index")
    prompts_dir: Path = default_path("prompts")
    source_name: str = "the guide"  # how answers refer to the corpus
    embedding_model: str = "all-MiniLM-L6-v2"  # the packaged model, or a local folder
    chunk_size: int = 600  # characters, upper bound; chunks end on sentence boundaries
    chunk_overlap: int = 0  # sentences repeated at the start of the next chunk
    top_k: int = 4  # passages retrieved per question
    max_sentences: int = 4  # answer sentences (a list-like question may take one more)
    max_question_chars: int = 2000
    max_history_turns: int = 20  # earlier messages read (the oldest are dropped beyond this)
    max_turn_chars: int = 4000  # characters read of each earlier message (the rest is cut)
    feedback_db: Path = default_path("feedback.sqlite3")
    feedback_retention_days: int = 0  # delete feedback older than this many days (0: keep it)
    host: str = "127.0.0.1"
    port: int = 7860
    examples: str = ""  # example questions on the chat page, separated by "|" (default: corpus/examples.yaml)
    concurrency: int = 8  # answers computed at once by the UI
    max_queue: int = 64  # waiting requests before the UI and the API say "busy"
    # the HTTP API (assistant serve)
    api_key: str = field(default="", repr=False)  # never printed; when set, /v1 wants "Authorization: Bearer <key>"
    cors_origins: str = ""  # browser origins allowed to call the API, comma-separated (none by default)
    max_request_bytes: int = 262_144  # larger request bodies are refused (413)
    model_id: str = "grounded-assistant"  # the "model" name the OpenAI-compatible routes report
    workers: int = 1  # API processes (assistant serve --workers); the chat page needs one
    prefill_sentences: int = 50_000  # a server embeds up to this many sentences in the background (0: none)
    # the index on a Chroma server instead of index_dir (several processes or machines)
    chroma_url: str = ""  # e.g. http://127.0.0.1:8000 (start one with `chroma run --path DIR --port 8000`)
    chroma_prefix: str = "assistant"  # collection names start with this (several corpora can share a server)
    # The answer generator: "extractive" (quotes the guide; the offline default) or "llm" (a chat model
    # writes the answer from the same passages, and the citation guard checks every sentence).
    generator: str = "extractive"
    llm_provider: str = "openai"  # "openai": any OpenAI-compatible server (vLLM, llama.cpp, a cloud); "ollama"
    llm_base_url: str = ""  # e.g. http://127.0.0.1:8000/v1 (OpenAI-compatible) or http://127.0.0.1:11434 (Ollama)
    llm_model: str = ""  # the model's name on that server
    llm_api_key: str = field(default="", repr=False)  # never printed
    llm_timeout: float = 20.0  # seconds: past this the patient gets the extractive answer
    llm_max_tokens: int = 400  # the longest answer the model may write
    llm_rewrite: bool = True  # with a model configured, let it rewrite follow-ups (the heuristic stays the fallback)
    show_guard: bool = False  # the chat page shows staff which generator answered and what the guard removed

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
        for name in ("chunk_size", "top_k", "max_sentences", "max_question_chars", "concurrency", "max_history_turns",
                     "max_turn_chars", "max_request_bytes", "workers"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(f"ASSISTANT_{name.upper()} must be at least 1.")
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}", self.chroma_prefix):
            raise SettingsError(f"ASSISTANT_CHROMA_PREFIX={self.chroma_prefix!r}: use 2-61 letters, digits, '.', '_' "
                                "or '-', starting with a letter or digit.")
        if self.generator not in GENERATORS:
            raise SettingsError(f"ASSISTANT_GENERATOR={self.generator!r}: choose one of {', '.join(GENERATORS)}.")
        if self.llm_provider not in LLM_PROVIDERS:
            raise SettingsError(f"ASSISTANT_LLM_PROVIDER={self.llm_provider!r}: choose one of {', '.join(LLM_PROVIDERS)}.")
        if not 0 < float(self.llm_timeout) <= 600:
            raise SettingsError("ASSISTANT_LLM_TIMEOUT must be between 0 and 600 seconds.")
        if int(self.llm_max_tokens) < 16:
            raise SettingsError("ASSISTANT_LLM_MAX_TOKENS must be at least 16.")


GENERATORS = ("extractive", "llm")
LLM_PROVIDERS = ("openai", "ollama")


def _convert(name: str, raw: str, kind: type) -> object:
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"ASSISTANT_{name.upper()}={raw!r} is not true or false.")
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"ASSISTANT_{name.upper()}={raw!r} is not a number.") from None
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"ASSISTANT_{name.upper()}={raw!r} is not a whole number.") from None
    if issubclass(kind, Path):
        return Path(raw)
    return raw
