"""Export next-best offers of 100,000 clients with ``recsys nbo export --all`` and time it.

    .venv/bin/python -m benchmarks.bench_nbo_export [--clients 100000] [--k 5]
        [--formats csv xlsx parquet]

The data comes from the synthetic generator, written to a temporary offline store; an EASE
model is fitted on it and saved as a bundle (not timed). Timed, per format: the whole command
(read the offline store, owned offers from the events, batch ranking with reasons, the table,
the atomic write). Target: <= 30 s for 100,000 clients. The first format also pays the
one-off imports and kernel loading; the load average is printed, as the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

from feature_store.offline import OfflineStore
from recommender.dataset import Dataset
from recommender.models.registry import build_model
from recommender.nbo_table import FORMATS
from recommender.synthetic.generator import SyntheticConfig, generate
from training.cli.main import app

TARGET_S = 30.0


def prepare(root: Path, n_clients: int) -> Path:
    """Offline store and a saved EASE bundle under ``root``; returns the bundle folder."""
    started = time.perf_counter()
    data = generate(SyntheticConfig(n_clients=n_clients, seed=1))
    OfflineStore(root).write_snapshot(
        {"clients": data.clients, "items": data.items, "interactions": data.interactions}
    )
    dataset = Dataset.from_frames(data.interactions, data.clients, data.items)
    bundle = build_model("ease", {}).fit(dataset).export().save(root / "model")
    print(
        f"prepared {n_clients:,} clients, {len(data.items)} offers, "
        f"{len(data.interactions):,} events in {time.perf_counter() - started:.1f} s"
    )
    return bundle


def export(root: Path, bundle: Path, fmt: str, k: int) -> float:
    out = root / f"nbo.{fmt}"
    args = ["nbo", "export", "--all", "--format", fmt, "--out", str(out), "--k", str(k),
            "--data-dir", str(root), "--model-dir", str(bundle)]  # fmt: skip
    started = time.perf_counter()
    result = CliRunner().invoke(app, args)
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(f"export failed: {result.output}")
    size = out.stat().st_size / 2**20
    print(f"{fmt:8s} {elapsed:6.1f} s  {size:7.1f} MiB  target <= {TARGET_S:.0f} s")
    return elapsed


def print_load() -> None:
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    args = parser.parse_args()
    print_load()
    with tempfile.TemporaryDirectory(prefix="bench-nbo-") as tmp:
        root = Path(tmp)
        bundle = prepare(root, args.clients)
        for fmt in args.formats:
            export(root, bundle, fmt, args.k)
    print_load()


if __name__ == "__main__":
    main()
