"""A portfolio of N clients through every batch step, each a fresh ``recsys`` process: wall time
and peak RSS per step, and whether the export's memory stays flat as N grows.

    .venv/bin/python benchmarks/bench_scale.py                        # 100,000 and 1,000,000
    .venv/bin/python benchmarks/bench_scale.py --clients 100000 --no-check
    .venv/bin/python benchmarks/bench_scale.py --clients 2000 20000 --skip-materialize
    .venv/bin/python benchmarks/bench_scale.py --clients 100000 --models ease --no-check

Per size: ``recsys data generate`` (Parquet), ``recsys data import``, ``recsys features
materialize`` (the data dir's embedded Redis, stopped afterwards; ``--skip-materialize``),
``recsys train --model M`` for each of ``--models`` (default EASE, ALS and the feature-aware
ranker; sizes up to ``--train-max-clients``, default every size; the evaluation scores at most
``recsys train``'s default 200,000 test clients) and ``recsys nbo export --all`` to CSV and to
Parquet (110 offers, 5 per client, with reasons). Every export ranks with the first model of
``--models`` trained on the smallest size (its MLflow store, alias champion), so the export
figures differ by the portfolio alone.

CPU is user + system seconds of the step (on a shared machine, wall time is CPU time plus the
wait for a core). Peak RSS is the child's own ``ru_maxrss`` (``os.wait4``: the largest of the
process and the descendants it waited for), as ``/usr/bin/time -f %M`` reports it.

Targets (exit 1 when one is missed, unless ``--no-check``), with two sizes or more: the export's
peak RSS at the largest size <= 1.2x the smallest (each format), each model's train peak RSS
grows less than half as fast as the clients (largest / smallest RSS <= 0.5 x the clients'
ratio; both sizes trained), and the export at 1,000,000 clients (when run) <= 180 s. The
machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RSS_RATIO_TARGET = 1.2
#: Train's peak RSS ratio (largest / smallest size) at most this share of the clients' ratio.
TRAIN_RSS_GROWTH_TARGET = 0.5
MODELS = ("ease", "als", "ranker")
EXPORT_TARGET_S = 180.0
EXPORT_TARGET_CLIENTS = 1_000_000
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class Step:
    clients: int
    label: str
    seconds: float
    cpu_seconds: float
    peak_mib: float


def run_step(args: list[str], env: dict[str, str], log: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one ``recsys`` process;
    a failure stops the run."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "training.cli.main", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"recsys {' '.join(args)} exited {proc.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024.0  # Linux: KiB


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def one_size(
    n: int, root: Path, model_store: Path | None, args: argparse.Namespace
) -> tuple[list[Step], Path]:
    """Every step at ``n`` clients under ``root``; returns the steps and the MLflow store used."""
    data = root / "data"
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RECSYS_"))}
    env["RECSYS_DATA_DIR"] = str(data)
    steps: list[Step] = []

    def step(label: str, recsys_args: list[str]) -> None:
        log = root / f"{len(steps):02d}.log"
        seconds, cpu, peak = run_step(recsys_args, env, log)
        steps.append(Step(n, label, seconds, cpu, peak))
        print(f"  {n:>9,}  {label:28s} {seconds:8.1f} s {cpu:8.1f} s {peak:8.0f} MiB  "
              f"(load {load()})", flush=True)  # fmt: skip

    generated = root / "generated"
    step("data generate", ["data", "generate", "--clients", str(n), "--format", "parquet",
                           "--out", str(generated)])  # fmt: skip
    step("data import", ["data", "import", "--clients", str(generated / "clients.parquet"),
                         "--items", str(generated / "items.parquet"),
                         "--interactions", str(generated / "interactions.parquet")])  # fmt: skip
    shutil.rmtree(generated)  # the store holds its own copy; the disk is shared
    if not args.skip_materialize:
        try:
            step("features materialize", ["features", "materialize"])
        finally:
            run_step(["store", "stop", "--force"], env, root / "store-stop.log")
    store = model_store
    if n <= args.train_max_clients:
        for number, model in enumerate(args.models):  # the first is the export's champion
            alias = ["--alias", "champion"] if number == 0 else []
            step(f"train --model {model}", ["train", "--model", model, *alias])
        store = store or data / "mlflow"
    if store is None:
        raise SystemExit(
            f"no model to export with: {n:,} clients > --train-max-clients "
            f"{args.train_max_clients:,} and no smaller size was trained"
        )
    tracking = f"sqlite:///{store / 'mlflow.db'}"
    for fmt in FORMATS:
        out = root / f"nbo.{fmt}"
        step(f"nbo export --all ({fmt})", ["nbo", "export", "--all", "--out", str(out),
                                           "--tracking-uri", tracking])  # fmt: skip
        out.unlink()
    return steps, store


def check(steps: list[Step], sizes: list[int]) -> list[str]:
    """The targets missed (see the module docstring)."""
    missed: list[str] = []
    by = {(s.clients, s.label): s for s in steps}
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for fmt in FORMATS:
            label = f"nbo export --all ({fmt})"
            ratio = by[large, label].peak_mib / by[small, label].peak_mib
            ok = ratio <= RSS_RATIO_TARGET
            print(f"export {fmt} peak RSS {large:,} / {small:,} clients: {ratio:.2f}x  "
                  f"target <= {RSS_RATIO_TARGET:g}x  {'OK' if ok else 'MISSED'}")  # fmt: skip
            missed += [] if ok else [f"export {fmt} RSS ratio"]
        for label in sorted({s.label for s in steps if s.label.startswith("train ")}):
            if (large, label) not in by or (small, label) not in by:
                continue
            ratio = by[large, label].peak_mib / by[small, label].peak_mib
            target = TRAIN_RSS_GROWTH_TARGET * large / small
            ok = ratio <= target
            print(f"{label} peak RSS {large:,} / {small:,} clients: {ratio:.2f}x  "
                  f"target <= {target:.2f}x  {'OK' if ok else 'MISSED'}")  # fmt: skip
            missed += [] if ok else [f"{label} RSS growth"]
    if EXPORT_TARGET_CLIENTS in sizes:
        for fmt in FORMATS:
            seconds = by[EXPORT_TARGET_CLIENTS, f"nbo export --all ({fmt})"].seconds
            ok = seconds <= EXPORT_TARGET_S
            print(f"export {fmt} at {EXPORT_TARGET_CLIENTS:,} clients: {seconds:.1f} s  "
                  f"target <= {EXPORT_TARGET_S:g} s  {'OK' if ok else 'MISSED'}")  # fmt: skip
            missed += [] if ok else [f"export {fmt} time"]
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-materialize", action="store_true", help="no Redis step")
    parser.add_argument(
        "--train-max-clients",
        type=int,
        default=None,
        help="train only at sizes up to this (default: every size; the smallest always)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(MODELS),
        help="models trained at each size (the first is the exports' champion)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the data dirs go")
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.clients))
    args.train_max_clients = max(args.train_max_clients or sizes[-1], sizes[0])
    print(f"load average (1/5/15 min) before: {load()}; {os.cpu_count()} CPUs", flush=True)
    print(f"  {'clients':>9}  {'step':28s} {'wall':>10} {'CPU':>10} {'peak RSS':>12}")
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="recsys-bench-scale-", dir=args.workdir) as tmp:
        model_store: Path | None = None
        for n in sizes:
            found, model_store = one_size(n, Path(tmp) / f"n{n}", model_store, args)
            steps += found
    print(f"load average (1/5/15 min) after: {load()}")
    missed = check(steps, sizes)
    if missed and not args.no_check:
        print(f"missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
