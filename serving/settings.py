"""Settings of the serving API, read from the environment (``RECSYS_*``, ``MLFLOW_TRACKING_URI``).

The model comes from one of two places: ``RECSYS_MODEL_DIR`` (a saved ``ServableModel``
directory, handy for tests and air-gapped installs) or the MLflow registry (``RECSYS_MODEL_NAME``
at the aliases ``RECSYS_MODEL_ALIASES``). API keys are secrets: they are held as ``SecretStr``
(surrounding whitespace stripped) and never printed, not even in a validation error. Production
mode refuses to start without an admin key, or with any key shorter than
``MIN_PRODUCTION_KEY_LENGTH``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from recommender.paths import DATA_DIR_ENV, DEFAULT_MODEL_NAME, data_dir, sqlite_tracking_uri
from recommender.phrases import DEFAULT_LANGUAGE, Language
from recommender.ranking.policy import PolicySettings

#: Every API key configured in production mode is at least this long (after stripping).
MIN_PRODUCTION_KEY_LENGTH = 16


def _stripped(value: Any) -> str:
    """The text of a key given as ``str`` or ``SecretStr``, without surrounding whitespace."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return text.strip()


def _parse_keys(value: Any) -> dict[str, SecretStr]:
    """``'m001:key1,m002:key2'`` or a JSON object -> manager id -> key."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            value = json.loads(text)
        else:
            pairs: dict[str, str] = {}
            for part in filter(None, (p.strip() for p in text.split(","))):
                manager, sep, key = part.partition(":")
                if not sep or not manager.strip() or not key.strip():
                    raise ValueError(
                        "RECSYS_MANAGER_KEYS: each entry must be 'manager_id:key' "
                        "(comma-separated) or the whole value a JSON object"
                    )
                pairs[manager.strip()] = key.strip()
            value = pairs
    if not isinstance(value, dict):
        raise ValueError("RECSYS_MANAGER_KEYS: expected 'm001:key1,m002:key2' or a JSON object")
    out: dict[str, SecretStr] = {}
    for manager, key in value.items():
        text = "" if key is None else _stripped(key)
        if not text:
            raise ValueError(f"RECSYS_MANAGER_KEYS: empty or blank key for manager {manager!r}")
        out[str(manager)] = SecretStr(text)
    return out


class ServingSettings(PolicySettings):
    """Everything ``create_app`` needs; build one explicitly in tests.

    The ranking policy's fields (``default_k``, ``max_per_kind``, the boosts) come from
    ``recommender.ranking.PolicySettings``, which the offline jobs read too.
    """

    # hide_input_in_errors: a validation error would otherwise print the input, keys included
    model_config = SettingsConfigDict(
        env_prefix="RECSYS_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    mode: Literal["dev", "production"] = "dev"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    data_dir: Path = Field(
        default_factory=lambda: data_dir(),
        validation_alias=AliasChoices(DATA_DIR_ENV, "data_dir"),
    )
    model_name: str = Field(default=DEFAULT_MODEL_NAME, min_length=1)
    model_aliases: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("champion",),
        description="Registry aliases to load; the first one serves, the others are listed.",
    )
    model_dir: Path | None = Field(
        default=None, description="A saved ServableModel directory, used instead of MLflow."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
    )
    # the churn-risk model (serving.churn_risk): a bundle folder, else the registry when the
    # recommender comes from the registry; none for a recommender from a directory
    churn_model_name: str = Field(default="churn-risk", min_length=1)
    churn_model_alias: str = Field(default="champion", min_length=1)
    churn_model_dir: Path | None = Field(
        default=None, description="A churn-risk bundle folder, used instead of MLflow."
    )

    redis_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "RECSYS_REDIS_URL", "redis_url"),
        description="Online store; unset means the embedded Redis in the data directory.",
    )
    reload_poll_s: float = Field(
        default=30.0, ge=0, description="Check the alias for a new version this often (0: off)."
    )
    worker_startup_s: float = Field(
        default=300.0,
        gt=0,
        description="With --workers N, how long a starting worker (imports, kernels, model) may "
        "go without finishing its start-up before it is killed and replaced.",
    )

    admin_key: SecretStr = SecretStr("")
    cabinet_key: SecretStr | None = None
    manager_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)

    max_k: int = Field(default=100, ge=1, le=1000)
    max_manager_clients: int = Field(default=500, ge=1)
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Request bodies longer than this get 413 before they are read or parsed.",
    )
    language: Language = Field(
        default=DEFAULT_LANGUAGE,
        description="Language of reasons and pages when the request's Accept-Language names "
        "none we speak (ru, en)",
    )
    store_retry_s: float = Field(
        default=1.0, ge=0, le=60, description="After a Redis failure, serve degraded this long."
    )

    exploration_epsilon: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Per slot after the first, the chance of showing a random eligible offer "
        "instead (logged propensities make offline replay possible; 0: no exploration).",
    )
    log_all_exposures: bool = Field(
        default=False,
        description="Log impressions of every recommendation answer, not only of answers "
        "in an experiment.",
    )
    exposure_buffer: int = Field(
        default=100_000,
        ge=1,
        description="Impressions held in memory while Redis cannot take them; beyond this "
        "they are counted in recsys_exposures_not_logged_total and logged as an error.",
    )
    experiments_check_s: float = Field(
        default=1.0, ge=0, le=60, description="Look for a changed experiments file this often."
    )

    # web security (serving.web.sessions, serving.web.csrf, serving.rate_limit)
    session_ttl_s: int = Field(
        default=8 * 3600, ge=60, le=7 * 24 * 3600, description="A web login lasts this long."
    )
    failed_key_limit: int = Field(
        default=10,
        ge=0,
        description="Failed logins and unknown API keys answered per client address and "
        "window; beyond it 429 with Retry-After (0: no limit).",
    )
    failed_key_window_s: int = Field(
        default=60, ge=1, le=24 * 3600, description="The window of failed_key_limit, seconds."
    )
    web_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Origins besides the requested host that may post the pages' forms, "
        "e.g. 'https://offers.example.com' behind a reverse proxy (comma-separated).",
    )

    @field_validator("web_origins", mode="before")
    @classmethod
    def _web_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(o.strip() for o in value.split(",") if o.strip())
        origins = []
        for origin in value or ():
            text = str(origin).strip().lower().rstrip("/")
            scheme, sep, host = text.partition("://")
            if scheme not in ("http", "https") or not sep or not host or "/" in host:
                raise ValueError(
                    f"RECSYS_WEB_ORIGINS: {origin!r} is not an origin like "
                    "'https://offers.example.com' (scheme and host, no path)"
                )
            origins.append(text)
        return tuple(origins)

    @field_validator("model_aliases", mode="before")
    @classmethod
    def _split_aliases(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(a.strip() for a in value.split(",") if a.strip())
        if not value:
            raise ValueError("RECSYS_MODEL_ALIASES: at least one alias, e.g. 'champion'")
        return value

    @field_validator("manager_keys", mode="before")
    @classmethod
    def _manager_keys(cls, value: Any) -> dict[str, SecretStr]:
        return _parse_keys(value)

    @field_validator("admin_key", mode="before")
    @classmethod
    def _strip_admin_key(cls, value: Any) -> Any:
        return SecretStr(_stripped(value)) if isinstance(value, str | SecretStr) else value

    @field_validator("cabinet_key", mode="before")
    @classmethod
    def _empty_cabinet_key(cls, value: Any) -> Any:
        if value is None or value == "":
            return None  # unset: the cabinet endpoints are open
        if not isinstance(value, str | SecretStr):
            return value
        text = _stripped(value)
        if not text:  # a blank key must not silently open the cabinet
            raise ValueError("RECSYS_CABINET_KEY is blank: unset it, or set a real key")
        return SecretStr(text)

    @model_validator(mode="after")
    def _safe(self) -> ServingSettings:
        if self.default_k > self.max_k:
            raise ValueError(f"default_k ({self.default_k}) exceeds max_k ({self.max_k})")
        if self.mode == "production":
            if not self.admin_key.get_secret_value():
                raise ValueError(
                    "production mode needs an admin API key: set RECSYS_ADMIN_KEY "
                    "(or RECSYS_MODE=dev for a local run)"
                )
            self._check_key_lengths()
        keys = [self.admin_key.get_secret_value(), *self._manager_secrets()]
        if self.cabinet_key is not None:
            keys.append(self.cabinet_key.get_secret_value())
        keys = [k for k in keys if k]
        if len(keys) != len(set(keys)):
            raise ValueError("API keys must be distinct (admin, cabinet and each manager)")
        return self

    def _check_key_lengths(self) -> None:
        """Production keys must be hard to guess; the message names settings, never values."""
        short: list[str] = []
        if len(self.admin_key.get_secret_value()) < MIN_PRODUCTION_KEY_LENGTH:
            short.append("RECSYS_ADMIN_KEY")
        if (
            self.cabinet_key is not None
            and len(self.cabinet_key.get_secret_value()) < MIN_PRODUCTION_KEY_LENGTH
        ):
            short.append("RECSYS_CABINET_KEY")
        managers = [
            manager
            for manager, key in self.manager_keys.items()
            if len(key.get_secret_value()) < MIN_PRODUCTION_KEY_LENGTH
        ]
        if managers:
            short.append(f"RECSYS_MANAGER_KEYS (manager {', '.join(map(repr, managers))})")
        if short:
            raise ValueError(
                f"production mode needs API keys of at least {MIN_PRODUCTION_KEY_LENGTH} "
                f"characters; too short: {'; '.join(short)} "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(24))')"
            )

    def _manager_secrets(self) -> list[str]:
        return [key.get_secret_value() for key in self.manager_keys.values()]

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI: configured, else SQLite in the data directory."""
        return self.mlflow_tracking_uri or sqlite_tracking_uri(self.data_dir)

    @property
    def model_source(self) -> str:
        """Where models come from, safe to print."""
        if self.model_dir is not None:
            return f"directory {self.model_dir}"
        return f"MLflow model {self.model_name!r} at {', '.join(self.model_aliases)}"
