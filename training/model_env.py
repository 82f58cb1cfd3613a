"""The Python environment a logged pyfunc model declares, without MLflow guessing it.

A model logged without ``pip_requirements`` makes MLflow infer them (a subprocess that loads
the model and records what it imports); one logged with them still has MLflow check every pin
against the installed packages, when it writes the model and again when it loads it back to
try the input example, and the first check maps every installed distribution to its modules
(about a second). The pins here are read from the running environment, so that check cannot
find a mismatch: ``requirement_check_skipped`` leaves it out while a model is logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

#: The modules that call MLflow's check by this name: writing the environment files
#: (``_process_pip_requirements``) and ``mlflow.pyfunc.load_model``.
_CHECK_MODULES: tuple[str, ...] = ("mlflow.utils.environment", "mlflow.pyfunc")
_CHECK_NAME = "warn_dependency_requirement_mismatches"


def pinned_requirements(packages: Iterable[str]) -> list[str]:
    """``name==installed version`` of each installed package (absent ones are left out)."""
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins


def _no_check(requirements: list[str]) -> None:
    """Stands in for MLflow's check while pins of this very environment are logged."""


@contextmanager
def requirement_check_skipped() -> Iterator[None]:
    """Within: MLflow logs the given pins without checking them against the installed packages.

    Only for pins made by ``pinned_requirements`` in this process, in one thread at a time. A
    module of a MLflow without the check under that name is left as it is (logging is then just
    slower).
    """
    import importlib

    replaced: list[tuple[Any, Any]] = []
    try:
        for name in _CHECK_MODULES:
            module = importlib.import_module(name)
            original = getattr(module, _CHECK_NAME, None)
            if original is not None:
                setattr(module, _CHECK_NAME, _no_check)
                replaced.append((module, original))
        yield
    finally:
        for module, original in replaced:
            setattr(module, _CHECK_NAME, original)
