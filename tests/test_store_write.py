"""`store.write` on a real SQLite file: new and known listings in one crawl, the
search index kept in step, migration 3 and the connection's pragmas."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from monitor.models import (
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Listing,
    ListingState,
    Price,
    Records,
    Source,
    StoredListing,
)
from monitor.store import Store
from monitor.store.convert import ts
from monitor.store.schema import MIGRATIONS

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FORUM = Source(name="forum", url="http://forum.onion/", engine="css", every=600)


def stored(ext: str, title: str, hours: float = 0, **kw: Any) -> StoredListing:
    at = T0 + timedelta(hours=hours)
    li = Listing("forum", ext, f"http://forum.onion/t/{ext}", title, **kw)
    return StoredListing(li, ListingState.ACTIVE, at, at, cluster=li.id)


def write(s: Store, n: int, *writes: StoredListing) -> None:
    at = T0 + timedelta(hours=n)
    c = Crawl(f"c{n}", "forum", at, at, CrawlOutcome.COMPLETE, 1, 1, ())
    s.apply(CrawlDiff(c, writes, (), {}, ()), ())


def found(s: Store, term: str) -> set[str]:
    return {r["id"] for r in s.listings(search=term)}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store.open(tmp_path / "leakmon.db") as s:
        s.sync_sources([FORUM])
        yield s


def test_a_crawl_mixing_new_and_known_listings_inserts_and_updates(store: Store) -> None:
    old = stored("1", "Shanghai police", seller="ChinaDan")
    write(store, 1, old, stored("2", "Acme customers"))
    rowids = dict(store.db.execute("SELECT id, rowid FROM listings").fetchall())
    edited = replace(old, listing=replace(old.listing, title="Beijing hospital"))
    write(store, 2, stored("3", "Globex staff"), edited, stored("4", "Initech payroll"))
    rows = {r["id"]: r for r in store.listings()}
    assert set(rows) == {"forum:1", "forum:2", "forum:3", "forum:4"}
    assert rows["forum:1"]["title"] == "Beijing hospital"
    after = dict(store.db.execute("SELECT id, rowid FROM listings").fetchall())
    assert {k: after[k] for k in rowids} == rowids  # an update keeps its row
    assert found(store, "police") == set() and found(store, "beijing") == {"forum:1"}
    assert found(store, "chinadan") == {"forum:1"}
    assert found(store, "globex") == {"forum:3"} and found(store, "payroll") == {"forum:4"}


def test_a_cluster_join_moves_every_listing_of_the_dataset(store: Store) -> None:
    """(cluster, into): the listings of the first cluster, a row without a cluster
    named by its id too, join the second, in the crawl's transaction."""
    repost = replace(stored("3", "Acme again"), cluster="forum:2")
    bare = replace(stored("4", "Globex"), cluster=None)
    write(store, 1, stored("1", "Acme"), stored("2", "Acme v2"), repost, bare)
    c = Crawl("c2", "forum", T0, T0, CrawlOutcome.COMPLETE, 1, 1, ())
    joins = (("forum:2", "forum:1"), ("forum:4", "forum:1"))
    store.apply(CrawlDiff(c, (), (), {}, (), joins=joins), ())
    clusters = dict(store.db.execute("SELECT id, cluster FROM listings").fetchall())
    assert clusters == {f"forum:{n}": "forum:1" for n in range(1, 5)}


def test_the_later_of_two_writes_of_one_id_wins(store: Store) -> None:
    write(store, 1, stored("1", "first draft"), stored("1", "final title"))
    write(store, 2, stored("2", "known"))
    write(store, 3, stored("2", "known, edited"), stored("2", "known, edited twice"))
    titles = {r["id"]: r["title"] for r in store.listings()}
    assert titles == {"forum:1": "final title", "forum:2": "known, edited twice"}
    assert found(store, "draft") == set() and found(store, "final") == {"forum:1"}
    assert found(store, "twice") == {"forum:2"}


