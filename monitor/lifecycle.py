"""Pure lifecycle: one source's stored listings + one crawl → a `CrawlDiff`.

Nothing here touches the network, the clock or the database: the caller passes the
stored state in and writes the returned diff. Given the same inputs and the same
`make_id`, the result is the same. A crawl is judged in two pure steps with the
caller's I/O in between:

1. `plan_verifications`: which listings' own pages to fetch (absent from a plausible
   complete crawl of a `verify` source; aged-out listings due for a revisit).
2. `diff_crawl(..., verifications=...)`: the crawl and those verdicts → one diff.

Rules, in the order they are applied:

- Seen, unknown id → written ACTIVE with a `new` event, or a `reposted` event when
  a stored listing (any source) looks like the same dataset. Arrival events are
  suppressed while the source's baseline is pending (no complete crawl stored yet,
  `baseline_alerts` off) and during a suspected layout change; the rows (and their
  repost cluster) are still written.
- Seen, known → back to ACTIVE. DELETED → `restored` (how: "listed again");
  MISSING / AGED_OUT → silent.
  Title, seller, price, record count or data types differing → `changed` with
  before/after. Evidence fields (first post, size, span, country) that fill in or
  change are written quietly (changes become observations, not events). Unchanged
  ACTIVE listings are only `touched` (the store moves `last_seen`).
- Unseen → only a COMPLETE crawl with a plausible shape says anything about ACTIVE
  or MISSING listings. `count` sources: the missing streak grows; at
  `source.missing_after` the listing is DELETED. `verify` sources: the verdict on the
  listing's own page decides: GONE → DELETED, PRESENT → AGED_OUT (kept; its
  `last_seen` is the verification time), UNKNOWN → MISSING (retried; its
  `missing_streak` counts the unanswered checks), not checked (over the budget) →
  MISSING as it is.
- Unseen AGED_OUT listings with a verdict (revisits, any crawl outcome): GONE →
  DELETED, PRESENT → `last_seen` moves (fields may change), UNKNOWN → only its
  `missing_streak` (unanswered checks) grows, which puts it behind others next time.
- Unseen DELETED listings with a verdict (re-checks inside `restore_window`):
  PRESENT → `restored` (how: "own page") and AGED_OUT; GONE / UNKNOWN → unchanged.
- Implausible complete crawls (listing count below half the recent median, or most
  known listings replaced by unknown ones) infer nothing from absence, carry an
  error note ("suspected layout change (...)") that keeps them out of the yardstick
  of later crawls, and raise one `layout_changed` event -- unless the source's
  previous complete crawl was already suspected (`layout_pending`): a redesign that
  stays is one event, not one per crawl.
- A redesign that renamed the listings settles (`settled_layout`: during such an
  episode, a crawl that churns ids again but shows mostly listings recorded since):
  one `layout_settled` source event, and the crawl is plausible from then on. Each
  listing left behind becomes AGED_OUT with a `superseded` event, never checked on
  its own again: it continues under the id of the seen listing of its dataset
  (`fingerprint.successors`, one to one) in `superseded_by`, or, with none,
  `superseded_by` is LEFT_BEHIND. Arrivals are announced again and absence is
  judged for every other listing.

Baseline choice: until the first complete crawl, arrivals are recorded but never
announced, whatever the crawl's outcome. A partial first crawl is as much a flood
of old listings as a complete one, and alerting on it would make the baseline
depend on which page happened to fail. The price: a source whose crawls never
complete never announces arrivals; its crawl outcomes and errors say why.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitor.absence import (
    MAX_VERIFICATIONS,
    absence_mode,
    layout_suspicion,
    plan_verifications,
    seen_ids,
    settled_layout,
)
from monitor.changes import (
    adds_evidence,
    evidence,
    evidence_changes,
    field_changes,
    is_price_drop,
    keep_evidence,
    overlay,
    price_text,
    record_count,
)
from monitor.fingerprint import (
    CandidateIndex,
    fingerprint,
    jaccard,
    original_of,
    records_bucket,
    successors,
    title_tokens,
)
from monitor.models import (
    LEFT_BEHIND,
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Event,
    EventKind,
    FieldChange,
    Listing,
    ListingState,
    Source,
    StoredListing,
    Verdict,
    Verification,
)

__all__ = [
    "MAX_VERIFICATIONS",
    "absence_mode",
    "diff_crawl",
    "fingerprint",
    "jaccard",
    "plan_verifications",
    "records_bucket",
    "title_tokens",
]


def time_ordered_ids(at: datetime) -> Callable[[], str]:
    """Event ids for events at `at`: 32 hex digits, the time in microseconds (14),
    40 random bits drawn once (10), then a counter (8), so ids sort by time (and by
    creation within one diff) and a database index receives them as appends
    instead of scattering uuid4s across it."""
    prefix = f"{int(at.timestamp() * 1_000_000) % 16**14:014x}{os.urandom(5).hex()}"
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter):08x}"


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def deletion_evidence(stored: StoredListing, deleted_before: datetime, how: str) -> dict[str, Any]:
    """What a `deleted` event keeps: the listing's last known state and the window in
    which it went (after `last_seen`, before `deleted_before`)."""
    listing = stored.listing
    return {
        "first_seen": _iso(stored.first_seen),
        "last_seen": _iso(stored.last_seen),
        "deleted_after": _iso(stored.last_seen),
        "deleted_before": _iso(deleted_before),
        "how": how,
        "title": listing.title,
        "seller": listing.seller,
        "price": price_text(listing.price),
        "records": record_count(listing.records),
    }


def restore_evidence(stored: StoredListing, at: datetime, how: str) -> dict[str, Any]:
    """What a `restored` event keeps: when the listing was deleted (`deleted_at`, and
    `deleted_after`: when it was last seen before), how long it was gone (seconds
    from `deleted_at` to `at`, when it was found again) and how it was found."""
    gone = None if stored.deleted_at is None else (at - stored.deleted_at).total_seconds()
    return {
        "deleted_at": _iso(stored.deleted_at),
        "deleted_after": _iso(stored.last_seen),
        "gone_for": None if gone is None else max(0, int(gone)),
        "how": how,
    }


@dataclass
class _Diff:
    """The diff of one `diff_crawl` call while it is being built."""

    crawl: Crawl
    make_id: Callable[[], str]
    writes: list[StoredListing] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    changes: dict[str, tuple[FieldChange, ...]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    joins: list[tuple[str, str]] = field(default_factory=list)

    def event(self, kind: EventKind, listing_id: str | None, details: dict[str, Any]) -> None:
        self.events.append(
            Event(
                id=self.make_id(),
                kind=kind,
                source=self.crawl.source,
                crawl_id=self.crawl.id,
                at=self.crawl.finished,
                listing_id=listing_id,
                details=details,
            )
        )

    def update(self, stored: StoredListing, new: StoredListing) -> None:
        """Write `new` (a later version of `stored`) with its changes and a `changed`
        event when a tracked field changed."""
        self.writes.append(new)
        changes = field_changes(stored.listing, new.listing)
        quiet = evidence_changes(stored.listing, new.listing)
        if changes or quiet:
            self.changes[new.id] = changes + quiet
        if changes:
            details: dict[str, Any] = {
                "changes": [
                    {"field": c.field, "before": c.before, "after": c.after} for c in changes
                ]
            }
            if is_price_drop(stored.listing.price, new.listing.price):
                details["price_drop"] = True
            self.event(EventKind.CHANGED, new.id, details)

    def freeze(self, baseline: bool, layout_suspected: bool) -> CrawlDiff:
        return CrawlDiff(
            crawl=self.crawl,
            writes=tuple(self.writes),
            touched=tuple(self.touched),
            changes=dict(self.changes),
            events=tuple(self.events),
            baseline=baseline,
            layout_suspected=layout_suspected,
            joins=tuple(self.joins),
        )


def _arrive(diff: _Diff, listing: Listing, candidates: CandidateIndex, quiet: bool) -> None:
    fp = fingerprint(listing)
    original = original_of(listing, fp, candidates)
    cluster = listing.id if original is None else (original.cluster or original.id)
    at = diff.crawl.finished
    diff.writes.append(
        StoredListing(
            listing=listing,
            state=ListingState.ACTIVE,
            first_seen=at,
            last_seen=at,
            fingerprint=fp,
            cluster=cluster,
        )
    )
    if quiet:
        return
    if original is None:
        diff.event(EventKind.NEW, listing.id, {})
        return
    diff.event(
        EventKind.REPOSTED,
        listing.id,
        {
            "original_id": original.id,
            "original_source": original.listing.source,
            "original_title": original.listing.title,
            "original_seller": original.listing.seller,
        },
    )


def _seen_again(diff: _Diff, stored: StoredListing, listing: Listing) -> None:
    if (
        stored.state is ListingState.ACTIVE
        and stored.missing_streak == 0
        and not adds_evidence(stored.listing, listing)
        and not field_changes(stored.listing, listing)
    ):
        diff.touched.append(listing.id)  # the common case: nothing new at all
        return
    merged = keep_evidence(stored.listing, listing)
    same = not field_changes(stored.listing, merged) and (
        evidence(stored.listing) == evidence(merged)
    )
    if stored.state is ListingState.ACTIVE and stored.missing_streak == 0 and same:
        diff.touched.append(listing.id)
        return
    if stored.state is ListingState.DELETED:
        at = diff.crawl.finished
        diff.event(EventKind.RESTORED, listing.id, restore_evidence(stored, at, "listed again"))
    new = StoredListing(
        listing=merged,
        state=ListingState.ACTIVE,
        first_seen=stored.first_seen,
        last_seen=diff.crawl.finished,
        missing_streak=0,
        deleted_at=None,
        fingerprint=fingerprint(merged),
        cluster=stored.cluster or stored.id,
    )
    diff.update(stored, new)


def _delete(diff: _Diff, stored: StoredListing, at: datetime, how: str, streak: int) -> None:
    diff.writes.append(
        replace(stored, state=ListingState.DELETED, missing_streak=streak, deleted_at=at)
    )
    diff.event(EventKind.DELETED, stored.id, deletion_evidence(stored, at, how))


def _counted_absence(diff: _Diff, stored: StoredListing, source: Source) -> None:
    """An ACTIVE or MISSING listing of a `count` source that a plausible complete
    crawl did not show: deleted after `missing_after` such crawls in a row."""
    streak = stored.missing_streak + 1
    if streak < source.missing_after:
        diff.writes.append(replace(stored, state=ListingState.MISSING, missing_streak=streak))
        return
    how = f"absent from {streak} complete crawl{'s' if streak > 1 else ''}"
    _delete(diff, stored, diff.crawl.finished, how, streak)


def _verified(diff: _Diff, stored: StoredListing, check: Verification | None) -> None:
    """An unseen listing of a `verify` source and the verdict on its own page."""
    verdict = Verdict.UNKNOWN if check is None else check.verdict
    if check is not None and verdict is Verdict.GONE:
        _delete(diff, stored, check.at, f"verified: {check.reason}", stored.missing_streak + 1)
    elif check is not None and verdict is Verdict.PRESENT:
        listing = (
            stored.listing if check.listing is None else overlay(stored.listing, check.listing)
        )
        new = replace(
            stored,
            listing=listing,
            state=ListingState.AGED_OUT,
            last_seen=max(stored.last_seen, check.at),
            missing_streak=0,
            fingerprint=fingerprint(listing),
        )
        diff.update(stored, new)
    elif check is not None:  # unanswered: counted (others go first next time), retried
        state = (
            ListingState.AGED_OUT if stored.state is ListingState.AGED_OUT else ListingState.MISSING
        )
        diff.writes.append(replace(stored, state=state, missing_streak=stored.missing_streak + 1))
    elif stored.state is ListingState.ACTIVE:  # not checked yet (over the budget): waits
        diff.writes.append(replace(stored, state=ListingState.MISSING))


def _recheck_deleted(diff: _Diff, stored: StoredListing, check: Verification) -> None:
    """A DELETED listing re-checked on its own page (inside its `restore_window`):
    PRESENT (`verify_page(..., deleted=True)`: the thread is really shown) → a
    `restored` event, and the listing is AGED_OUT (back, but not on the crawled
    pages); GONE or UNKNOWN → it stays DELETED as it is (the check is recorded as a
    verification row; the next one is due later)."""
    if check.verdict is not Verdict.PRESENT:
        return
    details = restore_evidence(stored, check.at, "own page")
    details |= {"verified": check.reason, "url": check.url}
    diff.event(EventKind.RESTORED, stored.id, details)
    listing = stored.listing if check.listing is None else overlay(stored.listing, check.listing)
    new = replace(
        stored,
        listing=listing,
        state=ListingState.AGED_OUT,
        last_seen=max(stored.last_seen, check.at),
        missing_streak=0,
        deleted_at=None,
        fingerprint=fingerprint(listing),
        cluster=stored.cluster or stored.id,
    )
    diff.update(stored, new)


def _settle(
    diff: _Diff,
    left_behind: Sequence[StoredListing],
    seen: Mapping[str, Listing],
    known: Mapping[str, StoredListing],
    churn: Mapping[str, Any],
) -> None:
    """A redesign's new ids hold: one `layout_settled` event; every listing left
    behind ages out for good (never checked on its old address: on a relaunch it is
    gone, which says nothing of the dataset), superseded by the listing recorded
    since that continues it (`successors`) or, with none on the page, by nobody
    (`LEFT_BEHIND`). A successor's dataset cluster joins its predecessor's, so each
    one's "same dataset" list holds the other."""
    cutoff = max(s.last_seen for s in left_behind)
    arrived = [known[i] for i in sorted(seen) if i in known and known[i].first_seen > cutoff]
    by = successors(left_behind, arrived)
    details = {k: v for k, v in churn.items() if k != "reason"}
    diff.event(
        EventKind.LAYOUT_SETTLED,
        None,
        details | {"left_behind": len(left_behind), "superseded": len(by)},
    )
    for old in left_behind:
        successor = by.get(old.id)
        diff.writes.append(
            replace(
                old,
                state=ListingState.AGED_OUT,
                missing_streak=0,
                superseded_by=LEFT_BEHIND if successor is None else successor,
            )
        )
        diff.event(EventKind.SUPERSEDED, old.id, {"by": successor, "after": "redesign"})
        if successor is not None:
            cluster, into = known[successor].cluster or successor, old.cluster or old.id
            if cluster != into:
                diff.joins.append((cluster, into))


