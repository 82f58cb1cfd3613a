"""Generate N synthetic clients (default 1,000,000) and report wall time, rows and peak memory.

    python benchmarks/bench_generate.py --clients 1000000 [--out DIR --format parquet]

Without ``--out`` the chunks are generated and counted, not written, which measures the
generator alone. Peak memory is the process's maximum resident set size (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from recommender.synthetic import SyntheticConfig, iter_chunks, write_tables


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000, help="clients to generate")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--chunk-size", type=int, default=20_000, help="clients per chunk")
    parser.add_argument("--out", type=Path, default=None, help="also write files here")
    parser.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    args = parser.parse_args(argv)

    config = SyntheticConfig(n_clients=args.clients, seed=args.seed, chunk_size=args.chunk_size)
    baseline_mb = _max_rss_mb()
    began = time.perf_counter()
    if args.out is None:
        clients = rows = 0
        for client_frame, interactions in iter_chunks(config):
            clients += len(client_frame)
            rows += len(interactions)
    else:
        counts = write_tables(iter_chunks(config), args.out, args.format)
        clients, rows = counts["clients"], counts["interactions"]
    seconds = time.perf_counter() - began
    print(
        f"clients={clients:,} interactions={rows:,} chunks={config.n_chunks} "
        f"wall={seconds:.1f}s ({clients / seconds:,.0f} clients/s, {rows / seconds:,.0f} rows/s) "
        f"peak_rss={_max_rss_mb():,.0f} MiB (before: {baseline_mb:,.0f} MiB)"
        + (f" written to {args.out} as {args.format}" if args.out else "")
    )


def _max_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024 / 1024 if sys.platform == "darwin" else usage / 1024


if __name__ == "__main__":
    main()
