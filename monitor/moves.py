"""Pure: a source that moved to another address (a new onion address, a mirror).

When a source's configured URL moves to another origin (scheme and host),
`Store.sync_sources` moves its stored listings' urls along: same path, new origin
(`moved_url`), so their own pages are checked at the new address. A listing whose
external id is its URL (blogs, css sources without an id) still has the old address
in its id; `follow_moves` gives a listing seen at a stored listing's url that
listing's id, so the move makes no new listings and deletes none.
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


def follow_moves(
    listings: tuple[Listing, ...], known: Mapping[str, StoredListing]
) -> tuple[Listing, ...]:
    """`listings` with each one whose id is unknown, whose external id is a URL, and
    whose url is that of a stored listing with a URL id too given that listing's
    external id (the stored url moved with the source; its id kept the old address).
    Ids from the site itself (thread, product ids) are never rewritten."""
    strays = [li for li in listings if li.id not in known and _url_id(li)]
    if not strays:
        return listings
    by_url = {s.listing.url: s.listing for s in known.values() if _url_id(s.listing)}
    moved = {
        li.id: replace(li, external_id=by_url[li.url].external_id)
        for li in strays
        if li.url in by_url
    }
    return tuple(moved.get(li.id, li) for li in listings) if moved else listings
