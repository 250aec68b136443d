"""The SQL statements `Store.apply` (`store.write`) runs, and the row of a kept page."""

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


def insert(table: str, columns: Sequence[str], tail: str = "", *, named: bool = True) -> str:
    """INSERT of `columns`: named parameters (`:column`, a dict per row) or, with
    `named=False`, positional ones (a tuple per row in `columns` order; cheaper)."""
    names = ", ".join(columns)
    values = ", ".join(f":{c}" if named else "?" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values}) {tail}"


INSERT_LISTING_AT = insert("listings", ("rowid", *LISTING_COLUMNS), named=False)
MAX_LISTING_ROWID = "SELECT coalesce(max(rowid), 0) FROM listings"
UPSERT_LISTING = insert(
    "listings",
    LISTING_COLUMNS,
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in LISTING_COLUMNS if c != "id"),
    named=False,
)
# The search index of written listings: old entries out, new ones in (set-based;
# see schema.schema_0002 for why not triggers). In rowid order: FTS5 writes its
# pending terms to disk whenever a rowid is lower than the previous one, so the
# id order the IN list would give costs one flush (a new segment) per row.
FTS_FORGET = (
    "INSERT INTO listings_fts (listings_fts, rowid, title, seller, first_post) "
    "SELECT 'delete', rowid, title, seller, first_post FROM listings "
    "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY rowid"
)
FTS_INDEX = (
    "INSERT INTO listings_fts (rowid, title, seller, first_post) "
    "SELECT rowid, title, seller, first_post FROM listings "
    "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY rowid"
)
FTS_ADD = "INSERT INTO listings_fts (rowid, title, seller, first_post) VALUES (?, ?, ?, ?)"
EXISTING_LISTINGS = "SELECT id FROM listings WHERE id IN (SELECT value FROM json_each(?))"
# A source moved to another origin (`Store.sync_sources`, `monitor.moves`).
LISTING_URLS = "SELECT id, url FROM listings WHERE source = ?"
SET_LISTING_URL = "UPDATE listings SET url = ? WHERE id = ?"
# A quiet crawl's one statement: every listing seen again, unchanged.
TOUCH_LISTINGS = (
    "UPDATE listings SET last_seen = max(last_seen, ?) WHERE id IN (SELECT value FROM json_each(?))"
)
JOIN_CLUSTER = """
    UPDATE listings SET cluster = :into
    WHERE cluster = :cluster OR (cluster IS NULL AND id = :cluster)
"""
UPDATE_SOURCE = """
    UPDATE sources SET
        last_crawl = :finished,
        last_ok = coalesce(:ok, last_ok),
        failure_streak = CASE WHEN :healthy THEN 0 ELSE failure_streak + 1 END,
        state = :state
    WHERE name = :name
"""
INSERT_ALERT = insert("alerts", ALERT_COLUMNS, "ON CONFLICT(event_id, rule, target) DO NOTHING")
INSERT_CRAWL = insert("crawls", CRAWL_COLUMNS)
INSERT_EVENT = insert("events", EVENT_COLUMNS, named=False)
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
