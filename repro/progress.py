"""Progress reporting: a live bar on a terminal, plain one-line updates in CI logs."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    def __init__(self, total: int, title: str, enabled: bool = True):
        self.total, self.title, self.done = total, title, 0
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self._bar: Any = None
        if enabled and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress("[bold]{task.description}", BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     TimeRemainingColumn(), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(title, total=total)

    def advance(self, label: str, status: str, wall_s: float, cached: bool) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.advance(self._task)
        else:
            src = "cached" if cached else f"{wall_s:.1f}s"
            print(f"[{self.done}/{self.total}] {label} {status} ({src})", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
