"""An entry the flusher cannot write goes to the dead-letter stream; the rest is flushed once."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from feature_store.dead_letters import DeadLetters
from feature_store.events import EventLog
from feature_store.flush import Flusher
from feature_store.materialize import materialize
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from tests.feature_store.flushing import (
    POISON_POSITION,
    flushed_ids,
    post_events,
    raw_entry,
    start_cli,
)

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault


def _poisoned_stream(store: RedisOnlineStore) -> tuple[list[str], dict[str, str]]:
    """Good events around four bad entries; returns the good ids and {stream id: bad field}."""
    good = post_events(store, 3)
    bad = {raw_entry(store, event_id="poison", position=POISON_POSITION): "position"}
    good += post_events(store, 2)
    bad[raw_entry(store, event_id="nan-value", value="NaN")] = "value"
    bad[raw_entry(store, event_id="kind", event_type="teleport")] = "event_type"
    bad[raw_entry(store, event_id="far", timestamp="0001-01-01T00:00:00+14:00")] = "timestamp"
    good += post_events(store, 4)
    return good, bad


def test_bad_entries_are_dead_lettered_and_the_good_ones_flushed_once(
    store: RedisOnlineStore, offline: OfflineStore, caplog: pytest.LogCaptureFixture
) -> None:
    materialize(store, offline)
    good, bad = _poisoned_stream(store)
    with caplog.at_level(logging.WARNING, logger="feature_store.flush"):
        report = Flusher(store, offline, batch=100).run_once()  # all of them in one batch
    assert sorted(flushed_ids(offline)) == sorted(good)  # each good event exactly once
    assert (report.written, report.dead_lettered, report.batches) == (len(good), len(bad), 1)
    assert EventLog(store).length() == 0  # acknowledged and trimmed: nothing blocks the stream

    letters = DeadLetters(store).list()
    assert {letter.entry_id: letter.field for letter in letters} == bad
    poison = next(letter for letter in letters if letter.field == "position")
    assert poison.fields["position"] == POISON_POSITION  # kept as it was, to inspect or replay
    assert "less than or equal to" in poison.error
    for entry_id in bad:  # each one logged with its stream id
        assert any(entry_id in record.getMessage() for record in caplog.records)

    later = post_events(store, 2)
    again = Flusher(store, offline, batch=100).run_once()
    assert (again.written, again.dead_lettered) == (2, 0)
    assert sorted(flushed_ids(offline)) == sorted(good + later)
    assert DeadLetters(store).count() == len(bad)


def test_an_undecodable_entry_is_dead_lettered(
    store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    good = post_events(store, 2)
    entry_id = store.redis.xadd(store.keys.events, {b"event_id": b"\xff\xfe"})
    report = Flusher(store, offline).run_once()
    assert (report.written, report.dead_lettered) == (2, 1)
    assert sorted(flushed_ids(offline)) == sorted(good)
    [letter] = DeadLetters(store).list()
    assert letter.entry_id == entry_id.decode()


def test_cli_flushes_past_a_poison_event_and_lists_the_dead_letters(
    settings: OnlineStoreSettings, store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    good, bad = _poisoned_stream(store)
    for _ in range(2):  # before the fix every run failed on the same entry
        flush = start_cli(settings, "events", "flush")
        output, _ = flush.communicate(timeout=120)
        assert flush.returncode == 0, output
    assert "flushed 0 events (0 duplicates skipped, 0 dead-lettered)" in output
    assert sorted(flushed_ids(offline)) == sorted(good)

    listing = start_cli(settings, "events", "dead-letters", "--format", "json")
    text, _ = listing.communicate(timeout=120)
    assert listing.returncode == 0, text
    rows = json.loads(text)
    assert {row["entry_id"]: row["field"] for row in rows} == bad
    assert all(row["error"] and row["dead_lettered_at"] for row in rows)

    table = start_cli(settings, "events", "dead-letters")
    text, _ = table.communicate(timeout=120)
    assert table.returncode == 0, text
    assert all(entry_id in text for entry_id in bad)
    assert "4 dead letters" in text


class _RefusingOffline(OfflineStore):
    """Parquet that refuses one event id the validation let through, after writing the other
    days of the batch (as a ``to_parquet`` failing on a later day would)."""

    refused = "refused"

    def __init__(self, root: object) -> None:
        super().__init__(str(root))
        self.calls = 0

    def append_events(self, frame: pd.DataFrame) -> int:
        self.calls += 1
        bad = frame["event_id"] == self.refused
        if not bad.any():
            return super().append_events(frame)
        day = frame.loc[bad, "timestamp"].iloc[0].date()
        super().append_events(frame[[t.date() != day for t in frame["timestamp"]]])
        raise OverflowError("Python int too large to convert to C long")


def test_an_entry_parquet_refuses_after_validation_is_found_by_halving(
    settings: OnlineStoreSettings, store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    refusing = _RefusingOffline(settings.data_dir)
    good = [raw_entry(store, event_id=f"may-1-{k}") for k in range(8)]
    bad = raw_entry(store, event_id=_RefusingOffline.refused, timestamp="2024-05-02T10:00:00Z")
    good += [raw_entry(store, event_id=f"may-2-{k}", timestamp="2024-05-02T11:00:00Z")
             for k in range(23)]  # fmt: skip
    report = Flusher(store, refusing, batch=100).run_once()
    expected = [f"may-1-{k}" for k in range(8)] + [f"may-2-{k}" for k in range(23)]
    assert sorted(flushed_ids(refusing)) == sorted(expected)  # once each, day 1 included
    assert (report.written, report.dead_lettered) == (len(good), 1)
    assert [letter.entry_id for letter in DeadLetters(store).list()] == [bad]
    assert refusing.calls <= 2 * 5 + 1  # halving 24 rows, not one write per row
