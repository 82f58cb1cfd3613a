"""Rich progress bars for the training jobs (on stderr, so stdout stays parseable)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


#: Whether this process runs one ``recsys`` command from its start (set by the entry point):
#: then its age is the command's start-up; in a test runner or a notebook it is not.
_one_command_process = False


def mark_command_process() -> None:
    """Called by the ``recsys`` entry point: this process is one command from its start."""
    global _one_command_process
    _one_command_process = True


def command_startup() -> float | None:
    """The command's start-up so far (``process_age``) when the process is one command."""
    return process_age() if _one_command_process else None


def process_age() -> float | None:
    """Wall seconds since this process started (interpreter start-up and imports included),
    read from ``/proc`` (10 ms steps); None where there is no ``/proc``."""
    try:
        stat = Path("/proc/self/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    started = int(stat.rpartition(")")[2].split()[19]) / ticks  # field 22: starttime
    return max(0.0, uptime - started)


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
