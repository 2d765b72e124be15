import io
import time

from negscope import progress
from negscope.progress import LogLines


def test_a_log_gets_plain_lines_at_intervals_and_a_closing_count():
    log = io.StringIO()
    for _ in LogLines(range(6), desc="encode", file=log, mininterval=0.05):
        time.sleep(0.03)
    text = log.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and len(lines) >= 2
    assert all(line.startswith("encode:") for line in lines)
    assert lines[-1].startswith("encode: 100%") and "6/6" in lines[-1]


def test_short_work_writes_nothing_to_a_log():
    log = io.StringIO()
    for _ in LogLines(range(50), desc="quick", file=log, mininterval=5, leave=False):
        pass
    assert log.getvalue() == ""


def test_a_terminal_gets_the_live_bar_and_a_log_the_lines(monkeypatch):
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.delitem(progress.sys.modules, "ipykernel", raising=False)
    assert isinstance(progress.tqdm(range(2), disable=True), LogLines)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: True, raising=False)
    assert not isinstance(progress.tqdm(range(2), disable=True), LogLines)


def test_refreshing_at_every_step_still_writes_a_line_per_interval():
    log = io.StringIO()
    bar = LogLines(total=40, desc="train", file=log, mininterval=0.2)
    for _ in range(40):
        time.sleep(0.01)
        bar.set_postfix(loss=1.0)  # refreshes the bar each call
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    assert 1 <= len(lines) <= 4 and lines[-1].startswith("train: 100%")
