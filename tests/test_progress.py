"""The build's progress bar: counts, rate and time left on a terminal; silent otherwise."""

import io

from assistant.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_long_build_on_a_terminal_shows_counts_rate_and_time_left():
    out = Terminal()
    progress = Progress(1000, "Embedding", stream=out)
    progress.advance(250)
    line = progress.line(elapsed=5.0)
    assert "250/1,000 chunks" in line and "50/s" in line and "about 15 s left" in line
    progress.advance(750)
    progress.close()
    assert "1,000/1,000" in out.getvalue() and "done in" in out.getvalue() and out.getvalue().endswith("\n")


def test_no_bar_in_a_log_file_or_for_a_small_build():
    log = io.StringIO()  # not a terminal
    progress = Progress(10_000, "Embedding", stream=log)
    progress.advance(10_000)
    progress.close()
    small = Terminal()
    Progress(20, "Embedding", stream=small).advance(20)
    assert log.getvalue() == "" and small.getvalue() == ""
