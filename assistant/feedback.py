"""Patient feedback (thumbs up/down, optional comment) kept durably in a local SQLite file.

Stores only what the patient typed and what the assistant answered: question, answer,
citations, rating, comment and time. ``assistant feedback export`` writes it as CSV or JSON.
The file is created readable by its owner only (0600); rows older than the retention period
(``ASSISTANT_FEEDBACK_RETENTION_DAYS``, 0 = keep) are deleted whenever feedback is written or read.
CSV cells that a spreadsheet would run as a formula ("=HYPERLINK(...)") are written as text.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
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
    citations TEXT NOT NULL,
    answer_key TEXT NOT NULL DEFAULT ''
)"""
# one record per answer per rating: a second click on the same thumb changes nothing
_UNIQUE = "CREATE UNIQUE INDEX IF NOT EXISTS one_per_answer ON feedback (answer_key, rating) WHERE answer_key != ''"
COLUMNS = ("id", "created_at", "rating", "comment", "question", "answer", "citations", "answer_key")


class FeedbackStore:
    def __init__(self, path: Path, retention_days: int = 0) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self.path.touch(mode=0o600)
            con = sqlite3.connect(self.path, timeout=10)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(_SCHEMA)
            if "answer_key" not in {row[1] for row in con.execute("PRAGMA table_info(feedback)")}:  # older file
                con.execute("ALTER TABLE feedback ADD COLUMN answer_key TEXT NOT NULL DEFAULT ''")
            con.execute(_UNIQUE)
            if self.retention_days > 0:
                cutoff = (datetime.now(UTC) - timedelta(days=self.retention_days)).isoformat(timespec="seconds")
                con.execute("DELETE FROM feedback WHERE created_at < ?", (cutoff,))
                con.commit()
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackError(f"The feedback database {self.path} cannot be used ({exc}). Point "
                                "ASSISTANT_FEEDBACK_DB at a file in a folder you can write.") from None
        return con

    def record(self, rating: str, question: str, answer: str, citations: list[dict], comment: str = "",
               key: str = "") -> int:
        """Store a rating; with ``key`` (one answer of one conversation), at most once per rating.
        Returns the record's id."""
        if rating not in RATINGS:
            raise AssistantError(f"Feedback rating must be one of {RATINGS}, not {rating!r}.")
        if not question or not answer:
            raise AssistantError("There is no answer to give feedback on yet.")
        comment = comment if isinstance(comment, str) else ""
        cites = json.dumps([{k: c.get(k) for k in ("id", "source", "section", "quotes")} for c in citations])
        try:
            with self._lock, self._connect() as con:
                cur = con.execute(
                    "INSERT OR IGNORE INTO feedback (created_at, rating, comment, question, answer, citations, answer_key)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (datetime.now(UTC).isoformat(timespec="seconds"), rating, comment.strip()[:2000],
                     question[:5000], answer[:20000], cites, key[:200]))
                if cur.rowcount == 0:  # already rated so: the existing record
                    row = con.execute("SELECT id FROM feedback WHERE answer_key = ? AND rating = ?",
                                      (key, rating)).fetchone()
                    return int(row[0])
                return int(cur.lastrowid)
        except sqlite3.Error as exc:
            raise FeedbackError(f"Feedback could not be saved in {self.path} ({exc}).") from None

    def add_comment(self, record_id: int, comment: str) -> None:
        """Attach (or replace) the comment of a stored rating."""
        try:
            with self._lock, self._connect() as con:
                con.execute("UPDATE feedback SET comment = ? WHERE id = ?", ((comment or "").strip()[:2000], record_id))
        except sqlite3.Error as exc:
            raise FeedbackError(f"The comment could not be saved in {self.path} ({exc}).") from None

    def all(self) -> list[dict]:
        if not self.path.exists():
            return []
        try:
            with self._connect() as con:
                rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise FeedbackError(f"The feedback database {self.path} cannot be read ({exc}).") from None
        return [dict(zip(COLUMNS, row)) for row in rows]

    def export(self, fmt: str = "csv") -> str:
        rows = self.all()
        if fmt == "json":
            return json.dumps([{**r, "citations": json.loads(r["citations"])} for r in rows], indent=2,
                              ensure_ascii=False) + "\n"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: _no_formula(v) for k, v in row.items()} for row in rows)
        return buffer.getvalue()

    def export_to(self, fmt: str, output: Path) -> None:
        """Write the export to a file, saying in one line what is wrong when it cannot."""
        output = Path(output)
        if output.is_dir():
            raise FeedbackError(f"{output} is a folder; give a file name, e.g. {output / ('feedback.' + fmt)}.")
        if not output.parent.is_dir():
            raise FeedbackError(f"The folder {output.parent} does not exist; create it first.")
        try:
            output.write_text(self.export(fmt), encoding="utf-8")
        except OSError as exc:
            raise FeedbackError(f"Cannot write {output} ({exc.strerror}).") from None


class FeedbackError(AssistantError):
    """Feedback cannot be stored or exported."""


def _no_formula(value: object) -> object:
    """A cell starting with = + - @ (or a tab/CR) is shown as text by spreadsheets, not run."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
