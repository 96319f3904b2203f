"""Patient feedback (thumbs up/down, optional comment) kept durably in a local SQLite file.

Stores only what the patient typed and what the assistant answered: question, answer,
citations, rating, comment and time. ``assistant feedback export`` writes it as CSV or JSON.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import AssistantError

RATINGS = ("up", "down")
_SCHEMA = """CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL
)"""
COLUMNS = ("id", "created_at", "rating", "comment", "question", "answer", "citations")


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(_SCHEMA)
        return con

    def record(self, rating: str, question: str, answer: str, citations: list[dict], comment: str = "") -> int:
        if rating not in RATINGS:
            raise AssistantError(f"Feedback rating must be one of {RATINGS}, not {rating!r}.")
        if not question or not answer:
            raise AssistantError("There is no answer to give feedback on yet.")
        cites = json.dumps([{k: c.get(k) for k in ("id", "source", "section", "quotes")} for c in citations])
        with self._lock, self._connect() as con:
            cur = con.execute(
                "INSERT INTO feedback (created_at, rating, comment, question, answer, citations) VALUES (?,?,?,?,?,?)",
                (datetime.now(UTC).isoformat(timespec="seconds"), rating, comment.strip()[:2000],
                 question[:5000], answer[:20000], cites))
            return int(cur.lastrowid)

    def all(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id").fetchall()
        return [dict(zip(COLUMNS, row)) for row in rows]

    def export(self, fmt: str = "csv") -> str:
        rows = self.all()
        if fmt == "json":
            return json.dumps([{**r, "citations": json.loads(r["citations"])} for r in rows], indent=2,
                              ensure_ascii=False) + "\n"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
