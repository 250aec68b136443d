"""Pure: when absence from a crawl may mean anything, and which listings' own pages
to fetch before `lifecycle.diff_crawl` judges them.

A complete crawl is plausible unless its listing count collapsed or most known
listings were replaced by unknown ones (`layout_suspicion`). Forum sources verify
absent listings on their own page; shops count absences (`absence_mode`). Aged-out
listings are checked again on a schedule that slows with their age
(`revisit_interval`), most overdue first, within the crawl's page budget
(`plan_verifications`); `revisit_backlog` says how far behind that schedule is.
Deleted listings are re-checked on their own page for `restore_window` after the
deletion, ever more rarely (`restore_at`), last in the queue: a thread a moderator
restores comes back at its old position, often beyond the crawled pages;
`restore_backlog` says how far behind those re-checks are.
"""

from __future__ import annotations

import re
import statistics
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from monitor.engines import FORUM_PROFILES
from monitor.models import (
    Crawl,
    CrawlOutcome,
    Listing,
    ListingState,
    RestoreBacklog,
    RevisitBacklog,
    Source,
    StoredListing,
)

# Shape checks of a complete crawl (see `layout_suspicion`).
COUNT_DROP_RATIO = 0.5  # fewer listings than this share of the recent median
CHURN_RATIO = 0.6  # share of active listings vanished AND share of seen ones unknown
CHURN_MIN_KNOWN = 3  # churn is judged only with at least this many active listings
SETTLE_RATIO = 0.8  # share of seen listings first recorded during the episode (`settled_layout`)
# Verification of absent listings (see `plan_verifications`).
MAX_VERIFICATIONS = 20  # own-page fetches per crawl; the rest wait for the next crawl
DEFAULT_REVISIT = timedelta(hours=6)  # shortest interval between checks of an aged-out listing
DEFAULT_REVISIT_MAX = timedelta(days=7)  # longest interval (old listings)
REVISIT_AGE_SHARE = 8  # an aged-out listing is checked again after an eighth of its age
DEFAULT_RESTORE_WINDOW = timedelta(days=14)  # how long a deleted listing's page is re-checked
DEFAULT_REREAD = timedelta(days=1)  # forum sources: each active listing's post read again
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
    if source.engine in FORUM_PROFILES:
        return "verify"
    if source.engine == "css" and _FORUM_URL.search(source.url):
        return "verify"
    return "count"


