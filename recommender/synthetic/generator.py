"""Generate a synthetic data set (catalog, clients, interactions), deterministically by seed.

Clients are generated in chunks of ``chunk_size``; chunk ``k`` draws from its own random stream
``SeedSequence([seed, k])``, so the output depends only on the config, memory stays bounded by
one chunk, and ``iter_chunks`` can stream millions of clients to disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recommender.synthetic.adoption import adopt
from recommender.synthetic.catalog import catalog_frame
from recommender.synthetic.churn import draw_churn, drop_after_churn
from recommender.synthetic.clients import client_ids, clients_frame, draw_clients
from recommender.synthetic.lifecycle import EVENT_CODES, build_events
from recommender.synthetic.offers import offer_arrays
from recommender.synthetic.writer import FileFormat, write_tables


class SyntheticConfig(BaseModel):
    """What to generate. The same config (seed included) always gives identical frames."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_clients: int = Field(default=500, ge=1, description="Number of client organisations.")
    seed: int = Field(default=42, ge=0, description="Random seed; same seed, same data.")
    start: date = Field(default=date(2023, 7, 1), description="First day of the event window.")
    end: date = Field(default=date(2025, 7, 1), description="Day after the last event (UTC).")
    chunk_size: int = Field(
        default=20_000, ge=1, le=1_000_000, description="Clients generated per chunk (memory)."
    )

    @model_validator(mode="after")
    def _window(self) -> Self:
        if (self.end - self.start).days < 90:
            raise ValueError(
                f"end ({self.end}) must be at least 90 days after start ({self.start})"
            )
        return self

    @property
    def window_days(self) -> float:
        return float((self.end - self.start).days)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_clients // self.chunk_size)


@dataclass(frozen=True, eq=False)
class SyntheticData:
    """The generated frames: ``items`` (``ITEM_COLUMNS``), ``clients`` (``CLIENT_COLUMNS``),
    ``interactions`` (``event_id`` + ``INTERACTION_COLUMNS``, UTC timestamps, sorted by client
    and time)."""

    items: pd.DataFrame
    clients: pd.DataFrame
    interactions: pd.DataFrame

    def write(self, out_dir: str | Path, fmt: FileFormat = "csv") -> dict[str, Path]:
        """Write ``items``, ``clients``, ``interactions`` as CSV or Parquet, atomically."""
        write_tables([(self.clients, self.interactions)], out_dir, fmt, items=self.items)
        return {
            name: Path(out_dir) / f"{name}.{fmt}" for name in ("items", "clients", "interactions")
        }


def chunk_frames(config: SyntheticConfig, chunk: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clients and interactions of chunk number ``chunk`` (0-based)."""
    if not 0 <= chunk < config.n_chunks:
        raise ValueError(f"chunk {chunk} out of range 0..{config.n_chunks - 1}")
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, chunk]))
    first = chunk * config.chunk_size
    n = min(config.chunk_size, config.n_clients - first)
    offers = offer_arrays()
    clients = draw_clients(rng, first, n, config.n_clients, config.window_days)
    adopted = adopt(rng, clients, offers, config.window_days)
    # the churn story draws from its own stream: the adoptions stay what they were without it
    churn_rng = np.random.default_rng(np.random.SeedSequence([config.seed, chunk, 1]))
    plan = draw_churn(churn_rng, clients, offers, adopted, config.window_days)
    drop_after_churn(adopted, plan)
    buffer = build_events(rng, clients, offers, adopted, config.window_days, plan)
    row, item, code, second, value = buffer.arrays()

    # Build string columns in Arrow: much faster than Python strings at millions of rows.
    client_col = pc.take(pa.array(client_ids(clients.index, config.n_clients), pa.string()), row)
    sequence = np.arange(len(row)) - np.searchsorted(row, row) + 1  # event number per client
    event_id = pc.binary_join_element_wise(client_col, pa.array(sequence).cast(pa.string()), "-")
    item_col = pc.take(pa.array(offers.ids, pa.string()), item)
    type_col = pc.take(pa.array([e.value for e in EVENT_CODES], pa.string()), code)
    origin = pd.Timestamp(config.start, tz="UTC")
    interactions = pd.DataFrame(
        {
            "event_id": event_id.to_pandas(),
            "client_id": client_col.to_pandas(),
            "item_id": item_col.to_pandas(),
            "event_type": type_col.to_pandas(),
            "timestamp": origin + pd.to_timedelta(second, unit="s"),
            "value": value,
        }
    )
    return clients_frame(clients, config.start, config.n_clients), interactions


def iter_chunks(config: SyntheticConfig) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(clients, interactions) frames chunk after chunk; memory is bounded by one chunk."""
    for chunk in range(config.n_chunks):
        yield chunk_frames(config, chunk)


def generate(config: SyntheticConfig | None = None) -> SyntheticData:
    """The whole data set in memory (fine up to ~100k clients; stream with ``iter_chunks``)."""
    config = config or SyntheticConfig()
    parts = list(iter_chunks(config))
    clients = pd.concat([c for c, _ in parts], ignore_index=True)
    interactions = pd.concat([i for _, i in parts], ignore_index=True)
    return SyntheticData(items=catalog_frame(), clients=clients, interactions=interactions)
