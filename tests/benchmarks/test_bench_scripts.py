"""The benchmark scripts run: the Python load client of ``bench_http``, ``bench_cli``, and the
configs ``coil2000`` trains with.

Figures and targets are the scripts' business; here only that they work end to end.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks import coil2000
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


def test_coil_model_seed_reaches_the_trained_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``coil2000.py --model-seed`` trains with ``seed`` in the config, merged into a tuned
    one; without it (and without tuning) no config is passed."""
    calls: list[tuple[str, ...]] = []

    def fake(*args: str, env: dict[str, str]) -> str:
        calls.append(args)
        out = Path(args[args.index("--out") + 1]) if "--out" in args else None
        if args[0] == "tune" and out is not None:
            out.write_text(json.dumps({"l2": 5.0}))
        if args[0] == "nbo" and out is not None:
            offers = {f"offer_{j}": "" for j in range(2, len(coil2000.PRODUCTS) + 1)}
            pd.DataFrame([{"client_id": "c1", "offer_1": "awapart", **offers}]).to_csv(
                out, index=False
            )
        return "split snapshot: test\n"

    monkeypatch.setattr(coil2000, "recsys", fake)
    hidden = pd.DataFrame({"client_id": ["c1"], "item_id": ["awapart"]})

    def trained_config(model: str, tune: int, seed: int | None) -> dict[str, object] | None:
        calls.clear()
        ranks, _ = coil2000.run_model(model, tmp_path, hidden, {}, tune, seed)
        assert ranks.tolist() == [1]
        train = next(c for c in calls if c[0] == "train")
        if "--config" not in train:
            return None
        return dict(json.loads(Path(train[train.index("--config") + 1]).read_text()))

    assert trained_config("ranker", 0, 7) == {"seed": 7}
    assert trained_config("ease", 3, 7) == {"l2": 5.0, "seed": 7}
    assert trained_config("ease", 3, None) == {"l2": 5.0}
    assert trained_config("ranker", 0, None) is None
