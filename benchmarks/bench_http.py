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
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil

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
    model_dir: Path,
    redis_url: str,
    data_dir: Path,
    port: int,
    *,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``recsys serve`` on ``port`` serving ``model_dir``, once its ``/readyz`` answers 200."""
    env = {
        **os.environ,
        "RECSYS_MODEL_DIR": str(model_dir),
        "REDIS_URL": redis_url,
        "RECSYS_DATA_DIR": str(data_dir),
        "RECSYS_RELOAD_POLL_S": "0",
        **(extra_env or {}),
    }
    recsys = Path(sys.executable).with_name("recsys")
    command = [str(recsys), "serve", "--workers", str(workers), "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                if workers > 1:
                    time.sleep(1.0)  # let the other workers finish their startup too
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
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()
        reused = self.writer is not None
        try:
            head = await self._send(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            # the server closed a keep-alive connection that sat idle: resend on a new one
            self.close()
            head = await self._send(request)
        assert self.reader is not None
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    async def _send(self, request: bytes) -> bytes:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        return await self.reader.readuntil(b"\r\n\r\n")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def closed_loop(
    port: int, kind: str, seconds: float, concurrency: int
) -> tuple[float, int, int]:
    """``concurrency`` connections each sending back to back: requests/s, requests, errors.

    The same three figures as ``wrk_run``, so ``measure`` takes either.
    """
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
    return done / (time.perf_counter() - started), done, errors


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


WRK_SCRIPT = """
local paths = {}
local n = 0
init = function(args)
  local kind, clients, seed = args[1], tonumber(args[2]), tonumber(args[3])
  math.randomseed(seed)
  for i = 1, 4096 do
    if kind == "health" then
      paths[i] = "/healthz"
    else
      local id = math.random(0, clients - 1)
      paths[i] = string.format("/v1/clients/c%06d/recommendations?k=10", id)
    end
  end
end
request = function()
  n = n % #paths + 1
  return wrk.format("GET", paths[n])
end
"""


def worker_processes(service: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The uvicorn workers (children of ``recsys serve``), by pid."""
    return sorted(psutil.Process(service.pid).children(), key=lambda p: p.pid)


def cpu_seconds(workers: list[psutil.Process]) -> list[float]:
    out = []
    for worker in workers:
        times = worker.cpu_times()
        out.append(times.user + times.system)
    return out


@dataclass
class Run:
    """One closed-loop measurement of one endpoint."""

    kind: str
    rps: float
    requests: int
    errors: int
    worker_cpu_s: list[float]
    redis_cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * sum(self.worker_cpu_s) / max(self.requests, 1)

    @property
    def redis_ms_per_request(self) -> float:
        return 1000 * self.redis_cpu_s / max(self.requests, 1)

    @property
    def split(self) -> str:
        total = sum(self.worker_cpu_s) or 1.0
        return "/".join(f"{100 * c / total:.0f}" for c in self.worker_cpu_s)


def wrk_run(port: int, kind: str, seconds: float, concurrency: int, threads: int,
            script: Path) -> tuple[float, int, int]:  # fmt: skip
    """wrk for ``seconds``: requests/s, requests, non-2xx or socket errors."""
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:g}s", "-s", str(script),
               f"http://127.0.0.1:{port}", "--", kind, str(N_CLIENTS), "7"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30)
    rps, requests, errors = 0.0, 0, 0
    for line in out.stdout.splitlines():
        words = line.split()
        if line.startswith("Requests/sec"):
            rps = float(words[1])
        elif "requests in" in line:
            requests = int(words[0])
        elif line.strip().startswith(("Non-2xx", "Socket errors")):
            errors += sum(int(w.strip(",")) for w in words if w.strip(",").isdigit())
    return rps, requests, errors


