"""Start-up time of the ``recsys`` command line: help screens and a listing on an empty store.

    .venv/bin/python benchmarks/bench_cli.py             # exits 1 if a target is missed
    .venv/bin/python benchmarks/bench_cli.py --no-check  # report only

Each command runs in a fresh process (the ``recsys`` console script beside this Python, else
``python -m training.cli.main``), once untimed to warm the file cache, then ``--runs`` times;
the median wall time is reported. Targets (exit 1 when missed): ``recsys --help`` <= 0.5 s and
``recsys models --data-dir <empty dir>`` <= 3 s; ``recsys train --help`` is reported. The
``models`` runs get a new empty data directory each and no ``MLFLOW_TRACKING_URI``, so they
measure the embedded default, not a server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HELP_TARGET_S = 0.5
MODELS_TARGET_S = 3.0


def recsys() -> list[str]:
    """The command that starts the CLI the way a user does."""
    script = Path(sys.executable).with_name("recsys")
    return [str(script)] if script.exists() else [sys.executable, "-m", "training.cli.main"]


def wall_time(args: list[str], env: dict[str, str]) -> float:
    """Seconds from start to exit of one process; a failing command is an error."""
    started = time.perf_counter()
    done = subprocess.run(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def measure(make_args: Callable[[Path], list[str]], runs: int, env: dict[str, str]) -> list[float]:
    """Wall times of ``runs`` timed runs after one warm-up, each with a fresh temporary dir."""
    times: list[float] = []
    for n in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="recsys-bench-cli-") as tmp:
            elapsed = wall_time(make_args(Path(tmp)), env)
        if n:  # the first run warms the caches
            times.append(elapsed)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (median)")
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    args = parser.parse_args(argv)

    base = recsys()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}  # fmt: skip
    cases: list[tuple[str, Callable[[Path], list[str]], float | None]] = [
        ("recsys --help", lambda _: [*base, "--help"], HELP_TARGET_S),
        ("recsys train --help", lambda _: [*base, "train", "--help"], None),
        (
            "recsys models --data-dir <empty>",
            lambda tmp: [*base, "models", "--data-dir", str(tmp)],
            MODELS_TARGET_S,
        ),
    ]
    print(f"{' '.join(base)}: median of {args.runs} runs (after one warm-up), fresh processes")
    missed = []
    for label, make_args, target in cases:
        times = measure(make_args, args.runs, env)
        median = statistics.median(times)
        runs = " ".join(f"{t:.2f}" for t in times)
        if target is None:
            verdict = "(reported)"
        else:
            ok = median <= target
            verdict = f"target <= {target:g} s  {'OK' if ok else 'MISSED'}"
            if not ok:
                missed.append(label)
        print(f"  {label:34s} {median:6.2f} s  (runs {runs})  {verdict}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1/5/15 min) after: {load}")
    if missed and not args.no_check:
        print(f"missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