def layout_suspicion(
    crawl_count: int,
    seen: Iterable[str],
    known: Mapping[str, StoredListing],
    previous_complete: Sequence[int],
    pending: bool = False,
) -> dict[str, Any] | None:
    """Why a complete crawl looks implausible (details of `layout_changed`), or None.

    count_drop: fewer listings than half the median of `previous_complete`.
    id_churn: most established listings (ACTIVE or seen again, not newcomers)
    vanished while most seen listings are newcomers. A newcomer is unknown, or was
    first seen after every vanished listing was last seen: listings recorded
    quietly during a suspected layout change stay newcomers, so the next identical
    crawl is just as suspicious instead of deleting everything that vanished.
    `pending` (a suspected layout change is not over): a listing recorded during it
    that vanishes again (fell off the crawled pages, taken down) does not move that
    line; only the vanished listings last seen before the median first sighting of
    the known listings seen do, when there are any.
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
    if pending:
        vanished = _before_the_seen(vanished, seen_ids, known) or vanished
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


def _before_the_seen(
    listings: Sequence[StoredListing], seen_ids: set[str], known: Mapping[str, StoredListing]
) -> list[StoredListing]:
    """Those of `listings` last seen before the median first sighting of the known
    listings seen (during a redesign, mostly one recorded since it); none when no
    seen listing is known."""
    firsts = sorted(known[i].first_seen for i in seen_ids if i in known)
    if not firsts:
        return []
    pivot = firsts[len(firsts) // 2]
    return [s for s in listings if s.last_seen < pivot]


def settled_layout(
    suspicion: Mapping[str, Any] | None,
    seen: Iterable[str],
    known: Mapping[str, StoredListing],
    layout_pending: bool,
) -> tuple[StoredListing, ...] | None:
    """The listings a redesign that renamed them left behind, when this crawl shows
    the new ids hold; None when it does not.

    It holds when a suspected layout change is already pending (an earlier crawl
    raised it), this complete crawl churns ids again (`suspicion` is `id_churn`), and
    at least `SETTLE_RATIO` of the listings it shows, leaving out those known from
    before (not renamed), were first recorded after the listings left behind were
    last seen: the same new ids in two crawls or more.
    Left behind are the ACTIVE or MISSING listings not seen whose last sighting is
    older than the median first sighting of the known listings seen (so not a new
    id that fell off the crawled pages since), newest last seen first."""
    if not layout_pending or suspicion is None or suspicion.get("reason") != "id_churn":
        return None
    seen_ids = set(seen)
    behind = [
        s
        for s in known.values()
        if s.state in (ListingState.ACTIVE, ListingState.MISSING) and s.id not in seen_ids
    ]
    left = _before_the_seen(behind, seen_ids, known)  # not new ids that fell off since
    if not left:
        return None
    cutoff = max(s.last_seen for s in left)
    again = sum(1 for i in seen_ids if i in known and known[i].first_seen > cutoff)
    survivors = sum(1 for i in seen_ids if i in known and known[i].first_seen <= cutoff)
    if again == 0 or again < SETTLE_RATIO * (len(seen_ids) - survivors):
        return None
    return tuple(sorted(left, key=lambda s: (-s.last_seen.timestamp(), s.id)))


def revisit_every(source: Source) -> timedelta:
    """The shortest interval between two checks of an aged-out listing."""
    if source.revisit_every is None:
        return DEFAULT_REVISIT
    return timedelta(seconds=source.revisit_every)


def revisit_max(source: Source) -> timedelta:
    """The longest interval between two checks of an aged-out listing."""
    if source.revisit_max is None:
        return DEFAULT_REVISIT_MAX
    return timedelta(seconds=source.revisit_max)


def revisit_interval(stored: StoredListing, source: Source) -> timedelta:
    """How long after its last check (`last_seen`) an aged-out listing is due again:
    `1 / REVISIT_AGE_SHARE` of its age at that check, at least `revisit_every`, at most
    `revisit_max`. Age counts from the listing's posting time or its first sight,
    whichever is earlier (a forum watched since yesterday still has old threads)."""
    born = stored.first_seen
    posted = stored.listing.posted_at
    if posted is not None and posted.tzinfo is not None:
        born = min(born, posted)
    age = max(stored.last_seen - born, timedelta(0))
    return min(max(age / REVISIT_AGE_SHARE, revisit_every(source)), revisit_max(source))


def revisit_at(stored: StoredListing, source: Source) -> datetime:
    """When an aged-out listing's next check is due."""
    return stored.last_seen + revisit_interval(stored, source)


def revisit_due(stored: StoredListing, source: Source, now: datetime) -> bool:
    """An aged-out listing whose next check is due; one superseded by a listing under
    a new id (`settled_layout`) is never checked on its own again."""
    return (
        stored.state is ListingState.AGED_OUT
        and stored.superseded_by is None
        and revisit_at(stored, source) <= now
    )


def reread_every(source: Source) -> timedelta:
    """How often an active listing's own page is read again, for edits of its post
    that its row on the list does not show (0: never). Default: `DEFAULT_REREAD` for
    `verify` sources (forums keep price and count in the post), never for the others
    (their list shows what they sell) nor for `json` feeds (no listing pages)."""
    if source.engine == "json":
        return timedelta(0)
    if source.reread_every is not None:
        return timedelta(seconds=source.reread_every)
    return DEFAULT_REREAD if absence_mode(source) == "verify" else timedelta(0)


