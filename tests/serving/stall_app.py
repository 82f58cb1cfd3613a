"""A tiny app for the supervisor tests: its start-up holds the GIL, or fails, on request.

``STALL_S`` (environment ``STALL_APP_STALL_S``) is how long the start-up holds the GIL in one C
call, so the worker's health-check thread cannot answer meanwhile (as during imports, a numba
compile or a model load); a file at ``STALL_APP_FAIL_FILE`` makes the start-up fail.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI


def _hold_the_gil(seconds: float) -> None:
    # PyDLL calls keep the GIL (CDLL would release it): the whole interpreter waits
    ctypes.PyDLL(None).usleep(int(seconds * 1_000_000))


def create_app() -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        fail = os.environ.get("STALL_APP_FAIL_FILE")
        if fail and Path(fail).exists():
            raise RuntimeError(f"start-up fails while {fail} exists")
        _hold_the_gil(float(os.environ.get("STALL_APP_STALL_S", "0")))
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def pid() -> int:
        return os.getpid()

    return app
