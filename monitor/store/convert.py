"""Rows ↔ models. Timestamps are stored as fixed-width ISO-8601 UTC text
(``2024-06-01T12:00:00.000000+00:00``) so that text order is time order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
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
)
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


def ts(at: datetime) -> str:
    """A timezone-aware datetime as stored text; naive datetimes are a bug."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: leakmon stores UTC only")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def opt_ts(at: datetime | None) -> str | None:
    return None if at is None else ts(at)


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def opt_parse_ts(text: str | None) -> datetime | None:
    return None if text is None else parse_ts(text)


def listing_row(stored: StoredListing) -> Row:
    """The `listings` row of a stored listing."""
    listing, price, records = stored.listing, stored.listing.price, stored.listing.records
    return {
        "id": listing.id,
        "source": listing.source,
        "external_id": listing.external_id,
        "url": listing.url,
        "title": listing.title,
        "seller": listing.seller,
        "records": None if records is None else records.count,
        "records_raw": None if records is None else records.raw,
        "price_amount": None if price is None else price.amount,
        "price_currency": None if price is None else price.currency,
        "price_usd": None if price is None else price.usd,
        "price_raw": None if price is None else price.raw,
        "price_negotiable": int(price is not None and price.negotiable),
        "posted_at": opt_ts(listing.posted_at),
        "posted_raw": listing.posted_raw,
        "first_seen": ts(stored.first_seen),
        "last_seen": ts(stored.last_seen),
        "state": stored.state.value,
        "missing_streak": stored.missing_streak,
        "deleted_at": opt_ts(stored.deleted_at),
        "fingerprint": stored.fingerprint,
        "cluster": stored.cluster,
        "price_kind": None if price is None else price.kind,
        "data_types": json.dumps(list(listing.data_types), ensure_ascii=False),
        "size_bytes": listing.size_bytes,
        "span_from": None if listing.span is None else listing.span[0],
        "span_to": None if listing.span is None else listing.span[1],
        "country": listing.country,
        "replies": listing.replies,
        "views": listing.views,
        "sticky": int(listing.sticky),
        "first_post": listing.first_post,
    }


def stored_listing(row: Mapping[str, Any]) -> StoredListing:
    """A `listings` row as a model; a price exists when its raw text does."""
    price = None
    if row["price_raw"] is not None:
        price = Price(
            amount=row["price_amount"],
            currency=row["price_currency"],
            raw=row["price_raw"],
            usd=row["price_usd"],
            negotiable=bool(row["price_negotiable"]),
            kind=row["price_kind"] or "ask",
        )
    records = None
    if row["records"] is not None:
        records = Records(count=row["records"], raw=row["records_raw"] or "")
    listing = Listing(
        source=row["source"],
        external_id=row["external_id"],
        url=row["url"],
        title=row["title"],
        seller=row["seller"],
        price=price,
        records=records,
        posted_at=opt_parse_ts(row["posted_at"]),
        posted_raw=row["posted_raw"],
        data_types=() if row["data_types"] == "[]" else tuple(json.loads(row["data_types"])),
        size_bytes=row["size_bytes"],
        span=None if row["span_from"] is None else (row["span_from"], row["span_to"]),
        country=row["country"],
        replies=row["replies"],
        views=row["views"],
        sticky=bool(row["sticky"]),
        first_post=row["first_post"],
    )
    return StoredListing(
        listing=listing,
        state=ListingState(row["state"]),
        first_seen=parse_ts(row["first_seen"]),
        last_seen=parse_ts(row["last_seen"]),
        missing_streak=row["missing_streak"],
        deleted_at=opt_parse_ts(row["deleted_at"]),
        fingerprint=row["fingerprint"],
        cluster=row["cluster"],
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


def event_row(event: Event) -> Row:
    return {
        "id": event.id,
        "kind": event.kind.value,
        "source": event.source,
        "listing_id": event.listing_id,
        "crawl_id": event.crawl_id,
        "at": ts(event.at),
        "details": json.dumps(
            dict(event.details), ensure_ascii=False, sort_keys=True, default=_json_default
        ),
    }


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
