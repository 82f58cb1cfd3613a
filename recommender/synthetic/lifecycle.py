"""Tariff lifecycles and the event rows of one chunk.

A tariff starts (``subscription_start``), renews every ``BILLING_PERIOD_DAYS`` and at each
renewal date may instead be cancelled (a single service dropped; falls with loyalty) or moved
one tier up or down its family (a ``cancellation`` of the old tier, then a
``subscription_start`` of the new one a minute later), so a client never holds two tariffs of
one family at once. A client that leaves (``churn.ChurnPlan``) cancels every tariff within two
weeks of its leaving day. Add-ons that require a tariff are bought while that tariff is active.
Around it all: views before adoptions and while browsing (never after leaving), usage of active
tariffs (fading before a leaver leaves, dipping for some that stay), completions of courses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recommender.domain import EventType
from recommender.synthetic import story
from recommender.synthetic.adoption import NEVER, Adoptions
from recommender.synthetic.churn import ChurnPlan, cancel_day
from recommender.synthetic.clients import ClientChunk
from recommender.synthetic.offers import OfferArrays

#: Event codes, in the order that also breaks ties of equal timestamps.
EVENT_CODES: tuple[EventType, ...] = (
    EventType.VIEW,
    EventType.CANCELLATION,
    EventType.SUBSCRIPTION_START,
    EventType.RENEWAL,
    EventType.PURCHASE,
    EventType.ENROLMENT,
    EventType.COMPLETION,
    EventType.USAGE,
)
VIEW, CANCEL, START, RENEW, PURCHASE, ENROL, COMPLETE, USAGE = range(len(EVENT_CODES))
MINUTE = 1.0 / 1440.0
BROWSE_VIEWS = 3.0  # mean number of browsing views per client over the window
PRE_VIEW_P = 0.5  # chance that an adoption is preceded by a view of the offer


@dataclass
class EventBuffer:
    """Column arrays of events appended in blocks: client row, item, code, day, value."""

    parts: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    def add(
        self,
        row: np.ndarray,
        item: np.ndarray | int,
        code: int,
        day: np.ndarray,
        value: np.ndarray | float,
    ) -> None:
        n = len(row)
        if n:
            self.parts.append(
                (
                    row.astype(np.int64),
                    np.broadcast_to(np.asarray(item, np.int64), n),
                    np.full(n, code, np.int8),
                    day.astype(np.float64),
                    np.broadcast_to(np.asarray(value, np.float64), n),
                )
            )

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Columns row, item, code, second (from the window start), value; sorted by client,
        time and event code."""
        if not self.parts:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty.astype(np.int8), empty, empty.astype(np.float64)
        row, item, code, day, value = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        second = np.round(day * 86_400.0).astype(np.int64)
        order = np.lexsort(((code.astype(np.int64) << 16) | item, (row << 40) | second))
        return row[order], item[order], code[order], second[order], value[order]


def build_events(
    rng: np.random.Generator,
    clients: ClientChunk,
    offers: OfferArrays,
    adopted: Adoptions,
    window_days: float,
    plan: ChurnPlan | None = None,
) -> EventBuffer:
    """All events of a chunk; mutates ``adopted`` for tier moves and re-timed add-ons."""
    buffer = EventBuffer()
    plan = plan if plan is not None else ChurnPlan.nobody(len(clients))
    seats = np.asarray(story.SIZE_SEATS)[clients.size]
    active_until = np.full(adopted.owned.shape, NEVER)
    for members in offers.families:
        _tariff_family(
            rng, clients, offers, adopted, members, seats, active_until, buffer, window_days, plan
        )
    _retime_addons(rng, offers, adopted, active_until, window_days)

    row, item = np.nonzero(adopted.owned & ~offers.is_tariff[None, :])
    day = adopted.start[row, item]
    quantity = np.where(
        offers.per_seat[item], np.ceil(seats[row] * rng.uniform(0.5, 1.5, len(row))), 1.0
    )
    course = offers.is_course[item]
    buffer.add(row[~course], item[~course], PURCHASE, day[~course], quantity[~course])
    participants = np.maximum(1.0, rng.poisson(seats[row] * 0.05))
    buffer.add(row[course], item[course], ENROL, day[course], participants[course])
    finished = np.isfinite(adopted.done[row, item]) & course
    certified = np.maximum(1.0, participants[finished] - rng.poisson(0.3, finished.sum()))
    buffer.add(
        row[finished], item[finished], COMPLETE, adopted.done[row, item][finished], certified
    )

    _views(rng, clients, adopted, buffer, window_days, plan)
    return buffer


