"""One client's churn risk on the request path vs a recommendation call, in the same server.

    .venv/bin/python -m benchmarks.bench_churn [--clients 20000] [--requests 2000]

Fits the churn model on generated data (``--clients`` synthetic clients), scores every client
(the bundle ``recsys churn train`` logs), and serves it next to the random factors recommender
of ``benchmarks.bench_http`` (20,000 clients, 1,000 offers) from one ``recsys serve`` worker
with real Redis. Then, over one keep-alive connection, alternates ``GET
/v1/clients/{id}/churn-risk`` (admin key) and ``GET /v1/clients/{id}/recommendations`` for
random clients and reports each one's median and p99 latency and the ratio of the medians
(target: risk <= 2x a recommendation). Also prints how long scoring every client took.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.bench_http import generated_model, start_service
from feature_store.embedded import open_store
from feature_store.materialize import write_snapshot
from feature_store.settings import OnlineStoreSettings
from recommender.churn import BacktestSettings, EventLog, fit_final, score_clients
from recommender.synthetic import SyntheticConfig, generate
from tests.feature_store.redis_server import RedisServer, free_port

ADMIN_KEY = "bench-admin-key-0123456789"


def churn_bundle(directory: Path, n_clients: int) -> tuple[Path, list[str], float]:
    """Fit and score the churn model on synthetic data; (bundle, client ids, scoring seconds)."""
    data = generate(SyntheticConfig(n_clients=n_clients, seed=42))
    log = EventLog.from_frames(data.interactions, data.clients, data.items)
    model, as_of = fit_final(log, BacktestSettings())
    start = time.perf_counter()
    scores = score_clients(model, log, as_of)
    scoring_s = time.perf_counter() - start
    folder = model.save(directory)
    scores.save(folder)
    return folder, [str(c) for c in scores.client_ids], scoring_s


def serve(model_dir: Path, churn_dir: Path, redis_url: str, data_dir: Path, port: int):  # type: ignore[no-untyped-def]
    """One ``recsys serve`` worker with the recommender and the churn model."""
    churn = {"RECSYS_CHURN_MODEL_DIR": str(churn_dir), "RECSYS_ADMIN_KEY": ADMIN_KEY}
    return start_service(model_dir, redis_url, data_dir, port, workers=1, extra_env=churn)


def measure(port: int, clients: list[str], requests: int) -> tuple[np.ndarray, np.ndarray]:
    """Latencies (ms) of the two endpoints, alternated request by request."""
    rng = np.random.default_rng(0)
    risk, recommend = [], []
    headers = {"X-API-Key": ADMIN_KEY}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
        for n in range(requests + 200):  # the first 200 warm up
            client = clients[int(rng.integers(len(clients)))]
            paths = (
                (f"/v1/clients/{client}/churn-risk", risk),
                (f"/v1/clients/{client}/recommendations?k=10", recommend),
            )
            for path, out in paths:
                start = time.perf_counter()
                response = http.get(path)
                elapsed = (time.perf_counter() - start) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text}")
                if n >= 200:
                    out.append(elapsed)
    return np.asarray(risk), np.asarray(recommend)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-churn-") as tmp, RedisServer() as redis:
        root = Path(tmp)
        model, clients, items, owned = generated_model()
        model_dir = model.save(root / "model")
        churn_dir, scored, scoring_s = churn_bundle(root / "churn", args.clients)
        store = open_store(OnlineStoreSettings(redis_url=redis.url, data_dir=root))
        write_snapshot(store, clients, items, owned)
        store.redis.close()
        both = sorted(set(scored) & set(clients["client_id"]))
        print(f"churn: scored {len(scored):,} clients in {scoring_s:.2f} s; "
              f"{len(both):,} are also the recommender's")  # fmt: skip
        port = free_port()
        process = serve(model_dir, churn_dir, redis.url, root, port)
        try:
            risk, recommend = measure(port, both, args.requests)
        finally:
            process.terminate()
            process.wait(30)
    ratio = float(np.median(risk) / np.median(recommend))
    for name, values in (("churn-risk", risk), ("recommendations", recommend)):
        print(f"{name:>16}: p50 {np.median(values):.2f} ms, p99 "
              f"{np.percentile(values, 99):.2f} ms ({len(values):,} requests)")  # fmt: skip
    print(f"ratio of medians churn-risk / recommendations: {ratio:.2f} (target <= 2.0)")
    return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
