"""Pure: a source that moved to another address (`monitor.moves`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.models import Listing, ListingState, StoredListing
from monitor.moves import follow_moves, moved_url, origin

T0 = datetime(2024, 6, 1, tzinfo=UTC)
OLD, NEW = "http://old.onion", "http://new.onion"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://Old.ONION/post/a?x=1", "http://old.onion"),
        ("HTTPS://old.onion:8443/", "https://old.onion:8443"),
        ("http://old.onion", "http://old.onion"),
        ("/post/a", None),
        ("ftp://old.onion/", None),
        ("http://[::1/", None),
        ("", None),
    ],
)
def test_origin(url: str, expected: str | None) -> None:
    assert origin(url) == expected


def test_moved_url_moves_only_urls_on_the_old_origin() -> None:
    assert moved_url(f"{OLD}/post/a?x=1", OLD, NEW) == f"{NEW}/post/a?x=1"
    assert moved_url(f"{OLD}/", OLD, NEW) == f"{NEW}/"
    assert moved_url(f"{OLD}.evil.onion/post/a", OLD, NEW) is None
    assert moved_url("http://other.onion/post/a", OLD, NEW) is None


def url_listing(path: str, host: str = NEW, external_id: str | None = None) -> Listing:
    url = f"{host}{path}"
    return Listing("blog", external_id or url, url, f"Post {path}")


def stored(listing: Listing, state: ListingState = ListingState.ACTIVE) -> StoredListing:
    return StoredListing(listing, state, T0, T0)


def test_a_url_id_seen_on_another_origin_keeps_its_stored_id() -> None:
    """The site moved: the stored URL ids (and, unless `Store.sync_sources` moved
    them, urls) name the old origin; the list now links to the new one."""
    known = {
        s.id: s
        for s in (stored(url_listing(p, OLD)) for p in ("/post/a", "/post/b", "/post/c?x=1"))
    }
    known["blog:7"] = stored(Listing("blog", "7", f"{OLD}/post/d", "Post d"))  # a site id
    twice = (stored(url_listing("/post/e", OLD)), stored(url_listing("/post/e", "http://m.onion")))
    known |= {s.id: s for s in twice}
    seen = (
        url_listing("/post/a"),
        url_listing("/post/b", "https://new.onion:8443"),
        url_listing("/post/c?x=1"),
        url_listing("/post/c?x=2"),  # another query: another listing
        url_listing("/post/new"),  # a new post
        url_listing("/post/d"),  # the path of a listing whose id is the site's: not followed
        url_listing("/post/e"),  # two stored listings have this path: not followed
        Listing("blog", "8", f"{NEW}/post/b", "Post b"),  # a site id is never rewritten
    )
    got = follow_moves(seen, known)
    assert [li.id for li in got] == [
        f"blog:{OLD}/post/a",
        f"blog:{OLD}/post/b",
        f"blog:{OLD}/post/c?x=1",
        f"blog:{NEW}/post/c?x=2",
        f"blog:{NEW}/post/new",
        f"blog:{NEW}/post/d",
        f"blog:{NEW}/post/e",
        "blog:8",
    ]
    assert [li.url for li in got] == [li.url for li in seen]  # the new address is kept


def test_nothing_to_follow_returns_the_listings_themselves() -> None:
    seen = (url_listing("/post/a"), Listing("blog", "1", f"{NEW}/t/1", "t"))
    known = {li.id: stored(li) for li in seen}
    assert follow_moves(seen, known) is seen
    assert follow_moves(seen, {}) == seen  # new listings at urls nobody had
