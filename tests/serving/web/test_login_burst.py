"""The red-team burst, as deployed: ``recsys serve --workers 2``, 300 wrong logins at once.

Before the limit every one of them was answered (401). Now exactly ``failed_key_limit`` are
answered, across both worker processes (the count lives in Redis), the rest get 429 with
Retry-After; a manager at another address still logs in, and the session it gets is valid on
whichever worker the next connection reaches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from feature_store.redis_store import RedisOnlineStore
from tests.feature_store.redis_server import RedisServer, free_port
from tests.serving.conftest import ADMIN_KEY, MANAGER_KEYS
from tests.serving.web.forms import csrf_of

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

STARTUP_S = 180
LIMIT = 10
BURST = 300
ATTACKER, COLLEAGUE = "127.0.0.1", "127.0.0.2"


@pytest.fixture
def service(
    model_dir: Path, redis_server: RedisServer, store: RedisOnlineStore, tmp_path: Path
) -> Iterator[str]:
    port, log = free_port(), tmp_path / "serve.log"
    env = {
        **os.environ,
        "RECSYS_MODEL_DIR": str(model_dir),
        "REDIS_URL": redis_server.url,
        "RECSYS_DATA_DIR": str(tmp_path),
        "RECSYS_RELOAD_POLL_S": "0",
        "RECSYS_ADMIN_KEY": ADMIN_KEY,
        "RECSYS_MANAGER_KEYS": json.dumps(MANAGER_KEYS),
        "RECSYS_FAILED_KEY_LIMIT": str(LIMIT),
    }
    recsys = str(Path(sys.executable).with_name("recsys"))
    command = [recsys, "serve", "--workers", "2", "--host", ATTACKER, "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://{ATTACKER}:{port}"
    try:
        _wait_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"recsys serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"recsys serve not ready in {STARTUP_S} s:\n{log.read_text()[-3000:]}")


def _client(url: str, source: str) -> httpx.Client:
    """A connection per request (the kernel spreads them over both workers), from ``source``."""
    transport = httpx.HTTPTransport(
        local_address=source, limits=httpx.Limits(max_keepalive_connections=0)
    )
    return httpx.Client(base_url=url, transport=transport, timeout=30)


def test_300_wrong_logins_at_once_get_exactly_the_limit_answered(service: str) -> None:
    origin = {"Origin": service}
    with _client(service, ATTACKER) as attacker:
        form = attacker.get("/login")  # one form: its token serves every post of the burst
        token = csrf_of(form.text)

        def guess(n: int) -> httpx.Response:
            data = {"key": f"guess-{n:04d}", "next": "", "csrf": token}
            return attacker.post("/login", data=data, headers=origin)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = list(pool.map(guess, range(BURST)))
        elapsed = time.monotonic() - started
        codes = Counter(a.status_code for a in answers)
        print(f"{BURST} wrong logins in {elapsed:.2f} s: {dict(codes)}")
        assert codes == {401: LIMIT, 429: BURST - LIMIT}
        waits = {int(a.headers["Retry-After"]) for a in answers if a.status_code == 429}
        assert waits and all(1 <= w <= 60 for w in waits)
        right_key = {"key": MANAGER_KEYS["m001"], "next": "", "csrf": token}
        assert attacker.post("/login", data=right_key, headers=origin).status_code == 429

    with _client(service, COLLEAGUE) as colleague:
        form = colleague.get("/login")
        data = {"key": MANAGER_KEYS["m001"], "next": "", "csrf": csrf_of(form.text)}
        response = colleague.post("/login", data=data, headers=origin)
        assert response.status_code == 303, response.text
        assert MANAGER_KEYS["m001"] not in str(colleague.cookies.jar)
        pages = [colleague.get("/managers/m001").status_code for _ in range(12)]
        assert pages == [200] * 12  # every connection, whichever worker took it
