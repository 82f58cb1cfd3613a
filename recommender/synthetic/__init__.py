"""Synthetic data for a B2B/B2G IT integrator: offer catalog, clients and two years of events.

``generate(SyntheticConfig(n_clients=500, seed=42))`` returns a ``SyntheticData`` with the
``items``, ``clients`` and ``interactions`` frames; ``iter_chunks`` and ``write_tables`` stream
millions of clients to CSV or Parquet. The generative story is told in ``adoption`` and
``lifecycle``, who leaves and why in ``churn``; the parameters live in ``story`` and the
catalog in ``catalog``.
"""

from recommender.synthetic.catalog import OFFERS, catalog_frame
from recommender.synthetic.generator import (
    SyntheticConfig,
    SyntheticData,
    chunk_frames,
    generate,
    iter_chunks,
)
from recommender.synthetic.writer import FileFormat, write_tables

__all__ = [
    "OFFERS",
    "FileFormat",
    "SyntheticConfig",
    "SyntheticData",
    "catalog_frame",
    "chunk_frames",
    "generate",
    "iter_chunks",
    "write_tables",
]
