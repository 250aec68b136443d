"""The backlog of re-checks of deleted listings (`absence.restore_backlog`): the
count as values (window edges, due vs overdue, sources that never re-check), the
store read behind it on a real SQLite file, `leakmon status` and the metrics file,
and through the real pipeline a page budget too small for the re-checks."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.absence import restore_backlog, restores_checked, revisit_grace
from monitor.backlogs import restore_backlogs
from monitor.cli import main
from monitor.config import load_config
from monitor.daemon import health_of
from monitor.extract import ENGINES
from monitor.health import prometheus
from monitor.models import (
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    ListingState,
    RestoreBacklog,
    Source,
    StoredListing,
    Verdict,
    Verification,
)
from monitor.pipeline import CrawlReport
from monitor.store import Store
from monitor.store.convert import SELECT_LISTINGS
from tests.test_restores import SRC, T0, deleted, deleted_beyond_the_list, listing
from tests.test_scenarios import FORUM, HOST, thread

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
        assert "USING INDEX listings_deleted (source=? AND deleted_at>?)" in str(plan)
        plan = store.db.execute(
            "EXPLAIN QUERY PLAN SELECT listing_id, MAX(at) FROM verifications "
            "WHERE listing_id IN (SELECT value FROM json_each(?)) GROUP BY listing_id",
            ["[]"],
        ).fetchall()
        assert "INDEX verifications_listing" in " ".join(str(r[-1]) for r in plan)


# ------------------------------------------------------------------- signal


def test_status_and_metrics_show_overdue_restore_checks(tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(
        f'[[source]]\nname = "forum"\nurl = "{HOST}/forumdisplay.php?fid=2"\n'
        'engine = "mybb"\nevery = "1h"\n\n'
        f'[[source]]\nname = "quiet"\nurl = "{HOST}/forumdisplay.php?fid=3"\n'
        'engine = "mybb"\nevery = "1h"\nrestore_window = "0"\n\n'
        f'[[source]]\nname = "shop"\nurl = "{HOST}/shop/"\nengine = "shop"\nevery = "1h"\n'
    )
    db = tmp_path / "leakmon.db"
    now = datetime.now(UTC)
    forum = replace(SRC, url=f"{HOST}/forumdisplay.php?fid=2")
    with Store.open(db) as store:
        quiet = replace(forum, name="quiet", restore_window=0.0)
        shop = Source(name="shop", url=f"{HOST}/shop/", engine="shop", every=3600)
        store.sync_sources([forum, quiet, shop])
        ago = {"late": 2 * D, "fine": 5 * H, "closed": 20 * D}  # deleted and checked then
        gone = [
            StoredListing(listing(e), ListingState.DELETED, now - 30 * D, now - a, 1, now - a)
            for e, a in ago.items()
        ]
        seed(store, gone, [check(s.id, now - ago[s.listing.external_id]) for s in gone])
        health = health_of(load_config(config, env={}, engines=ENGINES), store, now)
        restores = restore_backlogs(store, [forum, quiet, shop], now)
    by_name = {s.name: s.restores for s in health.sources}
    assert by_name["shop"] is None and by_name["quiet"] is None  # never re-checked
    assert by_name["forum"] is not None and restores["forum"] == by_name["forum"]
    assert by_name["forum"] == RestoreBacklog(watched=2, due=1, overdue=1, worst_late=42 * 3600)
    text = prometheus(health)
    assert "# TYPE leakmon_source_restore_checks_overdue gauge" in text
    assert 'leakmon_source_restore_checks_overdue{source="forum"} 1' in text
    assert 'leakmon_source_restore_checks_overdue{source="shop"}' not in text
    assert text.index("# TYPE leakmon_source_restore_checks_overdue") < text.index(
        "leakmon_source_restore_checks_overdue{"
    )
    result = CliRunner().invoke(main, ["status", "--config", str(config), "--db", str(db)])
    assert result.exit_code == 0, result.output  # behind schedule, not unhealthy
    header, _, *lines = result.stdout.splitlines()
    cells = {li.split()[0]: re.split(r"  +", li.strip()) for li in lines if "  " in li}
    assert re.split(r"  +", header)[-2:] == ["overdue revisits", "overdue restore checks"]
    assert cells["forum"][-2:] == ["0 of 0", "1 of 2, 1d 18h late"]
    assert cells["quiet"][-2:] == ["0 of 0", "-"]
    assert cells["shop"][-2:] == ["-", "-"]
    result = CliRunner().invoke(
        main, ["status", "--config", str(config), "--db", str(db), "--json"]
    )
    rows_json = {s["name"]: s for s in json.loads(result.stdout)["sources"]}
    assert rows_json["forum"]["restore_checks"] == {
        "watched": 2,
        "due": 1,
        "overdue": 1,
        "worst_late": pytest.approx(42 * 3600, abs=60),  # the command's own clock
    }
    assert rows_json["shop"]["restore_checks"] is None
    assert rows_json["quiet"]["restore_checks"] is None


# ----------------------------------------------------------------- pipeline


def test_a_small_budget_lets_rechecks_fall_behind_and_the_backlog_shows_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One page per crawl, and a new thread every crawl whose evidence page takes it:
    the deleted thread's re-check (due 6 h after the deletion) waits, is overdue once
    past the grace (2 h), and is made as soon as a crawl has a page left."""
    w, _ = deleted_beyond_the_list(tmp_path)  # thread 1 deleted at hour 32
    w.page_budget = 1
    tids = iter(range(100, 200))

    def busy(hours: int = 1) -> CrawlReport:
        tid = next(tids)
        new = thread(tid, f"Dataset number {tid} customers")
        w.site.threads[tid] = replace(new, last_post=T0 + (w.site.hour + hours) * H)
        report = w.crawl(hours)
        assert not w.thread_fetched(1) and w.thread_fetched(tid)  # first-sight evidence
        return report

    def late(report: CrawlReport) -> tuple[int, int, int, float]:
        got = report.restores
        return got.watched, got.due, got.overdue, got.worst_late / 3600

    assert late(busy(hours=5)) == (1, 0, 0, 0.0)  # hour 37: not due yet
    assert late(busy()) == (1, 1, 0, 0.0)  # hour 38: due, and left waiting
    report = busy(hours=2)  # hour 40: 2 h late, within the grace
    assert late(report) == (1, 1, 0, 2.0) and "restore_checks" not in report.summary()
    with caplog.at_level(logging.WARNING, logger="monitor.pipeline"):
        report = busy()  # hour 41: overdue
    assert late(report) == (1, 1, 1, 3.0)
    assert "restore_checks_overdue=1" in report.summary()
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "forum: 1 of 1 re-checks of deleted listings overdue (the oldest by 3.0 h): "
        "raise page_budget or revisit_budget"
    ]
    now = T0 + w.site.hour * H  # `leakmon status` and the metrics file agree
    assert restore_backlogs(w.store, [FORUM], now) == {"forum": RestoreBacklog(1, 1, 1, 3 * 3600)}

    report = w.crawl()  # hour 42: nothing new, the page is free: the re-check is made
    assert w.thread_fetched(1) and w.state(1) == "deleted"
    assert report.restores == RestoreBacklog(watched=1)  # still watched, none waiting
    assert "restore_checks_overdue" not in report.summary()
    now = T0 + w.site.hour * H  # next due 10 h after this check (gone 10 h at it)
    assert restore_backlogs(w.store, [FORUM], now) == {"forum": report.restores}
