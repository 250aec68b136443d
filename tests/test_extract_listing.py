"""Raw item texts to listings, and the per-engine memo of built listings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.extract import get_engine
from monitor.extract.listing import Context, ListingCache, build_listing
from monitor.extract.memo import MISSING, Memo
from monitor.extract.parse import TextParser
from monitor.models import Source

URL = "http://forumxyz.onion/forumdisplay.php?fid=2"
NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


def context(now: datetime | None = NOW, page_url: str = URL) -> Context:
    return Context(
        source="forum",
        page_url=page_url,
        base=page_url,
        has_id=False,
        id_pattern=None,
        now=now,
        tz=None,
        parse=TextParser(),
        skip_sticky=True,
    )


def row(posted: str, title: str = "Acme shop 1.2M users - 0.5 BTC") -> dict[str, str]:
    return {"title": title, "url": "showthread.php?tid=7", "posted": posted, "seller": "x"}


def test_cache_gives_what_build_listing_gives() -> None:
    cache = ListingCache()
    for posted in ("06-30-2026, 02:02 PM", "2 hours ago", ""):
        assert cache.build(row(posted), context()) == build_listing(row(posted), context())
        assert cache.build(row(posted), context()) == build_listing(row(posted), context())


def test_relative_dates_are_read_again_at_each_crawl() -> None:
    cache = ListingCache()
    first = cache.build(row("2 hours ago"), context(NOW))
    later = cache.build(row("2 hours ago"), context(NOW + timedelta(days=1)))
    assert first is not None and later is not None
    assert first.posted_at == NOW - timedelta(hours=2)
    assert later.posted_at == NOW + timedelta(days=1) - timedelta(hours=2)
    assert later == build_listing(row("2 hours ago"), context(NOW + timedelta(days=1)))


def test_relative_dates_follow_the_crawl_time_both_ways() -> None:
    cache = ListingCache()
    times = [NOW, NOW + timedelta(hours=3), NOW, NOW + timedelta(days=2), NOW + timedelta(hours=3)]
    for posted in ("2 hours ago", "Yesterday, 10:15 PM", "Less than 1 minute ago"):
        for now in times:
            built = cache.build(row(posted), context(now))
            assert built == build_listing(row(posted), context(now)), (posted, now)


def test_a_relative_date_that_names_the_same_moment_keeps_the_listing() -> None:
    cache = ListingCache()
    first = cache.build(row("Yesterday, 10:15 PM"), context(NOW))
    again = cache.build(row("Yesterday, 10:15 PM"), context(NOW + timedelta(hours=1)))
    assert again is first


def test_absolute_dates_and_unchanged_rows_come_from_the_memo() -> None:
    cache = ListingCache()
    first = cache.build(row("06-30-2026, 02:02 PM"), context(NOW))
    again = cache.build(row("06-30-2026, 02:02 PM"), context(NOW + timedelta(days=1)))
    assert again is first


def test_another_page_url_or_field_text_is_another_entry() -> None:
    cache = ListingCache()
    a = cache.build(row(""), context(page_url=URL))
    b = cache.build(row(""), context(page_url="http://other.onion/f"))
    c = cache.build(row("", title="Acme shop 1.3M users - 0.5 BTC"), context())
    assert a is not None and b is not None and c is not None
    assert a.url != b.url
    assert c.records is not None and c.records.count == 1_300_000


def test_rejected_items_are_remembered_as_rejected() -> None:
    cache = ListingCache()
    assert cache.build(row("", title=""), context()) is None
    assert cache.build(row("", title=""), context()) is None


def test_memo_is_bounded() -> None:
    cache = ListingCache(size=3)
    for i in range(10):
        cache.build(row("", title=f"Acme {i}M users"), context())
    assert len(cache._rows.current) <= 3 and len(cache._rows) <= 6


def crawl(cache: ListingCache, rows: list[dict[str, str]], now: datetime = NOW) -> list[object]:
    """One crawl of `rows` through `cache`, as the pipeline and engine run it."""
    cache.new_crawl()
    return [cache.build(r, context(now)) for r in rows]


def titled(*numbers: int) -> list[dict[str, str]]:
    return [row("06-30-2026, 02:02 PM", title=f"Acme {n}M users") for n in numbers]


def test_an_entry_unused_for_a_whole_crawl_is_gone_at_the_next() -> None:
    cache = ListingCache()
    first = crawl(cache, titled(1, 2))
    second = crawl(cache, titled(1))  # 2 unused in this crawl: still kept through it
    assert second[0] is first[0]
    assert row_of(cache, 2) in cache._rows
    third = crawl(cache, titled(1, 2))
    assert third[0] is first[0]  # used every crawl
    assert third[1] is not first[1] and third[1] == first[1]  # built again, same listing


def test_a_hit_in_the_previous_generation_moves_the_entry_up() -> None:
    cache = ListingCache()
    first = crawl(cache, titled(1, 2, 3))
    cache.new_crawl()  # the next crawl: everything is in the previous generation
    assert len(cache._rows.previous) == 3 and not cache._rows.current
    again = [cache.build(r, context()) for r in titled(1, 2)]
    assert again == first[:2] and all(a is b for a, b in zip(again, first, strict=False))
    assert row_of(cache, 2) in cache._rows.current and row_of(cache, 2) not in cache._rows.previous
    assert row_of(cache, 3) in cache._rows.previous
    crawl(cache, titled(1, 2))
    assert row_of(cache, 3) not in cache._rows  # unused for a whole crawl
    assert len(cache._rows) == 2


def test_entries_used_every_crawl_stay() -> None:
    cache = ListingCache()
    first = crawl(cache, titled(*range(20)))
    for day in range(1, 30):
        again = crawl(cache, titled(*range(20)), NOW + timedelta(days=day))
        assert all(a is b for a, b in zip(again, first, strict=True))
    assert len(cache._rows) == 20


def test_a_crawl_that_uses_no_entry_does_not_age_the_memo() -> None:
    cache = ListingCache()
    first = crawl(cache, titled(1))
    crawl(cache, [])  # a challenge page: nothing extracted
    crawl(cache, [])
    assert crawl(cache, titled(1))[0] is first[0]


def test_rows_whose_view_count_changes_every_crawl_keep_two_generations() -> None:
    cache = ListingCache()
    for n in range(50):
        rows = [{**r, "views": str(1000 + n)} for r in titled(*range(30))]
        crawl(cache, rows, NOW + timedelta(hours=n))
        assert len(cache._rows) <= 2 * 30
    assert len(cache._rows.current) == 30


def test_the_cap_holds_for_a_huge_page() -> None:
    cache = ListingCache(size=100)
    cache.new_crawl()
    for i in range(5000):
        cache.build(row("", title=f"Acme {i} users"), context())
        assert len(cache._rows.current) <= 100 and len(cache._rows) <= 200
    rows = [row("", title=f"Acme {i} users") for i in range(4950, 5000)]
    again = crawl(cache, rows)  # the page's last rows are still memoised
    assert all(a is not None for a in again) and len(cache._rows) <= 200


def test_generations_keep_relative_dates_read_at_each_crawl() -> None:
    cache = ListingCache()
    posted = ["2 hours ago", "Yesterday, 10:15 PM", "06-30-2026, 02:02 PM", ""]
    rows = [row(p, title=f"Acme {i}M users") for i, p in enumerate(posted)]
    times = [NOW, NOW + timedelta(hours=3), NOW, NOW + timedelta(days=2), NOW + timedelta(days=2)]
    for step, now in enumerate(times):
        used = rows if step % 2 == 0 else rows[:1]  # the others skip a crawl
        for got, r in zip(crawl(cache, used, now), used, strict=True):
            assert got == build_listing(r, context(now)), (r, now)


def row_of(cache: ListingCache, n: int) -> tuple[object, ...]:
    """The memo key of `titled(n)`'s row."""
    return (*titled(n)[0].items(), URL, URL)


