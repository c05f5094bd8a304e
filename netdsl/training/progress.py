"""A per-batch progress bar (tqdm): images done, images/s, ETA, running loss and accuracy.

The library draws nothing by itself: ``train(..., progress=terminal_bar())``
(what ``netdsl train`` passes) asks for a bar on stdout, and ``terminal_bar``
gives none when stdout is not a terminal (a log file, a pipe, CI), so logs
hold only the per-epoch lines.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

from .optional import needs


class Bar:
    """One epoch's bar; ``update`` after every batch, ``close`` at the end."""

    def __init__(self, total: int, description: str, stream: TextIO):
        with needs("the progress bar"):
            from tqdm import tqdm
        self.bar = tqdm(total=total, desc=description, unit="img", unit_scale=True, leave=False,
                        file=stream, dynamic_ncols=True, mininterval=0.25)
        self.shown = 0.0

    def update(self, images: int, running: Callable[[], tuple[float, float]]) -> None:
        """``running()`` gives the epoch's (mean loss, accuracy) so far; it is called (a
        device synchronisation on a GPU) only when the bar is redrawn."""
        now = time.monotonic()
        if now - self.shown >= self.bar.mininterval:
            loss, accuracy = running()
            self.bar.set_postfix({"loss": f"{loss:.4f}", "acc": f"{accuracy:.1%}"}, refresh=False)
            self.shown = now
        self.bar.update(images)

    def close(self) -> None:
        self.bar.close()


#: (images in the epoch, description) → a Bar
BarFactory = Callable[[int, str], Bar]


def terminal_bar(stream: Optional[TextIO] = None) -> Optional[BarFactory]:
    """A bar factory drawing on ``stream`` (stdout) — None when it is not a terminal."""
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        return None
    with needs("the progress bar"):  # fail before training, not after the first epoch
        import tqdm  # noqa: F401
    return lambda total, description: Bar(total, description, stream)
