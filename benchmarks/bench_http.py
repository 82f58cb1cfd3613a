"""HTTP load on loopback: ``recsys serve --workers 2`` with a generated model and real Redis.

    .venv/bin/python -m benchmarks.bench_http [--seconds 8] [--rate 300] [--concurrency 16]

Builds a random factors model (1,000 offers x 64 factors, 20,000 clients) and materializes the
clients into a redis-server on a free port, starts the service, then measures in one run:

1. throughput, closed loop (``--concurrency`` connections, ``--seconds`` each): ``/healthz``,
   then the cabinet endpoint for random clients; reported as a ratio (target >= 60 %);
2. latency at a fixed ``--rate`` (open loop, measured from each request's scheduled start, so a
   stall is not hidden): p50 / p99 of the cabinet endpoint (target p99 <= 20 ms).

Load comes from ``wrk`` when installed, else from a minimal asyncio HTTP/1.1 client here.
The client shares the machine's cores with the two workers, so absolute figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from feature_store.embedded import open_store
from feature_store.materialize import write_snapshot
from feature_store.settings import OnlineStoreSettings
from recommender.catalog import KIND_NAMES
from recommender.servable import CatalogArrays, ServableModel
from tests.feature_store.redis_server import RedisServer, free_port

N_ITEMS, N_FACTORS, N_CLIENTS = 1_000, 64, 20_000


def generated_model(
    seed: int = 0,
) -> tuple[ServableModel, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A random factors model and the matching clients, items and owned pairs."""
    rng = np.random.default_rng(seed)
    item_ids = np.array([f"i{n:04d}" for n in range(N_ITEMS)], dtype=object)
    client_ids = np.array([f"c{n:06d}" for n in range(N_CLIENTS)], dtype=object)
    kind = rng.integers(0, 3, N_ITEMS).astype(np.int8)
    family = np.where(kind == 0, rng.integers(0, 20, N_ITEMS), -1).astype(np.int32)
    catalog = CatalogArrays(
        kind=kind,
        kind_names=KIND_NAMES,
        family=family,
        family_names=tuple(f"f{n}" for n in range(20)),
        eligibility=rng.choice(np.array([1, 2, 3, 3, 3], dtype=np.int8), N_ITEMS),
        prereq_indptr=np.zeros(N_ITEMS + 1, dtype=np.int64),
        prereq_indices=np.zeros(0, dtype=np.int64),
        price=rng.uniform(10, 1000, N_ITEMS).astype(np.float32),
        margin=rng.uniform(0.05, 0.6, N_ITEMS).astype(np.float32),
    )
    items = np.hstack([rng.normal(size=(N_ITEMS, N_FACTORS)), np.zeros((N_ITEMS, 1))]).astype(
        np.float32
    )
    clients = np.hstack([rng.normal(size=(N_CLIENTS, N_FACTORS)), np.ones((N_CLIENTS, 1))]).astype(
        np.float32
    )
    model = ServableModel(
        name="bench",
        mode="factors",
        item_ids=item_ids,
        client_ids=client_ids,
        catalog=catalog,
        popularity=rng.uniform(0, 1, (1, N_ITEMS)).astype(np.float32),
        segment_names=("all",),
        client_factors=clients,
        item_factors=items,
        fold_in_regularization=0.1,
        metadata={"version": "bench"},
    )
    client_frame = pd.DataFrame(
        {
            "client_id": client_ids.astype(str),
            "industry": rng.choice(["healthcare", "finance", "government"], N_CLIENTS),
            "segment": rng.choice(["B2B", "B2G"], N_CLIENTS),
            "manager_id": [f"m{n % 50:03d}" for n in range(N_CLIENTS)],
            "loyalty_tier": rng.choice(["bronze", "silver", "gold", "platinum"], N_CLIENTS),
        }
    )
    item_frame = pd.DataFrame(
        {"item_id": item_ids.astype(str), "name": [f"Offer {n}" for n in range(N_ITEMS)]}
    )
    owned = pd.DataFrame(
        {
            "client_id": np.repeat(client_ids.astype(str), 3),
            "item_id": item_ids[rng.integers(0, N_ITEMS, 3 * N_CLIENTS)].astype(str),
        }
    ).drop_duplicates()
    return model, client_frame, item_frame, owned