def _tariff_family(
    rng: np.random.Generator,
    clients: ClientChunk,
    offers: OfferArrays,
    adopted: Adoptions,
    members: np.ndarray,
    seats: np.ndarray,
    active_until: np.ndarray,
    buffer: EventBuffer,
    window_days: float,
    plan: ChurnPlan,
) -> None:
    """Start, renew, cancel or move the tariffs of one family (loop over billing periods)."""
    held = adopted.owned[:, members]
    row = np.flatnonzero(held.any(axis=1))
    if not len(row):
        return
    position = np.argmax(held[row], axis=1)
    first = adopted.start[row, members[position]]
    payment = np.round(offers.price[members] * seats[row, None] ** 0.5, 0)  # per tier column
    buffer.add(row, members[position], START, first, payment[np.arange(len(row)), position])
    current_from = first.copy()
    active = np.ones(len(row), dtype=bool)
    leave_at = cancel_day(rng, plan, row)  # NEVER for clients that stay
    cancel_p = np.asarray(story.CANCEL_PER_PERIOD)[clients.loyalty[row]]
    idx = np.arange(len(row))
    period = 1
    while True:
        due = first + period * story.BILLING_PERIOD_DAYS
        leaving = active & (leave_at < np.minimum(due, window_days))
        when = np.maximum(leave_at, current_from + MINUTE)  # never before the tier started
        _end(rng, row, members, position, current_from, when, leaving, seats, plan, buffer)
        active_until[row[leaving], members[position[leaving]]] = when[leaving]
        active &= ~leaving
        now = active & (due < window_days)
        if not now.any():
            break
        draw = rng.random(len(row))
        cancel = now & (draw < cancel_p)
        upgrade = (
            now
            & ~cancel
            & (draw < cancel_p + story.UPGRADE_PER_PERIOD)
            & (position < len(members) - 1)
        )
        down_p = np.where(plan.warned(row, due), story.DOWNGRADE_WARNED, story.DOWNGRADE_PER_PERIOD)
        downgrade = now & ~cancel & ~upgrade & (rng.random(len(row)) < down_p) & (position > 0)
        renew = now & ~cancel & ~upgrade & ~downgrade
        buffer.add(
            row[renew],
            members[position[renew]],
            RENEW,
            due[renew],
            payment[idx[renew], position[renew]],
        )
        ending = cancel | upgrade | downgrade
        _end(rng, row, members, position, current_from, due, ending, seats, plan, buffer)
        active_until[row[ending], members[position[ending]]] = due[ending]
        moved = upgrade | downgrade
        position = position + upgrade - downgrade
        new_item = members[position[moved]]
        buffer.add(
            row[moved],
            new_item,
            START,
            due[moved] + MINUTE,
            payment[idx[moved], position[moved]],
        )
        adopted.owned[row[moved], new_item] = True
        adopted.start[row[moved], new_item] = due[moved] + MINUTE
        current_from = np.where(moved, due + MINUTE, current_from)
        active &= ~cancel
        period += 1
    still = active
    _usage(
        rng,
        row[still],
        members[position[still]],
        current_from[still],
        np.full(int(still.sum()), window_days),
        seats,
        plan,
        buffer,
    )
    active_until[row[still], members[position[still]]] = window_days