def reread_due(listing_id: str, source: Source, at: datetime) -> bool:
    """Whether the crawl at `at` reads the listing's own page again. The listings are
    spread over the `reread_every / every` crawls of one period by a hash of their
    id and the period's number, so each is read once a period, the same share each
    crawl, without any stored state. A crawl that is late or skipped leaves its
    share to the next period, which draws other slots: a source crawled only in its
    `active_hours` still reads every post again, on the days its slot is active."""
    period = reread_every(source)
    if period <= timedelta(0) or source.every <= 0:
        return False
    slots = max(1, round(period.total_seconds() / source.every))
    tick = int(at.timestamp() // source.every)
    draw = zlib.crc32(f"{listing_id}|{tick // slots}".encode())
    return draw % slots == tick % slots


def restore_window(source: Source) -> timedelta:
    """How long after its deletion a deleted listing's own page is re-checked (0: never)."""
    if source.restore_window is None:
        return DEFAULT_RESTORE_WINDOW
    return timedelta(seconds=source.restore_window)


def restores_checked(source: Source) -> bool:
    """Whether `source` re-checks its deleted listings at all: a `verify` source with a
    `restore_window`, never a `json` one: without a thread reader no page can prove a
    restore (`verify_page(deleted=True)` needs a thread post), so re-checks would only
    spend the budget."""
    return (
        absence_mode(source) == "verify"
        and source.engine != "json"
        and restore_window(source) > timedelta(0)
    )


def restore_watched(stored: StoredListing, source: Source, now: datetime) -> bool:
    """A DELETED listing of a source that `restores_checked`, still inside its
    `restore_window` at `now`."""
    return (
        stored.state is ListingState.DELETED
        and stored.deleted_at is not None
        and restores_checked(source)
        and stored.deleted_at <= now <= stored.deleted_at + restore_window(source)
    )


def restore_at(stored: StoredListing, source: Source, last_check: datetime | None) -> datetime:
    """When a deleted listing's next own-page check is due: after its last check
    (`last_check`, at the earliest its deletion) by as long as it had been gone at
    that check, at least `revisit_every`, at most `revisit_max`. With the defaults:
    6 h, 12 h, 1 d, 2 d, 4 d and 8 d after the deletion; the next (15 d) is past a
    14-day window. Moderators who restore a thread mostly do it soon."""
    deleted = stored.deleted_at or stored.last_seen
    since = deleted if last_check is None else max(deleted, last_check)
    gone = since - deleted
    return since + min(max(gone, revisit_every(source)), revisit_max(source))


def restore_due(
    stored: StoredListing, source: Source, now: datetime, last_check: datetime | None
) -> bool:
    """A deleted listing whose own page is due for a re-check at `now`: inside its
    window, the check due by now and due before the window closes."""
    if not restore_watched(stored, source, now) or stored.deleted_at is None:
        return False
    due = restore_at(stored, source, last_check)
    return due <= now and due <= stored.deleted_at + restore_window(source)


def revisit_grace(source: Source) -> timedelta:
    """How late a due revisit may be before it counts as overdue: two crawl intervals
    (a revisit due now waits for the next crawl; one more absorbs clock jitter), plus
    the daily pause of a source with `active_hours` (a revisit that falls due at night
    waits for the morning's first crawl; that is the schedule, not a backlog)."""
    grace = timedelta(seconds=2 * source.every)
    if source.active_hours is None:
        return grace
    start, end = source.active_hours
    active = (end - start) % (24 * 60)  # minutes; a window may wrap past midnight
    return grace + timedelta(minutes=24 * 60 - active)


def revisit_budget(source: Source, limit: int) -> int:
    """Revisits of aged-out listings one crawl may make out of `limit` pages."""
    return limit if source.revisit_budget is None else min(limit, source.revisit_budget)


def revisit_backlog(
    listings: Iterable[StoredListing], source: Source, now: datetime
) -> RevisitBacklog:
    """How far the revisits of the AGED_OUT ones among `listings` are behind at `now`."""
    aged = [s for s in listings if s.state is ListingState.AGED_OUT and s.superseded_by is None]
    late = [now - revisit_at(s, source) for s in aged]
    return RevisitBacklog(len(aged), *_behind([d for d in late if d >= timedelta(0)], source))


def _behind(late: Sequence[timedelta], source: Source) -> tuple[int, int, float]:
    """(due, overdue, worst_late) of checks that are `late` by these amounts: overdue
    past `revisit_grace`, worst in seconds (0: none due)."""
    grace = revisit_grace(source)
    overdue = sum(1 for d in late if d > grace)
    return len(late), overdue, max(late, default=timedelta(0)).total_seconds()


def restore_backlog(
    listings: Iterable[StoredListing],
    source: Source,
    now: datetime,
    last_checks: Mapping[str, datetime],
) -> RestoreBacklog:
    """How far the re-checks of the deleted ones among `listings` inside their window at
    `now` (`restore_watched`) are behind; `last_checks`: the time of each one's latest
    own-page check, by id. A re-check that would fall after the window closes is not
    due (`restore_due`), and a listing whose window has closed is not counted."""
    watched = [s for s in listings if restore_watched(s, source, now)]
    late = [
        now - restore_at(s, source, last_checks.get(s.id))
        for s in watched
        if restore_due(s, source, now, last_checks.get(s.id))
    ]
    return RestoreBacklog(len(watched), *_behind(late, source))


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
    reserve: int = 0,
    last_checks: Mapping[str, datetime] | None = None,
    layout_pending: bool = False,
) -> tuple[StoredListing, ...]:
    """The listings whose own page the caller should fetch before `diff_crawl`, at
    most `limit`, in this order:

    1. ACTIVE listings absent from a plausible complete crawl of a `verify` source
       (they just vanished), most recently seen first.
    2. After `reserve` pages kept for the crawl's first-sight evidence (which cannot
       wait: a listing is new only once), one queue, longest waiting first: MISSING
       listings absent from a plausible complete crawl (waiting since `last_seen`)
       and AGED_OUT listings whose revisit is due (`revisit_at`; complete or partial
       crawls), each moved back by `revisit_every` once per unanswered check
       (`missing_streak`), so a page that never answers cannot take every slot and
       no listing waits forever. At most `revisit_budget` of them are revisits.
    3. Last, with what is left of the page and revisit budgets: DELETED listings due
       for a re-check inside their `restore_window` (`restore_due`; `last_checks`:
       the time of each one's latest own-page check, by id), most overdue first.

    The rest wait for a later crawl. A crawl in which a redesign's new ids settle
    (`settled_layout`; `layout_pending` as for `diff_crawl`) is plausible, except
    for the listings it leaves behind: they are not checked.
    """
    if absence_mode(source) != "verify" or crawl.outcome not in (
        CrawlOutcome.COMPLETE,
        CrawlOutcome.PARTIAL,
    ):
        return ()
    seen = seen_ids(crawl)
    unseen = [known[i] for i in sorted(known.keys() - seen.keys())]
    absent: list[StoredListing] = []
    if crawl.outcome is CrawlOutcome.COMPLETE:
        suspicion = layout_suspicion(
            len(crawl.listings), seen, known, previous_complete, layout_pending
        )
        behind = settled_layout(suspicion, seen, known, layout_pending)
        if suspicion is None or behind is not None:
            left = {s.id for s in behind or ()}
            absent = [
                s
                for s in unseen
                if s.state in (ListingState.ACTIVE, ListingState.MISSING) and s.id not in left
            ]
    urgent = sorted(
        (s for s in absent if s.state is ListingState.ACTIVE),
        key=lambda s: (-s.last_seen.timestamp(), s.id),
    )[:limit]
    every = revisit_every(source)

    def waiting_since(s: StoredListing) -> tuple[datetime, str]:
        since = s.last_seen if s.state is ListingState.MISSING else revisit_at(s, source)
        return since + every * s.missing_streak, s.id

    queue = sorted(
        [
            *(s for s in absent if s.state is ListingState.MISSING),
            *(s for s in unseen if revisit_due(s, source, crawl.finished)),
        ],
        key=waiting_since,
    )
    room = max(0, limit - len(urgent) - reserve)
    revisits = revisit_budget(source, limit)
    picked: list[StoredListing] = []
    for stored in queue:
        if len(picked) >= room:
            break
        if stored.state is ListingState.AGED_OUT:
            if revisits == 0:
                continue
            revisits -= 1
        picked.append(stored)
    checked = last_checks or {}
    restores = sorted(
        (s for s in unseen if restore_due(s, source, crawl.finished, checked.get(s.id))),
        key=lambda s: (restore_at(s, source, checked.get(s.id)), s.id),
    )
    picked += restores[: max(0, min(room - len(picked), revisits))]
    return (*urgent, *picked)