def start_service(
    model_dir: Path, redis_url: str, data_dir: Path, port: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RECSYS_MODEL_DIR": str(model_dir),
        "REDIS_URL": redis_url,
        "RECSYS_DATA_DIR": str(data_dir),
        "RECSYS_RELOAD_POLL_S": "0",
    }
    recsys = Path(sys.executable).with_name("recsys")
    command = [str(recsys), "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                time.sleep(1.0)  # let the second worker finish its startup too
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError("recsys serve exited during startup")
        time.sleep(0.25)
    process.terminate()
    raise RuntimeError("recsys serve did not become ready in 120 s")


def _path(rng: np.random.Generator, kind: str) -> str:
    if kind == "health":
        return "/healthz"
    return f"/v1/clients/c{int(rng.integers(0, N_CLIENTS)):06d}/recommendations?k=10"


class Connection:
    """A minimal HTTP/1.1 keep-alive GET client on asyncio streams.

    httpx costs about as much CPU per request as the server does, which on a 2-core machine
    would measure the client; this reads only the status line and ``Content-Length``.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def closed_loop(port: int, kind: str, seconds: float, concurrency: int) -> tuple[float, int]:
    """Requests per second with ``concurrency`` connections each sending back to back."""
    done, errors = 0, 0
    stop = time.perf_counter() + seconds

    async def user(seed: int) -> None:
        nonlocal done, errors
        rng = np.random.default_rng(seed)
        connection = Connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            status = await connection.get(_path(rng, kind))
            done += 1
            errors += status != 200
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(user(n) for n in range(concurrency)))
    return done / (time.perf_counter() - started), errors


async def open_loop(port: int, rate: float, seconds: float) -> tuple[np.ndarray, int]:
    """Latencies (s) at a fixed arrival rate, each from its scheduled start.

    Requests go out on a pool of idle keep-alive connections (a new one when all are busy).
    """
    latencies: list[float] = []
    errors = 0
    rng = np.random.default_rng(1)
    idle: list[Connection] = []

    async def one(scheduled: float, path: str) -> None:
        nonlocal errors
        connection = idle.pop() if idle else Connection("127.0.0.1", port)
        status = await connection.get(path)
        latencies.append(time.perf_counter() - scheduled)
        errors += status != 200
        idle.append(connection)

    tasks = []
    start = time.perf_counter() + 0.1
    for n in range(int(rate * seconds)):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, _path(rng, "recommend"))))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    return np.asarray(latencies), errors


def wrk_rps(base: str, path: str, seconds: float, concurrency: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{concurrency}", f"-d{int(seconds)}s", base + path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("Requests/sec"))
    return float(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="recsys-bench-http-"))
    model, clients, items, owned = generated_model()
    model.save(work / "model")
    (work / "redis").mkdir()
    with RedisServer(work / "redis") as server:
        store = open_store(OnlineStoreSettings(redis_url=server.url, data_dir=work))
        write_snapshot(store, clients, items, owned)
        store.redis.close()
        port = free_port()
        service = start_service(work / "model", server.url, work, port)
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(closed_loop(port, "recommend", 1.0, args.concurrency))  # warm-up
            if shutil.which("wrk"):
                tool = "wrk"
                health = wrk_rps(base, "/healthz", args.seconds, args.concurrency)
                recommend = wrk_rps(base, _path(np.random.default_rng(0), "recommend"),
                                    args.seconds, args.concurrency)  # fmt: skip
                errors = 0
            else:
                tool = "asyncio HTTP/1.1 client (in-process)"
                health, e1 = asyncio.run(
                    closed_loop(port, "health", args.seconds, args.concurrency)
                )
                recommend, e2 = asyncio.run(
                    closed_loop(port, "recommend", args.seconds, args.concurrency)
                )
                errors = e1 + e2
            latencies, late_errors = asyncio.run(open_loop(port, args.rate, args.seconds))
        finally:
            service.terminate()
            service.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)

    ratio = recommend / health
    p50, p99 = (float(np.percentile(latencies, q)) * 1000 for q in (50, 99))
    ratio_ok = "OK" if ratio >= 0.6 else "MISSED"
    p99_ok = "OK" if p99 <= 20 else "MISSED"
    print(f"load tool: {tool}; model {N_ITEMS} offers x {N_FACTORS} factors, {N_CLIENTS} clients")
    print(f"throughput /healthz:         {health:8.0f} req/s")
    print(f"throughput recommendations:  {recommend:8.0f} req/s  (errors: {errors})")
    print(f"ratio:                       {ratio:8.1%}   target >= 60 %  {ratio_ok}")
    print(
        f"at {args.rate:.0f} req/s for {args.seconds:.0f} s: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        f" (errors: {late_errors})   target p99 <= 20 ms  {p99_ok}"
    )


if __name__ == "__main__":
    main()
