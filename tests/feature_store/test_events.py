"""Events: validation naming the field, the stream log, read-your-writes on owned offers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from feature_store.embedded import open_store
from feature_store.events import EventIn, EventLog, EventRecord
from feature_store.materialize import write_snapshot
from feature_store.online import StoreUnavailableError, UnknownEntityError
from feature_store.redis_store import RedisOnlineStore
from recommender.feedback import owned_pairs
from tests.feature_store.conftest import settings_for, tiny_clients, tiny_interactions, tiny_items
from tests.feature_store.redis_server import RedisServer


@pytest.fixture
def filled(store: RedisOnlineStore) -> RedisOnlineStore:
    write_snapshot(store, tiny_clients(), tiny_items(), owned_pairs(tiny_interactions()))
    return store


def _error_fields(exc: ValidationError) -> set[str]:
    return {str(err["loc"][0]) for err in exc.errors()}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": "purchased"}, "event_type"),
        ({"event_type": "renewal"}, "event_type"),  # a real EventType, but not accepted live
        ({"value": -1}, "value"),
        ({"item_ids": []}, "item_ids"),
        ({"item_ids": ["a", "a"]}, "item_ids"),
        ({"client_id": ""}, "client_id"),
        ({"timestamp": "yesterday-ish"}, "timestamp"),
        ({"timestamp": datetime.now(UTC) + timedelta(days=2)}, "timestamp"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_validation_names_the_field(change: dict[str, object], field: str) -> None:
    raw = {"client_id": "c1", "item_ids": ["t-pro"], "event_type": "click", **change}
    with pytest.raises(ValidationError) as caught:
        EventIn.model_validate(raw)
    assert field in _error_fields(caught.value) or field in str(caught.value)


def test_impression_extras_must_align_with_items() -> None:
    ok = EventIn(
        client_id="c1",
        item_ids=["a", "b"],
        event_type="impression",
        propensities=[0.5, 0.25],
        positions=[0, 1],
    )
    assert [r.propensity for r in ok.records()] == [0.5, 0.25]
    with pytest.raises(ValidationError, match="propensities has 1 values for 2 item_ids"):
        EventIn(client_id="c1", item_ids=["a", "b"], event_type="impression", propensities=[0.5])
    with pytest.raises(ValidationError, match="only allowed on impression"):
        EventIn(client_id="c1", item_ids=["a"], event_type="click", positions=[0])
    with pytest.raises(ValidationError, match=r"\(0, 1\]"):
        EventIn(client_id="c1", item_ids=["a"], event_type="impression", propensities=[0.0])


def test_timestamps_become_utc_and_ids_are_assigned() -> None:
    event = EventIn(
        client_id="c1", item_ids=["a", "b"], event_type="click", timestamp=datetime(2024, 5, 1, 12)
    )
    records = event.records()
    assert records[0].timestamp == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert len({r.event_id for r in records}) == 2
    given = EventIn(client_id="c1", item_ids=["a", "b"], event_type="click", event_id="req-7")
    assert [r.event_id for r in given.records()] == ["req-7:0", "req-7:1"]
    single = EventIn(client_id="c1", item_ids=["a"], event_type="click", event_id="e-1")
    assert single.records()[0].event_id == "e-1"


def test_record_round_trips_through_stream_fields() -> None:
    record = EventIn(
        client_id="c1", item_ids=["a"], event_type="impression", propensities=[0.2], variant="B"
    ).records()[0]
    fields = {k.encode(): v.encode() for k, v in record.to_fields().items()}
    assert EventRecord.from_fields(fields) == record


def test_purchase_is_owned_on_the_very_next_read(filled: RedisOnlineStore) -> None:
    log = EventLog(filled)
    assert "t-pro" not in (filled.get_owned(["c2"])["c2"].value or ())
    ids = log.append([EventIn(client_id="c2", item_ids=["t-pro", "backup"], event_type="purchase")])
    assert len(ids) == 2
    assert log.length() == 2
    assert filled.get_owned(["c2"])["c2"].value == frozenset({"course-1", "t-pro", "backup"})

    log.append([EventIn(client_id="c2", item_ids=["t-pro"], event_type="cancellation")])
    assert filled.get_owned(["c2"])["c2"].value == frozenset({"course-1", "backup"})
    log.append([EventIn(client_id="c2", item_ids=["t-basic"], event_type="impression")])
    assert filled.get_owned(["c2"])["c2"].value == frozenset({"course-1", "backup"})
    assert [r.event_type for _, r in log.read_after()] == [
        "purchase",
        "purchase",
        "cancellation",
        "impression",
    ]


@pytest.mark.parametrize(
    ("event", "field", "value"),
    [
        (
            EventIn(client_id="ghost", item_ids=["t-pro"], event_type="purchase"),
            "client_id",
            "ghost",
        ),
        (
            EventIn(client_id="c1", item_ids=["t-pro", "nope"], event_type="click"),
            "item_ids",
            "nope",
        ),
    ],
)
def test_unknown_entities_are_refused_and_nothing_is_written(
    filled: RedisOnlineStore, event: EventIn, field: str, value: str
) -> None:
    log = EventLog(filled)
    before = filled.get_owned(["c1"])
    with pytest.raises(UnknownEntityError) as caught:
        log.append([event])
    assert (caught.value.field, caught.value.value) == (field, value)
    assert value in str(caught.value)
    assert log.length() == 0
    assert filled.get_owned(["c1"]) == before


def test_events_are_refused_when_redis_is_down(private_redis: RedisServer, tmp_path: Path) -> None:
    store = open_store(settings_for(private_redis.url, tmp_path))
    write_snapshot(store, tiny_clients(), tiny_items(), owned_pairs(tiny_interactions()))
    log = EventLog(store)
    private_redis.stop()
    with pytest.raises(StoreUnavailableError):
        log.append([EventIn(client_id="c1", item_ids=["t-pro"], event_type="purchase")])
    private_redis.start()
    write_snapshot(store, tiny_clients(), tiny_items(), owned_pairs(tiny_interactions()))
    assert log.append([EventIn(client_id="c1", item_ids=["t-pro"], event_type="purchase")])
