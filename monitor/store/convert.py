"""Rows ↔ models. Timestamps are stored as fixed-width ISO-8601 UTC text
(``2024-06-01T12:00:00.000000+00:00``) so that text order is time order."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from monitor.models import (
    Alert,
    AlertStatus,
    Crawl,
    Event,
    Listing,
    ListingState,
    Price,
    Records,
    StoredListing,
)

Row = dict[str, Any]
# Positional statement parameters, in the order of the table's `*_COLUMNS`.
Values = tuple[Any, ...]

LISTING_COLUMNS = (
    "id",
    "source",
    "external_id",
    "url",
    "title",
    "seller",
    "records",
    "records_raw",
    "price_amount",
    "price_currency",
    "price_usd",
    "price_raw",
    "price_negotiable",
    "posted_at",
    "posted_raw",
    "first_seen",
    "last_seen",
    "state",
    "missing_streak",
    "deleted_at",
    "fingerprint",
    "cluster",
    "price_kind",
    "data_types",
    "size_bytes",
    "span_from",
    "span_to",
    "country",
    "replies",
    "views",
    "sticky",
    "first_post",
    "superseded_by",
)
# The columns `stored_listing` reads, in its order (`... FROM listings WHERE ...`).
SELECT_LISTINGS = f"SELECT {', '.join(LISTING_COLUMNS)} FROM listings"
CRAWL_COLUMNS = (
    "id",
    "source",
    "started",
    "finished",
    "outcome",
    "pages",
    "wire_bytes",
    "listings_seen",
    "error",
)
EVENT_COLUMNS = ("id", "kind", "source", "listing_id", "crawl_id", "at", "details")
ALERT_COLUMNS = (
    "id",
    "event_id",
    "rule",
    "target",
    "severity",
    "title",
    "body",
    "created",
    "status",
    "attempts",
    "next_attempt",
    "last_error",
)


@lru_cache(maxsize=256)  # a crawl writes the same few instants thousands of times
def ts(at: datetime) -> str:
    """A timezone-aware datetime as stored text; naive datetimes are a bug."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: leakmon stores UTC only")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def opt_ts(at: datetime | None) -> str | None:
    return None if at is None else ts(at)


@lru_cache(maxsize=4096)  # a source's listings share a few first/last-seen instants
def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@lru_cache(maxsize=1024)
def _data_types(text: str) -> tuple[str, ...]:
    return () if text == "[]" else tuple(json.loads(text))


def opt_parse_ts(text: str | None) -> datetime | None:
    return None if text is None else parse_ts(text)


def listing_row(stored: StoredListing) -> Values:
    """The `listings` row of a stored listing, in `LISTING_COLUMNS` order."""
    listing, price, records = stored.listing, stored.listing.price, stored.listing.records
    span = listing.span
    return (
        listing.id,
        listing.source,
        listing.external_id,
        listing.url,
        listing.title,
        listing.seller,
        None if records is None else records.count,
        None if records is None else records.raw,
        None if price is None else price.amount,
        None if price is None else price.currency,
        None if price is None else price.usd,
        None if price is None else price.raw,
        int(price is not None and price.negotiable),
        None if listing.posted_at is None else ts(listing.posted_at),
        listing.posted_raw,
        ts(stored.first_seen),
        ts(stored.last_seen),
        stored.state.value,
        stored.missing_streak,
        None if stored.deleted_at is None else ts(stored.deleted_at),
        stored.fingerprint,
        stored.cluster,
        None if price is None else price.kind,
        json.dumps(list(listing.data_types), ensure_ascii=False) if listing.data_types else "[]",
        listing.size_bytes,
        None if span is None else span[0],
        None if span is None else span[1],
        listing.country,
        listing.replies,
        listing.views,
        int(listing.sticky),
        listing.first_post,
        stored.superseded_by,
    )


_STATES = {state.value: state for state in ListingState}


