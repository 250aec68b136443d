"""Deleted forum listings re-checked on their own page inside `restore_window`: the
schedule and its place in the plan (pure), the stricter "present" of a deleted
listing's page (verify), the deleted → restored transition (lifecycle), and the
whole story through the real pipeline and SQLite store against the scenario forum:
a thread deleted, then restored by a moderator beyond the crawled pages."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.absence import restore_at, restore_due, restore_watched, restore_window
from monitor.cli import main
from monitor.demo.sites import mybb_error
from monitor.extract import get_engine
from monitor.lifecycle import diff_crawl, plan_verifications
from monitor.models import (
    Crawl,
    CrawlOutcome,
    EventKind,
    Listing,
    ListingState,
    NotifyTarget,
    Page,
    PageOutcome,
    Rule,
    Source,
    StoredListing,
    Verdict,
    Verification,
)
from monitor.pipeline import CrawlReport, crawl_source, thread_reader
from monitor.store import Store
from monitor.verify import verify_page
from tests.test_scenarios import FORUM, HOST, T0, Site, falling_off

H, D = timedelta(hours=1), timedelta(days=1)
SRC = Source(name="forum", url="http://forum.onion/", engine="mybb", every=3600)
ACTIVE, MISSING, AGED_OUT, DELETED = (
    ListingState.ACTIVE,
    ListingState.MISSING,
    ListingState.AGED_OUT,
    ListingState.DELETED,
)


def listing(ext: str) -> Listing:
    return Listing("forum", ext, f"http://forum.onion/t/{ext}", f"Dataset {ext} customers")


def deleted(ext: str, ago: timedelta, age: timedelta = 30 * D) -> StoredListing:
    """A listing deleted `ago` before T0 (first seen `age` before T0)."""
    return StoredListing(listing(ext), DELETED, T0 - age, T0 - ago - H, 1, T0 - ago)


def crawl(at: datetime = T0, outcome: CrawlOutcome = CrawlOutcome.COMPLETE) -> Crawl:
    return Crawl("c", "forum", at, at, outcome, 1, 1, ())


def plan(
    known: list[StoredListing],
    source: Source = SRC,
    checks: dict[str, datetime] | None = None,
    at: datetime = T0,
    **kw: int,
) -> list[str]:
    c = crawl(at)
    got = plan_verifications(
        c, {s.id: s for s in known}, source, previous_complete=(), last_checks=checks, **kw
    )
    return [s.listing.external_id for s in got]


# ---------------------------------------------------------------- schedule


def test_the_window_defaults_to_14_days_and_zero_turns_it_off() -> None:
    assert restore_window(SRC) == 14 * D
    gone = deleted("1", 7 * H)
    assert restore_watched(gone, SRC, T0)
    assert not restore_watched(gone, replace(SRC, restore_window=0.0), T0)
    assert plan([gone], replace(SRC, restore_window=0.0)) == []
    assert not restore_watched(gone, replace(SRC, engine="shop"), T0)  # counted: no pages
    json_verified = replace(SRC, engine="json", absence="verify")
    assert not restore_watched(gone, json_verified, T0)  # no thread reader: nothing to prove
    assert not restore_watched(replace(gone, state=AGED_OUT), SRC, T0)
    assert restore_watched(deleted("2", 14 * D), SRC, T0)  # the window's last moment
    assert not restore_watched(deleted("3", 14 * D + timedelta(seconds=1)), SRC, T0)


def test_rechecks_slow_down_doubling_and_stop_at_the_window() -> None:
    """Checks made when due: 6 h, 12 h, 1 d, 2 d, 4 d, 8 d after the deletion, then
    none (the next would be at 15 d, past 14 d): six pages per deletion."""
    gone = deleted("1", timedelta(0))
    checks: list[timedelta] = []
    last: datetime | None = None
    for hour in range(1, 20 * 24):
        now = T0 + hour * H
        if restore_due(gone, SRC, now, last):
            checks.append(now - T0)
            last = now
    assert checks == [6 * H, 12 * H, 1 * D, 2 * D, 4 * D, 8 * D]
    assert restore_at(gone, SRC, T0 + 8 * D) == T0 + 15 * D


def test_the_interval_keeps_within_revisit_every_and_revisit_max() -> None:
    gone = deleted("1", timedelta(0))
    fast = replace(SRC, revisit_every=3600.0, revisit_max=2 * 86400.0)
    assert restore_at(gone, fast, None) == T0 + H
    assert restore_at(gone, fast, T0 + 5 * D) == T0 + 7 * D  # capped at revisit_max
    assert restore_at(gone, SRC, T0 - D) == T0 + 6 * H  # a check before the deletion
    late = replace(SRC, restore_window=30 * 86400.0)
    assert restore_due(gone, late, T0 + 15 * D, T0 + 8 * D)


def test_a_crawl_late_after_the_window_closed_checks_nothing() -> None:
    gone = deleted("1", 20 * D)  # checked last at 8 d, the source was down since
    assert not restore_due(gone, SRC, T0, T0 - 12 * D)
    assert plan([gone], checks={gone.id: T0 - 12 * D}) == []


# ------------------------------------------------------------------- order


def test_rechecks_of_deleted_listings_come_last() -> None:
    """After the just-vanished, the evidence room, still-missing listings and due
    revisits -- however long the deleted ones have waited."""
    vanished = StoredListing(listing("v"), ACTIVE, T0 - D, T0 - H)
    missing = StoredListing(listing("m"), MISSING, T0 - D, T0 - 2 * H)  # waits since 2 h
    revisit = StoredListing(listing("r"), AGED_OUT, T0 - D, T0 - 7 * H)  # due 1 h ago
    done = deleted("d1", 13 * D)  # last checked 8 d after its deletion: next at 15 d, never
    recent = deleted("d2", 7 * H)  # checked at its deletion: due 1 h ago
    known = [vanished, missing, revisit, done, recent]
    checks = {done.id: T0 - 5 * D, recent.id: T0 - 7 * H}
    assert plan(known, checks=checks) == ["v", "m", "r", "d2"]
    older = deleted("d3", 3 * D)  # never re-checked: due 2 d 18 h ago, first of the two
    assert plan([*known, older], checks=checks) == ["v", "m", "r", "d3", "d2"]
    assert plan([*known, older], checks=checks, limit=4) == ["v", "m", "r", "d3"]
    assert plan([*known, older], checks=checks, limit=5, reserve=2) == ["v", "m", "r"]


def test_rechecks_count_against_the_revisit_budget() -> None:
    revisits = [StoredListing(listing(f"r{i}"), AGED_OUT, T0 - D, T0 - 7 * H) for i in range(2)]
    gone = [deleted("d1", 7 * H), deleted("d2", 8 * H)]
    assert plan([*revisits, *gone]) == ["r0", "r1", "d2", "d1"]
    capped = replace(SRC, revisit_budget=2)
    assert plan([*revisits, *gone], capped) == ["r0", "r1"]
    capped = replace(SRC, revisit_budget=3)
    assert plan([*revisits, *gone], capped) == ["r0", "r1", "d2"]
    assert plan(gone, replace(SRC, revisit_budget=1)) == ["d2"]


def test_a_recent_check_is_not_repeated_and_blocked_crawls_check_nothing() -> None:
    gone = deleted("1", 7 * H)
    assert plan([gone], checks={gone.id: T0 - H}) == []  # gone 6 h then: due in 5 h
    assert plan([gone], checks={gone.id: T0 - 7 * H}) == ["1"]
    for outcome, expected in [(CrawlOutcome.PARTIAL, 1), (CrawlOutcome.BLOCKED, 0)]:
        c = crawl(outcome=outcome)
        got = plan_verifications(c, {gone.id: gone}, SRC, previous_complete=())
        assert len(got) == expected


# ------------------------------------------------------------------ verify

LI = Listing("forum", "7", f"{HOST}/showthread.php?tid=7", "Acme corp customers 2M records")
THREAD = (
    "<html><head><title>Acme corp customers 2M records</title></head><body>"
    "<h1>Acme corp customers 2M records</h1><div class='post'>2M rows, emails, 500 USD."
    "</div></body></html>"
)
PARSED = replace(LI, first_post="2M rows, emails, 500 USD.")


def judge(page: Page, parsed: Listing | None = PARSED, *, deleted: bool = True) -> Verification:
    return verify_page(page, LI, T0, parsed=parsed, seen_before=True, deleted=deleted)


def test_a_deleted_listing_is_present_only_when_its_thread_is_really_shown() -> None:
    ok = Page(LI.url, PageOutcome.OK, 200, THREAD)
    assert (judge(ok).verdict, judge(ok).reason) == (Verdict.PRESENT, "parsed")
    no_post = judge(ok, parsed=None)  # the title alone: a login wall may show it too
    assert (no_post.verdict, no_post.reason) == (
        Verdict.UNKNOWN,
        "restore unconfirmed: no thread post on the page",
    )
    assert judge(ok, parsed=None, deleted=False).verdict is Verdict.PRESENT  # aged-out rules
    title_only = replace(PARSED, first_post=None)
    assert judge(ok, parsed=title_only).verdict is Verdict.UNKNOWN


@pytest.mark.parametrize(
    ("name", "page", "reason"),
    [
        (
            "captcha",
            Page(LI.url, PageOutcome.BLOCKED, 200, THREAD, reason="blocked:captcha"),
            "blocked:captcha",
        ),
        (
            "login wall",
            Page(LI.url, PageOutcome.BLOCKED, 200, THREAD, reason="blocked:login_wall"),
            "blocked:login_wall",
        ),
        (
            "error page",
            Page(LI.url, PageOutcome.FAILED, 500, THREAD, reason="http_status"),
            "http_status",
        ),
        (  # not recognised as a block page, but it says so
            "permission page showing the title",
            Page(
                LI.url,
                PageOutcome.OK,
                200,
                THREAD.replace("2M rows", "You do not have permission to view this thread"),
            ),
            "restore unconfirmed: page says 'you do not have permission'",
        ),
        (
            "removed notice under the title",
            Page(LI.url, PageOutcome.OK, 200, THREAD.replace("2M rows", "This thread was removed")),
            "restore unconfirmed: page says 'was removed'",
        ),
        (
            "200 that is not a 200",
            Page(LI.url, PageOutcome.OK, 203, THREAD),
            "restore unconfirmed: http 203",
        ),
    ],
)
def test_no_block_or_error_page_restores(name: str, page: Page, reason: str) -> None:
    check = judge(page)
    assert (check.verdict, check.reason) == (Verdict.UNKNOWN, reason), name


def test_a_gone_page_of_a_deleted_listing_is_gone() -> None:
    page = Page(LI.url, PageOutcome.OK, 200, mybb_error("The specified thread does not exist."))
    assert judge(page).verdict is Verdict.GONE


# --------------------------------------------------------------- lifecycle


def check(verdict: Verdict, at: datetime = T0, fields: Listing | None = None) -> Verification:
    return Verification("forum:1", "http://forum.onion/t/1", at, verdict, "parsed", 200, fields)


def recheck(
    stored: StoredListing, verification: Verification, outcome: CrawlOutcome
) -> tuple[list[tuple[str, str | None]], dict[str, StoredListing], dict[str, Any]]:
    seen = (StoredListing(listing("s"), ACTIVE, T0 - D, T0 - H),)
    c = replace(crawl(outcome=outcome), listings=(seen[0].listing,))
    diff = diff_crawl(
        c,
        {s.id: s for s in (stored, *seen)},
        SRC,
        previous_complete=(),
        repost_candidates=(),
        first_complete=False,
        verifications={stored.id: verification},
    )
    events = [(e.kind.value, e.listing_id) for e in diff.events]
    details = dict(diff.events[0].details) if diff.events else {}
    return events, {s.id: s for s in diff.writes}, details


@pytest.mark.parametrize("outcome", [CrawlOutcome.COMPLETE, CrawlOutcome.PARTIAL])
def test_deleted_then_present_on_its_page_is_restored_and_aged_out(outcome: CrawlOutcome) -> None:
    gone = deleted("1", 2 * D)
    edited = replace(gone.listing, external_id="", first_post="back, 2M rows")
    events, writes, details = recheck(gone, check(Verdict.PRESENT, fields=edited), outcome)
    assert events == [("restored", "forum:1")]
    assert details == {
        "deleted_at": (T0 - 2 * D).isoformat(),
        "deleted_after": (T0 - 2 * D - H).isoformat(),
        "gone_for": 2 * 86400,
        "how": "own page",
        "verified": "parsed",
        "url": "http://forum.onion/t/1",
    }
    back = writes["forum:1"]
    assert (back.state, back.deleted_at, back.last_seen, back.missing_streak) == (
        AGED_OUT,
        None,
        T0,
        0,
    )
    assert back.listing.first_post == "back, 2M rows" and back.first_seen == gone.first_seen


@pytest.mark.parametrize("verdict", [Verdict.GONE, Verdict.UNKNOWN])
def test_deleted_and_still_gone_or_unclear_stays_deleted_quietly(verdict: Verdict) -> None:
    gone = deleted("1", 2 * D)
    events, writes, _ = recheck(gone, check(verdict), CrawlOutcome.COMPLETE)
    assert events == [] and "forum:1" not in writes  # no second `deleted`, no rewrite


# ---------------------------------------------------------------- pipeline


@dataclass
class Restoring:
    """The scenario forum (MyBB templates, 30-day list), a real SQLite file, the
    extractor's thread reader, a catch-all rule and a console target."""

    tmp_path: Path
    site: Site = field(default_factory=lambda: Site(datecut=timedelta(days=30)))
    pages: dict[str, Page] = field(default_factory=dict)  # answers replacing the site's
    page_budget: int | None = None  # None: the source's

    def __post_init__(self) -> None:
        self.db = self.tmp_path / "leakmon.db"
        self.store = Store.open(self.db)
        self.store.sync_sources([FORUM])

    async def get(self, url: str) -> Page:
        if url in self.pages:
            self.site.requests.append(url)
            return self.pages[url]
        return await self.site.get(url)

    def crawl(self, hours: int = 1) -> CrawlReport:
        self.site.hour += hours
        self.site.requests.clear()
        at = T0 + timedelta(hours=self.site.hour)
        return asyncio.run(
            crawl_source(
                FORUM,
                self,
                get_engine(FORUM),
                self.store,
                (Rule(name="everything"),),
                (NotifyTarget(name="soc", url="console://"),),
                clock=lambda: at,
                read_thread=thread_reader(FORUM),
                page_budget=self.page_budget,
            )
        )

    def state(self, tid: int) -> str:
        row = self.store.listing(f"forum:{tid}")
        assert row is not None
        return str(row["state"])

    def thread_fetched(self, tid: int) -> bool:
        return any(u.endswith(f"showthread.php?tid={tid}") for u in self.site.requests)


