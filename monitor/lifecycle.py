"""Pure lifecycle: one source's stored listings + one crawl → a `CrawlDiff`.

Nothing here touches the network, the clock or the database: the caller passes the
stored state in and writes the returned diff. Given the same inputs and the same
`make_id`, the result is the same.

Rules, in the order they are applied:

- Seen, unknown id → written ACTIVE with a `new` event, or a `reposted` event when
  a stored listing (any source) looks like the same dataset. Arrival events are
  suppressed while the source's baseline is pending (no complete crawl stored yet,
  `baseline_alerts` off) and during a suspected layout change; the rows (and their
  repost cluster) are still written.
- Seen, known → back to ACTIVE. DELETED → `restored`; MISSING / AGED_OUT → silent.
  Title, seller, price or record count differing → `changed` with before/after.
  Unchanged ACTIVE listings are only `touched` (the store moves `last_seen`).
- Unseen → only a COMPLETE crawl with a plausible shape says anything: the missing
  streak grows; at `source.missing_after` the listing is DELETED with evidence.
- Implausible complete crawls (listing count below half the recent median, or most
  known listings replaced by unknown ones) raise one `layout_changed` event and
  infer nothing from absence.

Baseline choice: until the first complete crawl, arrivals are recorded but never
announced, whatever the crawl's outcome. A partial first crawl is as much a flood
of old listings as a complete one, and alerting on it would make the baseline
depend on which page happened to fail. The price: a source whose crawls never
complete never announces arrivals; its crawl outcomes and errors say why.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitor.models import (
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Event,
    EventKind,
    FieldChange,
    Listing,
    ListingState,
    Price,
    Records,
    Source,
    StoredListing,
)

# Shape checks of a complete crawl (see `layout_suspicion`).
COUNT_DROP_RATIO = 0.5  # fewer listings than this share of the recent median
CHURN_RATIO = 0.6  # share of active listings vanished AND share of seen ones unknown
CHURN_MIN_KNOWN = 3  # churn is judged only with at least this many active listings
# Repost detection (see `same_dataset`).
REPOST_JACCARD = 0.5

# Words that describe the offer rather than the dataset.
_STOPWORD_TEXT = """
    a an and the of for with from in on at by to or as is are this that
    sell selling sale sold wts wtb buy offer offering cheap price
    db dbs database databases data leak leaks leaked dump dumps dumped
    fresh new full hq private exclusive complete latest update updated
    records record rows row lines line entries users user accounts account
    customers members million millions billion billions mil mln bn k kk m mm b
    btc xmr eth usdt usd eur
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SPLIT = re.compile(r"[\W_]+")
# Numbers, amounts and magnitudes: "2019", "10btc", "500k", "1kk", "200".
_NUMBERISH = re.compile(r"\d+(?:k|kk|m|mm|mil|mln|b|bn|btc|xmr|eth|usdt|usd|eur)?")


def title_tokens(title: str) -> frozenset[str]:
    """The dataset-describing words of a title: NFKC, casefolded, without
    punctuation, stopwords, numbers or price tokens."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return frozenset(
        token
        for token in _SPLIT.split(text)
        if token and token not in STOPWORDS and not _NUMBERISH.fullmatch(token)
    )


def records_bucket(records: Records | None) -> str:
    """The record count rounded to two significant digits ("-" when unknown)."""
    if records is None:
        return "-"
    return f"{records.count:.1e}"


def fingerprint(listing: Listing) -> str:
    """A stable hash of the title's dataset words and the record-count bucket."""
    key = " ".join(sorted(title_tokens(listing.title))) + "|" + records_bucket(listing.records)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when either set is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class _Candidate:
    stored: StoredListing
    tokens: frozenset[str]
    fingerprint: str


def same_dataset(listing: Listing, tokens: frozenset[str], fp: str, cand: _Candidate) -> bool:
    """Same fingerprint (with some dataset words), or the same record count and
    titles whose word sets overlap by at least `REPOST_JACCARD`."""
    if tokens and fp == cand.fingerprint:
        return True
    old = cand.stored.listing.records
    return (
        listing.records is not None
        and old is not None
        and listing.records.count == old.count
        and jaccard(tokens, cand.tokens) >= REPOST_JACCARD
    )


def _original_of(
    listing: Listing, fp: str, candidates: Sequence[_Candidate]
) -> StoredListing | None:
    """The earliest-seen stored listing (another id) of the same dataset, if any."""
    tokens = title_tokens(listing.title)
    matches = [
        c.stored
        for c in candidates
        if c.stored.id != listing.id and same_dataset(listing, tokens, fp, c)
    ]
    return min(matches, key=lambda s: (s.first_seen, s.id), default=None)


def _price_key(price: Price | None) -> tuple[Any, ...] | None:
    if price is None:
        return None
    if price.amount is None:
        return ("raw", price.raw)
    return (price.amount, price.currency)


def _price_text(price: Price | None) -> str | None:
    return None if price is None else price.raw


def _count(records: Records | None) -> int | None:
    return None if records is None else records.count