def diff_crawl(
    crawl: Crawl,
    known: Mapping[str, StoredListing],
    source: Source,
    *,
    previous_complete: Sequence[int],
    repost_candidates: Sequence[StoredListing],
    first_complete: bool,
    verifications: Mapping[str, Verification] | None = None,
    make_id: Callable[[], str] | None = None,
    layout_pending: bool = False,
) -> CrawlDiff:
    """Compare one crawl with the stored listings of its source (keyed by id).

    `previous_complete`: listing counts of recent plausible complete crawls, newest
    first. `repost_candidates`: stored listings of any source that may be the same
    dataset as a new one (the source's own `known` listings are candidates too).
    `first_complete`: no complete crawl of this source is stored yet.
    `verifications`: verdicts on the listings `plan_verifications` named, by listing
    id. `make_id` makes event ids (default: `time_ordered_ids`). Events happen at
    `crawl.finished`. `layout_pending`: the source's latest complete crawl was a
    suspected layout change already (no second `layout_changed` event).
    """
    checks = verifications or {}
    seen = seen_ids(crawl)
    complete = crawl.outcome is CrawlOutcome.COMPLETE
    suspicion = (
        layout_suspicion(len(crawl.listings), seen, known, previous_complete, layout_pending)
        if complete
        else None
    )
    churn = suspicion or {}
    left_behind = settled_layout(suspicion, seen, known, layout_pending)
    if left_behind is not None:
        suspicion = None  # the new ids hold: a plausible crawl
    if suspicion is not None:
        note = f"suspected layout change ({suspicion['reason']})"
        crawl = replace(crawl, error=crawl.error or note)
    diff = _Diff(crawl, make_id or time_ordered_ids(crawl.finished))
    baseline_pending = first_complete and not source.baseline_alerts
    if suspicion is not None and not layout_pending:
        diff.event(EventKind.LAYOUT_CHANGED, None, suspicion)
    if left_behind is not None:
        _settle(diff, left_behind, seen, known, churn)

    candidates = CandidateIndex(())
    if not seen.keys() <= known.keys():  # only arrivals need repost candidates
        pool = {s.id: s for s in repost_candidates} | dict(known)
        candidates = CandidateIndex(s for _, s in sorted(pool.items()))
    for listing in seen.values():
        stored = known.get(listing.id)
        if stored is None:
            _arrive(diff, listing, candidates, quiet=baseline_pending or suspicion is not None)
        else:
            _seen_again(diff, stored, listing)

    verify = absence_mode(source) == "verify"
    judge_absence = complete and suspicion is None
    retired = {s.id for s in left_behind or ()}
    for listing_id in sorted(known.keys() - seen.keys() - retired):
        stored = known[listing_id]
        if stored.state in (ListingState.ACTIVE, ListingState.MISSING) and judge_absence:
            if verify:
                _verified(diff, stored, checks.get(listing_id))
            else:
                _counted_absence(diff, stored, source)
        elif stored.state is ListingState.AGED_OUT and listing_id in checks:
            _verified(diff, stored, checks[listing_id])
        elif stored.state is ListingState.DELETED and listing_id in checks:
            _recheck_deleted(diff, stored, checks[listing_id])
    return diff.freeze(complete and baseline_pending, suspicion is not None)
