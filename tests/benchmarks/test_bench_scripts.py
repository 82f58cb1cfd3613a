"""The benchmark scripts run: the Python load client of ``bench_http`` and ``bench_cli``.

Figures and targets are the scripts' business; here only that they work end to end.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from benchmarks.bench_http import closed_loop

ROOT = Path(__file__).resolve().parents[2]


async def _serve_and_load(seconds: float) -> tuple[float, int, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await closed_loop(port, "health", seconds, concurrency=2)


def test_closed_loop_gives_rate_requests_and_errors() -> None:
    """Without wrk, ``measure`` unpacks three figures from the Python client (it crashed)."""
    rps, requests, errors = asyncio.run(_serve_and_load(0.3))
    assert requests > 0
    assert errors == 0
    assert rps > 0


def test_bench_cli_reports_the_three_commands() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_cli.py", "--runs", "1", "--no-check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for label in ("recsys --help", "recsys train --help", "recsys models --data-dir <empty>"):
        assert label in done.stdout


def test_bench_loop_times_train_evaluate_and_models() -> None:
    """A small portfolio (COIL 2000 when present, else generated) through the same steps."""
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_loop.py", "--clients", "400",
         "--models", "ease,popularity", "--no-check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for label in ("recsys train --model ease", "split, fit and evaluate", "recsys evaluate"):
        assert label in done.stdout
