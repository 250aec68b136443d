"""Store on a real SQLite file: schema, atomic crawl writes, outbox, queries."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from monitor.errors import StoreError
from monitor.lifecycle import diff_crawl, fingerprint
from monitor.models import (
    Alert,
    AlertStatus,
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Event,
    EventKind,
    FieldChange,
    Listing,
    ListingState,
    PageSnapshot,
    Price,
    PriceFloor,
    Records,
    Source,
    SourceMove,
    StoredListing,
    Verdict,
    Verification,
)
from monitor.store import Store, history, schema
from monitor.store import write as store_write
from monitor.store.convert import LISTING_COLUMNS, listing_row
from monitor.store.schema import MIGRATION_NAMES, MIGRATIONS

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FORUM = Source(name="forum", url="http://forum.onion/", engine="css", every=600)
SHOP = Source(name="shop", url="http://shop.onion/", engine="css", every=600)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def listing(ext: str, title: str = "Shanghai police", source: str = "forum", **kw: Any) -> Listing:
    return Listing(source, ext, f"http://{source}.onion/t/{ext}", title, **kw)


def full_listing() -> Listing:
    return listing(
        "42",
        "Shanghai National Police — 1B citizens",
        seller="ChinaDan",
        price=Price(10.0, "BTC", "10 BTC", usd=200_000.0, negotiable=True),
        records=Records(1_000_000_000, "1 billion"),
        posted_at=datetime(2022, 6, 30, 8, 15, 30, 123456, tzinfo=UTC),
        posted_raw="30 Jun 2022",
    )


def crawl(
    *listings: Listing,
    n: int = 1,
    source: str = "forum",
    outcome: CrawlOutcome = CrawlOutcome.COMPLETE,
) -> Crawl:
    return Crawl(f"c{n}", source, at(n) - timedelta(minutes=2), at(n), outcome, 2, 3000, listings)


def active(li: Listing, n: int = 1, **kw: Any) -> StoredListing:
    return StoredListing(li, ListingState.ACTIVE, at(n), at(n), cluster=li.id, **kw)


def event(
    eid: str,
    c: Crawl,
    kind: EventKind = EventKind.NEW,
    listing_id: str | None = None,
    **details: Any,
) -> Event:
    return Event(eid, kind, c.source, c.id, c.finished, listing_id, details)


def alert(aid: str, event_id: str, rule: str = "r", target: str = "slack", **kw: Any) -> Alert:
    return Alert(aid, event_id, rule, target, "high", f"title {aid}", "body", at(0), **kw)


def diff(c: Crawl, writes: tuple[StoredListing, ...] = (), **kw: Any) -> CrawlDiff:
    return CrawlDiff(c, writes, kw.pop("touched", ()), kw.pop("changes", {}), kw.pop("events", ()))


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store.open(tmp_path / "leakmon.db") as s:
        s.sync_sources([FORUM, SHOP])
        yield s


def dump(s: Store) -> dict[str, list[str]]:
    """Every row of every table (FTS shadow tables included), order-free."""
    names = [r[0] for r in s.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {n: sorted(map(repr, s.db.execute(f'SELECT * FROM "{n}"'))) for n in names}


def with_new(s: Store, c: Crawl, *listings: StoredListing) -> CrawlDiff:
    d = diff(c, listings, events=tuple(event(f"e-{x.id}", c, listing_id=x.id) for x in listings))
    s.apply(d, ())
    return d


# ------------------------------------------------------------------ opening


def test_open_creates_a_private_wal_database_with_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deep" / "leakmon.db"
    with Store.open(path) as s:
        s.sync_sources([FORUM])
        assert s.db.journal_mode == "wal"
        assert s.db.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert s.db.execute("PRAGMA busy_timeout").fetchone() == (5000,)
        assert stat.S_IMODE(os.stat(path.with_name("leakmon.db-wal")).st_mode) == 0o600
        tables = set(s.db.table_names())
        triggers = {t.name for t in s.db.table("listings").triggers}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert {"sources", "crawls", "listings", "observations", "events", "alerts"} <= tables
    assert {"listings_fts", "_sqlite_migrations"} <= tables
    assert triggers == set()  # the search index is kept by Store.apply


def test_migrations_are_idempotent_and_registered(tmp_path: Path) -> None:
    path = tmp_path / "leakmon.db"
    Store.open(path).close()
    with Store.open(path) as s:
        applied = [m.name for m in MIGRATIONS.applied(s.db)]
    assert applied == list(MIGRATION_NAMES)
    assert [m.name for m in MIGRATIONS.pending(Database(memory=True))] == list(MIGRATION_NAMES)


def test_a_database_from_a_newer_leakmon_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "leakmon.db"
    with Store.open(path) as s:
        s.db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('leakmon', '0099_future', 'x')"
        )
    with pytest.raises(StoreError, match=r"0099_future.*newer"):
        Store.open(path)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some notes, certainly not SQLite\n" * 200)
    with pytest.raises(StoreError, match=r"notes\.txt.*not an SQLite database"):
        Store.open(path)


def test_a_path_that_cannot_be_a_file_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot create or open"):
        Store.open(tmp_path)


def test_a_locked_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "leakmon.db"
    with Store.open(path) as s, Store.open(path, busy_timeout=0.05) as other:
        s.db.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="locked"):
            other.sync_sources([FORUM])
        s.db.execute("ROLLBACK")


# ------------------------------------------------------------------ writing


def test_stored_listing_round_trip(store: Store) -> None:
    full = replace(active(full_listing()), fingerprint="f" * 16, cluster="shop:9")
    bare = replace(active(listing("7", "bare")), missing_streak=2, state=ListingState.MISSING)
    gone = replace(
        active(listing("8", "gone", price=Price(None, None, "PM"))),
        state=ListingState.DELETED,
        deleted_at=at(3),
    )
    store.apply(diff(crawl(full.listing, bare.listing, gone.listing), (full, bare, gone)), ())
    assert store.known_listings("forum") == {s.id: s for s in (full, bare, gone)}
    assert store.known_listings("shop") == {}


def test_apply_writes_the_crawl_observations_events_and_source(store: Store) -> None:
    old = active(listing("1", price=Price(10.0, "BTC", "10 BTC")))
    with_new(store, crawl(old.listing), old)
    cheaper = replace(old.listing, price=Price(8.0, "BTC", "8 BTC"))
    c = crawl(cheaper, n=2)
    change = FieldChange("price", "10 BTC", "8 BTC")
    e = event("e2", c, EventKind.CHANGED, "forum:1", price_drop=True)
    store.apply(
        diff(c, (replace(old, listing=cheaper, last_seen=at(2)),), changes={"forum:1": (change,)}),
        (),
    )
    store.apply(replace(diff(crawl(n=3)), events=(replace(e, id="e3", crawl_id="c3"),)), ())
    assert store.crawls(limit=2)[1] == {
        "id": "c2",
        "source": "forum",
        "started": "2024-06-01T13:58:00.000000+00:00",
        "finished": "2024-06-01T14:00:00.000000+00:00",
        "outcome": "complete",
        "pages": 2,
        "wire_bytes": 3000,
        "listings_seen": 1,
        "error": None,
    }
    assert store.observations("forum:1") == [
        {
            "id": 1,
            "listing_id": "forum:1",
            "crawl_id": "c2",
            "at": "2024-06-01T14:00:00.000000+00:00",
            "field": "price",
            "before": "10 BTC",
            "after": "8 BTC",
        }
    ]
    row = store.listing("forum:1")
    assert row is not None and (row["price_raw"], row["price_amount"]) == ("8 BTC", 8.0)
    assert store.listing("forum") is None


def test_event_details_round_trip_as_json(store: Store) -> None:
    c = crawl(listing("1"))
    details = {
        "changes": [{"field": "records", "before": 1, "after": None}],
        "price_drop": True,
        "title": "上海 police «ЧинаДан» \u202e",
        "median": 10.5,
        "when": at(1),
    }
    store.apply(diff(c, (active(listing("1")),), events=(event("e1", c, **details),)), ())
    (row,) = store.events()
    assert row == {
        "id": "e1",
        "kind": "new",
        "source": "forum",
        "listing_id": None,
        "crawl_id": "c1",
        "at": "2024-06-01T13:00:00.000000+00:00",
        "details": {**details, "when": "2024-06-01T13:00:00.000000+00:00"},
    }


def test_apply_is_all_or_nothing_on_a_constraint_failure(store: Store) -> None:
    with_new(store, crawl(listing("1")), active(listing("1")))
    before = dump(store)
    c = crawl(listing("1", "edited"), listing("2", "Acme"), n=2)
    bad = diff(
        c,
        (active(listing("1", "edited")), active(listing("2", "Acme"))),
        changes={"forum:1": (FieldChange("title", "Shanghai police", "edited"),)},
        events=(event("e9", c, listing_id="forum:2"),),
        touched=("forum:1",),
    )
    with pytest.raises(StoreError, match="missing row"):
        store.apply(bad, [alert("a1", "e9"), alert("a2", "no-such-event")])
    assert dump(store) == before


def test_apply_is_all_or_nothing_on_any_exception(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dump(store)

    def boom(e: Event) -> dict[str, Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_write, "event_row", boom)
    c = crawl(listing("1"))
    with pytest.raises(RuntimeError, match="disk on fire"):
        with_new(store, c, active(listing("1")))
    assert dump(store) == before


def test_apply_needs_a_synced_source(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown source 'elsewhere'"):
        store.apply(diff(crawl(source="elsewhere")), ())


def test_an_alert_for_the_same_event_rule_and_target_is_kept_once(store: Store) -> None:
    c = crawl(listing("1"))
    store.apply(
        diff(c, (active(listing("1")),), events=(event("e1", c),)),
        [alert("a1", "e1"), alert("a2", "e1", target="mail")],
    )
    store.apply(
        diff(crawl(n=2)), [replace(alert("a3", "e1"), title="again"), alert("a4", "e1", rule="x")]
    )
    rows = store.alerts()
    assert [(r["id"], r["rule"], r["target"], r["title"]) for r in rows] == [
        ("a1", "r", "slack", "title a1"),
        ("a2", "r", "mail", "title a2"),
        ("a4", "x", "slack", "title a4"),
    ]


def test_source_health_follows_crawl_outcomes(store: Store) -> None:
    def health() -> tuple[Any, ...]:
        row = next(r for r in store.sources() if r["name"] == "forum")
        return row["state"], row["failure_streak"], row["last_ok"], row["last_crawl"]

    store.apply(diff(crawl(n=1)), ())
    assert health() == (
        "ok",
        0,
        "2024-06-01T13:00:00.000000+00:00",
        "2024-06-01T13:00:00.000000+00:00",
    )
    store.apply(diff(crawl(n=2, outcome=CrawlOutcome.FAILED)), ())
    store.apply(diff(crawl(n=3, outcome=CrawlOutcome.BLOCKED)), ())
    assert health() == (
        "blocked",
        2,
        "2024-06-01T13:00:00.000000+00:00",
        "2024-06-01T15:00:00.000000+00:00",
    )
    store.apply(diff(crawl(n=4, outcome=CrawlOutcome.FAILED)), ())
    assert health()[:2] == ("failing", 3)
    assert store.failure_streak("forum") == 3
    assert store.failure_streak("shop") == store.failure_streak("never-synced") == 0
    store.apply(diff(crawl(n=5, outcome=CrawlOutcome.PARTIAL)), ())
    assert health() == (
        "ok",
        0,
        "2024-06-01T13:00:00.000000+00:00",
        "2024-06-01T17:00:00.000000+00:00",
    )
    c = crawl(n=6)
    store.apply(diff(c, events=(event("e6", c, EventKind.LAYOUT_CHANGED),)), ())
    assert health()[:3] == ("layout_changed", 0, "2024-06-01T18:00:00.000000+00:00")
    assert next(r for r in store.sources() if r["name"] == "shop")["last_crawl"] is None


def test_sync_sources_updates_but_never_deletes(store: Store) -> None:
    store.sync_sources([replace(FORUM, url="http://moved.onion/", engine="mybb")])
    rows = {r["name"]: (r["url"], r["engine"]) for r in store.sources()}
    assert rows == {"forum": ("http://moved.onion/", "mybb"), "shop": ("http://shop.onion/", "css")}


def test_a_source_moved_to_another_address_takes_its_listing_urls_along(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    mine = [listing("1"), listing("2"), replace(listing("3"), url="http://mirror.onion/t/3")]
    lookalike = replace(listing("4"), url="http://forum.onion.evil.onion/t/4")
    shop = listing("9", source="shop")
    run_crawl(store, crawl(*mine, lookalike))
    run_crawl(store, crawl(shop, n=2, source="shop"), SHOP)
    assert store.sync_sources([FORUM, SHOP]) == ()  # nothing moved
    assert store.sync_sources([replace(FORUM, url="http://forum.onion/other/path")]) == ()
    moved = replace(FORUM, url="HTTP://NewForum.onion/forumdisplay.php?fid=2")
    with caplog.at_level(logging.WARNING, logger="monitor.store.db"):
        moves = store.sync_sources([moved, SHOP])
    assert moves == (SourceMove("forum", "http://forum.onion", "http://newforum.onion", 2),)
    assert caplog.messages == [
        "source forum moved from http://forum.onion to http://newforum.onion: "
        "2 listing urls moved to the new address"
    ]
    urls = {r["id"]: r["url"] for r in store.db.query("SELECT id, url FROM listings")}
    assert urls == {
        "forum:1": "http://newforum.onion/t/1",
        "forum:2": "http://newforum.onion/t/2",
        "forum:3": "http://mirror.onion/t/3",  # on another host all along
        "forum:4": "http://forum.onion.evil.onion/t/4",
        "shop:9": "http://shop.onion/t/9",  # another source
    }
    assert store.sync_sources([moved, SHOP]) == ()  # once
    https = replace(moved, url="https://newforum.onion/")
    assert store.sync_sources([https])[0].listings == 2  # another scheme is another origin


# ------------------------------------------------------ growth follows change


def run_crawl(s: Store, c: Crawl, source: Source = FORUM) -> CrawlDiff:
    known = s.known_listings(c.source)
    new = [li for li in c.listings if li.id not in known]
    d = diff_crawl(
        c,
        known,
        source,
        previous_complete=s.recent_complete_counts(c.source),
        repost_candidates=s.repost_candidates(new, fingerprints=map(fingerprint, new)),
        first_complete=not s.has_complete_crawl(c.source),
    )
    s.apply(d, ())
    return d


def test_a_quiet_crawl_adds_one_crawl_row_and_moves_last_seen_only(store: Store) -> None:
    listings = [
        listing(str(i), f"dataset {i}", seller=f"s{i}", records=Records(i, str(i)))
        for i in range(5)
    ]
    run_crawl(store, crawl(*listings, n=1))
    before = dump(store)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    d = run_crawl(store, crawl(*listings, n=2))
    store.db.conn.set_trace_callback(None)
    after = dump(store)

    assert d.events == () and d.writes == () and len(d.touched) == 5
    changed = {t for t in after if after[t] != before[t]}
    assert changed == {"crawls", "listings", "sources"}
    assert len(after["crawls"]) == len(before["crawls"]) + 1
    # one statement moves last_seen, and it does not rewrite the search index
    assert len([s for s in statements if s.startswith("UPDATE listings")]) == 1
    rows = store.listings()
    assert {r["last_seen"] for r in rows} == {"2024-06-01T14:00:00.000000+00:00"}
    assert {r["first_seen"] for r in rows} == {"2024-06-01T13:00:00.000000+00:00"}


def test_recent_complete_counts_and_baseline(store: Store) -> None:
    assert store.has_complete_crawl("forum") is False
    store.apply(diff(crawl(listing("1"), n=1, outcome=CrawlOutcome.PARTIAL)), ())
    assert store.has_complete_crawl("forum") is False
    store.apply(diff(crawl(*[listing(str(i)) for i in range(3)], n=2)), ())
    store.apply(diff(crawl(*[listing(str(i)) for i in range(4)], n=3)), ())
    c = crawl(listing("1"), n=4)
    store.apply(diff(c, events=(event("e4", c, EventKind.LAYOUT_CHANGED),)), ())
    store.apply(diff(crawl(*[listing(str(i)) for i in range(6)], n=5)), ())
    store.apply(diff(crawl(listing("x", source="shop"), n=6, source="shop")), ())
    assert store.has_complete_crawl("forum") is True
    assert store.recent_complete_counts("forum") == [6, 4, 3]
    assert store.recent_complete_counts("forum", limit=2) == [6, 4]
    assert store.recent_complete_counts("shop") == [1]


def test_failure_streak_and_layout_pending(store: Store) -> None:
    assert store.failure_streak("forum") == 0 and store.failure_streak("nowhere") == 0
    assert store.layout_pending("forum") is False
    store.apply(diff(crawl(n=1, outcome=CrawlOutcome.FAILED)), ())
    store.apply(diff(crawl(n=2, outcome=CrawlOutcome.BLOCKED)), ())
    assert store.failure_streak("forum") == 2
    noted = replace(crawl(listing("1"), n=3), error="most listings vanished")
    store.apply(diff(noted), ())
    assert store.failure_streak("forum") == 0
    assert store.layout_pending("forum") is True
    store.apply(diff(crawl(n=4, outcome=CrawlOutcome.PARTIAL)), ())
    assert store.layout_pending("forum") is True  # the newest complete one decides
    store.apply(diff(crawl(listing("1"), n=5)), ())
    assert store.layout_pending("forum") is False
    assert store.layout_pending("shop") is False


def test_repost_candidates_by_count_or_fingerprint_across_sources(store: Store) -> None:
    a = replace(active(listing("1", records=Records(500, "500"))), fingerprint="fa")
    b = replace(
        active(listing("2", "b", source="shop", records=Records(9, "9")), n=2), fingerprint="fb"
    )
    c = replace(active(listing("3", "c", records=Records(500, "500")), n=3), fingerprint="fc")
    d = replace(active(listing("4", "d"), n=4), fingerprint="fd")
    with_new(store, crawl(a.listing, c.listing, d.listing, n=5), a, c, d)
    with_new(store, crawl(b.listing, n=6, source="shop"), b)
    new = [listing("9", "x", records=Records(500, "500")), listing("10", "y")]
    assert [s.id for s in store.repost_candidates(new)] == ["forum:3", "forum:1"]
    got = store.repost_candidates(new, fingerprints=["fb", "zz"])
    assert [s.id for s in got] == ["shop:2", "forum:3", "forum:1"]
    assert got[0] == b
    assert [s.id for s in store.repost_candidates(new, fingerprints=["fb"], limit=2)] == [
        "shop:2",
        "forum:3",
    ]
    assert store.repost_candidates([listing("11", "z")]) == []


# -------------------------------------------------------------------- outbox


def outbox(store: Store) -> None:
    c = crawl(listing("1"))
    store.apply(
        diff(c, (active(listing("1")),), events=(event("e1", c),)),
        [
            alert("a1", "e1"),
            replace(alert("a2", "e1", target="mail"), created=at(1)),
            alert("a3", "e1", target="later", next_attempt=at(5)),
        ],
    )


def test_outbox_lifecycle(store: Store) -> None:
    outbox(store)
    assert [a.id for a in store.due_alerts(at(2))] == ["a1", "a2"]
    assert store.due_alerts(at(2), limit=1)[0] == alert("a1", "e1")
    assert [a.id for a in store.due_alerts(at(5))] == ["a1", "a3", "a2"]  # oldest first

    store.mark_attempt_failed("a1", "HTTP 503", at(3))
    store.mark_sent("a2", at(2))
    assert [a.id for a in store.due_alerts(at(2))] == []
    (a1,) = [a for a in store.due_alerts(at(3)) if a.id == "a1"]
    assert (a1.status, a1.attempts, a1.last_error, a1.next_attempt) == (
        AlertStatus.PENDING,
        1,
        "HTTP 503",
        at(3),
    )
    store.mark_attempt_failed("a1", "HTTP 401", None)
    assert [a.id for a in store.due_alerts(at(9))] == ["a3"]

    rows = {r["id"]: r for r in store.alerts()}
    assert (rows["a1"]["status"], rows["a1"]["attempts"], rows["a1"]["last_error"]) == (
        "failed",
        2,
        "HTTP 401",
    )
    assert rows["a1"]["next_attempt"] is None
    assert (rows["a2"]["status"], rows["a2"]["attempts"], rows["a2"]["sent_at"]) == (
        "sent",
        1,
        "2024-06-01T14:00:00.000000+00:00",
    )
    assert [r["id"] for r in store.alerts(AlertStatus.PENDING)] == ["a3"]
    assert [r["id"] for r in store.alerts(AlertStatus.SENT)] == ["a2"]
    counts = {status: store.alert_count(status) for status in AlertStatus}
    assert counts == {AlertStatus.PENDING: 1, AlertStatus.SENT: 1, AlertStatus.FAILED: 1}


def test_marking_an_unknown_alert_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no alert 'nope'"):
        store.mark_sent("nope", at(1))
    with pytest.raises(StoreError, match="no alert 'nope'"):
        store.mark_attempt_failed("nope", "x", None)


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.due_alerts(datetime(2024, 1, 1))


# ------------------------------------------------------------------- queries


def test_full_text_search_by_title_and_seller_stays_in_sync(store: Store) -> None:
    police = active(listing("1", "Shanghai National Police", seller="ChinaDan"))
    acme = active(listing("2", "Acme corp customers", seller="dataking"), n=2)
    with_new(store, crawl(police.listing, acme.listing), police, acme)

    def found(q: str) -> list[str]:
        return [r["id"] for r in store.listings(search=q)]

    assert found("police") == ["forum:1"]
    assert found("chinadan") == ["forum:1"]
    assert found("datak") == ["forum:2"]  # prefix
    assert found("shanghai police") == ["forum:1"]
    assert found("shanghai dataking") == []
    edited = replace(
        police, listing=replace(police.listing, title="Beijing hospital", seller="Dan2")
    )
    store.apply(diff(crawl(n=3), (edited,)), ())
    assert found("police") == [] and found("chinadan") == []
    assert found("beijing") == ["forum:1"] and found("dan2") == ["forum:1"]
    for hostile in ['"', "AND", "NEAR(", "*", "a OR", "-x", "title:x", "'; DROP TABLE listings"]:
        assert found(hostile) == []
    assert found('"beijing" OR (NOT "acme")') == []
    assert found('"Beijing" hosp*') == ["forum:1"]
    assert found("corp-customers") == ["forum:2"]
    assert len(store.listings(search="  ")) == 2


def test_listing_and_event_queries_filter(store: Store) -> None:
    one = active(listing("1", "one"), n=1)
    two = replace(active(listing("2", "two"), n=2), state=ListingState.DELETED, deleted_at=at(3))
    shop = active(listing("3", "three", source="shop"), n=3)
    with_new(store, crawl(one.listing, n=1), one)
    with_new(store, crawl(two.listing, n=2), two)
    with_new(store, crawl(shop.listing, n=3, source="shop"), shop)

    assert [r["id"] for r in store.listings()] == ["shop:3", "forum:2", "forum:1"]
    assert [r["id"] for r in store.listings(source="forum")] == ["forum:2", "forum:1"]
    assert [r["id"] for r in store.listings(state="deleted")] == ["forum:2"]
    assert [r["id"] for r in store.listings(source="shop", state=ListingState.ACTIVE)] == ["shop:3"]
    row = store.listing("forum:2")
    assert row is not None
    assert (row["state"], row["deleted_at"], row["price_negotiable"]) == (
        "deleted",
        "2024-06-01T15:00:00.000000+00:00",
        False,
    )

    assert [e["listing_id"] for e in store.events()] == ["forum:1", "forum:2", "shop:3"]
    assert [e["listing_id"] for e in store.events(since=at(2))] == ["forum:2", "shop:3"]
    assert [e["id"] for e in store.events(listing_id="forum:1")] == ["e-forum:1"]
    assert [e["source"] for e in store.events(source="shop")] == ["shop"]
    assert [c["id"] for c in store.crawls()] == ["c3", "c2", "c1"]
    assert [c["id"] for c in store.crawls(source="forum", limit=1)] == ["c2"]


def test_store_errors_wrap_sqlite_errors(store: Store) -> None:
    store.db.conn.close()
    with pytest.raises(StoreError, match="cannot read listings"):
        store.listings()


def test_the_chinadan_story_end_to_end(store: Store) -> None:
    others = [listing(str(i), f"dataset {i}", records=Records(i + 1, "x")) for i in range(3)]
    dan = listing(
        "42",
        "[SELLING] Shanghai National Police DB",
        seller="ChinaDan",
        price=Price(10.0, "BTC", "10 BTC"),
        records=Records(1_000_000_000, "1B"),
    )
    assert run_crawl(store, crawl(*others, n=1)).baseline is True
    assert [e.kind for e in run_crawl(store, crawl(*others, dan, n=2)).events] == ["new"]
    cheaper = replace(dan, price=Price(8.0, "BTC", "8 BTC"))
    (changed,) = run_crawl(store, crawl(*others, cheaper, n=3)).events
    assert changed.details["price_drop"] is True
    (deleted,) = run_crawl(store, crawl(*others, n=4)).events
    assert (deleted.kind, deleted.details["price"]) == ("deleted", "8 BTC")

    acme = listing("s1", "Acme", source="shop")
    run_crawl(store, crawl(acme, n=5, source="shop"), SHOP)
    repost = listing("p9", "Shanghai police national database 1B", source="shop", seller="dk")
    repost = replace(repost, records=Records(1_000_000_000, "1,000,000,000"))
    (reposted,) = run_crawl(store, crawl(acme, repost, n=6, source="shop"), SHOP).events
    assert (reposted.kind, reposted.details["original_id"]) == ("reposted", "forum:42")

    timeline = [(e["kind"], e["at"][:13]) for e in store.events(listing_id="forum:42")]
    assert timeline == [
        ("new", "2024-06-01T14"),
        ("changed", "2024-06-01T15"),
        ("deleted", "2024-06-01T16"),
    ]
    row = store.listing("shop:p9")
    assert row is not None and row["cluster"] == "forum:42"
    assert [o["after"] for o in store.observations("forum:42")] == ["8 BTC"]


# ------------------------------------------------- migration 2, evidence, history


def rich_listing() -> Listing:
    return replace(
        full_listing(),
        price=Price(10.0, "BTC", "10 BTC", usd=200_000.0, kind="start"),
        data_types=("names", "national_ids", "phones"),
        size_bytes=23_000_000_000_000,
        span=(1995, 2019),
        country="CN",
        replies=12,
        views=3400,
        sticky=True,
        first_post="Shanghai police database, 1995-2019: names, ID numbers, phones.",
    )


def test_rich_listing_round_trip(store: Store) -> None:
    rich = replace(active(rich_listing()), fingerprint="f" * 16)
    store.apply(diff(crawl(rich.listing), (rich,)), ())
    assert store.known_listings("forum") == {rich.id: rich}
    row = store.listing(rich.id)
    assert row is not None
    assert (row["data_types"], row["span_from"], row["span_to"], row["sticky"]) == (
        ["names", "national_ids", "phones"],
        1995,
        2019,
        True,
    )


def test_migration_2_upgrades_a_version_1_database_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    MIGRATIONS.apply(db, stop_before="0002_evidence")
    db.execute("INSERT INTO sources (name, url, engine) VALUES ('forum', 'http://f.onion/', 'css')")
    old = active(listing("1", "Shanghai police", seller="ChinaDan"))
    columns = ", ".join(LISTING_COLUMNS[:22])
    values = listing_row(old)[:22]
    db.execute(f"INSERT INTO listings ({columns}) VALUES ({', '.join('?' * len(values))})", values)
    db.conn.commit()
    db.close()
    with Store.open(path) as s:
        assert [m.name for m in MIGRATIONS.applied(s.db)] == list(MIGRATION_NAMES)
        assert s.known_listings("forum") == {old.id: old}
        assert [r["id"] for r in s.listings(search="chinadan")] == ["forum:1"]
        assert {"active_listings", "deletions", "sellers"} <= set(s.db.view_names())


def test_a_migration_that_fails_halfway_leaves_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    MIGRATIONS.apply(db, stop_before="0002_evidence")
    db.close()
    # everything of migration 2 but its last statement runs, then it fails
    monkeypatch.setattr(schema, "_EVIDENCE", schema._EVIDENCE + "\nSELECT no_such_function();")
    with pytest.raises(StoreError, match="no_such_function"):
        Store.open(path)
    db = Database(path)
    assert [m.name for m in MIGRATIONS.applied(db)] == ["0001_schema"]
    assert "price_kind" not in db["listings"].columns_dict  # its ALTERs were rolled back
    assert {"listings_ai", "listings_ad", "listings_au"} <= {t.name for t in db.triggers}
    db.close()
    monkeypatch.undo()
    with Store.open(path) as s:  # and the next start upgrades it
        assert [m.name for m in MIGRATIONS.applied(s.db)] == list(MIGRATION_NAMES)


def test_a_first_migration_that_fails_leaves_an_empty_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "new.db"
    monkeypatch.setattr(schema, "_FTS_UPDATE_TRIGGER", "SELECT no_such_function();")
    with pytest.raises(StoreError, match="no_such_function"):
        Store.open(path)
    db = Database(path)
    assert "listings" not in db.table_names() and "listings_fts" not in db.table_names()
    db.close()
    monkeypatch.undo()
    with Store.open(path) as s:
        assert [m.name for m in MIGRATIONS.applied(s.db)] == list(MIGRATION_NAMES)


def test_run_script_splits_statements_but_not_trigger_bodies(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db")
    schema.run_script(
        db,
        "CREATE TABLE a (x); CREATE TABLE b (x);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); "
        "INSERT INTO b VALUES (2); END;\n-- a closing comment\n",
    )
    db.execute("INSERT INTO a VALUES (0)")
    assert [r[0] for r in db.execute("SELECT x FROM b ORDER BY x").fetchall()] == [1, 2]
    with pytest.raises(ValueError, match="incomplete"):
        schema.run_script(db, "CREATE TRIGGER u AFTER INSERT ON a BEGIN SELECT 1;")


def test_first_post_is_searchable(store: Store) -> None:
    rich = active(rich_listing())
    store.apply(diff(crawl(rich.listing), (rich,)), ())
    found = store.read("search", history.listings, search="ID numbers")
    assert [r["id"] for r in found] == ["forum:42"]


def check_of(li: Listing, verdict: Verdict, hours: float) -> Verification:
    return Verification(li.id, li.url, at(hours), verdict, f"because {verdict}", 200)


def test_verifications_and_kept_pages_are_written_with_the_crawl(store: Store) -> None:
    li = listing("1")
    with_new(store, crawl(li), active(li))
    html = "<html><body>" + "thread text " * 500 + "</body></html>"
    snap = PageSnapshot(li.id, li.url, at(2), 200, html)
    c = crawl(n=2)
    store.apply(
        diff(c),
        (),
        verifications=[check_of(li, Verdict.PRESENT, 2), check_of(li, Verdict.UNKNOWN, 2.5)],
        pages=[snap, replace(snap, at=at(2.5))],  # the same content: kept once
    )
    store.apply(diff(crawl(n=3)), (), pages=[replace(snap, html=html + "edited", at=at(3))])
    trail = store.read("v", history.verifications, li.id)
    assert [(v["verdict"], v["reason"], v["crawl_id"]) for v in trail] == [
        ("present", "because present", "c2"),
        ("unknown", "because unknown", "c2"),
    ]
    kept = store.read("p", history.pages, li.id)
    assert [(p["at"][:13], p["size"]) for p in kept] == [
        ("2024-06-01T14", len(html)),
        ("2024-06-01T15", len(html) + 6),
    ]
    stored_bytes = store.db.execute("SELECT length(html) FROM pages").fetchone()[0]
    assert stored_bytes < len(html) / 10  # compressed
    assert store.read("p", history.page_html, kept[0]["id"]) == html
    assert store.seen_pages(["forum:1", "forum:9"]) == {"forum:1"}


def test_views_and_history_queries(store: Store) -> None:
    dan = replace(active(rich_listing(), n=1), fingerprint="a")
    gone = replace(
        active(listing("2", "Acme", seller="chinadan", records=Records(5, "5")), n=1),
        state=ListingState.DELETED,
        deleted_at=at(4),
    )
    shop = active(
        listing("3", "Shanghai police", "shop", seller="DK", records=Records(7, "7")), n=2
    )
    store.apply(diff(crawl(dan.listing, gone.listing), (dan, gone)), ())
    store.apply(diff(crawl(shop.listing, n=2, source="shop"), (shop,)), ())
    rows = {r["handle"].casefold(): r for r in store.read("s", history.sellers)}
    assert rows["chinadan"]["listings"] == 2 and rows["chinadan"]["deleted"] == 1
    assert rows["chinadan"]["total_records"] == 1_000_000_005
    assert rows["chinadan"]["sources"] == 1 and rows["dk"]["source_names"] == "shop"
    (deletion,) = store.db.query("SELECT * FROM deletions")
    assert (deletion["id"], deletion["hours_up"]) == ("forum:2", 3.0)
    assert {r["id"] for r in store.db.query("SELECT id FROM active_listings")} == {
        "forum:42",
        "shop:3",
    }

    def ids(**kw: Any) -> list[str]:
        return [r["id"] for r in store.read("l", history.listings, **kw)]

    assert ids(seller="CHINADAN") == ["forum:2", "forum:42"]
    assert ids(min_records=6) == ["shop:3", "forum:42"]
    assert ids(min_price=PriceFloor(100_000, "USD", 100_000)) == ["forum:42"]
    assert ids(min_price=PriceFloor(10, "btc")) == ["forum:42"]  # its own currency, any case
    assert ids(min_price=PriceFloor(11, "BTC")) == []
    assert ids(min_price=PriceFloor(11, "BTC", usd=150_000)) == ["forum:42"]  # worth it
    assert ids(data_type="phones") == ["forum:42"]
    assert ids(since=at(1.5)) == ["shop:3"]
    assert ids(state="deleted", source="forum") == ["forum:2"]
    assert store.read("c", history.cluster, "forum:42") == []
    stats = store.read("stats", history.stats)
    assert stats["listings"] == 3 and stats["listings_by_state"] == {"active": 2, "deleted": 1}


def test_prune_keeps_listings_observations_and_pending_alerts(store: Store) -> None:
    li = listing("1", price=Price(10.0, "BTC", "10 BTC"))
    c1 = crawl(li, n=1)
    store.apply(
        diff(c1, (active(li),), events=(event("e1", c1, listing_id=li.id),)),
        [alert("a1", "e1")],
    )
    c2 = crawl(n=2)
    store.apply(
        diff(
            c2,
            (replace(active(li), listing=replace(li, price=Price(8.0, "BTC", "8 BTC"))),),
            changes={li.id: (FieldChange("price", "10 BTC", "8 BTC"),)},
            events=(event("e2", c2, EventKind.CHANGED, li.id),),
        ),
        [alert("a2", "e2")],
    )
    for n in range(3, 8):
        store.apply(diff(crawl(n=n)), ())
    store.mark_sent("a1", at(1))
    counts = store.prune(events_before=at(10), crawls_before=at(6))
    assert counts == {"alerts": 1, "events": 1, "crawls": 4}  # c1 (its event is gone), c3-c5
    assert [e["id"] for e in store.events()] == ["e2"]  # a2 is still pending
    assert [c["id"] for c in store.crawls(limit=99)] == ["c7", "c6", "c2"]
    assert len(store.observations(li.id)) == 1 and store.listing(li.id) is not None
    assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# ------------------------------------------------------------------ kill -9


def test_kill_9_at_random_points_never_leaves_a_half_written_crawl(tmp_path: Path) -> None:
    """SIGKILL a process applying crawls, many times; it restarts by redoing its last
    stored crawl. The end state equals an uninterrupted run, event for event."""
    import random
    import signal
    import subprocess
    import sys
    import time

    from tests import crash_worker

    total, path = 120, tmp_path / "killed.db"
    rng = random.Random(5)
    worker = [sys.executable, "-m", "tests.crash_worker", str(path), str(total)]
    root = Path(__file__).resolve().parent.parent
    kills = 0

    def crawls_stored() -> int:
        if not path.exists():
            return 0
        with sqlite3.connect(path) as conn:
            try:
                return int(conn.execute("SELECT count(*) FROM crawls").fetchone()[0])
            except sqlite3.OperationalError:  # not created yet
                return 0

    for attempt in range(15):
        before = crawls_stored()
        proc = subprocess.Popen([*worker, f"k{attempt}"], cwd=root)
        deadline = time.monotonic() + 20  # a hang guard, not a timing assertion
        while crawls_stored() <= before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.04))  # then kill at a random point (~10 ms a crawl)
        done = proc.poll() is not None
        if not done:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        check = sqlite3.connect(path)
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert check.execute("PRAGMA foreign_key_check").fetchall() == []
        check.close()
        if done:
            break
    assert kills >= 5
    with Store.open(path) as s:  # kills landed between crawls, so crawls were redone
        assert s.db.execute("SELECT count(*) FROM crawls WHERE length(id) > 5").fetchone()[0]
    subprocess.run([*worker, "final"], cwd=root, check=True)
    crash_worker.run(tmp_path / "calm.db", total, "calm")

    def state(db_path: Path) -> tuple[list[Any], list[Any], list[Any]]:
        with Store.open(db_path) as s:
            listings = [
                {k: v for k, v in r.items() if k != "rowid"}
                for r in s.db.query("SELECT * FROM listings ORDER BY id")
            ]
            evs = [
                (e["crawl_id"][:5], e["kind"], e["listing_id"], e["at"], e["details"])
                for e in s.events()
            ]
            obs = [
                (o["crawl_id"][:5], o["field"], o["before"], o["after"])
                for r in listings
                for o in s.observations(r["id"])
            ]
            redone = s.db.execute("SELECT count(*) FROM crawls WHERE length(id) > 5").fetchone()[0]
            redo_rows = s.db.execute(
                "SELECT count(*) FROM events WHERE length(crawl_id) > 5"
            ).fetchone()[0]
            assert redo_rows == 0 or redone == 0  # a redone crawl finds nothing new
            return listings, evs, obs

    killed, calm = state(path), state(tmp_path / "calm.db")
    assert killed[0] == calm[0]  # listings, field by field
    assert killed[1] == calm[1]  # events: none lost, none doubled
    assert killed[2] == calm[2]  # observations
    assert {k for _, k, *_ in calm[1]} >= {"changed", "deleted", "restored"}


def test_messages_per_target_count_a_digest_once(store: Store) -> None:
    outbox(store)
    assert store.messages_since("slack", at(0)) == 0 and store.last_message_at("slack") is None
    store.mark_sent("a1", at(2), "digest-1")
    store.mark_sent("a3", at(3))
    assert store.messages_since("later", at(0)) == 1
    assert store.messages_since("slack", at(2)) == 1
    assert store.messages_since("slack", at(2.5)) == 0
    assert store.last_message_at("later") == at(3)
    assert [r["message_id"] for r in store.alerts(AlertStatus.SENT)] == ["digest-1", None]


def test_undelivered_alerts_can_be_made_due_again(store: Store) -> None:
    outbox(store)
    store.mark_attempt_failed("a1", "HTTP 401", None)
    store.mark_attempt_failed("a2", "HTTP 401", None)
    store.mark_sent("a3", at(1))
    assert store.retry_alerts(["a2", "a3"]) == 1  # a3 was delivered
    assert [a.id for a in store.due_alerts(at(2))] == ["a2"]
    assert store.retry_alerts() == 2
    rows = {r["id"]: r for r in store.alerts()}
    assert (rows["a1"]["status"], rows["a1"]["attempts"], rows["a1"]["last_error"]) == (
        "pending",
        1,
        "HTTP 401",
    )