def measure(
    port: int,
    service: subprocess.Popen[bytes],
    redis_process: psutil.Process,
    kind: str,
    args: argparse.Namespace,
    script: Path | None,
) -> Run:
    workers = worker_processes(service)
    before = cpu_seconds(workers)
    (redis_before,) = cpu_seconds([redis_process])
    if script is not None:
        rps, requests, errors = wrk_run(
            port, kind, args.seconds, args.concurrency, args.threads, script
        )
    else:
        rps, requests, errors = asyncio.run(closed_loop(port, kind, args.seconds, args.concurrency))
    after = cpu_seconds(workers)
    (redis_after,) = cpu_seconds([redis_process])
    worker_cpu = [a - b for a, b in zip(after, before, strict=True)]
    return Run(kind, rps, requests, errors, worker_cpu, redis_after - redis_before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per closed-loop run")
    parser.add_argument("--rounds", type=int, default=3, help="closed-loop rounds (median)")
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--latency-seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()

    use_wrk = args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk") is not None)
    work = Path(tempfile.mkdtemp(prefix="recsys-bench-http-"))
    script = work / "paths.lua" if use_wrk else None
    if script is not None:
        script.write_text(WRK_SCRIPT)
    model, clients, items, owned = generated_model()
    model.save(work / "model")
    (work / "redis").mkdir()
    load_before = os.getloadavg()
    runs: list[Run] = []
    with RedisServer(work / "redis") as server:
        store = open_store(OnlineStoreSettings(redis_url=server.url, data_dir=work))
        write_snapshot(store, clients, items, owned)
        store.redis.close()
        port = free_port()
        service = start_service(work / "model", server.url, work, port)
        assert server.process is not None
        redis_process = psutil.Process(server.process.pid)
        try:
            asyncio.run(closed_loop(port, "recommend", 1.0, args.concurrency))  # warm-up
            for n in range(args.rounds):  # alternate which endpoint goes first
                order = ("health", "recommend") if n % 2 == 0 else ("recommend", "health")
                for kind in order:
                    runs.append(measure(port, service, redis_process, kind, args, script))
            latencies, late_errors = asyncio.run(open_loop(port, args.rate, args.latency_seconds))
        finally:
            service.terminate()
            service.wait(timeout=30)
    load_after = os.getloadavg()
    shutil.rmtree(work, ignore_errors=True)

    tool = "wrk" if use_wrk else "asyncio HTTP/1.1 client (in-process)"
    health = [r for r in runs if r.kind == "health"]
    recommend = [r for r in runs if r.kind == "recommend"]
    h = statistics.median(r.rps for r in health)
    r = statistics.median(r.rps for r in recommend)
    ratio = r / h
    p50, p99 = (float(np.percentile(latencies, q)) * 1000 for q in (50, 99))
    print(f"load tool: {tool}, {args.concurrency} connections, {args.seconds:g} s x "
          f"{args.rounds} rounds per endpoint (alternating order; medians)")  # fmt: skip
    print(f"model {N_ITEMS} offers x {N_FACTORS} factors, {N_CLIENTS} clients")
    for run in runs:
        print(f"  {run.kind:9s} {run.rps:7.0f} req/s  errors {run.errors}  worker CPU "
              f"{run.cpu_ms_per_request:.2f} ms/request (split {run.split} %), redis "
              f"{run.redis_ms_per_request:.2f} ms/request")  # fmt: skip
    print(f"throughput /healthz:         {h:8.0f} req/s")
    print(f"throughput recommendations:  {r:8.0f} req/s")
    print(f"ratio:                       {ratio:8.1%}   target >= 60 %  "
          f"{'OK' if ratio >= 0.6 else 'MISSED'}")  # fmt: skip
    print(
        f"at {args.rate:.0f} req/s for {args.latency_seconds:.0f} s: p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms (errors: {late_errors})   target p99 <= 20 ms  "
        f"{'OK' if p99 <= 20 else 'MISSED'}"
    )
    before, after = (" ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    print(f"load average (1/5/15 min) before {before}, after {after}")


if __name__ == "__main__":
    main()
