"""Progress of long work: a live tqdm bar in a terminal or notebook, and plain lines at intervals in a log file.

Every progress bar of the package is made by `tqdm` here. When stderr is not a terminal (a log, a CI job, `nohup`),
a bar writes one plain line, with its count, elapsed time and ETA, at most every `LOG_EVERY` seconds, and a closing
line when it spoke at all; work that ends within `LOG_EVERY` seconds writes nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm as live_tqdm
from tqdm.std import tqdm as std_tqdm

LOG_EVERY = 30.0


def interactive() -> bool:
    """Whether progress goes to a terminal or a notebook, where a bar redraws in place."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


class LogLines(std_tqdm):
    """A tqdm bar for logs: a plain line at most every `mininterval` seconds (`LOG_EVERY` unless given)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("mininterval", LOG_EVERY)
        kwargs.setdefault("ascii", True)
        self.spoke = False
        super().__init__(*args, **kwargs)
        self.sp = None  # no in-place redraws: closing writes no carriage return or blank line

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """Write the bar's state as one line when `mininterval` seconds have passed since the start or the last line,
        however often the bar is refreshed (`set_postfix` refreshes at every call)."""
        now = self._time()
        if now - getattr(self, "said_t", getattr(self, "start_t", now)) >= self.mininterval:
            self._line()
        return True

    def close(self) -> None:
        """A closing line with the final count, when the bar wrote any line before."""
        if not self.disable and self.spoke and self.said_n != self.n:
            self._line()
        super().close()

    def _line(self) -> None:
        self.fp.write(f"{self}\n".lstrip())
        self.fp.flush()
        self.spoke = True
        self.said_t, self.said_n = self._time(), self.n


def tqdm(*args: Any, **kwargs: Any) -> std_tqdm:
    """A progress bar: tqdm's own in a terminal or notebook, `LogLines` anywhere else."""
    return (live_tqdm if interactive() else LogLines)(*args, **kwargs)
