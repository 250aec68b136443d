"""`store.history.listings` search on a real SQLite file: the newest `limit` hits
come out the same (rows and order) as sorting every hit, whichever plan finds them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.models import (
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Listing,
    ListingState,
    Records,
    Source,
    StoredListing,
)
from monitor.store import Store, history

T0 = datetime(2024, 6, 1, tzinfo=UTC)
SOURCES = [Source(name=n, url=f"http://{n}.onion/", engine="css", every=600) for n in "ab"]


def stored(i: int, words: str, first_seen: datetime) -> StoredListing:
    li = Listing(
        "ab"[i % 2], str(i), f"http://x.onion/{i}", f"{words} #{i}", records=Records(i, str(i))
    )
    state = ListingState.DELETED if i % 5 == 0 else ListingState.ACTIVE
    return StoredListing(li, state, first_seen, first_seen, cluster=li.id)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    """600 listings written over 60 crawls; first_seen mostly follows insertion, but
    ties are common and some crawls carry older or newer first sightings."""
    rng = random.Random(3)
    with Store.open(tmp_path / "leakmon.db") as s:
        s.sync_sources(SOURCES)
        for n in range(60):
            at = T0 + timedelta(hours=n)
            writes = []
            for i in range(n * 10, n * 10 + 10):
                skew = rng.choice([0, 0, 0, -30, 45]) if i % 3 == 0 else 0
                words = " ".join(rng.sample(["acme", "police", "bank", "common"], 2))
                writes.append(stored(i, f"common {words}", at + timedelta(hours=skew)))
            rng.shuffle(writes)
            for src in "ab":
                mine = tuple(w for w in writes if w.listing.source == src)
                c = Crawl(f"c{n}{src}", src, at, at, CrawlOutcome.PARTIAL, 1, 1, ())
                s.apply(CrawlDiff(c, mine, (), {}, ()), ())
        yield s


def ids(s: Store, **kw: Any) -> list[str]:
    return [r["id"] for r in s.read("search", history.listings, **kw)]


FILTERS: list[dict[str, Any]] = [
    {},
    {"state": "deleted"},
    {"source": "b"},
    {"min_records": 400},
    {"state": "active", "source": "a"},
]


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("term", ["common", "acme", "acme police", "bank #59"])
@pytest.mark.parametrize("limit", [1, 7, 100])
def test_newest_hits_equal_the_head_of_every_hit_sorted(
    store: Store, term: str, filters: dict[str, Any], limit: int
) -> None:
    every = ids(store, search=term, **filters)
    assert ids(store, search=term, limit=limit, **filters) == every[:limit]


def test_every_hit_is_sorted_newest_first_then_by_id(store: Store) -> None:
    rows = store.read("search", history.listings, search="common")
    assert len(rows) == 600
    keys = [(r["first_seen"], r["id"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (-datetime.fromisoformat(k[0]).timestamp(), k[1]))


def test_sparse_hits_take_the_sort_everything_path_with_the_same_answer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = ids(store, search="acme", limit=30)
    monkeypatch.setattr(history, "SPARSE_SPAN", 5)
    assert ids(store, search="acme", limit=30) == expected


def test_fewer_hits_than_the_limit_are_all_returned_in_order(store: Store) -> None:
    every = ids(store, search="bank", state="deleted", source="a")
    assert 0 < len(every) < 100
    assert ids(store, search="bank", state="deleted", source="a", limit=100) == every
    assert ids(store, search="nothing-like-this", limit=100) == []


def test_one_seller_is_the_sellers_views_row_for_that_handle(tmp_path: Path) -> None:
    """`history.sellers(db, handle)` reads only the handle's listings (through the
    seller index) instead of filtering the view, which groups every listing; the
    row must be the view's own, whatever the case of the handle asked for."""
    rng = random.Random(5)
    handles = ["ChinaDan", "chinadan", "CHINADAN", "dk", "DK", "Ünïcode", "x y", "", None]
    with Store.open(tmp_path / "sellers.db") as s:
        s.sync_sources(SOURCES)
        for n in range(8):
            at = T0 + timedelta(hours=n)
            writes = []
            for i in range(n * 12, n * 12 + 12):
                li = Listing(
                    rng.choice("ab"),
                    str(i),
                    f"http://x.onion/{i}",
                    f"t{i}",
                    seller=rng.choice(handles),
                    records=rng.choice([None, Records(i * 1000, str(i))]),
                )
                state = rng.choice(list(ListingState))
                writes.append(StoredListing(li, state, at, at + timedelta(minutes=i)))
            for src in "ab":
                mine = tuple(w for w in writes if w.listing.source == src)
                c = Crawl(f"c{n}{src}", src, at, at, CrawlOutcome.PARTIAL, 1, 1, ())
                s.apply(CrawlDiff(c, mine, (), {}, ()), ())
        view = "SELECT * FROM sellers WHERE handle = :h COLLATE NOCASE"
        asked = ["chinadan", "ChinaDan", "DK", "dk", "ünïcode", "Ünïcode", "x y", "", "ghost"]
        for handle in asked:
            expected = list(s.db.query(view, {"h": handle}))
            assert s.read("seller", history.sellers, handle) == expected, handle
        assert s.read("seller", history.sellers, "chinadan")[0]["listings"] > 10
        assert s.read("seller", history.sellers, "") == []
        # `stats` counts the view's rows without the view
        view_count = s.db.execute("SELECT count(*) FROM sellers").fetchone()[0]
        assert s.read("stats", history.stats)["sellers"] == view_count == 4
