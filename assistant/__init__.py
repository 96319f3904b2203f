"""A grounded, cited, offline document assistant for patients.

    from assistant import build_chain
    chain = build_chain()
    chain.invoke({"question": "Who performs kyphoplasty?", "chat_history": []})

Importing the package is cheap: models, Chroma and Gradio load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.chain import AssistantChain

__all__ = ["AssistantError", "Settings", "build_chain"]


def build_chain(settings: Settings | None = None, **kwargs: Any) -> AssistantChain:
    """The answer chain (a LangChain Runnable); see ``assistant.chain.build_chain``."""
    from assistant.chain import build_chain as _build

    return _build(settings, **kwargs)