def field_changes(old: Listing, new: Listing) -> tuple[FieldChange, ...]:
    """Title, seller, price and record-count changes as display values: strings,
    the price's raw text, the record count as an int."""
    changes = []
    if old.title != new.title:
        changes.append(FieldChange("title", old.title, new.title))
    if old.seller != new.seller:
        changes.append(FieldChange("seller", old.seller, new.seller))
    if _price_key(old.price) != _price_key(new.price):
        changes.append(FieldChange("price", _price_text(old.price), _price_text(new.price)))
    if _count(old.records) != _count(new.records):
        changes.append(FieldChange("records", _count(old.records), _count(new.records)))
    return tuple(changes)


def is_price_drop(old: Price | None, new: Price | None) -> bool:
    """The amount went down in the same currency."""
    return (
        old is not None
        and new is not None
        and old.amount is not None
        and new.amount is not None
        and old.currency == new.currency
        and new.amount < old.amount
    )


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


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def deletion_evidence(stored: StoredListing) -> dict[str, Any]:
    """What a `deleted` event keeps about the listing's last known state."""
    listing = stored.listing
    return {
        "first_seen": _iso(stored.first_seen),
        "last_seen": _iso(stored.last_seen),
        "title": listing.title,
        "seller": listing.seller,
        "price": _price_text(listing.price),
        "records": _count(listing.records),
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

    def freeze(self, baseline: bool) -> CrawlDiff:
        return CrawlDiff(
            crawl=self.crawl,
            writes=tuple(self.writes),
            touched=tuple(self.touched),
            changes=dict(self.changes),
            events=tuple(self.events),
            baseline=baseline,
        )


def _arrive(diff: _Diff, listing: Listing, candidates: Sequence[_Candidate], quiet: bool) -> None:
    fp = fingerprint(listing)
    original = _original_of(listing, fp, candidates)
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
    changes = field_changes(stored.listing, listing)
    if stored.state is ListingState.ACTIVE and stored.missing_streak == 0 and not changes:
        diff.touched.append(listing.id)
        return
    diff.writes.append(
        StoredListing(
            listing=listing,
            state=ListingState.ACTIVE,
            first_seen=stored.first_seen,
            last_seen=diff.crawl.finished,
            missing_streak=0,
            deleted_at=None,
            fingerprint=fingerprint(listing),
            cluster=stored.cluster or stored.id,
        )
    )
    if stored.state is ListingState.DELETED:
        diff.event(EventKind.RESTORED, listing.id, {"deleted_at": _iso(stored.deleted_at)})
    if changes:
        diff.changes[listing.id] = changes
        details: dict[str, Any] = {
            "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in changes]
        }
        if is_price_drop(stored.listing.price, listing.price):
            details["price_drop"] = True
        diff.event(EventKind.CHANGED, listing.id, details)


def _absent(diff: _Diff, stored: StoredListing, source: Source) -> None:
    """An ACTIVE or MISSING listing a plausible complete crawl did not show.

    The place for thread-page verification (deleted vs aged_out) when it comes.
    """
    streak = stored.missing_streak + 1
    if streak < source.missing_after:
        diff.writes.append(replace(stored, state=ListingState.MISSING, missing_streak=streak))
        return
    at = diff.crawl.finished
    diff.writes.append(
        replace(stored, state=ListingState.DELETED, missing_streak=streak, deleted_at=at)
    )
    diff.event(EventKind.DELETED, stored.id, deletion_evidence(stored))


def diff_crawl(
    crawl: Crawl,
    known: Mapping[str, StoredListing],
    source: Source,
    *,
    previous_complete: Sequence[int],
    repost_candidates: Sequence[StoredListing],
    first_complete: bool,
    make_id: Callable[[], str] | None = None,
) -> CrawlDiff:
    """Compare one crawl with the stored listings of its source (keyed by id).

    `previous_complete`: listing counts of recent plausible complete crawls, newest
    first. `repost_candidates`: stored listings of any source that may be the same
    dataset as a new one (the source's own `known` listings are candidates too).
    `first_complete`: no complete crawl of this source is stored yet. `make_id`
    makes event ids (default: uuid4 hex). Events happen at `crawl.finished`.
    """
    diff = _Diff(crawl, make_id or (lambda: uuid.uuid4().hex))
    seen: dict[str, Listing] = {}
    for listing in crawl.listings:  # the first occurrence of an id wins
        seen.setdefault(listing.id, listing)
    complete = crawl.outcome is CrawlOutcome.COMPLETE
    suspicion = (
        layout_suspicion(len(crawl.listings), seen, known, previous_complete) if complete else None
    )
    baseline_pending = first_complete and not source.baseline_alerts
    if suspicion is not None:
        diff.event(EventKind.LAYOUT_CHANGED, None, suspicion)

    candidates: list[_Candidate] = []
    if not seen.keys() <= known.keys():  # only arrivals need repost candidates
        pool = {s.id: s for s in repost_candidates} | dict(known)
        candidates = [
            _Candidate(s, title_tokens(s.listing.title), fingerprint(s.listing))
            for _, s in sorted(pool.items())
        ]
    for listing in seen.values():
        stored = known.get(listing.id)
        if stored is None:
            _arrive(diff, listing, candidates, quiet=baseline_pending or suspicion is not None)
        else:
            _seen_again(diff, stored, listing)

    if complete and suspicion is None:
        for listing_id in sorted(known.keys() - seen.keys()):
            stored = known[listing_id]
            if stored.state in (ListingState.ACTIVE, ListingState.MISSING):
                _absent(diff, stored, source)
    return diff.freeze(baseline=complete and baseline_pending)
