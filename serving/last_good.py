"""The last model version that loaded, kept on local disk for a worker that cannot load the alias.

A worker that starts while its alias points at a version it refuses (a corrupted bundle, an
incompatible one, a registry that does not answer) would otherwise fail, and with it the whole
``recsys serve`` (uvicorn stops the parent when a worker fails at start-up). So every worker
that loads a version of the serving alias keeps a copy here, and one that cannot load the alias
at start-up serves that copy instead (``ModelHolder.load_all``).

Layout, per model source and alias (``LastGoodStore.directory``)::

    <root>/current.json       {"version": "2", "bundle": "v2-<random>", "saved_at": ...}
    <root>/v2-<random>/       a ServableModel bundle (manifest with the arrays' SHA-256)

A copy is written into a new directory, then ``current.json`` is replaced atomically, then the
older directories are removed; an exclusive file lock serializes the workers writing, and a
shared one keeps a directory from being removed while another worker reads it. Loading goes
through ``ServableModel.load``, which verifies the checksum.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from recommender.servable import ServableModel

POINTER = "current.json"
LOCK = ".lock"


class NoLastGoodError(RuntimeError):
    """There is no usable kept copy; the message says why."""


@dataclass(frozen=True)
class KeptModel:
    """A kept copy, loaded and verified."""

    servable: ServableModel
    version: str
    saved_at: str
    path: Path


def store_directory(data_dir: Path, source_description: str, alias: str) -> Path:
    """Where the copies of ``alias`` of one model source live under the data directory."""
    digest = hashlib.sha256(source_description.encode()).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", source_description).strip("-")[:48]
    safe_alias = re.sub(r"[^A-Za-z0-9_.-]+", "-", alias)
    return Path(data_dir) / "serving" / "last-good" / f"{readable}-{digest}" / safe_alias


class LastGoodStore:
    """The kept copy of one alias of one model source."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def __str__(self) -> str:
        return str(self.directory)

    def version(self) -> str | None:
        """The kept version, ``None`` when nothing is kept (the pointer is not checked deeper)."""
        try:
            return str(self._pointer()["version"])
        except NoLastGoodError:
            return None

    def keep(self, servable: ServableModel, version: str) -> bool:
        """Keep ``servable`` as the last good ``version``; False when it already is kept."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked(fcntl.LOCK_EX):
            if self.version() == version:
                return False
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", version)[:40]
            bundle = Path(tempfile.mkdtemp(prefix=f"v{safe}-", dir=self.directory))
            try:
                servable.save(bundle)
                pointer = {
                    "version": version,
                    "bundle": bundle.name,
                    "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                _atomic_write(self.directory / POINTER, json.dumps(pointer, indent=2))
            except BaseException:
                shutil.rmtree(bundle, ignore_errors=True)
                raise
            for old in self.directory.iterdir():
                if old.is_dir() and old.name != bundle.name:
                    shutil.rmtree(old, ignore_errors=True)
        return True

    def load(self) -> KeptModel:
        """The kept copy, verified (checksum, shapes); ``NoLastGoodError`` says why not."""
        with self._locked(fcntl.LOCK_SH):
            pointer = self._pointer()
            path = self.directory / str(pointer.get("bundle", ""))
            try:
                servable = ServableModel.load(path)
            except (OSError, ValueError) as exc:  # ArtifactError is a ValueError
                raise NoLastGoodError(f"the kept copy in {path} is unusable: {exc}") from exc
        return KeptModel(servable, str(pointer["version"]), str(pointer.get("saved_at")), path)

    def _pointer(self) -> dict[str, object]:
        path = self.directory / POINTER
        try:
            pointer = json.loads(path.read_text())
        except FileNotFoundError:
            raise NoLastGoodError(f"no version has been kept in {self.directory} yet") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise NoLastGoodError(f"{path} is unreadable: {exc}") from exc
        if not isinstance(pointer, dict) or "version" not in pointer or "bundle" not in pointer:
            raise NoLastGoodError(f"{path} does not name a version and a bundle")
        return pointer

    @contextlib.contextmanager
    def _locked(self, how: int) -> Iterator[None]:
        if how == fcntl.LOCK_SH and not self.directory.is_dir():
            raise NoLastGoodError(f"no version has been kept in {self.directory} yet")
        with open(self.directory / LOCK, "a") as lock:
            fcntl.flock(lock, how)
            yield


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a synced temporary file in the same directory."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
