"""Progress bars that stay readable when several jobs share one terminal (issue 14, console).

Snakemake runs jobs side by side and hands each one the same terminal. A tqdm bar redraws its line
with carriage returns, so two jobs' bars overwrite each other into one garbled line. In *lines*
mode (``RGE_PROGRESS=lines``, which the workflow sets whenever it may run more than one job at a
time) a bar instead prints a whole, newline-terminated line at most every ``LINES_INTERVAL``
seconds, prefixed with its job's name: lines of two jobs alternate but never mix. Otherwise
(``bar``, the default outside the workflow) it is an ordinary tqdm bar.

tqdm is imported lazily (the ``rge`` package does no heavy imports at import time).
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

ENV = "RGE_PROGRESS"
MODES = ("bar", "lines")
# Seconds between two printed lines in lines mode: a 200-step embedded training (~70 s) prints
# about seven lines, a long cluster job one line per ten seconds of its log.
LINES_INTERVAL = 10.0


def mode(env: Any = os.environ) -> str:
    """The progress mode from ``RGE_PROGRESS`` (unset: ``bar``).

    Raises:
        ValueError: the variable names neither ``bar`` nor ``lines``.
    """
    value = env.get(ENV, "bar") or "bar"
    if value not in MODES:
        raise ValueError(f"{ENV}={value!r}: expected one of {', '.join(MODES)}")
    return value


class LineStream:
    """A file for tqdm that turns each redraw into one whole line (no carriage returns).

    tqdm writes ``"\\r" + bar`` on every refresh and blanks or ``"\\n"`` when it closes; each
    non-blank write becomes ``bar + "\\n"`` on the wrapped stream; blanks, and a line equal to
    the one before (tqdm redraws the final state when it closes), are dropped.
    """

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.last = ""

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line and line != self.last:
            self.stream.write(line + "\n")
            self.last = line
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:  # tqdm asks; a line-per-update stream is never a live terminal
        return False


def bar(total: int, desc: str, *, initial: int = 0, disable: bool = False, **kwargs: Any):
    """A tqdm progress bar named ``desc`` (e.g. ``"train_run rge"``), in the current mode.

    Args:
        total: number of updates (steps) expected.
        desc: the label: the rule and what it works on, so a line names its job.
        initial: steps already done (a resumed training).
        disable: no output at all (e.g. a non-zero rank).
        **kwargs: passed to ``tqdm`` (e.g. ``mininterval`` in bar mode).

    Returns:
        A ``tqdm.tqdm`` instance (use ``update``, ``set_postfix``, ``close``).
    """
    from tqdm import tqdm

    if mode() == "lines":
        kwargs.update(
            file=LineStream(sys.stderr), mininterval=LINES_INTERVAL, dynamic_ncols=False,
            ncols=100, ascii=True,
        )  # fmt: skip
    else:
        kwargs.setdefault("dynamic_ncols", True)
    return tqdm(total=total, initial=initial, desc=desc, disable=disable, **kwargs)
