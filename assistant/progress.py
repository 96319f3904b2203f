"""A one-line progress bar with counts, rate and time left, for long index builds.

Drawn on stderr only when stderr is a terminal (a log file or a test gets nothing), redrawn at most
every half second, and only for work expected to take a while (``MIN_ITEMS``).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

MIN_ITEMS = 500  # smaller builds finish before a bar is worth drawing


class Progress:
    def __init__(self, total: int, label: str, unit: str = "chunks", stream: TextIO | None = None) -> None:
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self.enabled = total >= MIN_ITEMS and self.stream.isatty()
        self.done = 0
        self.start = time.perf_counter()
        self._drawn = 0.0

    def advance(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self._drawn >= 0.5 or self.done >= self.total):
            self._drawn = now
            self.stream.write("\r" + self.line(now - self.start))
            self.stream.flush()

    def line(self, elapsed: float) -> str:
        """'Embedding  [#####.....]  3,200/6,704 chunks  412/s  about 9 s left'."""
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(20 * share) + "." * (20 - int(20 * share))
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        eta = f"about {_duration(left)} left" if self.done < self.total else f"done in {_duration(elapsed)}"
        return f"{self.label} [{bar}] {self.done:,}/{self.total:,} {self.unit}  {rate:,.0f}/s  {eta}   "

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