def _end(
    rng: np.random.Generator,
    row: np.ndarray,
    members: np.ndarray,
    position: np.ndarray,
    current_from: np.ndarray,
    when: np.ndarray,
    ending: np.ndarray,
    seats: np.ndarray,
    plan: ChurnPlan,
    buffer: EventBuffer,
) -> None:
    """Cancel the current tier of the ``ending`` rows at ``when``, with its usage until then."""
    item = members[position[ending]]
    buffer.add(row[ending], item, CANCEL, when[ending], 1.0)
    _usage(rng, row[ending], item, current_from[ending], when[ending], seats, plan, buffer)


def _usage(
    rng: np.random.Generator,
    row: np.ndarray,
    item: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
    seats: np.ndarray,
    plan: ChurnPlan,
    buffer: EventBuffer,
) -> None:
    """About one usage report a month of activity, value = units used (hours, GB); while usage
    fades or dips, values fall and reports thin out (``ChurnPlan.usage_factor``)."""
    span = np.maximum(end - begin, 0.0)
    count = np.minimum(rng.poisson(span / story.USAGE_REPORT_DAYS), 40)
    rows = np.repeat(np.arange(len(row)), count)
    day = begin[rows] + rng.uniform(MINUTE, 1.0, len(rows)) * (end[rows] - begin[rows] - MINUTE)
    factor = plan.usage_factor(row[rows], day)
    kept = rng.random(len(rows)) < 0.5 + 0.5 * factor
    value = np.round(rng.lognormal(np.log(seats[row[rows]] + 1.0), 0.5) * factor, 1)
    buffer.add(row[rows][kept], item[rows][kept], USAGE, day[kept], value[kept])


def _retime_addons(
    rng: np.random.Generator,
    offers: OfferArrays,
    adopted: Adoptions,
    active_until: np.ndarray,
    window_days: float,
) -> None:
    """Move add-ons requiring a tariff into that tariff's active period, or drop them."""
    for addon, prereqs in enumerate(offers.prerequisites):
        tariffs = [p for p in prereqs if offers.is_tariff[p]]
        if not tariffs or offers.is_tariff[addon]:
            continue
        begin = np.max(adopted.start[:, tariffs], axis=1) + 0.5
        end = np.min(np.minimum(active_until[:, tariffs], window_days), axis=1) - MINUTE
        has = adopted.owned[:, addon]
        feasible = has & np.isfinite(begin) & (end > begin)
        inside = (adopted.start[:, addon] > begin) & (adopted.start[:, addon] < end)
        moved = begin + rng.random(len(begin)) * np.where(feasible, end - begin, 0.0)
        adopted.start[:, addon] = np.where(feasible & ~inside, moved, adopted.start[:, addon])
        adopted.owned[:, addon] = feasible
        adopted.start[~feasible, addon] = NEVER


def _views(
    rng: np.random.Generator,
    clients: ClientChunk,
    adopted: Adoptions,
    buffer: EventBuffer,
    window_days: float,
    plan: ChurnPlan,
) -> None:
    """Views before adoptions and browsing views of offers the client finds interesting, none
    after the client left."""
    row, item = np.nonzero(adopted.owned)
    before = adopted.start[row, item] - rng.uniform(0.5, 14.0, len(row))
    keep = (rng.random(len(row)) < PRE_VIEW_P) & (before > clients.active_from[row])
    buffer.add(row[keep], item[keep], VIEW, before[keep], 1.0)

    n, n_items = adopted.score.shape
    count = np.minimum(rng.poisson(BROWSE_VIEWS * clients.activity), n_items)
    noisy = adopted.score + rng.gumbel(size=(n, n_items))
    order = np.argsort(-noisy, axis=1)
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(n_items)[None, :]
    row, item = np.nonzero((rank < count[:, None]) & np.isfinite(noisy))
    begin = clients.active_from[row]
    day = begin + rng.random(len(row)) * (window_days - begin)
    stayed = day < plan.churn_day[row]
    buffer.add(row[stayed], item[stayed], VIEW, day[stayed], 1.0)
