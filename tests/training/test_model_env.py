"""A logged pyfunc declares pinned requirements: MLflow neither infers nor checks them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import mlflow.utils.environment
import mlflow.utils.requirements_utils
import numpy as np
import pandas as pd
import pytest

from feature_store.offline import OfflineStore
from recommender.models.registry import build_model
from training.model_env import pinned_requirements, requirement_check_skipped
from training.pyfunc import pip_requirements
from training.run_logging import log_offers_model

CHECKING_MODULES = (mlflow.utils.environment, mlflow.pyfunc)
CHECK = "warn_dependency_requirement_mismatches"


def test_pins_name_the_installed_versions_and_leave_absent_packages_out() -> None:
    pins = pinned_requirements(["numpy", "no-such-package-recsys"])
    assert pins == [f"numpy=={np.__version__}"]


def test_the_check_is_left_out_inside_and_restored_after_even_on_error() -> None:
    originals = [getattr(module, CHECK) for module in CHECKING_MODULES]
    inside: list[object] = []

    def fail() -> None:
        with requirement_check_skipped():
            inside.extend(getattr(module, CHECK) for module in CHECKING_MODULES)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail()
    assert len(inside) == len(originals)
    assert not set(map(id, inside)) & set(map(id, originals))
    assert [getattr(module, CHECK) for module in CHECKING_MODULES] == originals


def test_a_logged_offers_model_declares_its_pins_checks_none_and_loads(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = mlflow.utils.requirements_utils._check_requirement_satisfied

    def recorded(requirement: str) -> Any:
        checked.append(requirement)
        return real(requirement)

    monkeypatch.setattr(mlflow.utils.requirements_utils, "_check_requirement_satisfied", recorded)
    dataset = OfflineStore(store_dir).load_dataset()
    servable = build_model("popularity", {}).fit(dataset).export()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment("env", artifact_location=(tmp_path / "a").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            info = log_offers_model(servable, dataset)
        assert checked == []  # neither when writing nor when trying the input example
        declared = Path(mlflow.pyfunc.get_model_dependencies(info.model_uri)).read_text()
        assert declared.split() == pip_requirements()
        model = mlflow.pyfunc.load_model(info.model_uri)
        out = model.predict(pd.DataFrame({"client_id": ["c000"]}), params={"k": 3})
        assert out["rank"].tolist() == [1, 2, 3]
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_loading_either_pyfunc_or_the_calibration_imports_no_scikit_learn_nor_lightgbm() -> None:
    """The pins leave them out: what the pyfunc code files and the evaluation load lacks them."""
    code = (
        "import sys, training.pyfunc, training.churn_pyfunc, recommender.evaluation.calibration;"
        "print(sorted(m for m in ('sklearn', 'lightgbm') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "[]"