def stored_listing(values: Sequence[Any]) -> StoredListing:
    """A `listings` row (`SELECT_LISTINGS`: `LISTING_COLUMNS` order) as a model; a
    price exists when its raw text does. The models are built with positional
    arguments in their field order (twice as fast as keywords for the thousands of
    rows of `known_listings`); the round-trip tests guard that order."""
    (
        _id,
        source,
        external_id,
        url,
        title,
        seller,
        count,
        records_raw,
        price_amount,
        price_currency,
        price_usd,
        price_raw,
        price_negotiable,
        posted_at,
        posted_raw,
        first_seen,
        last_seen,
        state,
        missing_streak,
        deleted_at,
        fingerprint,
        cluster,
        price_kind,
        data_types,
        size_bytes,
        span_from,
        span_to,
        country,
        replies,
        views,
        sticky,
        first_post,
        superseded_by,
    ) = values
    price = None
    if price_raw is not None:
        price = Price(
            price_amount,
            price_currency,
            price_raw,
            price_usd,
            bool(price_negotiable),
            price_kind or "ask",
        )
    listing = Listing(
        source,
        external_id,
        url,
        title,
        seller,
        price,
        None if count is None else Records(count, records_raw or ""),
        None if posted_at is None else parse_ts(posted_at),
        posted_raw,
        _data_types(data_types),
        size_bytes,
        None if span_from is None else (span_from, span_to),
        country,
        replies,
        views,
        bool(sticky),
        first_post,
    )
    return StoredListing(
        listing,
        _STATES[state],
        parse_ts(first_seen),
        parse_ts(last_seen),
        missing_streak,
        None if deleted_at is None else parse_ts(deleted_at),
        fingerprint,
        cluster,
        superseded_by,
    )


def crawl_row(crawl: Crawl) -> Row:
    return {
        "id": crawl.id,
        "source": crawl.source,
        "started": ts(crawl.started),
        "finished": ts(crawl.finished),
        "outcome": crawl.outcome.value,
        "pages": crawl.pages,
        "wire_bytes": crawl.wire_bytes,
        "listings_seen": len(crawl.listings),
        "error": crawl.error,
    }


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return ts(value)
    raise TypeError(f"event details: {type(value).__name__} is not JSON serialisable")


def event_row(event: Event) -> Values:
    """The `events` row of an event, in `EVENT_COLUMNS` order."""
    details = (
        json.dumps(dict(event.details), ensure_ascii=False, sort_keys=True, default=_json_default)
        if event.details
        else "{}"
    )
    return (
        event.id,
        event.kind.value,
        event.source,
        event.listing_id,
        event.crawl_id,
        ts(event.at),
        details,
    )


def event_dict(row: Mapping[str, Any]) -> Row:
    """An `events` row for the CLI: `details` parsed."""
    return {**row, "details": json.loads(row["details"])}


def listing_dict(row: Mapping[str, Any]) -> Row:
    """A `listings` row for the CLI: flags as bools, `data_types` as a list."""
    out = {**row, "price_negotiable": bool(row["price_negotiable"])}
    if "data_types" in row:
        out["data_types"] = json.loads(row["data_types"])
        out["sticky"] = bool(row["sticky"])
    return out


def alert_row(alert: Alert) -> Row:
    return {
        "id": alert.id,
        "event_id": alert.event_id,
        "rule": alert.rule,
        "target": alert.target,
        "severity": alert.severity,
        "title": alert.title,
        "body": alert.body,
        "created": ts(alert.created),
        "status": alert.status.value,
        "attempts": alert.attempts,
        "next_attempt": opt_ts(alert.next_attempt),
        "last_error": alert.last_error,
    }


def alert_from_row(row: Mapping[str, Any]) -> Alert:
    return Alert(
        id=row["id"],
        event_id=row["event_id"],
        rule=row["rule"],
        target=row["target"],
        severity=row["severity"],
        title=row["title"],
        body=row["body"],
        created=parse_ts(row["created"]),
        status=AlertStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt=opt_parse_ts(row["next_attempt"]),
        last_error=row["last_error"],
    )
