"""Lifecycle scenarios through the real pipeline, extractor and SQLite store, against
a small scripted MyBB forum and shop (pages rendered by the demo's MyBB/WooCommerce
templates, served by a fake fetcher: no network)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.demo.sites import Product, Thread, forum_page, product_page, shop_page, thread_page
from monitor.extract import get_engine
from monitor.models import CrawlOutcome, Listing, Page, PageOutcome, Selectors, Source
from monitor.pipeline import CrawlReport, crawl_source, thread_reader
from monitor.store import Store, history

HOST = "http://" + "m" * 56 + ".onion"
SHOP = "http://" + "s" * 56 + ".onion"
T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)

FORUM = Source(
    name="forum",
    url=f"{HOST}/forumdisplay.php?fid=2",
    engine="css",
    every=3600,
    max_pages=3,
    revisit_every=6 * 3600,
    reread_every=0,  # on in test_an_active_listings_post_is_read_again_about_once_a_day
    selectors=Selectors(
        item="tr.inline_row",
        title="span[id^='tid_'] > a",
        url="span[id^='tid_'] > a@href",
        id_pattern=r"tid=(\d+)",
        seller="div.author a",
        next="a.pagination_next@href",
    ),
)
SHOP_SOURCE = Source(
    name="shop",
    url=f"{SHOP}/shop/",
    engine="css",
    every=3600,
    missing_after=2,
    selectors=Selectors(
        item="li.product",
        title="h2.woocommerce-loop-product__title",
        url="a.woocommerce-LoopProduct-link@href",
        id_pattern=r"-(\d+)/?$",
        price="span.price",
        seller="span.vendor a",
    ),
)


def thread(tid: int, title: str, seller: str = "someone", bumped: int = 0) -> Thread:
    posted = T0 - timedelta(days=30)
    return Thread(
        tid, title, seller, tid, posted, posted + timedelta(minutes=bumped), seller, 1, 10, title
    )


@dataclass
class Site:
    """The scripted sites: mutate between crawls; `get` answers like the real ones."""

    threads: dict[int, Thread] = field(default_factory=dict)
    products: list[Product] = field(default_factory=list)
    captcha: bool = False  # every forum page is a captcha
    failing: set[str] = field(default_factory=set)  # URLs that time out
    blocked: set[str] = field(default_factory=set)  # URLs answering a captcha
    redesigned: bool = False  # thread links change shape (new ids)
    datecut: timedelta | None = None  # the list shows only threads active this recently
    hour: int = 0
    requests: list[str] = field(default_factory=list)

    def bump(self, tid: int) -> None:
        """Someone replies: the thread moves to the top of page 1."""
        t = self.threads[tid]
        self.threads[tid] = replace(t, last_post=T0 + timedelta(hours=self.hour, minutes=tid))

    async def get(self, url: str) -> Page:
        self.requests.append(url)
        now = T0 + timedelta(hours=self.hour)
        if url in self.failing:
            return Page(url, PageOutcome.FAILED, reason="timeout", error="timed out")
        if self.captcha or url in self.blocked:
            return Page(url, PageOutcome.BLOCKED, 200, "captcha", reason="blocked:captcha")
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/forumdisplay.php":
            shown = sorted(self.threads.values(), key=lambda t: t.last_post, reverse=True)
            if self.datecut is not None:
                shown = [t for t in shown if t.last_post >= now - self.datecut]
            html = forum_page(shown, [], int(query.get("page", "1")), now)
            if self.redesigned:
                html = html.replace("showthread.php?tid=", "thread-")
            return Page(url, PageOutcome.OK, 200, html)
        if parts.path == "/showthread.php":
            t = self.threads.get(int(query["tid"]))
            return Page(url, PageOutcome.OK, 200, thread_page(t, now))
        if self.redesigned and parts.path.startswith("/thread-"):
            t = self.threads.get(int(parts.path.removeprefix("/thread-")))
            return Page(url, PageOutcome.OK, 200, thread_page(t, now))
        if parts.path == "/shop/":
            return Page(url, PageOutcome.OK, 200, shop_page(self.products))
        for p in self.products:
            if parts.path == p.path:
                return Page(url, PageOutcome.OK, 200, product_page(p))
        return Page(url, PageOutcome.FAILED, 404, reason="http_status", error="HTTP 404")


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.site = Site()
        self.store = Store.open(tmp_path / "leakmon.db")
        self.store.sync_sources([FORUM, SHOP_SOURCE])

    def crawl(self, source: Source = FORUM, hours: int = 1, **kw: Any) -> CrawlReport:
        self.site.hour += hours
        self.site.requests.clear()
        at = T0 + timedelta(hours=self.site.hour)
        engine = get_engine(source)
        return asyncio.run(
            crawl_source(source, self.site, engine, self.store, (), (), clock=lambda: at, **kw)
        )

    def state(self, tid: int | str, source: str = "forum") -> str:
        row = self.store.listing(f"{source}:{tid}")
        assert row is not None
        return str(row["state"])


def events(report: CrawlReport) -> list[tuple[str, str | None]]:
    return sorted((e.kind.value, e.listing_id) for e in report.diff.events)


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    for tid in range(1, 7):
        w.site.threads[tid] = thread(tid, f"Dataset number {tid} customers", bumped=tid)
    baseline = w.crawl()
    assert baseline.crawl.outcome is CrawlOutcome.COMPLETE and baseline.diff.baseline
    return w


def test_a_captcha_day_in_the_middle_deletes_nothing(world: World) -> None:
    world.site.captcha = True
    health = []
    for _ in range(24):
        report = world.crawl()
        assert report.crawl.outcome is CrawlOutcome.BLOCKED
        assert all(e.listing_id is None for e in report.diff.events)  # no listing events
        assert report.verifications == ()
        health += [e.kind.value for e in report.diff.events]
    assert health == ["source_down"]  # one notice at the third blocked crawl
    world.site.captcha = False
    recovered = world.crawl()
    assert [e.kind.value for e in recovered.diff.events] == ["source_recovered"]
    assert {world.state(t) for t in range(1, 7)} == {"active"}


def test_a_captcha_on_the_thread_page_delays_the_verdict(world: World) -> None:
    del world.site.threads[2]
    world.site.blocked.add(f"{HOST}/showthread.php?tid=2")
    report = world.crawl()
    assert events(report) == [] and [v.verdict for v in report.verifications] == ["unknown"]
    assert world.state(2) == "missing"
    world.site.blocked.clear()
    report = world.crawl()
    assert events(report) == [("deleted", "forum:2")]
    assert world.state(2) == "deleted"


def test_a_partial_crawl_never_loses_page_two(world: World) -> None:
    world.site.failing.add(f"{HOST}/forumdisplay.php?fid=2&page=2")
    report = world.crawl()
    assert report.crawl.outcome is CrawlOutcome.PARTIAL
    assert report.diff.events == () and report.verifications == ()
    assert not any("showthread" in u for u in world.site.requests)
    assert {world.state(t) for t in range(1, 7)} == {"active"}


def falling_off(w: World) -> None:
    """Four threads; 2-4 active today, 1 last active 29.5 days ago."""
    for tid in range(1, 5):
        w.site.threads[tid] = thread(tid, f"Dataset number {tid} customers")
        w.site.bump(tid)
    old = T0 - timedelta(days=29, hours=12)
    w.site.threads[1] = replace(w.site.threads[1], last_post=old)


def test_a_thread_falling_off_the_list_ages_out_then_is_deleted_on_a_revisit(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    w.site.datecut = timedelta(days=30)  # MyBB's default: only recently active threads
    falling_off(w)
    w.crawl()  # baseline
    w.site.hour += 24  # nobody posted in thread 1 for a while: it drops off the list
    report = w.crawl()
    assert report.crawl.outcome is CrawlOutcome.COMPLETE
    assert events(report) == []  # not deleted: its page still shows it
    assert [(v.listing_id, v.verdict.value) for v in report.verifications] == [
        ("forum:1", "present")
    ]
    assert w.state(1) == "aged_out" and w.state(2) == "active"
    report = w.crawl()  # revisit not due yet (6 h): its page is not fetched
    assert report.verifications == () and w.state(1) == "aged_out"
    assert not any("tid=1" in u for u in w.site.requests)
    del w.site.threads[1]  # now the seller deletes it
    report = w.crawl(hours=6)
    assert events(report) == [("deleted", "forum:1")]
    (deleted,) = report.diff.events
    assert deleted.details["how"].startswith("verified: engine message")
    assert deleted.details["deleted_after"] == "2024-06-02T10:00:00+00:00"  # last verified
    row = w.store.listing("forum:1")
    assert row is not None and (row["state"], row["deleted_at"]) == (
        "deleted",
        "2024-06-02T17:00:00.000000+00:00",
    )


def test_an_aged_out_thread_listed_again_is_silently_active(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.site.datecut = timedelta(days=30)
    falling_off(w)
    w.crawl()
    w.site.hour += 24
    w.crawl()
    assert w.state(1) == "aged_out"
    w.site.bump(1)  # a reply: back on the list
    assert events(w.crawl()) == [] and w.state(1) == "active"


def test_a_redesign_is_one_layout_changed_event_not_a_flood(world: World) -> None:
    for _ in range(2):
        world.crawl()  # plausible history
    world.site.redesigned = True
    reports = [world.crawl() for _ in range(2)]
    world.site.captcha = True  # a blocked crawl in between does not end the episode
    assert world.crawl().crawl.outcome is CrawlOutcome.BLOCKED
    world.site.captcha = False
    reports.append(world.crawl())
    # one event for a redesign that stays (replaying captures found one per crawl)
    assert [events(r) for r in reports] == [[("layout_changed", None)], [], []]
    assert all(r.verifications == () and r.diff.layout_suspected for r in reports)
    assert {r.crawl.error for r in reports} == {"suspected layout change (count_drop)"}
    assert {world.state(t) for t in range(1, 7)} == {"active"}
    sources = {r["name"]: r["state"] for r in world.store.sources()}
    assert sources["forum"] == "layout_changed"
    assert world.store.recent_complete_counts("forum") == [6, 6, 6]  # not the suspected ones
    world.site.redesigned = False  # the selectors read the site again: the episode ends
    back = world.crawl()
    assert not back.diff.layout_suspected and back.crawl.error is None
    assert {r["name"]: r["state"] for r in world.store.sources()}["forum"] == "ok"


def test_deleted_then_restored(world: World) -> None:
    gone = world.site.threads.pop(3)
    report = world.crawl()
    assert events(report) == [("deleted", "forum:3")]
    assert report.diff.events[0].details["how"] == (
        "verified: engine message: the specified thread does not exist"
    )
    world.site.threads[3] = gone
    assert events(world.crawl()) == [("restored", "forum:3")]
    kinds = [e["kind"] for e in world.store.events(listing_id="forum:3")]
    assert kinds == ["deleted", "restored"]
    assert world.state(3) == "active"


def test_a_repost_on_another_source_is_linked(world: World) -> None:
    world.site.threads[40] = thread(40, "Shanghai police database 1,000,000,000 records", "Dan")
    world.crawl()
    world.site.products = [Product(7, "acme", "Acme corp customers 2M", "500", "dk", "x")]
    assert world.crawl(SHOP_SOURCE).diff.baseline
    world.site.products.insert(
        0, Product(9, "sh", "Shanghai Police Database 1,000,000,000 records", "200,000", "dk", "x")
    )
    report = world.crawl(SHOP_SOURCE)
    assert events(report) == [("reposted", "shop:9")]
    assert report.diff.events[0].details["original_id"] == "forum:40"
    repost, original = world.store.listing("shop:9"), world.store.listing("forum:40")
    assert repost is not None and original is not None
    assert repost["cluster"] == original["cluster"] == "forum:40"


def test_shop_absence_is_counted_not_verified(world: World) -> None:
    world.site.products = [
        Product(7, "acme", "Acme corp customers 2M", "500", "dk", "x"),
        Product(8, "globex", "Globex claims 750k", "900", "vb", "y"),
    ]
    world.crawl(SHOP_SOURCE)
    world.site.products.pop()
    first = world.crawl(SHOP_SOURCE)
    assert events(first) == [] and first.verifications == ()
    assert world.state(8, "shop") == "missing"
    assert events(world.crawl(SHOP_SOURCE)) == [("deleted", "shop:8")]


def test_verifications_per_crawl_are_bounded(tmp_path: Path) -> None:
    w = World(tmp_path)
    big = replace(FORUM, max_pages=20)
    for tid in range(1, 61):
        w.site.threads[tid] = thread(tid, f"Dataset number {tid} customers", bumped=tid)
    w.crawl(big)
    for tid in range(1, 26):  # 25 threads deleted at once; 35 remain (plausible)
        del w.site.threads[tid]
    first = w.crawl(big)
    assert len(first.verifications) == 20
    assert sum(k == "deleted" for k, _ in events(first)) == 20
    assert sum(w.state(t) == "missing" for t in range(1, 26)) == 5
    second = w.crawl(big)
    assert len(second.verifications) == 5
    assert sum(k == "deleted" for k, _ in events(second)) == 5
    assert {w.state(t) for t in range(1, 26)} == {"deleted"}


def read_thread(html: str, url: str) -> Listing | None:
    """A stand-in for the extractor's thread-page reader: the first post's text."""
    found = re.search(r'class="post_body[^"]*"[^>]*>(.*?)</div>', html, re.DOTALL)
    return None if found is None else Listing("forum", "?", url, "", first_post=unescape(found[1]))


def test_evidence_at_first_sight_and_on_change_survives_deletion(world: World) -> None:
    body = "Shanghai police database, 1995-2019: names, ID numbers, phones. 23 TB. PM me."
    title = "[SELLING] Shanghai police database - 10 BTC"
    world.site.threads[42] = replace(thread(42, title, "ChinaDan", bumped=500), body=body)
    evidence: dict[str, Any] = {"keep_html": True, "read_thread": read_thread}
    report = world.crawl(**evidence)
    assert events(report) == [("new", "forum:42")]
    assert [u.rsplit("/", 1)[1] for u in world.site.requests if "showthread" in u] == [
        "showthread.php?tid=42"
    ]
    assert world.store.listing("forum:42")["first_post"] == body  # type: ignore[index]
    world.crawl(**evidence)  # unchanged: its page is not fetched again
    assert not any("showthread" in u for u in world.site.requests)
    world.site.threads[42] = replace(world.site.threads[42], title=title.replace("10", "8"))
    assert events(world.crawl(**evidence)) == [("changed", "forum:42")]
    del world.site.threads[42]
    assert events(world.crawl(**evidence)) == [("deleted", "forum:42")]
    kept = world.store.read("pages", history.pages, "forum:42")
    assert len(kept) == 3  # first sight, the edit, and the page that said it was gone
    pages = [world.store.read("page", history.page_html, p["id"]) or "" for p in kept]
    assert "23 TB" in pages[0] and "10 BTC" in pages[0] and "8 BTC" in pages[1]
    assert "The specified thread does not exist." in pages[2]
    found = world.store.read("search", history.listings, search="23 TB phones")
    assert [(r["id"], r["state"]) for r in found] == [("forum:42", "deleted")]


def test_the_extractors_thread_reader_keeps_the_first_post_and_sees_edits(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    w.site.datecut = timedelta(days=30)
    falling_off(w)
    body = "Shanghai police database, 1995-2019: names, ID numbers, phones. 23 TB."
    w.site.threads[1] = replace(w.site.threads[1], title="Shanghai police DB 10 BTC", body=body)
    reader = {"read_thread": thread_reader(FORUM)}
    w.crawl(**reader)
    row = w.store.listing("forum:1")
    assert row is not None and row["first_post"] == body
    assert (row["span_from"], row["span_to"], row["country"]) == (1995, 2019, "CN")
    assert "national_ids" in row["data_types"]
    w.site.hour += 24  # thread 1 drops off the list; then its title is edited
    w.site.threads[1] = replace(w.site.threads[1], title="Shanghai police DB 8 BTC")
    report = w.crawl(**reader)
    assert [(v.listing_id, v.verdict.value, v.reason) for v in report.verifications] == [
        ("forum:1", "present", "parsed")
    ]
    assert events(report) == [("changed", "forum:1")]
    (changed,) = report.diff.events
    assert changed.details["price_drop"] is True
    assert w.state(1) == "aged_out"


def test_a_price_stated_only_in_the_first_post_is_read_kept_and_its_edits_found(
    tmp_path: Path,
) -> None:
    """Many leak forums show no price on the list: the seller writes "Price: ..." (and
    "Records: ...") in the post. That price is the listing's; a list page without it
    changes nothing (and costs no fetch); an edit of it is found whenever the post is
    read again."""
    w = World(tmp_path)
    w.site.datecut = timedelta(days=30)
    falling_off(w)
    body = "Acme customer DB: emails, phones. Revenue $80M. Records: 1,200,000. Price: $500."
    w.site.threads[1] = replace(w.site.threads[1], title="Acme customer database", body=body)
    reader = {"read_thread": thread_reader(FORUM)}
    w.crawl(**reader)
    row = w.store.listing("forum:1")
    assert row is not None and (row["price_amount"], row["price_currency"]) == (500.0, "USD")
    assert row["records"] == 1_200_000
    assert {"emails", "phones"} <= set(row["data_types"])
    quiet = w.crawl(hours=0, **reader)  # the list shows neither the price nor the types
    assert events(quiet) == [] and not any("showthread" in u for u in w.site.requests)
    w.site.hour += 24  # thread 1 drops off the list, and the seller lowers the price
    w.site.threads[1] = replace(w.site.threads[1], body=body.replace("$500", "$350"))
    report = w.crawl(**reader)
    assert [(v.listing_id, v.verdict.value) for v in report.verifications] == [
        ("forum:1", "present")
    ]
    (changed,) = report.diff.events
    assert changed.details == {
        "changes": [{"field": "price", "before": "$500", "after": "$350"}],
        "price_drop": True,
    }
    assert w.state(1) == "aged_out"


def test_an_active_listings_post_is_read_again_about_once_a_day(world: World) -> None:
    """A seller who edits only the post (the row on the list stays the same) is seen
    at the listing's daily re-read: each listing's page once in 24 hourly crawls."""
    source = replace(FORUM, reread_every=24 * 3600)
    body = "Acme customer DB. Records: 1,200,000. Price: $500."
    world.site.threads[42] = replace(thread(42, "Acme customer DB", bumped=500), body=body)
    reader: dict[str, Any] = {"read_thread": thread_reader(FORUM), "keep_html": True}
    assert events(world.crawl(source, **reader)) == [("new", "forum:42")]
    world.site.threads[42] = replace(world.site.threads[42], body=body.replace("$500", "$400"))
    reads: dict[str, int] = {}
    found = []
    world.site.hour = 15  # the next 24 hourly crawls make one UTC day: one period
    for _ in range(24):
        report = world.crawl(source, **reader)
        for url in world.site.requests:
            if "showthread" in url:
                reads[url.rsplit("=", 1)[1]] = reads.get(url.rsplit("=", 1)[1], 0) + 1
        found += [e for e in report.diff.events if e.kind.value == "changed"]
    assert reads == {str(tid): 1 for tid in (1, 2, 3, 4, 5, 6, 42)}
    assert [(e.listing_id, e.details) for e in found] == [
        (
            "forum:42",
            {
                "changes": [{"field": "price", "before": "$500", "after": "$400"}],
                "price_drop": True,
            },
        )
    ]
    # a re-read keeps the page only when the post is new or changed: 1 was first seen
    # without a reader (its post first read now), 42 at first sight and at the edit;
    # a second period's re-reads of unchanged posts keep nothing
    for _ in range(24):
        world.crawl(source, **reader)
    kept = {i: len(world.store.read("pages", history.pages, f"forum:{i}")) for i in (1, 42)}
    assert kept == {1: 1, 42: 2}


NEW_HOST = "http://" + "n" * 56 + ".onion"
URL_IDS = replace(  # the same forum read by a source whose ids are the thread urls
    FORUM, name="urlforum", selectors=replace(FORUM.selectors, id_pattern=None)
)


def test_a_source_that_moves_to_a_new_onion_address_keeps_its_listings(world: World) -> None:
    """The forum moves to a new address and its sources' url follows it. Listings
    keep their ids (a site's thread id, or a url with the old address in it) and
    nothing is new, deleted or a layout change; their own pages are checked at the
    new address from then on, so a deletion there is found."""
    world.store.sync_sources([URL_IDS])
    assert world.crawl(URL_IDS).diff.baseline
    old_ids = {s.name: set(world.store.known_listings(s.name)) for s in (FORUM, URL_IDS)}
    assert f"urlforum:{HOST}/showthread.php?tid=1" in old_ids["urlforum"]
    moved = [replace(s, url=s.url.replace(HOST, NEW_HOST)) for s in (FORUM, URL_IDS)]
    moves = world.store.sync_sources([*moved, SHOP_SOURCE])
    assert [(m.source, m.before, m.after, m.listings) for m in moves] == [
        ("forum", HOST, NEW_HOST, 6),
        ("urlforum", HOST, NEW_HOST, 6),
    ]
    for source in moved:
        report = world.crawl(source)
        assert events(report) == [] and not report.diff.layout_suspected, source.name
        known = world.store.known_listings(source.name)
        assert set(known) == old_ids[source.name] and {s.state.value for s in known.values()} == {
            "active"
        }
        assert all(s.listing.url.startswith(NEW_HOST + "/") for s in known.values())
    del world.site.threads[3]
    world.site.threads[7] = thread(7, "Dataset number 7 customers", bumped=60 * 24)
    deleted = {}
    for source in moved:
        report = world.crawl(source)
        deleted[source.name] = events(report)
        assert world.site.requests[-1] == f"{NEW_HOST}/showthread.php?tid=3"  # the new address
    assert deleted == {
        "forum": [("deleted", "forum:3"), ("new", "forum:7")],
        "urlforum": [
            ("deleted", f"urlforum:{HOST}/showthread.php?tid=3"),
            ("reposted", f"urlforum:{NEW_HOST}/showthread.php?tid=7"),  # forum:7's dataset
        ],
    }


def test_a_redesign_with_new_ids_settles_and_the_old_listings_continue_under_them(
    world: World,
) -> None:
    """The forum's links change shape and the ids taken from them with it. The first
    such crawl is a suspected layout change (the new ids are recorded quietly); the
    next one, showing the same new ids again, settles it: one `layout_settled`, and
    each old listing ages out, superseded by the new id of its dataset, never
    checked on its own again. From then on the source is watched as usual: a new
    thread is announced, one that is taken down is deleted, and no old id is ever
    deleted."""
    world.store.sync_sources([URL_IDS])
    world.crawl(URL_IDS)
    old = set(world.store.known_listings("urlforum"))
    world.site.redesigned = True  # thread links become /thread-N
    changed, settled, quiet = (world.crawl(URL_IDS) for _ in range(3))
    assert events(changed) == [("layout_changed", None)] and changed.diff.layout_suspected
    new_id = {f"urlforum:{HOST}/showthread.php?tid={n}": f"urlforum:{HOST}/thread-{n}"
              for n in range(1, 7)}  # fmt: skip
    assert set(new_id) == old
    assert events(settled) == sorted([("layout_settled", None), *(("superseded", i) for i in old)])
    assert not settled.diff.layout_suspected and settled.crawl.error is None
    kinds = {e.kind.value: e for e in settled.diff.events}
    assert kinds["layout_settled"].details["left_behind"] == 6
    assert kinds["layout_settled"].details["superseded"] == 6
    assert {e.listing_id: e.details["by"] for e in settled.diff.events if e.listing_id} == new_id
    assert events(quiet) == [] and not quiet.diff.layout_suspected
    known = world.store.known_listings("urlforum")
    assert {(known[i].state.value, known[i].superseded_by) for i in old} == {
        ("aged_out", new_id[i]) for i in old
    }
    assert world.store.sources()[-1]["state"] == "ok"
    # each pair is one dataset (with the forum's own copy, which urlforum reposted):
    # `show` of either lists the other
    for before, after in new_id.items():
        same = {r["id"] for r in world.store.read("cluster", history.cluster, after)}
        n = after.rsplit("-", 1)[1]
        assert same == {before, f"forum:{n}"}
        assert known[after].cluster == known[before].cluster == f"forum:{n}"
    # watched as usual from now on
    world.site.threads[8] = thread(8, "Dataset number 8 customers", bumped=60 * 30)
    assert events(world.crawl(URL_IDS)) == [("new", f"urlforum:{HOST}/thread-8")]
    del world.site.threads[2]
    gone = world.crawl(URL_IDS)
    assert events(gone) == [("deleted", f"urlforum:{HOST}/thread-2")]
    # the superseded ones are never fetched again, however long it runs
    for _ in range(30):
        report = world.crawl(URL_IDS, hours=6)
        assert all("showthread.php" not in u for u in world.site.requests)
        assert not any(
            e.kind.value == "deleted" and e.listing_id in old for e in report.diff.events
        )
    assert {world.store.known_listings("urlforum")[i].state.value for i in old} == {"aged_out"}


def test_a_redesigns_successor_joins_the_dataset_of_the_listing_it_continues(
    tmp_path: Path,
) -> None:
    """Titles without dataset words ("Fresh database") are never linked as reposts,
    but a redesign's successor is found by its exact title: after the redesign
    settles, `show` of an old id lists its new id as the same dataset, and the other
    way."""
    w = World(tmp_path)
    w.store.sync_sources([URL_IDS])
    for tid in range(1, 7):
        w.site.threads[tid] = thread(tid, f"Fresh database {'!' * tid}", bumped=tid)
    w.crawl(URL_IDS)
    w.site.redesigned = True
    for _ in range(2):
        w.crawl(URL_IDS)
    for n in range(1, 7):
        before, after = (f"urlforum:{HOST}/{p}{n}" for p in ("showthread.php?tid=", "thread-"))
        assert [r["id"] for r in w.store.read("cluster", history.cluster, after)] == [before]
        assert [r["id"] for r in w.store.read("cluster", history.cluster, before)] == [after]


def test_starting_over_under_a_new_name_still_gives_a_quiet_baseline(world: World) -> None:
    """The way out before a redesign settles: a new name records the new ids as a
    quiet baseline, then announces new listings; the old source keeps its history."""
    world.store.sync_sources([URL_IDS])
    world.crawl(URL_IDS)
    world.site.redesigned = True
    assert events(world.crawl(URL_IDS)) == [("layout_changed", None)]
    again = replace(URL_IDS, name="urlforum2")
    world.store.sync_sources([again])
    assert world.crawl(again).diff.baseline
    world.site.threads[9] = thread(9, "Dataset number 9 customers", bumped=60 * 31)
    assert events(world.crawl(again)) == [("new", f"urlforum2:{HOST}/thread-9")]
    old = world.store.known_listings("urlforum")
    assert {s.state.value for s in old.values()} == {"active"}  # the history stays


def test_a_new_id_that_vanishes_before_the_redesign_settles_does_not_end_it(
    world: World,
) -> None:
    """Right after a redesign that renamed the listings, one of the new ids is taken
    down. That must not make the crawl look plausible (it once did, and every old id
    was then checked on its own page, a flood of deletions on a relaunch whose old
    addresses are gone): the redesign settles, the old ids are superseded, and the
    taken-down one is judged as any listing is; its old id, with no successor on the
    page, is left behind and never checked on its old address."""
    world.store.sync_sources([URL_IDS])
    world.crawl(URL_IDS)
    old = set(world.store.known_listings("urlforum"))
    world.site.redesigned = True
    assert events(world.crawl(URL_IDS)) == [("layout_changed", None)]
    del world.site.threads[5]
    settled = world.crawl(URL_IDS)
    assert all("showthread.php" not in u for u in world.site.requests)  # no old page fetched
    kinds = sorted(k for k, _ in events(settled))
    assert kinds[:2] == ["deleted", "layout_settled"] and set(kinds[2:]) == {"superseded"}
    assert [i for k, i in events(settled) if k == "deleted"] == [f"urlforum:{HOST}/thread-5"]
    known = world.store.known_listings("urlforum")
    assert {known[i].state.value for i in old} == {"aged_out"}
    # the old thread 5 has no successor on the page: left behind, never checked again
    assert {i: known[i].superseded_by for i in old} == {
        i: "" if i.endswith("tid=5") else i.replace("showthread.php?tid=", "thread-") for i in old
    }
    for _ in range(10):
        world.crawl(URL_IDS, hours=6)
        assert all("showthread.php" not in u for u in world.site.requests)


URL_SHOP = replace(  # the shop read by a source whose ids are the product urls
    SHOP_SOURCE, name="urlshop", selectors=replace(SHOP_SOURCE.selectors, id_pattern=None)
)


def test_a_shop_whose_redesign_renamed_every_product_is_watched_again(world: World) -> None:
    """A shop (absence counted, nothing verified) whose product urls, and so ids,
    all change in a redesign: after it settles, a price edit, a removal and a return
    are found on the new ids, and no old id is ever deleted."""
    names = ["acme", "globex", "initech", "hooli", "umbrella", "vandelay"]
    world.site.products = [
        Product(i, name, f"{name.title()} customers {i}M", f"{i}00", "dk", "x")
        for i, name in enumerate(names, start=1)
    ]
    world.store.sync_sources([URL_SHOP])
    assert world.crawl(URL_SHOP).diff.baseline
    old = set(world.store.known_listings("urlshop"))
    world.site.products = [replace(p, slug=f"leak-{p.slug}") for p in world.site.products]
    reports = [world.crawl(URL_SHOP) for _ in range(2)]
    assert events(reports[0]) == [("layout_changed", None)]
    assert [k for k, _ in events(reports[1])] == ["layout_settled"] + ["superseded"] * 6

    prefix = next(iter(old)).split("/product/")[0]  # "urlshop:" and the shop's origin

    def new_id(pid: int) -> str:
        return f"{prefix}/product/leak-{names[pid - 1]}-{pid}/"

    world.site.products[2] = replace(world.site.products[2], price="250")
    edit = world.crawl(URL_SHOP)
    assert events(edit) == [("changed", new_id(3))]
    assert edit.diff.events[0].details["changes"] == [
        {"field": "price", "before": "$300", "after": "$250"}
    ]
    gone = world.site.products.pop(3)
    reports += [edit, world.crawl(URL_SHOP), world.crawl(URL_SHOP)]
    assert events(reports[-1]) == [("deleted", new_id(4))]  # missing_after = 2
    world.site.products.insert(3, gone)
    back = world.crawl(URL_SHOP)
    assert events(back) == [("restored", new_id(4))]
    reports += [back, *(world.crawl(URL_SHOP) for _ in range(5))]
    deleted = {e.listing_id for r in reports for e in r.diff.events if e.kind.value == "deleted"}
    assert deleted == {new_id(4)}
    known = world.store.known_listings("urlshop")
    assert {known[i].state.value for i in old} == {"aged_out"}
    assert {i.removeprefix(prefix): known[i].superseded_by for i in old} == {
        f"/product/{name}-{pid}/": new_id(pid) for pid, name in enumerate(names, start=1)
    }
