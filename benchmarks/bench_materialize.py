"""Materialize N synthetic clients into a local redis-server and report clients per second.

    .venv/bin/python -m benchmarks.bench_materialize [--clients 1000000] [--batch 10000]

The frames are built here with numpy (no dependency on the generator); the redis-server is
started by the benchmark on a free loopback port and stopped at the end. Target: >= 50,000
clients/s. Timed: ``write_snapshot`` (validation, encoding, chunked MULTI pipelines, index swap).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from feature_store.materialize import write_snapshot
from feature_store.redis_store import RedisOnlineStore
from recommender.domain import INDUSTRIES, LOYALTY_TIERS, SIZE_BANDS
from tests.feature_store.redis_server import RedisServer

N_ITEMS = 300
N_MANAGERS = 2_000


def synthetic_frames(
    n_clients: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Clients, items and owned pairs (about 3 owned offers per client)."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("c", np.arange(n_clients).astype(str)).astype(object)
    clients = pd.DataFrame(
        {
            "client_id": ids,
            "industry": rng.choice(np.array(INDUSTRIES, dtype=object), n_clients),
            "segment": rng.choice(np.array(["B2B", "B2G"], dtype=object), n_clients),
            "size_band": rng.choice(np.array(SIZE_BANDS, dtype=object), n_clients),
            "region": np.char.add("region-", rng.integers(0, 85, n_clients).astype(str)),
            "manager_id": np.char.add("m", rng.integers(0, N_MANAGERS, n_clients).astype(str)),
            "loyalty_tier": rng.choice(np.array(LOYALTY_TIERS, dtype=object), n_clients),
            "signup_date": pd.Timestamp("2018-01-01")
            + pd.to_timedelta(rng.integers(0, 2500, n_clients), unit="D"),
        }
    )
    item_ids = np.char.add("i", np.arange(N_ITEMS).astype(str)).astype(object)
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "name": np.char.add("Offer ", np.arange(N_ITEMS).astype(str)),
            "kind": rng.choice(np.array(["tariff", "course", "addon"], dtype=object), N_ITEMS),
            "price": rng.uniform(1_000, 100_000, N_ITEMS).round(2),
            "margin": rng.uniform(0.1, 0.6, N_ITEMS).round(3),
        }
    )
    per_client = rng.poisson(3, n_clients)
    owners = np.repeat(np.arange(n_clients), per_client)
    owned = pd.DataFrame(
        {"client_id": ids[owners], "item_id": item_ids[rng.integers(0, N_ITEMS, len(owners))]}
    ).drop_duplicates()
    return clients, items, owned


def run(n_clients: int, batch: int) -> float:
    build = time.perf_counter()
    clients, items, owned = synthetic_frames(n_clients)
    print(f"built {n_clients:,} clients, {len(owned):,} owned pairs in "
          f"{time.perf_counter() - build:.1f} s")  # fmt: skip
    with RedisServer() as server:
        import redis

        store = RedisOnlineStore(
            redis.Redis.from_url(server.url, socket_timeout=60),
            "bench:v1:",
            display_url=server.url,
            write_batch=batch,
        )
        report = write_snapshot(store, clients, items, owned)
        rate = report.clients / report.seconds
        print(f"first run:  {report.clients:,} clients in {report.seconds:.2f} s = {rate:,.0f}/s")
        again = write_snapshot(store, clients, items, owned)  # idempotent rerun (replace path)
        rerun = again.clients / again.seconds
        print(f"rerun:      {again.clients:,} clients in {again.seconds:.2f} s = {rerun:,.0f}/s")
        memory = store.redis.info("memory")["used_memory_human"]
        print(f"redis used_memory: {memory}, keys: {store.redis.dbsize():,}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    rate = run(args.clients, args.batch)
    verdict = "meets" if rate >= 50_000 else "MISSES"
    print(f"{rate:,.0f} clients/s {verdict} the 50,000/s target")


if __name__ == "__main__":
    main()
