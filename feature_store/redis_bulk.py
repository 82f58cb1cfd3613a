"""Fast bulk write of client chunks: raw RESP packing, one MULTI/EXEC per chunk.

redis-py spends ~10 us of Python per pipelined command to pack it and parse its reply; a million
clients need a million owned-set SADDs, far below 50,000 clients/s. Here (the technique of
Redis' own "mass insertion" guide) each chunk is packed into protocol bytes directly, item
fragments are encoded once per catalog item, and the replies - all single-line (+OK, :n,
+QUEUED, *n, -ERR) - are checked by scanning lines instead of parsing objects. The server
works on chunk k while Python packs chunk k+1.

Per chunk, inside one MULTI/EXEC (atomic: no reader sees half a client):
MSET every profile; DEL every owned set; SADD each non-empty owned set; SADD the ids to the
staging client index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _bulks(values: Sequence[str]) -> bytes:
    """RESP bulk strings of many arguments, concatenated."""
    encoded = [v.encode() for v in values]
    return b"".join([b"$%d\r\n%b\r\n" % (len(v), v) for v in encoded])


def pack_command(args: Sequence[str | bytes]) -> bytes:
    """One command in the RESP protocol: ``*<n>`` then ``$<len>`` + bytes per argument."""
    texts = [a.decode() if isinstance(a, bytes) else a for a in args]
    return b"*%d\r\n%b" % (len(texts), _bulks(texts))


class ChunkWriter:
    """Writes chunks of clients; ``item_ids`` is the catalog the owned codes index into."""

    def __init__(self, client: redis.Redis, prefix: str, staging_key: str, item_ids: Sequence[str]):
        self.client = client
        self.prefix = prefix
        self.staging_key = staging_key
        self._items = [_bulk(i.encode()) for i in item_ids]
        self._sadd = _bulk(b"SADD")
        self._pending: list[int] = []  # command counts of chunks sent, replies not yet read
        self._lines: list[bytes] = []  # received reply lines; those before _start are used
        self._start = 0
        self._partial = b""
        self._connection: Any = None

    def __enter__(self) -> ChunkWriter:
        self._connection = self.client.connection_pool.get_connection()
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            if exc_type is not None or self._pending:
                self._connection.disconnect()  # replies may be out of step: start afresh
            self.client.connection_pool.release(self._connection)
            self._pending.clear()

    def pack(
        self, ids: Sequence[str], profiles: Sequence[str], owned: Sequence[Sequence[int]]
    ) -> tuple[bytes, int]:
        """The MULTI/EXEC block of one chunk and the number of commands inside it."""
        prefix = self.prefix
        profile_keys = [f"{prefix}profile:{c}" for c in ids]
        profile_args = [x for pair in zip(profile_keys, profiles, strict=True) for x in pair]
        owned_keys = [_bulk(f"{prefix}owned:{c}".encode()) for c in ids]
        parts = [
            pack_command(["MULTI"]),
            b"*%d\r\n$4\r\nMSET\r\n%b" % (len(profile_args) + 1, _bulks(profile_args)),
            b"*%d\r\n$3\r\nDEL\r\n%b" % (len(ids) + 1, b"".join(owned_keys)),
        ]
        items, sadd = self._items, self._sadd
        commands = 2
        for key, codes in zip(owned_keys, owned, strict=True):
            if len(codes):
                parts.append(b"*%d\r\n%b%b" % (len(codes) + 2, sadd, key))
                parts.extend([items[c] for c in codes])
                commands += 1
        parts += [pack_command(["SADD", self.staging_key, *ids]), pack_command(["EXEC"])]
        return b"".join(parts), commands + 1

    def send(
        self, ids: Sequence[str], profiles: Sequence[str], owned: Sequence[Sequence[int]]
    ) -> None:
        """Queue one chunk; the reply of the previous chunk is read after this one is sent."""
        if not ids:
            return
        packed, commands = self.pack(ids, profiles, owned)
        self._connection.send_packed_command([packed])
        self._pending.append(commands)
        if len(self._pending) > 1:
            self._read_reply(self._pending.pop(0))

    def send_multi(self, commands: Sequence[Sequence[str | bytes]]) -> None:
        """Queue arbitrary commands (single-line replies only) as one MULTI/EXEC block."""
        if not commands:
            return
        packed = b"".join(
            [pack_command(["MULTI"]), *map(pack_command, commands), pack_command(["EXEC"])]
        )
        self._connection.send_packed_command([packed])
        self._pending.append(len(commands))
        if len(self._pending) > 1:
            self._read_reply(self._pending.pop(0))

    def flush(self) -> None:
        """Read every outstanding reply."""
        while self._pending:
            self._read_reply(self._pending.pop(0))

    def _read_reply(self, commands: int) -> None:
        """Consume exactly one chunk's replies; raise ``ResponseError`` on any error line.

        Replies: +OK (MULTI), one +QUEUED per command, then either ``*n`` and n results, or a
        single -EXECABORT line when a command was refused while queueing.
        """
        lines = self._take(commands + 2)
        if lines[-1].startswith(b"*"):
            lines += self._take(commands)
        errors = [line for line in lines if line[:1] == b"-"]
        if errors:
            raise redis.ResponseError(errors[0][1:].decode(errors="replace"))

    def _take(self, count: int) -> list[bytes]:
        """The next ``count`` reply lines, receiving more bytes as needed."""
        while len(self._lines) - self._start < count:
            data = self._connection._sock.recv(1 << 20)
            if not data:
                raise redis.ConnectionError("connection closed while reading a bulk-write reply")
            *complete, self._partial = (self._partial + data).split(b"\r\n")
            self._lines = self._lines[self._start :] + complete
            self._start = 0
        taken = self._lines[self._start : self._start + count]
        self._start += count
        return taken
