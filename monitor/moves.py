"""Pure: a source that moved to another address (a new onion address, a mirror).

When a source's configured URL moves to another origin (scheme and host),
`Store.sync_sources` moves its stored listings' urls along: same path, new origin
(`moved_url`), so their own pages are checked at the new address. A listing whose
external id is its URL (blogs, css sources without an id) still has the old address
in its id; `follow_moves` gives a listing seen at the same path on the new origin
that listing's id, so the move makes no new listings and deletes none (in a replay
of captures made across a move too, where the source's url stays the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import urlsplit

from monitor.models import Listing, StoredListing


def origin(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) `url`, lower-cased; else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def moved_url(url: str, before: str, after: str) -> str | None:
    """`url` on origin `after` when it is on origin `before` (both from `origin`),
    else None."""
    return after + url[len(before) :] if url.startswith(before + "/") else None


def _url_id(listing: Listing) -> bool:
    return listing.external_id.startswith(("http://", "https://"))


def _path(url: str) -> str:
    """What follows the origin of an absolute URL: its path and query."""
    _, _, rest = url.partition("://")
    start = rest.find("/")
    return rest[start:] if start >= 0 else "/"


def follow_moves(
    listings: tuple[Listing, ...], known: Mapping[str, StoredListing]
) -> tuple[Listing, ...]:
    """`listings` with each one whose id is unknown and whose external id is a URL
    given the external id of the one stored listing whose URL id has the same path
    and query on another origin (the site moved, or links to a mirror of itself).
    Ids from the site itself (thread, product ids) are never rewritten, and a path
    that several stored listings share is left as it is."""
    strays = [li for li in listings if li.id not in known and _url_id(li)]
    if not strays:
        return listings
    by_path: dict[str, list[str]] = {}
    for stored in known.values():
        if _url_id(stored.listing):
            by_path.setdefault(_path(stored.listing.external_id), []).append(
                stored.listing.external_id
            )
    moved = {}
    for li in strays:
        match = by_path.get(_path(li.external_id), [])
        if len(match) == 1:
            moved[li.id] = replace(li, external_id=match[0])
    return tuple(moved.get(li.id, li) for li in listings) if moved else listings
