"""The experiments file as a small store: list, get, add, end; every write is atomic.

The file is ``<data_dir>/experiments.yaml`` (or ``.yml``/``.json``, first found; a new store
is ``experiments.json``) unless a path is given. Writers re-read the file under an exclusive
lock before changing it, so two admin API workers never lose each other's edits, and replace
it with ``os.replace`` so readers never see half a file.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import yaml

from recommender import paths
from recommender.experiments.config import (
    Experiment,
    ExperimentConfigError,
    dump_experiments,
    load_experiments,
)

FILE_NAMES: tuple[str, ...] = ("experiments.yaml", "experiments.yml", "experiments.json")


def default_path(data_dir: Path | None = None) -> Path:
    """The first existing experiments file of the data directory, else ``experiments.json``."""
    root = paths.data_dir(data_dir)
    for name in FILE_NAMES:
        if (root / name).is_file():
            return root / name
    return root / FILE_NAMES[-1]


class ExperimentRegistry:
    """Experiments kept in one YAML or JSON file (the format follows the file suffix)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_data_dir(cls, data_dir: Path | None = None) -> ExperimentRegistry:
        return cls(default_path(data_dir))

    def experiments(self) -> list[Experiment]:
        """All experiments in file order; an absent file holds none."""
        return load_experiments(self.path) if self.path.exists() else []

    def get(self, name: str) -> Experiment:
        for experiment in self.experiments():
            if experiment.name == name:
                return experiment
        raise KeyError(f"no experiment {name!r} in {self.path}")

    def active(self, at: datetime | None = None) -> list[Experiment]:
        """Experiments running at ``at`` (default now)."""
        moment = at or datetime.now(UTC)
        return [e for e in self.experiments() if e.is_active(moment)]

    def add(self, experiment: Experiment, *, replace: bool = False) -> None:
        """Store a new experiment; an existing name is an error unless ``replace``."""
        with self._locked():
            current = self.experiments()
            names = [e.name for e in current]
            if experiment.name in names and not replace:
                raise ExperimentConfigError(
                    f"{self.path}: experiment {experiment.name!r} already exists"
                )
            if experiment.name in names:
                current[names.index(experiment.name)] = experiment
            else:
                current.append(experiment)
            self._write(current)

    def end(self, name: str, at: datetime | None = None) -> Experiment:
        """Stop an experiment at ``at`` (default now): no client is assigned after that."""
        moment = at or datetime.now(UTC)
        with self._locked():
            current = self.experiments()
            for position, experiment in enumerate(current):
                if experiment.name == name:
                    if moment <= experiment.start:
                        raise ExperimentConfigError(
                            f"{self.path}: experiment {name!r} has not started; remove it instead"
                        )
                    data = experiment.model_dump()
                    data["end"] = moment if experiment.end is None else min(moment, experiment.end)
                    ended = Experiment.model_validate(data)
                    current[position] = ended
                    self._write(current)
                    return ended
        raise KeyError(f"no experiment {name!r} in {self.path}")

    def save(self, experiments: list[Experiment]) -> None:
        """Replace the whole file with ``experiments``."""
        with self._locked():
            self._write(experiments)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, experiments: list[Experiment]) -> None:
        content = dump_experiments(experiments)
        if self.path.suffix.lower() in {".yaml", ".yml"}:
            text = yaml.safe_dump(content, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
