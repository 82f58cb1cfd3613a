"""Step timings of the training jobs: the bar's labels and the command's start-up."""

from __future__ import annotations

import time

import pytest

from training import progress


def test_each_label_is_timed_until_the_next_and_a_repeated_label_adds_up() -> None:
    with progress.steps("job", total=3, enabled=False) as bar:
        bar.start("a")
        time.sleep(0.02)
        bar.advance("b")
        bar.advance("a")
        time.sleep(0.02)
    assert list(bar.timings) == ["a", "b"]
    assert bar.timings["a"] >= 0.04 > bar.timings["b"]


def test_process_age_grows_with_the_process() -> None:
    first = progress.process_age()
    assert first is not None and first > 0
    time.sleep(0.1)
    later = progress.process_age()  # /proc counts in 10 ms steps
    assert later is not None and later >= first + 0.05


def test_the_start_up_is_reported_only_by_a_process_that_is_one_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert progress.command_startup() is None  # a test runner is no command of its own
    monkeypatch.setattr(progress, "_one_command_process", True)
    startup = progress.command_startup()
    assert startup is not None and startup > 0