URL1 = f"{HOST}/showthread.php?tid=1"


def kinds(report: CrawlReport) -> list[tuple[str, str | None]]:
    return sorted((e.kind.value, e.listing_id) for e in report.diff.events)


def deleted_beyond_the_list(tmp_path: Path) -> tuple[Restoring, Any]:
    """Thread 1 ages out (off the list, page still there), then is deleted; returns
    the world (deleted at hour 32) and the thread, for a moderator to put back."""
    w = Restoring(tmp_path)
    falling_off(w)  # type: ignore[arg-type]
    w.crawl()  # baseline, hour 1
    w.site.hour += 24
    assert kinds(w.crawl()) == [] and w.state(1) == "aged_out"  # hour 26
    thread = w.site.threads.pop(1)
    assert kinds(w.crawl(hours=6)) == [("deleted", "forum:1")]  # hour 32: the revisit
    return w, thread


def test_a_thread_restored_only_on_its_own_page_is_reported_restored(tmp_path: Path) -> None:
    w, thread = deleted_beyond_the_list(tmp_path)
    w.site.threads[1] = thread  # a moderator restores it: back at its old position
    report = w.crawl()  # hour 33: the re-check is due 6 h after the deletion
    assert kinds(report) == [] and not w.thread_fetched(1) and w.state(1) == "deleted"
    report = w.crawl(hours=5)  # hour 38
    assert w.thread_fetched(1) and not any("tid=1" in li.url for li in report.crawl.listings)
    assert kinds(report) == [("restored", "forum:1")]
    (restored,) = report.diff.events
    assert restored.kind is EventKind.RESTORED
    assert restored.details["how"] == "own page" and restored.details["gone_for"] == 6 * 3600
    assert restored.details["deleted_at"] == (T0 + 32 * H).isoformat()
    assert w.state(1) == "aged_out"
    row = w.store.listing("forum:1")
    assert row is not None and row["deleted_at"] is None
    alerts = [a for a in report.alerts if a.title.startswith("[medium] restored:")]
    assert len(alerts) == 1  # rules fire as for a reappearance on the list
    body = alerts[0].body.splitlines()
    assert "Gone for: 6 hours" in body
    assert "Found: on its own page (not on the crawled list pages)" in body
    kept = [e["kind"] for e in w.store.events(listing_id="forum:1")]
    assert kept == ["deleted", "restored"]
    # and it is an aged-out thread again: revisited on that schedule, deleted later
    del w.site.threads[1]
    assert kinds(w.crawl(hours=6)) == [("deleted", "forum:1")]

    result = CliRunner().invoke(main, ["show", "--db", str(w.db), "forum:1"])
    assert result.exit_code == 0, result.output
    line = next(li for li in result.stdout.splitlines() if " restored " in li)
    assert "back after 6h 0m (deleted 2024-06-02 16:00); found on its own page" in line
    assert "verified present" in result.stdout
    result = CliRunner().invoke(main, ["show", "--db", str(w.db), "forum:1", "--json"])
    detail = json.loads(result.stdout)
    assert [e["kind"] for e in detail["events"]] == ["deleted", "restored", "deleted"]