def test_engine_reuses_listings_across_crawls() -> None:
    html = (
        "<table><tr class='inline_row'><td><span id='tid_7'>"
        "<a href='showthread.php?tid=7'>Acme 2M users</a></span>"
        "<span class='thread_start_datetime'>Yesterday, 10:15 PM</span></td></tr></table>"
    )
    engine = get_engine(Source(name="forum", url=URL, engine="mybb", every=600))
    one = engine.extract(html, URL, now=NOW).listings[0]
    two = engine.extract(html, URL, now=NOW + timedelta(days=1)).listings[0]
    assert one.external_id == two.external_id == "7"
    assert one.posted_at is not None and two.posted_at is not None
    assert two.posted_at - one.posted_at == timedelta(days=1)


def test_a_price_with_a_currency_beats_a_bare_amount() -> None:
    raw = {**row(""), "title": "Acme shop 1.2M users - 1500$", "price": "Price: 1500"}
    listing = build_listing(raw, context())
    assert listing is not None and listing.price is not None
    assert (listing.price.amount, listing.price.currency) == (1500, "USD")
    raw = {**row(""), "title": "Acme shop 1.2M users - 1500$", "price": "0.5 BTC"}
    listing = build_listing(raw, context())
    assert listing is not None and listing.price is not None
    assert listing.price.currency == "BTC"  # the price field, when it names a currency


