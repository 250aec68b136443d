"""History queries for the CLI (`leakmon listings/show/sellers/seller/events/stats`)
and retention (`leakmon prune`). Plain dicts keyed by column name; timestamps stay
ISO-8601 text.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from monitor.models import PriceFloor
from monitor.store.convert import Row, event_dict, listing_dict, ts
from monitor.store.queries import fts_query


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


# Past this many listings written since the `limit`-th newest hit, hits are sparse
# and sorting them all is cheaper than walking the first-seen index that far.
SPARSE_SPAN = 50_000


def _price_clause(floor: PriceFloor, params: dict[str, Any]) -> str:
    """The WHERE clause of `floor` (its parameters go into `params`)."""
    params.update(min_amount=floor.amount, min_currency=floor.currency, min_usd=floor.usd)
    own = (
        "(listings.price_currency = :min_currency COLLATE NOCASE"
        " AND listings.price_amount >= :min_amount)"
    )
    if floor.usd is None:
        return own
    return f"({own} OR listings.price_usd >= :min_usd)"


def listings(
    db: Database,
    *,
    state: str | None = None,
    source: str | None = None,
    seller: str | None = None,
    min_records: int | None = None,
    min_price: PriceFloor | None = None,
    data_type: str | None = None,
    search: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[Row]:
    """Listings matching every given filter, newest first (`first_seen`, then id), at
    most `limit`. `seller` ignores case; `min_price` admits a listing priced in its
    currency at or above its amount, or whose USD estimate reaches its `usd`; `since`
    is on `first_seen`; `search` is full-text over title, seller and first post."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    simple = {"state": state, "source": source}
    for name, value in simple.items():
        if value is not None:
            clauses.append(f"listings.{name} = :{name}")
            params[name] = str(value)
    if seller is not None:
        clauses.append("listings.seller = :seller COLLATE NOCASE")
        params["seller"] = seller
    if min_records is not None:
        clauses.append("listings.records >= :min_records")
        params["min_records"] = min_records
    if min_price is not None:
        clauses.append(_price_clause(min_price, params))
    if data_type is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM json_each(listings.data_types) WHERE value = :data_type)"
        )
        params["data_type"] = data_type
    if since is not None:
        clauses.append("listings.first_seen >= :since")
        params["since"] = ts(since)
    params["limit"] = -1 if limit is None else limit
    if search is None or not search.strip():
        sql = f"SELECT * FROM listings {_where(clauses)} ORDER BY first_seen DESC, id LIMIT :limit"
        return [listing_dict(row) for row in db.query(sql, params)]
    query = fts_query(search)
    if query is None:
        return []
    params["search"] = query
    if limit is None or limit <= 0:
        return [listing_dict(row) for row in _all_hits(db, clauses, params)]
    return [listing_dict(row) for row in _newest_hits(db, clauses, params)]


def _all_hits(db: Database, clauses: list[str], params: dict[str, Any]) -> list[Row]:
    """Every filtered search hit, newest first: each one is read and sorted."""
    sql = (
        "SELECT listings.* FROM listings "
        "JOIN listings_fts ON listings_fts.rowid = listings.rowid "
        f"{_where(['listings_fts MATCH :search', *clauses])} "
        "ORDER BY listings.first_seen DESC, listings.id LIMIT :limit"
    )
    return list(db.query(sql, params))


