"""The backlog of re-checks of deleted listings (`absence.restore_backlog`) as
values: window edges, due vs overdue, sources that never re-check."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from monitor.absence import restore_backlog, restores_checked, revisit_grace
from monitor.models import ListingState, Source, StoredListing
from tests.test_restores import SRC, T0, deleted

H, D = timedelta(hours=1), timedelta(days=1)
AGED_OUT, ACTIVE = ListingState.AGED_OUT, ListingState.ACTIVE


def backlog(
    known: list[StoredListing],
    checks: dict[str, datetime] | None = None,
    source: Source = SRC,
    at: datetime = T0,
) -> tuple[int, int, int, float]:
    got = restore_backlog(known, source, at, checks or {})
    return got.watched, got.due, got.overdue, got.worst_late / 3600


# ------------------------------------------------------------------- values


def test_due_and_overdue_rechecks_inside_the_window() -> None:
    """Grace: two crawl intervals (2 h); a re-check is due 6 h after the deletion,
    then as long after its last check as the thread had been gone at that check."""
    assert revisit_grace(SRC) == 2 * H
    fresh = deleted("fresh", 5 * H)  # first re-check in 1 h
    due = deleted("due", 7 * H)  # 1 h late: due, within the grace
    edge = deleted("edge", 8 * H)  # 2 h late: the grace's last moment
    late = deleted("late", 9 * H)  # 3 h late
    checked = deleted("checked", 30 * H)  # checked at 24 h: next at 48 h
    done = deleted("done", 13 * D)  # checked at 8 d: the next (15 d) is past the window
    checks = {checked.id: T0 - 6 * H, done.id: T0 - 5 * D}
    assert backlog([fresh, due, edge, late, checked, done], checks) == (6, 3, 1, 3.0)
    never = deleted("never", 3 * D)  # never re-checked: due at 6 h, 2 d 18 h ago
    assert backlog([fresh, due, late, never]) == (4, 3, 2, 66.0)
    assert backlog([]) == (0, 0, 0, 0.0)


def test_the_window_edges() -> None:
    last = deleted("last", 14 * D)  # the window's last moment: watched, its 8 d check made
    closed = deleted("closed", 14 * D + timedelta(seconds=1))
    assert backlog([last, closed], {last.id: T0 - 6 * D}) == (1, 0, 0, 0.0)
    # a re-check missed while the source was down: overdue while the window is open,
    # then no longer counted (nothing can check it any more)
    missed = deleted("missed", 13 * D)  # its 8 d check, due 5 d ago, never made
    checks = {missed.id: T0 - 9 * D}  # the 4 d check
    assert backlog([missed], checks) == (1, 1, 1, 120.0)
    assert backlog([missed], checks, at=T0 + D + timedelta(seconds=1)) == (0, 0, 0, 0.0)
    just_deleted = deleted("now", timedelta(0))
    assert backlog([just_deleted]) == (1, 0, 0, 0.0)


def test_a_longer_grace_and_window_from_the_source() -> None:
    gone = deleted("1", 20 * D)  # past the default window, inside a 30-day one
    wide = replace(SRC, restore_window=30 * 86400.0)
    assert backlog([gone], {gone.id: T0 - 12 * D}) == (0, 0, 0, 0.0)
    assert backlog([gone], {gone.id: T0 - 12 * D}, wide) == (1, 1, 1, 5 * 24.0)  # 15 d
    night = replace(SRC, active_hours=(6 * 60, 22 * 60))  # grace 2 h + 8 h
    assert backlog([deleted("2", 15 * H)], source=night) == (1, 1, 0, 9.0)
    assert backlog([deleted("2", 17 * H)], source=night) == (1, 1, 1, 11.0)


def test_other_states_and_sources_that_never_recheck_count_nothing() -> None:
    gone = [deleted("1", 9 * H), deleted("2", 3 * D)]
    others = [
        replace(deleted("a", 9 * H), state=AGED_OUT),
        replace(deleted("b", 9 * H), state=ACTIVE, deleted_at=None),
        replace(deleted("c", 9 * H), deleted_at=None),  # deleted, no time: not watched
    ]
    assert backlog([*gone, *others]) == (2, 2, 2, 66.0)
    for source in (
        replace(SRC, engine="shop"),  # counted: no pages
        replace(SRC, absence="count"),
        replace(SRC, engine="json", absence="verify"),  # no thread reader
        replace(SRC, restore_window=0.0),
    ):
        assert not restores_checked(source)
        assert backlog(gone, source=source) == (0, 0, 0, 0.0), source
    assert restores_checked(SRC) and restores_checked(replace(SRC, absence="verify"))
