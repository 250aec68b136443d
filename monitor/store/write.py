"""One crawl's writes, for `Store.apply` to run inside its transaction.

Set-based where it matters: new listings are plain INSERTs (an upsert costs a
second index probe per row), only listings that already exist are upserted and
taken out of the search index first, and the search index is fed in rowid order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from monitor.models import (
    Alert,
    CrawlDiff,
    CrawlOutcome,
    EventKind,
    PageSnapshot,
    SourceState,
    StoredListing,
    Verification,
)
from monitor.store import sql as statements
from monitor.store.convert import Values, alert_row, crawl_row, event_row, listing_row, ts

_SOURCE_STATE = {
    CrawlOutcome.COMPLETE: SourceState.OK,
    CrawlOutcome.PARTIAL: SourceState.OK,
    CrawlOutcome.BLOCKED: SourceState.BLOCKED,
    CrawlOutcome.FAILED: SourceState.FAILING,
}


def write_listings(conn: sqlite3.Connection, writes: Sequence[StoredListing]) -> None:
    """Insert or update `writes` (a later one with the same id wins) and keep the
    search index in step with them."""
    if not writes:
        return
    ids = json.dumps([s.id for s in writes])
    existing = {row[0] for row in conn.execute(statements.EXISTING_LISTINGS, (ids,))}
    if existing:
        conn.execute(statements.FTS_FORGET, (json.dumps(sorted(existing)),))
    placed = set(existing)
    fresh: list[Values] = []
    again: list[Values] = []
    for stored in writes:
        (again if stored.id in placed else fresh).append(listing_row(stored))
        placed.add(stored.id)
    conn.executemany(statements.INSERT_LISTING, fresh)
    conn.executemany(statements.UPSERT_LISTING, again)
    conn.execute(statements.FTS_INDEX, (ids,))


def write_crawl(
    conn: sqlite3.Connection,
    diff: CrawlDiff,
    alerts: Sequence[Alert],
    verifications: Sequence[Verification],
    pages: Sequence[PageSnapshot],
) -> None:
    """The crawl row first (it takes the write lock), then listings, the
    `last_seen` of touched listings (one UPDATE), observations, events, alerts (an
    existing (event, rule, target) is kept), verifications, kept pages and the
    source's health. The caller owns the transaction."""
    crawl = diff.crawl
    at = ts(crawl.finished)
    conn.execute(statements.INSERT_CRAWL, crawl_row(crawl))
    write_listings(conn, diff.writes)
    if diff.touched:
        conn.execute(statements.TOUCH_LISTINGS, (at, json.dumps(list(diff.touched))))
    conn.executemany(
        statements.INSERT_OBSERVATION,
        [
            (listing_id, crawl.id, at, c.field, c.before, c.after)
            for listing_id, changes in diff.changes.items()
            for c in changes
        ],
    )
    conn.executemany(statements.INSERT_EVENT, [event_row(e) for e in diff.events])
    conn.executemany(statements.INSERT_ALERT, [alert_row(a) for a in alerts])
    conn.executemany(
        statements.INSERT_VERIFICATION,
        [
            (v.listing_id, crawl.id, ts(v.at), v.url, v.verdict.value, v.reason, v.status)
            for v in verifications
        ],
    )
    conn.executemany(statements.INSERT_PAGE, [statements.page_row(p, crawl.id) for p in pages])
    layout = diff.layout_suspected or any(e.kind is EventKind.LAYOUT_CHANGED for e in diff.events)
    state = SourceState.LAYOUT_CHANGED if layout else _SOURCE_STATE[crawl.outcome]
    conn.execute(
        statements.UPDATE_SOURCE,
        {
            "name": crawl.source,
            "finished": at,
            "ok": at if crawl.outcome is CrawlOutcome.COMPLETE else None,
            "healthy": crawl.outcome in (CrawlOutcome.COMPLETE, CrawlOutcome.PARTIAL),
            "state": state.value,
        },
    )
