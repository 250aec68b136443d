"""Pure: when absence from a crawl may mean anything, and which listings' own pages
to fetch before `lifecycle.diff_crawl` judges them.

A complete crawl is plausible unless its listing count collapsed or most known
listings were replaced by unknown ones (`layout_suspicion`). Forum sources verify
absent listings on their own page; shops count absences (`absence_mode`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from monitor.models import Crawl, CrawlOutcome, Listing, ListingState, Source, StoredListing

# Shape checks of a complete crawl (see `layout_suspicion`).
COUNT_DROP_RATIO = 0.5  # fewer listings than this share of the recent median
CHURN_RATIO = 0.6  # share of active listings vanished AND share of seen ones unknown
CHURN_MIN_KNOWN = 3  # churn is judged only with at least this many active listings
# Verification of absent listings (see `plan_verifications`).
MAX_VERIFICATIONS = 20  # own-page fetches per crawl; the rest wait for the next crawl
DEFAULT_REVISIT = timedelta(hours=6)  # aged-out listings are verified again this often
FORUM_ENGINES = frozenset({"mybb", "xenforo", "phpbb", "vbulletin", "smf", "invision"})
_FORUM_URL = re.compile(
    r"forumdisplay|viewforum|showthread|viewtopic|/forums?/|/threads?/|/topics?/|[?&]f(id)?=",
    re.IGNORECASE,
)


def absence_mode(source: Source) -> str:
    """``verify`` or ``count``: how absence from a complete crawl is judged.

    `auto` verifies forum engines, and css sources whose URL looks like a forum
    section (threads sorted by activity fall off the crawled pages); shops, blogs
    and JSON feeds list everything, so absence is counted.
    """
    if source.absence in ("verify", "count"):
        return source.absence
    if source.engine in FORUM_ENGINES:
        return "verify"
    if source.engine == "css" and _FORUM_URL.search(source.url):
        return "verify"
    return "count"


def layout_suspicion(
    crawl_count: int,
    seen: Iterable[str],
    known: Mapping[str, StoredListing],
    previous_complete: Sequence[int],
) -> dict[str, Any] | None:
    """Why a complete crawl looks implausible (details of `layout_changed`), or None.

    count_drop: fewer listings than half the median of `previous_complete`.
    id_churn: most established listings (ACTIVE or seen again, not newcomers)
    vanished while most seen listings are newcomers. A newcomer is unknown, or was
    first seen after every vanished listing was last seen: listings recorded
    quietly during a suspected layout change stay newcomers, so the next identical
    crawl is just as suspicious instead of deleting everything that vanished.
    """
    if previous_complete:
        median = float(statistics.median(previous_complete))
        if crawl_count < COUNT_DROP_RATIO * median:
            return {"reason": "count_drop", "listings": crawl_count, "median": median}
    seen_ids = set(seen)
    active = [s for s in known.values() if s.state is ListingState.ACTIVE]
    vanished = [s for s in active if s.id not in seen_ids]
    if not vanished:
        return None
    cutoff = max(s.last_seen for s in vanished)

    def newcomer(listing_id: str) -> bool:
        stored = known.get(listing_id)
        return stored is None or stored.first_seen > cutoff

    on_site = {s.id for s in active} | (seen_ids & known.keys())
    established = sum(1 for i in on_site if not newcomer(i))
    newcomers = sum(1 for i in seen_ids if newcomer(i))
    if (
        established >= CHURN_MIN_KNOWN
        and len(vanished) >= CHURN_RATIO * established
        and newcomers >= CHURN_RATIO * len(seen_ids)
    ):
        return {
            "reason": "id_churn",
            "known_active": established,
            "vanished": len(vanished),
            "seen": len(seen_ids),
            "unknown": newcomers,
        }
    return None


def revisit_every(source: Source) -> timedelta:
    if source.revisit_every is None:
        return DEFAULT_REVISIT
    return timedelta(seconds=source.revisit_every)


def revisit_due(stored: StoredListing, source: Source, now: datetime) -> bool:
    return stored.state is ListingState.AGED_OUT and stored.last_seen + revisit_every(source) <= now


def seen_ids(crawl: Crawl) -> dict[str, Listing]:
    seen: dict[str, Listing] = {}
    for listing in crawl.listings:  # the first occurrence of an id wins
        seen.setdefault(listing.id, listing)
    return seen


def plan_verifications(
    crawl: Crawl,
    known: Mapping[str, StoredListing],
    source: Source,
    *,
    previous_complete: Sequence[int],
    limit: int = MAX_VERIFICATIONS,
) -> tuple[StoredListing, ...]:
    """The listings whose own page the caller should fetch before `diff_crawl`.

    For a `verify` source: ACTIVE or MISSING listings absent from a plausible complete
    crawl, and AGED_OUT listings absent from a complete or partial crawl whose revisit
    is due (`source.revisit_every`, default 6 h). Listings that just vanished (ACTIVE)
    come first, most recently seen first; then the others by `last_seen` plus one
    revisit interval per unanswered check (`missing_streak`): a page that never
    answers moves back in the queue instead of taking every slot, and no listing
    waits forever. At most `limit`; the rest wait for a later crawl.
    """
    if absence_mode(source) != "verify" or crawl.outcome not in (
        CrawlOutcome.COMPLETE,
        CrawlOutcome.PARTIAL,
    ):
        return ()
    seen = seen_ids(crawl)
    unseen = [known[i] for i in sorted(known.keys() - seen.keys())]
    absent: list[StoredListing] = []
    if crawl.outcome is CrawlOutcome.COMPLETE and not layout_suspicion(
        len(crawl.listings), seen, known, previous_complete
    ):
        absent = [s for s in unseen if s.state in (ListingState.ACTIVE, ListingState.MISSING)]
    due = [s for s in unseen if revisit_due(s, source, crawl.finished)]
    every = revisit_every(source)

    def rank(s: StoredListing) -> tuple[int, float, str]:
        if s.state is ListingState.ACTIVE:
            return (0, -s.last_seen.timestamp(), s.id)
        return (1, (s.last_seen + every * s.missing_streak).timestamp(), s.id)

    return tuple(sorted([*absent, *due], key=rank)[:limit])