def test_a_captcha_or_a_permission_page_during_the_window_does_not_restore(
    tmp_path: Path,
) -> None:
    w, thread = deleted_beyond_the_list(tmp_path)
    w.site.threads[1] = thread
    w.site.blocked.add(URL1)  # the restored thread's page answers a captcha
    report = w.crawl(hours=6)  # hour 38: due
    assert w.thread_fetched(1) and kinds(report) == [] and w.state(1) == "deleted"
    assert [(v.verdict.value, v.reason) for v in report.verifications] == [
        ("unknown", "blocked:captcha")
    ]
    w.site.blocked.clear()  # a page the block detection misses, showing the title
    wall = f"<html><body><h1>{thread.title}</h1><p>You do not have permission.</p></body></html>"
    w.pages[URL1] = Page(URL1, PageOutcome.OK, 200, wall)
    report = w.crawl(hours=6)  # hour 44: due again (gone 12 h at the last check)
    assert w.thread_fetched(1) and kinds(report) == [] and w.state(1) == "deleted"
    (v,) = report.verifications
    assert v.verdict is Verdict.UNKNOWN and v.reason.startswith("restore unconfirmed")
    w.pages.clear()
    report = w.crawl(hours=12)  # hour 56: the next check (12 h after the last) sees it
    assert kinds(report) == [("restored", "forum:1")]
    assert report.diff.events[0].details["gone_for"] == 24 * 3600
    verdicts = [v["verdict"] for v in w.store.read("v", _verifications, "forum:1")]
    assert verdicts == ["present", "gone", "unknown", "unknown", "present"]


def test_still_gone_is_checked_a_few_times_then_never_again(tmp_path: Path) -> None:
    w, _ = deleted_beyond_the_list(tmp_path)
    checked = []
    for _ in range(16 * 24 // 6):  # 16 days of crawls every 6 hours
        report = w.crawl(hours=6)
        assert kinds(report) == []
        if w.thread_fetched(1):
            checked.append(w.site.hour - 32)
    assert checked == [6, 12, 24, 48, 96, 192]
    assert w.state(1) == "deleted"


def _verifications(db: Any, listing_id: str) -> list[dict[str, Any]]:
    sql = "SELECT verdict FROM verifications WHERE listing_id = ? ORDER BY at, id"
    return list(db.query(sql, [listing_id]))
