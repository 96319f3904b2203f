"""The one exception root of the assistant, and its subclasses.

Every error a user can cause or fix is an ``AssistantError``; its message says what to do.
The CLI turns them into a one-line message and exit code 2, the UI into a friendly notice.

    AssistantError
    ├── InvalidQuestion      empty, non-string or oversized input
    ├── CorpusError          missing folder, no readable documents
    ├── IndexError_          missing, stale or corrupt index (named so as not to shadow the builtin)
    │   ├── IndexMissing
    │   ├── IndexStale
    │   └── IndexDamaged     a file of the build changed since it was built
    ├── SettingsError        a bad ASSISTANT_* value
    └── EvalError            an unreadable eval dataset or thresholds file
"""

from __future__ import annotations


class AssistantError(Exception):
    """Root of every error the assistant raises on purpose."""


class InvalidQuestion(AssistantError):
    """The question cannot be answered as given (empty, not text, too long)."""


class CorpusError(AssistantError):
    """The corpus folder is missing, empty or unreadable."""


class IndexError_(AssistantError):
    """The index cannot be used."""


class IndexMissing(IndexError_):
    """No index has been built for this corpus yet."""


class IndexStale(IndexError_):
    """The index was built from another corpus, model or chunking."""


class IndexDamaged(IndexError_):
    """A file of the index build is not what was written (checksums differ)."""


class SettingsError(AssistantError):
    """An ASSISTANT_* setting has a value that cannot be used."""


class EvalError(AssistantError):
    """An eval dataset or thresholds file cannot be read."""
