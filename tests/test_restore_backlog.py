"""The backlog of re-checks of deleted listings (`absence.restore_backlog`): the
count as values (window edges, due vs overdue, sources that never re-check) and the
store read behind it on a real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from monitor.absence import restore_backlog, restores_checked, revisit_grace
from monitor.models import (
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    ListingState,
    Source,
    StoredListing,
    Verdict,
    Verification,
)
from monitor.store import Store
from monitor.store.convert import SELECT_LISTINGS
from tests.test_restores import SRC, T0, deleted, listing

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


# -------------------------------------------------------------------- store


def check(listing_id: str, at: datetime, verdict: Verdict = Verdict.GONE) -> Verification:
    return Verification(listing_id, f"http://forum.onion/t/{listing_id}", at, verdict, "r")


def seed(store: Store, listings: list[StoredListing], checks: list[Verification]) -> None:
    c = Crawl("seed", "forum", T0, T0, CrawlOutcome.PARTIAL, 1, 1, ())
    store.apply(CrawlDiff(c, tuple(listings), (), {}, ()), ())
    store.apply(CrawlDiff(replace(c, id="checks"), (), (), {}, ()), (), verifications=checks)


def test_deleted_listings_inside_the_window_and_their_last_checks(tmp_path: Path) -> None:
    shop = Source(name="shop", url="http://shop.onion/", engine="shop", every=3600)
    with Store.open(tmp_path / "leakmon.db") as store:
        store.sync_sources([SRC, shop])
        since = T0 - 14 * D
        inside = deleted("in", 3 * D)
        edge = deleted("edge", 14 * D)  # deleted at `since` exactly: included
        before = deleted("before", 14 * D + timedelta(microseconds=1))
        other = replace(deleted("s", D), listing=replace(listing("s"), source="shop"))
        aged = replace(deleted("aged", D), state=AGED_OUT, deleted_at=None)
        checks = [
            check(inside.id, T0 - 3 * D),
            check(inside.id, T0 - 2 * D - 18 * H, Verdict.UNKNOWN),  # the latest, any verdict
            check(inside.id, T0 - 2 * D - 20 * H),
            check(before.id, T0 - 5 * D),
        ]
        seed(store, [inside, edge, before, other, aged], checks)
        got = store.deleted_listings("forum", since)
        assert sorted(s.id for s in got) == [edge.id, inside.id]
        assert {s.id: s for s in got}[inside.id] == inside  # the whole listing, as stored
        assert store.deleted_listings("shop", since) == [other]
        assert store.deleted_listings("nowhere", since) == []
        last = store.last_checks(s.id for s in got)
        assert last == {inside.id: T0 - 2 * D - 18 * H}  # edge was never re-checked
        plan = store.db.execute(
            f"EXPLAIN QUERY PLAN {SELECT_LISTINGS} "
            "WHERE source = ? AND state = 'deleted' AND deleted_at >= ?",
            ["forum", "x"],
        ).fetchall()
        assert "USING INDEX listings_source_state" in " ".join(str(r[-1]) for r in plan)
        plan = store.db.execute(
            "EXPLAIN QUERY PLAN SELECT listing_id, MAX(at) FROM verifications "
            "WHERE listing_id IN (SELECT value FROM json_each(?)) GROUP BY listing_id",
            ["[]"],
        ).fetchall()
        assert "INDEX verifications_listing" in " ".join(str(r[-1]) for r in plan)
