"""One default-sized generated data set shared by the synthetic-data tests."""

import pytest

from recommender.synthetic import SyntheticConfig, SyntheticData, generate


@pytest.fixture(scope="package")
def data() -> SyntheticData:
    return generate(SyntheticConfig(n_clients=500, seed=11))
