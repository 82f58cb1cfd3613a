"""The sane ranges of event data, shared by the events API and ``recsys data import``.

A value outside these ranges is refused where it enters (a 422 at the API, a listed problem
at import) instead of being stored and breaking a later job: a year-0001 timestamp overflows
conversions, a position of 2**70 cannot be written to Parquet's int64, a timestamp in the far
future sorts after everything real.

The earliest timestamp is 1990-01-01 UTC: before any real event of the business, after epoch 0
(a typical "unset" value), and early enough for public data sets such as MovieLens-100k (1997).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: Events and interactions may not be older than this.
EARLIEST_TIMESTAMP = datetime(1990, 1, 1, tzinfo=UTC)
#: Nor further ahead of the receiving clock than this (clock skew, time zones).
MAX_AHEAD = timedelta(days=1)

#: Highest 0-based rank of an impression (lists are far shorter; this fits every store).
MAX_POSITION = 100_000
#: Highest value of one event (a price, a quantity or a rating), finite and >= 0.
MAX_EVENT_VALUE = 1e12
#: Longest id (client, offer, event, request).
MAX_ID_LENGTH = 128
#: Most events in one POST /v1/events batch.
MAX_EVENTS_PER_REQUEST = 1000


def latest_timestamp(now: datetime | None = None) -> datetime:
    """The latest timestamp accepted at ``now`` (default: the current UTC time)."""
    return (now or datetime.now(UTC)) + MAX_AHEAD


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC (naive means UTC); ``ValueError`` if the conversion leaves the calendar.

    ``datetime(1, 1, 1, tzinfo=+14:00).astimezone(UTC)`` raises ``OverflowError``, which a
    validator would let through as a server error.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"timestamp {value.isoformat()} is out of range "
            f"(expected {EARLIEST_TIMESTAMP.date()} to 1 day from now)"
        ) from None


def timestamp_problem(stamp: datetime, now: datetime | None = None) -> str | None:
    """Why the UTC timestamp ``stamp`` is out of range, or ``None`` when it is not."""
    if stamp < EARLIEST_TIMESTAMP:
        return f"timestamp {stamp.isoformat()} is before {EARLIEST_TIMESTAMP.date()}"
    if stamp > latest_timestamp(now):
        return f"timestamp {stamp.isoformat()} is more than 1 day in the future"
    return None


def checked_timestamp(value: datetime, now: datetime | None = None) -> datetime:
    """``value`` in UTC if it is in range, else ``ValueError`` saying why (for validators)."""
    stamp = as_utc(value)
    problem = timestamp_problem(stamp, now)
    if problem is not None:
        raise ValueError(problem)
    return stamp
