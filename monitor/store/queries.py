"""Read queries for the CLI: lists of plain dicts keyed by column name.

Timestamps stay ISO-8601 text; `events[].details` is a parsed dict and
`listings[].price_negotiable` a bool.
"""

from __future__ import annotations

from sqlite_utils import Database

from monitor.store.convert import Row, listing_dict


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def fts_query(search: str) -> str | None:
    """User text as an FTS5 query: every word must occur (as a prefix); quotes and
    FTS operators are plain text. None when no word has a letter or digit."""
    words = (word.replace('"', "") for word in search.split())
    terms = [f'"{word}"*' for word in words if any(ch.isalnum() for ch in word)]
    return " ".join(terms) or None


def listing(db: Database, listing_id: str) -> Row | None:
    """One listing by its exact id."""
    rows = list(db.query("SELECT * FROM listings WHERE id = ?", [listing_id]))
    return listing_dict(rows[0]) if rows else None


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
