"""Bodies over ``max_body_bytes`` get 413 before they are read, parsed or authenticated.

Three levels: the middleware alone (the app is not called, the body not read), the app in
process (the error shape, a streamed body without Content-Length) and ``recsys serve`` as
deployed, over a real socket (a 38 MB body without a key is answered 413, not read then 401).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from serving.app import create_app
from serving.body_limit import BodyLimitMiddleware, BodyTooLargeError
from serving.settings import ServingSettings
from tests.feature_store.redis_server import RedisServer, free_port
from tests.serving.conftest import ADMIN_KEY, admin

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

LIMIT = 4096
EVENT = {"client_id": "c000", "item_ids": ["backup"], "event_type": "click"}


# --- the middleware alone --------------------------------------------------------------------


class Recorder:
    """An inner app that reads the whole body and answers 200; what it saw."""

    def __init__(self) -> None:
        self.called = False
        self.received = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        more = True
        while more:
            message = await receive()
            self.received += len(message.get("body", b""))
            more = message.get("more_body", False)
        await PlainTextResponse("read")(scope, receive, send)


def _refuse(request: Request, exc: BodyTooLargeError) -> Response:
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


def _call(
    middleware: BodyLimitMiddleware, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[list[Message], int]:
    """Run one request through ``middleware``; the messages sent and the chunks pulled."""
    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        body = chunks[pulled - 1] if pulled <= len(chunks) else b""
        return {"type": "http.request", "body": body, "more_body": pulled < len(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    return sent, pulled


def test_a_declared_length_over_the_limit_is_refused_without_calling_the_app() -> None:
    inner = Recorder()
    middleware = BodyLimitMiddleware(inner, max_bytes=LIMIT, on_too_large=_refuse)
    headers = [(b"content-length", str(38_000_000).encode())]
    sent, pulled = _call(middleware, headers, [b"x" * 1000] * 3)
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert not inner.called
    assert pulled == 0  # not one byte of the body read


def test_a_streamed_body_is_cut_at_the_first_chunk_past_the_limit() -> None:
    inner = Recorder()
    middleware = BodyLimitMiddleware(inner, max_bytes=LIMIT, on_too_large=_refuse)
    sent, pulled = _call(middleware, [], [b"x" * 1000] * 100)  # no Content-Length
    assert sent[0]["status"] == 413
    assert pulled == LIMIT // 1000 + 1  # 5 chunks of 1000 pass 4096: no further chunk read


def test_a_body_at_the_limit_passes() -> None:
    inner = Recorder()
    middleware = BodyLimitMiddleware(inner, max_bytes=LIMIT, on_too_large=_refuse)
    headers = [(b"content-length", str(LIMIT).encode())]
    sent, _ = _call(middleware, headers, [b"x" * (LIMIT // 2)] * 2)
    assert sent[0]["status"] == 200
    assert inner.received == LIMIT


# --- the app in process --------------------------------------------------------------------


@pytest.fixture
def limited(settings: ServingSettings) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"max_body_bytes": LIMIT})
    with TestClient(create_app(configured), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_default_limit_is_one_mebibyte() -> None:
    assert ServingSettings().max_body_bytes == 1024 * 1024
    assert ServingSettings(max_body_bytes="2048").max_body_bytes == 2048  # type: ignore[arg-type]


def test_an_oversized_body_without_a_key_is_413_not_401(limited: TestClient) -> None:
    body = json.dumps([EVENT] * 200).encode()
    assert len(body) > LIMIT
    response = limited.post(
        "/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["Connection"] == "close"
    payload = response.json()
    assert set(payload) == {"detail", "request_id", "model_version"}
    assert payload["request_id"] == response.headers["X-Request-ID"]
    assert f"{LIMIT:,} bytes" in payload["detail"]


def test_an_oversized_streamed_body_is_413_in_the_error_shape(limited: TestClient) -> None:
    chunks = [json.dumps(EVENT).encode()] * 200

    def stream() -> Iterator[bytes]:
        yield b"["
        for n, chunk in enumerate(chunks):
            yield (b"," if n else b"") + chunk
        yield b"]"

    response = limited.post(
        "/v1/events", content=stream(), headers={**admin(), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_a_body_under_the_limit_is_served(limited: TestClient) -> None:
    response = limited.post("/v1/events", json=[EVENT] * 10, headers=admin())
    assert response.status_code == 202, response.text


# --- recsys serve over a real socket --------------------------------------------------------


@pytest.fixture
def service(model_dir: Path, redis_server: RedisServer, tmp_path: Path) -> Iterator[int]:
    """``recsys serve`` (one worker, default 1 MiB limit) on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "RECSYS_MODEL_DIR": str(model_dir),
        "REDIS_URL": redis_server.url,
        "RECSYS_DATA_DIR": str(tmp_path),
        "RECSYS_ADMIN_KEY": ADMIN_KEY,
        "RECSYS_RELOAD_POLL_S": "0",
    }
    recsys = str(Path(sys.executable).with_name("recsys"))
    log = tmp_path / "serve.log"
    command = [recsys, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=60)


def _head(port: int, extra: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(60)  # a guard against a hang, not a measure
    sock.sendall(
        f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{extra}\r\n".encode()
    )
    return sock


def _status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_served_a_38_mb_body_without_a_key_is_answered_413_unread(service: int) -> None:
    sock = _head(service, "Content-Length: 38000000\r\n")
    with sock:
        sock.sendall(b"[" + b" " * 1000)  # 1 KB of the 38 MB: the answer must not wait for more
        answer = sock.recv(65536)
    assert _status_of(answer) == 413, answer[:300]
    assert b"connection: close" in answer.lower()


def test_served_a_streamed_body_is_cut_near_the_limit(service: int) -> None:
    """Chunked, no Content-Length: the 413 comes after about 1 MiB, not after 38 MB."""
    chunk = b" " * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    total = 38_000_000
    sent = 0
    sock = _head(service, f"X-API-Key: {ADMIN_KEY}\r\nTransfer-Encoding: chunked\r\n")
    with sock:
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(framed)
                sent += len(chunk)
            if sent >= total:  # all of it went in: end the body, the answer comes after it
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed after its answer
        answer = sock.recv(65536)
    assert _status_of(answer) == 413, answer[:300]
    assert sent < total / 4, sent
