"""Rich progress bars for the training jobs (on stderr, so stdout stays parseable)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class Steps:
    """A bar over a fixed number of named steps: ``steps.advance("fitting")``.

    ``timings`` holds the wall seconds of every label shown (from its ``start`` to the next),
    so a job can report where its time went.
    """

    def __init__(self, progress: Progress, title: str, total: int) -> None:
        self._progress = progress
        self._title = title
        self._task = progress.add_task(title, total=total)
        self.timings: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def start(self, label: str) -> None:
        """Show what is running now (before it finishes); ends the previous label's timing."""
        self.stop()
        self._current = (label, time.perf_counter())
        self._progress.update(self._task, description=f"{self._title}: {label}")

    def stop(self) -> None:
        """End the running label's timing (``start`` and the end of ``steps`` call it)."""
        if self._current is not None:
            label, started = self._current
            self.timings[label] = self.timings.get(label, 0.0) + time.perf_counter() - started
            self._current = None

    def advance(self, label: str | None = None) -> None:
        if label:
            self.start(label)
        self._progress.advance(self._task)


@contextmanager
def steps(title: str, total: int, enabled: bool = True) -> Iterator[Steps]:
    """A progress bar over ``total`` steps; ``enabled=False`` draws nothing (tests, scripts)."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    with progress:
        bar = Steps(progress, title, total)
        yield bar
        bar.stop()
