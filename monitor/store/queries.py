"""Read queries for the CLI: lists of plain dicts keyed by column name.

Timestamps stay ISO-8601 text; `events[].details` is a parsed dict and
`listings[].price_negotiable` a bool.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from monitor.store.convert import Row, event_dict, listing_dict, ts


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def fts_query(search: str) -> str | None:
    """User text as an FTS5 query: every word must occur (as a prefix); quotes and
    FTS operators are plain text. None when no word has a letter or digit."""
    words = (word.replace('"', "") for word in search.split())
    terms = [f'"{word}"*' for word in words if any(ch.isalnum() for ch in word)]
    return " ".join(terms) or None


def listings(
    db: Database,
    source: str | None = None,
    state: str | None = None,
    search: str | None = None,
) -> list[Row]:
    """Listings, newest first; `search` is full-text over title and seller."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    join = ""
    if source is not None:
        clauses.append("listings.source = :source")
        params["source"] = source
    if state is not None:
        clauses.append("listings.state = :state")
        params["state"] = str(state)
    if search is not None and search.strip():
        query = fts_query(search)
        if query is None:
            return []
        join = "JOIN listings_fts ON listings_fts.rowid = listings.rowid"
        clauses.append("listings_fts MATCH :search")
        params["search"] = query
    sql = (
        f"SELECT listings.* FROM listings {join} {_where(clauses)} "
        "ORDER BY listings.first_seen DESC, listings.id"
    )
    return [listing_dict(row) for row in db.query(sql, params)]


def listing(db: Database, listing_id: str) -> Row | None:
    """One listing by its exact id."""
    rows = list(db.query("SELECT * FROM listings WHERE id = ?", [listing_id]))
    return listing_dict(rows[0]) if rows else None


def events(
    db: Database,
    since: datetime | None = None,
    listing_id: str | None = None,
    source: str | None = None,
) -> list[Row]:
    """Events at or after `since`, oldest first (ties in insertion order)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if since is not None:
        clauses.append("at >= :since")
        params["since"] = ts(since)
    if listing_id is not None:
        clauses.append("listing_id = :listing_id")
        params["listing_id"] = listing_id
    if source is not None:
        clauses.append("source = :source")
        params["source"] = source
    sql = (
        "SELECT id, kind, source, listing_id, crawl_id, at, details FROM events "
        f"{_where(clauses)} ORDER BY at, rowid"
    )
    return [event_dict(row) for row in db.query(sql, params)]


def observations(db: Database, listing_id: str) -> list[Row]:
    """Field changes of one listing, oldest first."""
    sql = (
        'SELECT id, listing_id, crawl_id, at, field, "before", "after" FROM observations '
        "WHERE listing_id = ? ORDER BY at, id"
    )
    return list(db.query(sql, [listing_id]))


def crawls(db: Database, source: str | None = None, limit: int = 20) -> list[Row]:
    """Recent crawls, newest first."""
    where = "WHERE source = :source" if source is not None else ""
    sql = f"SELECT * FROM crawls {where} ORDER BY finished DESC, rowid DESC LIMIT :limit"
    return list(db.query(sql, {"source": source, "limit": limit}))


def alerts(db: Database, status: str | None = None) -> list[Row]:
    """Outbox rows, oldest first."""
    where = "WHERE status = :status" if status is not None else ""
    sql = f"SELECT * FROM alerts {where} ORDER BY created, rowid"
    return list(db.query(sql, {"status": None if status is None else str(status)}))


def sources(db: Database) -> list[Row]:
    """Every known source and its health, by name."""
    return list(db.query("SELECT * FROM sources ORDER BY name"))
