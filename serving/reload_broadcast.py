"""Reloads reach every worker: the worker that swaps a model announces it on a Redis channel.

With ``--workers N`` a call to ``/v1/admin/reload`` lands on one process. That process swaps its
model and publishes ``"<alias> <version>"`` on ``CHANNEL``; every worker listens (a daemon
thread on its own pub/sub connection) and reloads that alias unless it already serves that
version. Redis pub/sub does not keep messages, so a worker that was disconnected when one was
sent (Redis restarting) catches up at the alias poll (``reload_poll_s``), which also picks up a
promotion made without any call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from serving.model_holder import ModelHolder, ModelRefusedError

CHANNEL = "recsys:model-reload"

log = logging.getLogger("serving.models")


def announce(client: redis.Redis, alias: str, version: str) -> bool:
    """Tell every worker that ``alias`` now serves ``version``; False when Redis is down."""
    try:
        client.publish(CHANNEL, f"{alias} {version}")
    except redis.RedisError as exc:
        log.warning("reload of %s not announced to other workers (they poll): %s", alias, exc)
        return False
    return True


def reload_if_changed(holder: ModelHolder, alias: str) -> str:
    """Reload ``alias`` when its source points elsewhere: ``swapped``, ``unchanged`` or
    ``refused`` (the reason is logged by the holder; the old version keeps serving)."""
    before = holder.get(alias)
    try:
        after = holder.reload(alias, only_if_changed=True)
    except ModelRefusedError:
        return "refused"
    return "unchanged" if after is before else "swapped"


class ReloadListener:
    """Follows ``CHANNEL`` in a daemon thread; ``on_outcome`` gets what each message caused."""

    def __init__(
        self,
        client: redis.Redis,
        holder: ModelHolder,
        on_outcome: Callable[[str], None],
        reconnect_s: float = 1.0,
    ) -> None:
        self.client = client
        self.holder = holder
        self.on_outcome = on_outcome
        self.reconnect_s = reconnect_s
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reload-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wait_subscribed(self, timeout: float) -> bool:
        """Whether the listener is subscribed (for tests and start-up logs)."""
        return self._subscribed.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None:
                        self.handle(message["data"])
            except redis.RedisError as exc:
                self._subscribed.clear()
                log.warning("reload channel lost (%s); retrying in %.1f s", exc, self.reconnect_s)
                self._stop.wait(self.reconnect_s)
            finally:
                pubsub.close()

    def handle(self, data: bytes | str) -> str | None:
        """Act on one message; the outcome, or None when it is not for this worker."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        alias, _, version = text.partition(" ")
        if alias not in self.holder.served_aliases:
            return None
        current = self.holder.get(alias)
        if current is not None and current.version == version:
            return None  # this worker made the swap, or already caught up
        outcome = reload_if_changed(self.holder, alias)
        self.on_outcome(outcome)
        return outcome