def test_a_large_crawl_in_any_id_order_keeps_the_search_index_exact(store: Store) -> None:
    rng = random.Random(5)
    first = [
        stored(str(i), f"Dataset {i} word{i % 7}", records=Records(i, str(i))) for i in range(300)
    ]
    rng.shuffle(first)
    write(store, 1, *first)
    again = [
        replace(s, listing=replace(s.listing, title=f"Renamed {s.listing.external_id}"))
        for s in first[:100]
    ]
    rng.shuffle(again)
    write(store, 2, *again, *(stored(f"n{i}", f"Fresh word{i % 7}") for i in range(200)))
    store.db.execute("INSERT INTO listings_fts (listings_fts) VALUES ('integrity-check')")
    renamed = {s.id for s in again}
    for k in range(7):
        expected = {s.id for s in first if s.listing.title.endswith(f"word{k}")} - renamed
        expected |= {f"forum:n{i}" for i in range(200) if i % 7 == k}
        assert found(store, f"word{k}") == expected
    assert found(store, "renamed") == renamed


def test_open_uses_wal_with_normal_sync(tmp_path: Path) -> None:
    with Store.open(tmp_path / "leakmon.db") as s:
        assert s.db.journal_mode == "wal"
        assert s.db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL


def test_migration_3_drops_the_unread_last_seen_index_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    MIGRATIONS.apply(db, stop_before="0003_drop_listings_last_seen")
    assert "listings_last_seen" in {i.name for i in db["listings"].indexes}
    db.execute("INSERT INTO sources (name, url, engine) VALUES ('forum', 'http://f.onion/', 'css')")
    db.conn.commit()
    db.close()
    with Store.open(path) as s:
        write(s, 1, stored("1", "Shanghai police"))
        names = {i.name for i in s.db["listings"].indexes}
        assert "listings_last_seen" not in names
        assert {"listings_source_state", "listings_first_seen", "listings_records"} <= names
        assert set(s.known_listings("forum")) == {"forum:1"}
        assert found(s, "police") == {"forum:1"}


def test_migration_4_indexes_deletions_that_happened_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store.open(path) as s:
        s.sync_sources([FORUM])
        write(s, 1, stored("1", "Shanghai police"), stored("2", "Acme"))
        s.db.execute(
            "UPDATE listings SET state = 'deleted', deleted_at = ? WHERE id = 'forum:2'",
            [ts(T0)],
        )
        s.db.execute("DROP INDEX listings_deleted")
        s.db.execute("DELETE FROM _sqlite_migrations WHERE name = '0004_deleted_index'")
        s.db.conn.commit()
    with Store.open(path) as s:
        (sql,) = s.db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'listings_deleted'"
        ).fetchone()
        assert "WHERE state = 'deleted'" in sql
        gone = s.deleted_listings("forum", since=T0 - timedelta(hours=1))
        assert [g.id for g in gone] == ["forum:2"]
        assert s.deleted_listings("forum", since=T0 + timedelta(hours=1)) == []


def test_every_field_survives_a_write_and_a_read(store: Store) -> None:
    li = Listing(
        "forum",
        "9",
        "http://forum.onion/t/9",
        "Shanghai police",
        seller="ChinaDan",
        price=Price(10.0, "BTC", "10 BTC", usd=200_000.0, negotiable=True, kind="start"),
        records=Records(1_000_000_000, "1B"),
        posted_at=T0 - timedelta(days=3),
        posted_raw="3 days ago",
        data_types=("names", "phones"),
        size_bytes=23_000_000_000_000,
        span=(1995, 2019),
        country="CN",
        replies=12,
        views=3400,
        sticky=True,
        first_post="names, ID numbers",
    )
    full = StoredListing(
        li,
        ListingState.DELETED,
        T0,
        T0 + timedelta(hours=5),
        missing_streak=2,
        deleted_at=T0 + timedelta(hours=6),
        fingerprint="ab" * 8,
        cluster="shop:1",
    )
    write(store, 1, full)
    assert store.known_listings("forum") == {full.id: full}
    assert store.repost_candidates([li]) == [full]