def forum(crawl: int, tids: range, dated: bool = True) -> str:
    """A MyBB listing page at crawl number `crawl`: every view count changes."""
    dates = ["2 hours ago", "Yesterday, 10:15 PM", "06-30-2026, 02:02 PM", ""]
    rows = "".join(
        f"<tr class='inline_row'><td><span id='tid_{t}'><a href='showthread.php?tid={t}'>"
        f"Acme shop {t % 7 + 1}.2M users - {t % 5 + 1} BTC</a></span>"
        f"<span class='thread_start_datetime'>{dates[t % 4] if dated else ''}</span></td>"
        f"<td class='replies'>{t % 3}</td><td class='views'>{1000 + t + crawl}</td></tr>"
        for t in tids
    )
    return f"<html><body><table>{rows}</table></body></html>"


MYBB = Source(name="forum", url=URL, engine="mybb", every=600)


def test_engine_memo_holds_two_crawls_when_view_counts_change_every_crawl() -> None:
    engine: Any = get_engine(MYBB)
    for n in range(40):
        engine.new_crawl()
        listings = engine.extract(forum(n, range(1, 26)), URL, now=NOW).listings
        assert [li.views for li in listings] == [1000 + t + n for t in range(1, 26)]
        assert len(engine._rows._rows) <= 2 * 25
    assert len(engine._rows._rows) == 2 * 25  # this crawl's rows and the last one's
    assert len(engine._parse._memo) == 25  # the titles do not change: each kept once


def test_engine_gives_the_same_listings_with_and_without_its_memo() -> None:
    told: Any = get_engine(MYBB)  # the daemon's engine: told where crawls start
    untold: Any = get_engine(MYBB)  # never told, with tiny memos: the caps turn them over
    untold._rows, untold._parse = ListingCache(size=5), TextParser(size=5)
    pages = [range(1, 30), range(1, 10), range(5, 40), range(1, 40), range(20, 25), range(1, 30)]
    for n, tids in enumerate(pages * 2):
        now = NOW + timedelta(hours=5 * n)
        html = forum(n // 3, tids)  # view counts change every third crawl
        told.new_crawl()
        fresh = get_engine(MYBB).extract(html, URL, now=now)
        assert told.extract(html, URL, now=now) == fresh
        assert untold.extract(html, URL, now=now) == fresh
        assert len(untold._rows._rows) <= 10 and len(untold._parse._memo) <= 10


def test_engine_memo_cap_holds_for_a_huge_crawl() -> None:
    engine: Any = get_engine(MYBB)
    engine._rows, engine._parse = ListingCache(size=64), TextParser(size=64)
    engine.new_crawl()
    for first in range(1, 3001, 1000):  # three pages of MAX_ITEMS rows each
        html = forum(0, range(first, first + 1000), dated=False)
        assert len(engine.extract(html, f"{URL}&page={first}", now=NOW).listings) == 1000
        assert len(engine._rows._rows) <= 128 and len(engine._parse._urls) <= 128


def test_memo_generations_and_cap() -> None:
    memo: Memo[str, int | None] = Memo(cap=2)
    memo.put("a", 1)
    memo.put("b", None)  # None is a value, not a miss
    assert memo.get("b", MISSING) is None and memo.get("z", MISSING) is MISSING
    memo.put("c", 3)  # the current generation was full: it became the previous one
    assert (memo.current, memo.previous) == ({"c": 3}, {"a": 1, "b": None})
    memo.put("c", 4)  # a key already there does not start a generation
    assert memo.current == {"c": 4}
    assert memo.get("a", MISSING) == 1 and memo.current == {"c": 4, "a": 1}
    assert memo.get("b", MISSING) is None  # full again: moving b up starts a generation
    assert (memo.current, memo.previous) == ({"b": None}, {"c": 4, "a": 1})
    memo.new_crawl()
    memo.new_crawl()
    assert len(memo) == 1 and "b" in memo  # an empty generation does not age the memo
