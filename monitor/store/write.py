"""One crawl's writes, for `Store.apply` to run inside its transaction.

Set-based where it matters: new listings are plain INSERTs at the next rowids (an
upsert costs a second index probe per row) and enter the search index straight
from their values; only listings that already exist are upserted, taken out of the
search index first and put back from their rows. The search index is fed in rowid
order.
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
from monitor.store.convert import alert_row, crawl_row, event_row, listing_row, ts

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
    latest = {s.id: s for s in writes}
    ids = json.dumps(list(latest))
    existing = [row[0] for row in conn.execute(statements.EXISTING_LISTINGS, (ids,))]
    if existing:
        again = json.dumps(existing)
        conn.execute(statements.FTS_FORGET, (again,))
        conn.executemany(statements.UPSERT_LISTING, [listing_row(latest.pop(i)) for i in existing])
        conn.execute(statements.FTS_INDEX, (again,))
    if not latest:
        return
    # New rows get the rowids SQLite would give them, so that their search entries
    # go in straight from the values (no second lookup of each row by id) and in
    # rowid order after the re-indexed existing ones.
    (top,) = conn.execute(statements.MAX_LISTING_ROWID).fetchone()
    fresh = list(enumerate(latest.values(), start=top + 1))
    conn.executemany(statements.INSERT_LISTING_AT, [(n, *listing_row(s)) for n, s in fresh])
    conn.executemany(
        statements.FTS_ADD,
        [(n, s.listing.title, s.listing.seller, s.listing.first_post) for n, s in fresh],
    )


def write_crawl(
    conn: sqlite3.Connection,
    diff: CrawlDiff,
    alerts: Sequence[Alert],
    verifications: Sequence[Verification],
    pages: Sequence[PageSnapshot],
) -> None:
    """The crawl row first (it takes the write lock), then listings, the
    `last_seen` of touched listings (one UPDATE), cluster joins, observations, events, alerts (an
    existing (event, rule, target) is kept), verifications, kept pages and the
    source's health. The caller owns the transaction."""
    crawl = diff.crawl
    at = ts(crawl.finished)
    conn.execute(statements.INSERT_CRAWL, crawl_row(crawl))
    write_listings(conn, diff.writes)
    if diff.touched:
        conn.execute(statements.TOUCH_LISTINGS, (at, json.dumps(list(diff.touched))))
    conn.executemany(statements.JOIN_CLUSTER, [{"cluster": c, "into": i} for c, i in diff.joins])
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
