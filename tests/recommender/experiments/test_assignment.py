"""Assignment: weights respected, stable across calls and processes, independent across salts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
from scipy import stats as sps

from recommender.experiments.assignment import assign, assign_first, unit_draw, variant_index
from recommender.experiments.config import HOLDOUT_VARIANT, Experiment
from tests.recommender.experiments.conftest import START, experiment_data

N_IDS = 100_000
MIN_P = 0.001
IDS = [f"client-{i}" for i in range(N_IDS)]
AT = START + timedelta(days=1)


def test_weights_pass_chi_square(experiment: Experiment) -> None:
    chosen = [assign(experiment, c, at=AT) for c in IDS]
    names = [v.name for v in experiment.variants]
    seen = Counter(a.variant for a in chosen if a is not None)
    counts = np.array([seen[n] for n in names])
    assert counts.sum() == N_IDS
    expected = np.array(experiment.weights) * N_IDS
    assert sps.chisquare(counts, expected).pvalue > MIN_P


def test_draws_are_uniform() -> None:
    draws = np.array([unit_draw("s1", c) for c in IDS])
    assert draws.min() >= 0.0
    assert draws.max() < 1.0
    assert sps.kstest(draws, "uniform").pvalue > MIN_P


def test_same_client_same_variant_across_calls_and_processes(experiment: Experiment) -> None:
    sample = IDS[:300]
    here = [assign(experiment, c, at=AT) for c in sample]
    assert here == [assign(experiment, c, at=AT) for c in sample]
    script = (
        "import json, sys\n"
        "from datetime import datetime\n"
        "from recommender.experiments import Experiment, assign\n"
        "e = Experiment.model_validate_json(sys.argv[1])\n"
        "at = datetime.fromisoformat(sys.argv[2])\n"
        "print(json.dumps([assign(e, f'client-{i}', at=at).variant for i in range(300)]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script, experiment.model_dump_json(), AT.isoformat()],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert json.loads(out.stdout) == [a.variant for a in here if a is not None]


def test_different_salts_are_independent() -> None:
    first = variant_index([unit_draw("salt-a", c) for c in IDS], [0.5, 0.5])
    second = variant_index([unit_draw("salt-b", c) for c in IDS], [0.5, 0.5])
    table = np.histogram2d(first, second, bins=2)[0]
    assert sps.chi2_contingency(table).pvalue > MIN_P
    assert not np.array_equal(first, second)


def test_holdout_share_and_it_leaves_other_clients_in_place() -> None:
    plain = Experiment.model_validate(experiment_data())
    held = Experiment.model_validate(experiment_data(holdout=0.1))
    sample = IDS[:20_000]
    before = [assign(plain, c, at=AT) for c in sample]
    after = [assign(held, c, at=AT) for c in sample]
    in_holdout = [a is not None and a.in_holdout for a in after]
    share = float(np.mean(in_holdout))
    assert sps.binomtest(sum(in_holdout), len(sample), 0.1).pvalue > MIN_P, share
    for old, new in zip(before, after, strict=True):
        assert new is not None
        assert old is not None
        if new.in_holdout:
            assert new.variant == HOLDOUT_VARIANT
            assert new.target == held.holdout_target
        else:
            assert new.variant == old.variant


def test_targeting_and_time_window() -> None:
    experiment = Experiment.model_validate(
        experiment_data(
            targeting={"segments": ["B2G"], "industries": ["government", "education"]},
            end=(START + timedelta(days=10)).isoformat(),
        )
    )
    assert assign(experiment, "c1", segment="B2G", industry="education", at=AT) is not None
    assert assign(experiment, "c1", segment="B2B", industry="education", at=AT) is None
    assert assign(experiment, "c1", segment="B2G", industry="retail", at=AT) is None
    assert assign(experiment, "c1", segment=None, industry=None, at=AT) is None
    before, after = START - timedelta(seconds=1), START + timedelta(days=10)
    assert assign(experiment, "c1", segment="B2G", industry="education", at=before) is None
    assert assign(experiment, "c1", segment="B2G", industry="education", at=after) is None


def test_assign_first_takes_the_first_experiment_that_admits(experiment: Experiment) -> None:
    narrow = Experiment.model_validate(
        experiment_data(name="gov-only", targeting={"segments": ["B2G"]})
    )
    found = assign_first([narrow, experiment], "c9", segment="B2B", at=AT)
    assert found is not None
    assert found.experiment == experiment.name
    assert assign_first([narrow], "c9", segment="B2B", at=AT) is None


@pytest.mark.parametrize("draw", [0.0, 0.4999, 0.5, 0.7999, 0.8, 0.99999])
def test_variant_index_edges(draw: float) -> None:
    index = int(variant_index([draw], [5, 3, 2])[0])
    assert index == int(np.searchsorted([0.5, 0.8, 1.0], draw, side="right"))
