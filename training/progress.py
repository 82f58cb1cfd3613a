"""Rich progress bars for the training jobs (on stderr, so stdout stays parseable)."""

from __future__ import annotations

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
    """A bar over a fixed number of named steps: ``steps.advance("fitting")``."""

    def __init__(self, progress: Progress, title: str, total: int) -> None:
        self._progress = progress
        self._title = title
        self._task = progress.add_task(title, total=total)

    def start(self, label: str) -> None:
        """Show what is running now (before it finishes)."""
        self._progress.update(self._task, description=f"{self._title}: {label}")

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
        yield Steps(progress, title, total)
