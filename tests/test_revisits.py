"""Revisits of aged-out listings: the interval (back-off with age), the order (most
overdue first), the per-crawl budget, the backlog signal, and the detection bound of
docs/lifecycle.md through the real pipeline and store."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.absence import (
    reread_due,
    reread_every,
    revisit_at,
    revisit_backlog,
    revisit_grace,
    revisit_interval,
)
from monitor.backlogs import revisit_backlogs
from monitor.cli import main
from monitor.config import load_config
from monitor.daemon import health_of
from monitor.extract import ENGINES, get_engine
from monitor.health import prometheus
from monitor.lifecycle import MAX_VERIFICATIONS, plan_verifications
from monitor.models import (
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Listing,
    ListingState,
    Source,
    StoredListing,
)
from monitor.pipeline import CrawlReport, crawl_source
from monitor.store import Store
from tests.test_scenarios import FORUM, HOST, T0, Site, thread

H, D = timedelta(hours=1), timedelta(days=1)
SRC = Source(name="forum", url="http://forum.onion/", engine="mybb", every=3600)
ACTIVE, MISSING, AGED_OUT = ListingState.ACTIVE, ListingState.MISSING, ListingState.AGED_OUT


def listing(ext: str, **kw: object) -> Listing:
    return Listing("forum", ext, f"http://forum.onion/t/{ext}", f"Dataset {ext}", **kw)  # type: ignore[arg-type]


def aged(ext: str, age: timedelta, checked: timedelta, **kw: object) -> StoredListing:
    """An aged-out listing first seen `age` before T0, last checked `checked` before T0."""
    return StoredListing(listing(ext, **kw), AGED_OUT, T0 - age, T0 - checked)


def crawl(
    *listings: Listing, at: datetime = T0, outcome: CrawlOutcome = CrawlOutcome.COMPLETE
) -> Crawl:
    return Crawl("c", "forum", at, at, outcome, 1, 1, listings)


STAYING = [StoredListing(listing(f"s{i}"), ACTIVE, T0 - D, T0 - H) for i in range(8)]


def plan(known: list[StoredListing], source: Source = SRC, **kw: int) -> list[str]:
    """The plan for a complete crawl at T0 that shows the STAYING listings."""
    c = crawl(*(s.listing for s in STAYING))
    every = {s.id: s for s in [*STAYING, *known]}
    got = plan_verifications(c, every, source, previous_complete=(), **kw)
    return [s.listing.external_id for s in got]


# ------------------------------------------------------------------ interval


@pytest.mark.parametrize(
    ("age", "interval"),
    [
        (1 * H, 6 * H),  # young: revisit_every
        (2 * D, 6 * H),  # an eighth of 2 days is 6 h
        (4 * D, 12 * H),
        (30 * D, 90 * H),
        (56 * D, 7 * D),  # revisit_max from here on
        (400 * D, 7 * D),
    ],
)
def test_the_interval_is_an_eighth_of_the_age_between_the_bounds(
    age: timedelta, interval: timedelta
) -> None:
    stored = aged("1", age, timedelta(0))
    assert revisit_interval(stored, SRC) == interval
    assert revisit_at(stored, SRC) == T0 + interval


def test_age_counts_from_the_posting_time_when_it_is_earlier() -> None:
    posted = aged("1", 1 * H, timedelta(0), posted_at=T0 - 16 * D)
    assert revisit_interval(posted, SRC) == 2 * D
    naive = aged("1", 1 * H, timedelta(0), posted_at=datetime(2020, 1, 1))
    assert revisit_interval(naive, SRC) == 6 * H  # a time without zone is not trusted
    later = aged("1", 8 * D, timedelta(0), posted_at=T0)
    assert revisit_interval(later, SRC) == 1 * D


def test_source_bounds_and_a_fixed_interval() -> None:
    custom = replace(SRC, revisit_every=3600.0, revisit_max=86400.0)
    assert revisit_interval(aged("1", 2 * H, timedelta(0)), custom) == H
    assert revisit_interval(aged("1", 100 * D, timedelta(0)), custom) == D
    fixed = replace(SRC, revisit_max=6 * 3600.0)
    assert revisit_interval(aged("1", 100 * D, timedelta(0)), fixed) == 6 * H


# --------------------------------------------------------------------- order


def test_most_overdue_first_whatever_the_age() -> None:
    known = [
        aged("young-due-1h", 1 * D, 7 * H),  # interval 6 h: due 1 h ago
        aged("old-due-1d", 80 * D, 8 * D),  # interval 7 d: due 1 d ago
        aged("old-not-due", 80 * D, 2 * D),  # due in 5 days
        aged("mid-due-3h", 16 * D, 51 * H),  # interval 2 d: due 3 h ago
        aged("young-not-due", 1 * D, 5 * H),
    ]
    assert plan(known) == ["old-due-1d", "mid-due-3h", "young-due-1h"]


def test_an_unanswered_revisit_moves_back_by_revisit_every() -> None:
    """Not by its own (longer) interval: a page that failed a few times while the
    capture or the site was down must not fall behind for weeks."""
    unanswered = replace(aged("u", 80 * D, 9 * D), missing_streak=1)  # due 2 d ago, +6 h
    fresh = aged("f", 1 * D, 8 * H)  # due 2 h ago
    older = aged("o", 80 * D, 8 * D + 12 * H)  # due 36 h ago
    assert plan([unanswered, fresh, older]) == ["u", "o", "f"]
    twice = replace(unanswered, missing_streak=9)  # due 2 d ago + 9 x 6 h: 6 h from now
    assert plan([twice, fresh, older]) == ["o", "f", "u"]


def test_budget_vanished_first_then_evidence_room_then_the_queue() -> None:
    vanished = [StoredListing(listing(f"v{i}"), ACTIVE, T0 - D, T0 - i * H) for i in range(3)]
    missing = StoredListing(listing("m"), MISSING, T0 - D, T0 - 30 * H, missing_streak=1)
    revisits = [aged(f"r{i}", 1 * D, (10 + i) * H) for i in range(6)]
    known = [*vanished, missing, *revisits]
    everything = plan(known)
    assert everything[:3] == ["v0", "v1", "v2"]  # just vanished, newest first
    # then one queue by how long each has waited: r5 due 10 h ago ... m since 24 h ago
    assert everything[3:] == ["m", "r5", "r4", "r3", "r2", "r1", "r0"]
    assert plan(known, limit=5) == ["v0", "v1", "v2", "m", "r5"]
    assert plan(known, limit=5, reserve=1) == ["v0", "v1", "v2", "m"]  # evidence: 1 page
    assert plan(known, limit=2, reserve=5) == ["v0", "v1"]  # vanished never wait
    capped = replace(SRC, revisit_budget=2)
    assert plan(known, capped) == ["v0", "v1", "v2", "m", "r5", "r4"]  # MISSING not capped


def test_the_default_page_budget_is_the_live_bound() -> None:
    assert SRC.page_budget == MAX_VERIFICATIONS == 20
    assert len(plan([aged(f"r{i}", 1 * D, 7 * H) for i in range(30)])) == 20


def test_revisits_happen_on_partial_crawls_but_not_blocked_ones() -> None:
    known = {s.id: s for s in [aged("r", 1 * D, 7 * H)]}
    for outcome, expected in [(CrawlOutcome.PARTIAL, 1), (CrawlOutcome.BLOCKED, 0)]:
        c = crawl(outcome=outcome)
        assert len(plan_verifications(c, known, SRC, previous_complete=())) == expected


# ------------------------------------------------------------------- backlog


def test_backlog_counts_due_and_overdue_revisits() -> None:
    assert revisit_grace(SRC) == 2 * H
    # a source crawled 06:00-22:00 only: a revisit due at night waits for the morning
    assert revisit_grace(replace(SRC, active_hours=(6 * 60, 22 * 60))) == 2 * H + 8 * H
    assert revisit_grace(replace(SRC, active_hours=(22 * 60, 6 * 60))) == 2 * H + 16 * H
    known = [
        aged("not-due", 1 * D, 1 * H),
        aged("due", 1 * D, 7 * H),  # 1 h late: within the grace
        aged("overdue", 1 * D, 9 * H),  # 3 h late
        aged("very", 80 * D, 10 * D),  # 3 days late
        StoredListing(listing("a"), ACTIVE, T0, T0),
    ]
    backlog = revisit_backlog(known, SRC, T0)
    assert (backlog.aged_out, backlog.due, backlog.overdue) == (4, 3, 2)
    assert backlog.worst_late == (3 * D).total_seconds()
    assert revisit_backlog([], SRC, T0).worst_late == 0.0


# ------------------------------------------------- the bound, simulated purely


def simulate(
    known: dict[str, StoredListing], source: Source, crawls: int
) -> tuple[dict[str, timedelta], int]:
    """Hourly crawls where every planned page answers "present": the longest time
    each listing went between two checks, and the most overdue revisits seen."""
    longest = {i: timedelta(0) for i in known}
    worst = 0
    for n in range(1, crawls + 1):
        now = T0 + n * H
        c = crawl(at=now)
        for s in plan_verifications(c, known, source, previous_complete=()):
            longest[s.id] = max(longest[s.id], now - s.last_seen)
            known[s.id] = replace(s, last_seen=now)
        worst = max(worst, revisit_backlog(known.values(), source, now).overdue)
    return longest, worst


def a_forum(young: int, old: int, longest: timedelta = 7 * D) -> dict[str, StoredListing]:
    """`young` aged-out threads (a day old) and `old` ones (two months, checked every
    `longest`), their last checks spread over their intervals."""
    threads = [aged(f"y{i}", 1 * D, i * 6 * H / young) for i in range(young)]
    threads += [aged(f"o{i}", 60 * D, i * longest / old) for i in range(old)]
    return {s.id: s for s in threads}


def test_within_capacity_each_listing_is_checked_within_its_interval_and_grace() -> None:
    """200 aged-out threads on a forum crawled hourly with the default 20 pages: a
    fixed 6 h interval would need 33 checks an hour and fall behind for ever; with
    the back-off every one is checked within its own interval plus the grace."""
    source = replace(SRC, page_budget=20)
    known = a_forum(young=60, old=140)
    longest, overdue = simulate(dict(known), source, crawls=8 * 24)
    assert overdue == 0
    for lid, gap in longest.items():
        start = known[lid]
        bound = revisit_interval(replace(start, last_seen=T0 + 8 * D), source) + revisit_grace(
            source
        )
        assert timedelta(0) < gap <= bound, (lid, gap, bound)


def test_over_capacity_nothing_starves_and_the_backlog_shows() -> None:
    """Too few pages for the schedule: revisits fall behind (the backlog says so), yet
    in due order no listing waits more than its interval plus N/S crawls."""
    source = replace(SRC, page_budget=20, revisit_budget=3)
    known = a_forum(young=60, old=140)
    longest, overdue = simulate(dict(known), source, crawls=8 * 24)
    assert overdue > 0
    queue = math.ceil(len(known) / 3) * H
    for lid, gap in longest.items():
        interval = revisit_interval(replace(known[lid], last_seen=T0 + 8 * D), source)
        assert timedelta(0) < gap <= interval + queue, (lid, gap)


# ------------------------------------------------------------ through the pipeline


class Forum:
    """The scenario forum (MyBB templates, no network) with a seeded store: a few
    listed threads and many aged-out ones whose pages still show them."""

    def __init__(self, tmp_path: Path, source: Source, young: int, old: int) -> None:
        self.source = source
        self.site = Site(datecut=timedelta(days=30))
        self.store = Store.open(tmp_path / "leakmon.db")
        self.store.sync_sources([source])
        seeded = []
        longest = timedelta(seconds=source.revisit_max or 7 * 86400)
        for tid, s in enumerate(a_forum(young, old, longest).values(), start=100):
            t = thread(tid, f"Dataset number {tid} customers")
            self.site.threads[tid] = t  # last active 30 days before T0: not on the list
            li = Listing("forum", str(tid), f"{HOST}/showthread.php?tid={tid}", t.title)
            seeded.append(replace(s, listing=li))
        for tid in (1, 2):
            self.site.threads[tid] = thread(tid, f"Dataset number {tid} customers")
        c = Crawl("seed", "forum", T0, T0, CrawlOutcome.PARTIAL, 1, 1, ())
        self.store.apply(CrawlDiff(c, tuple(seeded), (), {}, ()), ())

    def crawl(self, n: int) -> CrawlReport:
        """Crawl n: hour n after T0."""
        at = T0 + n * H
        self.site.hour = n  # the site's clock: T0 + n hours
        for tid in (1, 2):
            self.site.bump(tid)
        return asyncio.run(
            crawl_source(
                self.source,
                self.site,
                get_engine(self.source),
                self.store,
                (),
                (),
                clock=lambda: at,
            )
        )


def deletions(forum: Forum, start: int, crawls: int) -> tuple[dict[str, int], int]:
    """Crawls `start` .. `start + crawls - 1`: the crawl that deleted each listing, and
    the most overdue revisits any of them reported."""
    found: dict[str, int] = {}
    overdue = 0
    for n in range(start, start + crawls):
        report = forum.crawl(n)
        overdue = max(overdue, report.backlog.overdue)
        found |= {str(e.listing_id): n for e in report.diff.events if e.kind.value == "deleted"}
    return found, overdue


def test_a_deleted_old_aged_out_thread_is_found_within_its_bound(tmp_path: Path) -> None:
    """Hourly crawls, 12 pages each, 40 young and 150 old aged-out threads (a fixed
    6 h interval would need 32 checks an hour). A thread deleted right after a check
    is found at its next one, not earlier: an old one after its interval (here
    revisit_max, 2 d), a young one after 6 h, each at most the grace (2 crawls) late."""
    source = replace(FORUM, page_budget=12, revisit_max=2 * 86400.0)
    forum = Forum(tmp_path, source, young=40, old=150)
    report = forum.crawl(1)
    assert report.crawl.outcome is CrawlOutcome.COMPLETE
    checked = {v.listing_id: v.verdict.value for v in report.verifications}
    assert 0 < len(checked) <= 12 and set(checked.values()) == {"present"}
    # The report counts what is left once the crawl is written, checked ones too,
    # as `leakmon status` and the metrics file do.
    assert report.backlog.aged_out == 190
    assert revisit_backlogs(forum.store, [source], T0 + H) == {"forum": report.backlog}
    stored = forum.store.known_listings("forum")
    old = next(s for i, s in stored.items() if i in checked and s.first_seen < T0 - 50 * D)
    young = next(s for i, s in stored.items() if i in checked and s.first_seen > T0 - 2 * D)
    for victim in (old, young):  # the sellers delete them
        del forum.site.threads[int(victim.listing.external_id)]
    grace = revisit_grace(source) / H
    found, overdue = deletions(forum, 2, int(48 + grace))
    assert overdue == 0  # the source keeps up: the bound holds
    assert set(found) == {old.id, young.id}
    for victim in (old, young):
        interval = revisit_interval(victim, source) / H
        assert interval <= found[victim.id] - 1 <= interval + grace, (victim.id, found)
        row = forum.store.listing(victim.id)
        assert row is not None and row["state"] == "deleted"
    assert revisit_interval(old, source) == 2 * D and revisit_interval(young, source) == 6 * H


def test_an_overloaded_source_warns_and_still_finds_the_deletion(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = replace(FORUM, page_budget=4, revisit_budget=2, revisit_max=12 * 3600.0)
    forum = Forum(tmp_path, source, young=0, old=40)  # 40 every 12 h: 3.3 an hour > 2
    first = forum.crawl(1)
    victim = first.verifications[0].listing_id
    tid = int(victim.split(":")[1])
    del forum.site.threads[tid]
    bound = 12 + math.ceil(40 / 2)  # interval + N / S crawls
    with caplog.at_level(logging.WARNING, logger="monitor.pipeline"):
        found, overdue = deletions(forum, 2, bound)
    assert found.keys() == {victim} and overdue > 0
    assert any("aged-out revisits overdue" in r.getMessage() for r in caplog.records)
    report = forum.crawl(bound + 2)
    assert report.backlog.overdue > 0 and "revisits_overdue=" in report.summary()


# ------------------------------------------------------------------ the signal


def test_status_and_metrics_show_overdue_revisits(tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(
        f'[[source]]\nname = "forum"\nurl = "{HOST}/forumdisplay.php?fid=2"\n'
        'engine = "mybb"\nevery = "1h"\n\n'
        f'[[source]]\nname = "shop"\nurl = "{HOST}/shop/"\nengine = "shop"\nevery = "1h"\n'
    )
    db = tmp_path / "leakmon.db"
    now = datetime.now(UTC)
    with Store.open(db) as store:
        forum = replace(SRC, url=f"{HOST}/forumdisplay.php?fid=2")
        shop = Source(name="shop", url=f"{HOST}/shop/", engine="shop", every=3600)
        store.sync_sources([forum, shop])
        seeded = (
            StoredListing(listing("late"), AGED_OUT, now - 80 * D, now - 9 * D),  # 2 d late
            StoredListing(listing("fine"), AGED_OUT, now - 1 * D, now - 1 * H),
            StoredListing(listing("a"), ACTIVE, now, now),
        )
        c = Crawl("seed", "forum", now, now, CrawlOutcome.PARTIAL, 1, 1, ())
        store.apply(CrawlDiff(c, seeded, (), {}, ()), ())
        health = health_of(load_config(config, env={}, engines=ENGINES), store, now)
    backlog = {s.name: s.revisits for s in health.sources}
    assert backlog["shop"] is None  # counted, not verified: nothing to revisit
    assert backlog["forum"] is not None
    assert (backlog["forum"].aged_out, backlog["forum"].overdue) == (2, 1)
    assert 'leakmon_source_revisits_overdue{source="forum"} 1' in prometheus(health)
    result = CliRunner().invoke(main, ["status", "--config", str(config), "--db", str(db)])
    assert result.exit_code == 0, result.output  # behind schedule, not unhealthy
    assert "overdue revisits" in result.stdout and "1 of 2, 2d 0h late" in result.stdout
    result = CliRunner().invoke(
        main, ["status", "--config", str(config), "--db", str(db), "--json"]
    )
    rows = {s["name"]: s for s in json.loads(result.stdout)["sources"]}
    assert rows["forum"]["revisits"]["overdue"] == 1 and rows["shop"]["revisits"] is None


def test_reread_every_is_a_day_for_forums_and_off_for_the_rest() -> None:
    def period(engine: str, **kw: object) -> timedelta:
        url = "http://x.onion/forumdisplay.php?fid=2"
        return reread_every(Source(name="s", url=url, engine=engine, every=3600, **kw))  # type: ignore[arg-type]

    assert [period(e) for e in ("mybb", "xenforo", "phpbb", "css")] == [timedelta(days=1)] * 4
    assert [period(e) for e in ("shop", "blog", "json")] == [timedelta(0)] * 3
    assert period("shop", reread_every=7200) == timedelta(hours=2)
    assert period("json", reread_every=7200) == timedelta(0)  # a feed has no listing pages
    assert period("mybb", reread_every=0) == timedelta(0)


def test_reread_due_spreads_the_listings_over_the_period() -> None:
    source = Source(
        name="s", url="http://x.onion/f", engine="mybb", every=3600, reread_every=6 * 3600
    )
    ids = [f"s:{n}" for n in range(600)]
    start = datetime(2024, 6, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=h, minutes=7) for h in range(12)]  # two periods
    due = [[i for i in ids if reread_due(i, source, at)] for at in hours]
    assert all(sum(i in crawl for crawl in due) == 2 for i in ids)  # once a period each
    assert min(map(len, due)) > 600 / 6 * 0.7  # about the same share each crawl
    off = replace(source, reread_every=0)
    assert not any(reread_due(i, off, at) for i in ids for at in hours)


def test_reread_due_reaches_every_listing_of_a_source_crawled_part_of_the_day() -> None:
    """active_hours 06:00-22:00: the slots of the night never come, but each day
    draws the slots anew, so no listing waits for ever."""
    source = Source(name="s", url="http://x.onion/f", engine="mybb", every=3600)
    ids = [f"s:{n}" for n in range(300)]
    start = datetime(2024, 6, 1, tzinfo=UTC)
    days = [start + timedelta(days=d, hours=h) for d in range(30) for h in range(6, 22)]
    read = {i for i in ids for at in days if reread_due(i, source, at)}
    assert read == set(ids)
