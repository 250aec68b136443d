"""The SQL statements `Store.apply` runs, and the row of a kept page."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence

from monitor.models import PageSnapshot
from monitor.store.convert import (
    ALERT_COLUMNS,
    CRAWL_COLUMNS,
    EVENT_COLUMNS,
    LISTING_COLUMNS,
    Row,
    ts,
)


def insert(table: str, columns: Sequence[str], tail: str = "") -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values}) {tail}"


UPSERT_LISTING = insert(
    "listings",
    LISTING_COLUMNS,
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in LISTING_COLUMNS if c != "id"),
)
# The search index of written listings: old entries out, new ones in (set-based;
# see schema.schema_0002 for why not triggers).
FTS_FORGET = (
    "INSERT INTO listings_fts (listings_fts, rowid, title, seller, first_post) "
    "SELECT 'delete', rowid, title, seller, first_post FROM listings "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
FTS_INDEX = (
    "INSERT INTO listings_fts (rowid, title, seller, first_post) "
    "SELECT rowid, title, seller, first_post FROM listings "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
INSERT_ALERT = insert("alerts", ALERT_COLUMNS, "ON CONFLICT(event_id, rule, target) DO NOTHING")
INSERT_CRAWL = insert("crawls", CRAWL_COLUMNS)
INSERT_EVENT = insert("events", EVENT_COLUMNS)
INSERT_VERIFICATION = (
    "INSERT INTO verifications (listing_id, crawl_id, at, url, verdict, reason, status) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# A page is kept once per distinct content (the same HTML seen again adds nothing).
INSERT_PAGE = (
    "INSERT INTO pages (listing_id, crawl_id, at, url, status, sha256, size, html) "
    "SELECT :listing_id, :crawl_id, :at, :url, :status, :sha256, :size, :html "
    "WHERE EXISTS (SELECT 1 FROM listings WHERE id = :listing_id) AND NOT EXISTS "
    "(SELECT 1 FROM pages WHERE listing_id = :listing_id AND sha256 = :sha256)"
)
INSERT_OBSERVATION = (
    'INSERT INTO observations (listing_id, crawl_id, at, field, "before", "after") '
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def page_row(page: PageSnapshot, crawl_id: str) -> Row:
    raw = page.html.encode("utf-8", "surrogatepass")
    return {
        "listing_id": page.listing_id,
        "crawl_id": crawl_id,
        "at": ts(page.at),
        "url": page.url,
        "status": page.status,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
        "html": zlib.compress(raw, 6),
    }