def _newest_hits(db: Database, clauses: list[str], params: dict[str, Any]) -> list[Row]:
    """The `limit` newest filtered hits without reading every hit of a common term.

    Listings are inserted when first seen, so the hits with the highest rowids
    (which FTS5 yields first, stopping at `limit`) are about the newest. Their
    oldest `first_seen` is a floor: at least `limit` hits are that new, so the
    answer is among the hits at or above it. The floor's range of the first-seen
    index is walked newest first, and only the search index's tail from the lowest
    rowid in that range is read. Same rows, same order as `_all_hits`.
    """
    top_sql = (
        "SELECT listings.rowid, listings.first_seen FROM listings_fts "
        "JOIN listings ON listings.rowid = listings_fts.rowid "
        f"{_where(['listings_fts MATCH :search', *clauses])} "
        "ORDER BY listings_fts.rowid DESC LIMIT :limit"
    )
    top = db.execute(top_sql, params).fetchall()
    if len(top) < params["limit"]:  # these are all the hits
        sql = (
            "SELECT * FROM listings WHERE rowid IN (SELECT value FROM json_each(:rowids)) "
            "ORDER BY first_seen DESC, id"
        )
        return list(db.query(sql, {"rowids": json.dumps([rowid for rowid, _ in top])}))
    newest = db.execute("SELECT max(rowid) FROM listings").fetchone()[0]
    if newest - top[-1][0] > SPARSE_SPAN:
        return _all_hits(db, clauses, params)
    floor = {**params, "floor": min(first_seen for _, first_seen in top)}
    sql = (
        "SELECT * FROM listings INDEXED BY listings_first_seen "
        "WHERE rowid IN (SELECT rowid FROM listings_fts WHERE listings_fts MATCH :search "
        "AND rowid >= (SELECT min(rowid) FROM listings INDEXED BY listings_first_seen "
        "WHERE first_seen >= :floor)) "
        f"AND {' AND '.join(['first_seen >= :floor', *clauses])} "
        "ORDER BY first_seen DESC, id LIMIT :limit"
    )
    return list(db.query(sql, floor))


def events(
    db: Database,
    *,
    since: datetime | None = None,
    kind: str | None = None,
    source: str | None = None,
    listing_id: str | None = None,
) -> list[Row]:
    """Events matching every given filter, oldest first (ties in insertion order)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if since is not None:
        clauses.append("at >= :since")
        params["since"] = ts(since)
    for name, value in (("kind", kind), ("source", source), ("listing_id", listing_id)):
        if value is not None:
            clauses.append(f"{name} = :{name}")
            params[name] = str(value)
    sql = (
        "SELECT id, kind, source, listing_id, crawl_id, at, details FROM events "
        f"{_where(clauses)} ORDER BY at, rowid"
    )
    return [event_dict(row) for row in db.query(sql, params)]


def verifications(db: Database, listing_id: str) -> list[Row]:
    sql = (
        "SELECT at, url, verdict, reason, status, crawl_id FROM verifications "
        "WHERE listing_id = ? ORDER BY at, id"
    )
    return list(db.query(sql, [listing_id]))


def pages(db: Database, listing_id: str) -> list[Row]:
    """Kept HTML snapshots of a listing (metadata only; see `page_html`)."""
    sql = "SELECT id, at, url, status, sha256, size FROM pages WHERE listing_id = ? ORDER BY at, id"
    return list(db.query(sql, [listing_id]))


def page_html(db: Database, page_id: int) -> str | None:
    rows = list(db.query("SELECT html FROM pages WHERE id = ?", [page_id]))
    return zlib.decompress(rows[0]["html"]).decode("utf-8", "replace") if rows else None


def listing_alerts(db: Database, listing_id: str) -> list[Row]:
    """Alerts raised by a listing's events, oldest first."""
    sql = """
        SELECT alerts.event_id, events.kind, alerts.rule, alerts.target, alerts.status,
               alerts.created, alerts.sent_at, alerts.attempts
        FROM alerts JOIN events ON events.id = alerts.event_id
        WHERE events.listing_id = ? ORDER BY alerts.created, alerts.rowid
    """
    return list(db.query(sql, [listing_id]))


def cluster(db: Database, listing_id: str) -> list[Row]:
    """Other listings of the same dataset (same cluster), by first sight."""
    sql = """
        SELECT id, source, title, seller, state, first_seen, last_seen, deleted_at
        FROM listings
        WHERE cluster = (SELECT cluster FROM listings WHERE id = :id) AND id != :id
        ORDER BY first_seen, id
    """
    return list(db.query(sql, {"id": listing_id}))


