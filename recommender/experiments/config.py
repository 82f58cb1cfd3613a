"""What an A/B experiment is: variants with targets and weights, a salt, a window, targeting.

A variant's ``target`` says what serves its clients: a registry alias (``champion``), a model
version (``3``) or a baseline (``baseline:segment_popularity``). The first variant is the
control that every other variant is compared with. Experiments are read from a YAML or JSON
file holding a list of experiments (or ``{"experiments": [...]}``); a bad file raises
``ExperimentConfigError`` naming the file and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from recommender.churn.bands import RiskBand
from recommender.domain import Segment

#: Variant name given to clients held out of an experiment (they get ``holdout_target``).
HOLDOUT_VARIANT = "holdout"
BASELINE_PREFIX = "baseline:"
TargetKind = Literal["alias", "version", "baseline"]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_TARGET = re.compile(r"^(?:\d+|[A-Za-z][A-Za-z0-9_\-]*|baseline:[A-Za-z][A-Za-z0-9_\-]*)$")


class ExperimentConfigError(ValueError):
    """An experiment file or definition is invalid; the message names the file and field."""


def _check_target(value: str) -> str:
    if not _TARGET.match(value):
        raise ValueError(
            "must be a registry alias ('champion'), a version ('3') or a baseline "
            f"('{BASELINE_PREFIX}segment_popularity'), got {value!r}"
        )
    return value


def target_kind(target: str) -> TargetKind:
    """Whether a target names a registry alias, a model version or a baseline."""
    if target.startswith(BASELINE_PREFIX):
        return "baseline"
    return "version" if target.isdigit() else "alias"


class Variant(BaseModel):
    """One arm: its name, what serves it and its share of the traffic (weights are relative)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(pattern=_NAME, max_length=64)
    target: str
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)

    _target = field_validator("target")(_check_target)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == HOLDOUT_VARIANT:
            raise ValueError(f"{HOLDOUT_VARIANT!r} is reserved for held-out clients")
        return value

    @property
    def target_kind(self) -> TargetKind:
        return target_kind(self.target)


class Targeting(BaseModel):
    """Who may enter: clients of these segments, industries and churn-risk bands (``None``
    lets everyone in). A client without a band (no churn model is loaded, the client holds no
    tariff or is newer than the churn model's data) never enters an experiment targeting
    bands."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    segments: tuple[Segment, ...] | None = None
    industries: tuple[str, ...] | None = None
    risk_bands: tuple[RiskBand, ...] | None = None

    def admits(
        self, segment: str | None, industry: str | None, risk_band: str | None = None
    ) -> bool:
        if self.segments is not None and segment not in {s.value for s in self.segments}:
            return False
        if self.risk_bands is not None and risk_band not in self.risk_bands:
            return False
        return self.industries is None or industry in self.industries


class Experiment(BaseModel):
    """An A/B test definition; the first variant is the control.

    ``salt`` keys the assignment hash (defaults to the name): reusing a salt reuses the split,
    a new salt reshuffles clients independently of other experiments.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(pattern=_NAME, max_length=64)
    variants: tuple[Variant, ...] = Field(min_length=2)
    salt: str = Field(min_length=1, max_length=128)
    start: datetime
    end: datetime | None = None
    targeting: Targeting = Targeting()
    holdout: float = Field(default=0.0, ge=0.0, lt=1.0)
    holdout_target: str = "champion"
    description: str = ""

    _holdout_target = field_validator("holdout_target")(_check_target)

    @model_validator(mode="before")
    @classmethod
    def _salt_defaults_to_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("salt") and "name" in data:
            return {**data, "salt": data["name"]}
        return data

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        names = [v.name for v in self.variants]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"variant names must be unique, repeated: {', '.join(repeated)}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end.isoformat()}) must be after start")
        return self

    @property
    def control(self) -> Variant:
        return self.variants[0]

    @property
    def weights(self) -> tuple[float, ...]:
        """Traffic shares of the variants, normalized to sum to one."""
        total = sum(v.weight for v in self.variants)
        return tuple(v.weight / total for v in self.variants)

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(f"experiment {self.name!r} has no variant {name!r}")

    def is_active(self, at: datetime) -> bool:
        """Whether ``at`` (naive means UTC) lies in ``[start, end)``."""
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        return self.start <= at and (self.end is None or at < self.end)

    def status(self, at: datetime) -> Literal["scheduled", "running", "ended"]:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        if at < self.start:
            return "scheduled"
        return "running" if self.is_active(at) else "ended"


def _field(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_experiments(raw: Any, source: str) -> list[Experiment]:
    """Validate a list (or ``{"experiments": [...]}``) of definitions read from ``source``."""
    if isinstance(raw, dict) and set(raw) == {"experiments"}:
        raw = raw["experiments"]
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ExperimentConfigError(
            f"{source}: expected a list of experiments or {{'experiments': [...]}}, "
            f"got {type(raw).__name__}"
        )
    experiments: list[Experiment] = []
    problems: list[str] = []
    for position, item in enumerate(raw):
        try:
            experiments.append(Experiment.model_validate(item))
        except ValidationError as exc:
            for error in exc.errors():
                where = _field(["experiments", position, *error["loc"]])
                problems.append(f"{source}: {where}: {error['msg']}")
    names = [e.name for e in experiments]
    problems += [
        f"{source}: experiment name {n!r} is defined more than once"
        for n in sorted({n for n in names if names.count(n) > 1})
    ]
    if problems:
        raise ExperimentConfigError("\n".join(problems))
    return experiments


def load_experiments(path: Path) -> list[Experiment]:
    """Read experiments from a ``.yaml``/``.yml`` or ``.json`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExperimentConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text) if text.strip() else None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ExperimentConfigError(
            f"{path}: not valid {path.suffix[1:] or 'JSON'}: {exc}"
        ) from exc
    return parse_experiments(raw, str(path))


def dump_experiments(experiments: Sequence[Experiment]) -> dict[str, Any]:
    """The JSON-ready content of an experiments file."""
    return {"experiments": [e.model_dump(mode="json") for e in experiments]}