# The `sellers` view's columns (migration 0002), for one handle: filtering the view
# groups every listing first (seconds at 1M); this reads only the handle's rows
# through `listings_seller`, in the same order, so the row is the view's row.
_ONE_SELLER = """
SELECT seller AS handle,
       count(DISTINCT source) AS sources,
       group_concat(DISTINCT source) AS source_names,
       count(*) AS listings,
       sum(state = 'active') AS active,
       sum(state = 'deleted') AS deleted,
       sum(records) AS total_records,
       min(first_seen) AS first_seen,
       max(last_seen) AS last_seen
FROM listings INDEXED BY listings_seller
WHERE seller = :handle COLLATE NOCASE AND seller != ''
GROUP BY seller COLLATE NOCASE
"""


def sellers(db: Database, handle: str | None = None) -> list[Row]:
    """The `sellers` view, most listings first; `handle` (any case) picks one: the
    view's row for it, read from that handle's listings only."""
    if handle is None:
        sql = "SELECT * FROM sellers ORDER BY listings DESC, handle COLLATE NOCASE"
        return list(db.query(sql))
    return list(db.query(_ONE_SELLER, {"handle": handle}))


def stats(db: Database) -> dict[str, Any]:
    """Counts for `leakmon stats`."""

    def grouped(sql: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in db.execute(sql).fetchall()}

    def one(sql: str) -> Any:
        return db.execute(sql).fetchone()[0]

    return {
        "listings": one("SELECT count(*) FROM listings"),
        "listings_by_state": grouped("SELECT state, count(*) FROM listings GROUP BY state"),
        "listings_by_source": grouped("SELECT source, count(*) FROM listings GROUP BY source"),
        # = count(*) FROM sellers, without grouping every listing (a scan of one index)
        "sellers": one(
            "SELECT count(DISTINCT seller COLLATE NOCASE) FROM listings WHERE seller != ''"
        ),
        "records_offered": one("SELECT coalesce(sum(records), 0) FROM listings"),
        "events_by_kind": grouped("SELECT kind, count(*) FROM events GROUP BY kind"),
        "crawls_by_outcome": grouped("SELECT outcome, count(*) FROM crawls GROUP BY outcome"),
        "verifications_by_verdict": grouped(
            "SELECT verdict, count(*) FROM verifications GROUP BY verdict"
        ),
        "alerts_by_status": grouped("SELECT status, count(*) FROM alerts GROUP BY status"),
        "observations": one("SELECT count(*) FROM observations"),
        "pages_kept": one("SELECT count(*) FROM pages"),
        "first_event": one("SELECT min(at) FROM events"),
        "last_event": one("SELECT max(at) FROM events"),
        "db_bytes": one("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size"),
    }


def prune(
    db: Database, *, events_before: datetime | None, crawls_before: datetime | None
) -> dict[str, int]:
    """Drop events older than `events_before` (with their delivered or failed alerts;
    an event with a pending alert stays) and crawl rows older than `crawls_before`
    that nothing refers to. Listings and observations are never deleted. One
    transaction; the caller VACUUMs afterwards."""
    counts = {"alerts": 0, "events": 0, "crawls": 0}
    with db.atomic():
        conn = db.conn
        if events_before is not None:
            old = (
                "SELECT id FROM events WHERE at < :before AND NOT EXISTS "
                "(SELECT 1 FROM alerts WHERE alerts.event_id = events.id "
                "AND alerts.status = 'pending')"
            )
            params = {"before": ts(events_before)}
            counts["alerts"] = conn.execute(
                f"DELETE FROM alerts WHERE event_id IN ({old})", params
            ).rowcount
            counts["events"] = conn.execute(
                f"DELETE FROM events WHERE id IN ({old})", params
            ).rowcount
        if crawls_before is not None:
            counts["crawls"] = conn.execute(
                """
                DELETE FROM crawls WHERE finished < :before
                  AND NOT EXISTS (SELECT 1 FROM events WHERE crawl_id = crawls.id)
                  AND NOT EXISTS (SELECT 1 FROM observations WHERE crawl_id = crawls.id)
                  AND NOT EXISTS (SELECT 1 FROM verifications WHERE crawl_id = crawls.id)
                  AND NOT EXISTS (SELECT 1 FROM pages WHERE crawl_id = crawls.id)
                """,
                {"before": ts(crawls_before)},
            ).rowcount
    return counts


def vacuum(db: Database) -> None:
    db.execute("VACUUM")
