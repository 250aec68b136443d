"""Numbered schema migrations (sqlite-utils `Migrations`, set "leakmon").

Each migration runs in its own transaction together with its record in
`_sqlite_migrations`, so a crash mid-migration leaves the previous version, not a
half-applied one: migrations never call `executescript` (or sqlite-utils helpers
that do, such as `enable_fts`), which COMMITs first. `migrate()` applies the
pending ones and refuses a database written by a newer leakmon. Never
`transform()` `listings` without recreating the FTS index afterwards. Since
migration 2 the index over title, seller and first post is maintained by
`Store.apply` (set-based, no triggers).

Timestamps are ISO-8601 UTC strings of one fixed width, so that comparing them as
text orders them in time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from monitor.errors import StoreError

MIGRATIONS = Migrations("leakmon")
# Every migration registered below, in order (checked against MIGRATIONS by a test).
MIGRATION_NAMES = (
    "0001_schema",
    "0002_evidence",
    "0003_drop_listings_last_seen",
    "0004_deleted_index",
    "0005_superseded_by",
)

_SCHEMA = """
CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    engine TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'ok'
        CHECK (state IN ('ok', 'failing', 'blocked', 'layout_changed')),
    failure_streak INTEGER NOT NULL DEFAULT 0,
    last_ok TEXT,
    last_crawl TEXT
);

CREATE TABLE crawls (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL REFERENCES sources(name),
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('complete', 'partial', 'blocked', 'failed')),
    pages INTEGER NOT NULL,
    wire_bytes INTEGER NOT NULL,
    listings_seen INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX crawls_source_finished ON crawls(source, finished);

CREATE TABLE listings (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL REFERENCES sources(name),
    external_id TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    seller TEXT,
    records INTEGER,
    records_raw TEXT,
    price_amount REAL,
    price_currency TEXT,
    price_usd REAL,
    price_raw TEXT,
    price_negotiable INTEGER NOT NULL DEFAULT 0,
    posted_at TEXT,
    posted_raw TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'missing', 'aged_out', 'deleted')),
    missing_streak INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT,
    fingerprint TEXT,
    cluster TEXT,
    UNIQUE (source, external_id)
);
CREATE INDEX listings_source_state ON listings(source, state);
CREATE INDEX listings_last_seen ON listings(last_seen);
CREATE INDEX listings_records ON listings(records);
CREATE INDEX listings_fingerprint ON listings(fingerprint);
CREATE INDEX listings_cluster ON listings(cluster);

-- "before"/"after" have no declared type: they keep ints as ints and text as text.
CREATE TABLE observations (
    id INTEGER PRIMARY KEY,
    listing_id TEXT NOT NULL REFERENCES listings(id),
    crawl_id TEXT NOT NULL REFERENCES crawls(id),
    at TEXT NOT NULL,
    field TEXT NOT NULL,
    "before",
    "after"
);
CREATE INDEX observations_listing ON observations(listing_id, at);
CREATE INDEX observations_crawl ON observations(crawl_id);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL REFERENCES sources(name),
    listing_id TEXT REFERENCES listings(id),
    crawl_id TEXT NOT NULL REFERENCES crawls(id),
    at TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);
CREATE INDEX events_at ON events(at);
CREATE INDEX events_listing ON events(listing_id, at);
CREATE INDEX events_source ON events(source, at);
CREATE INDEX events_crawl ON events(crawl_id, kind);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events(id),
    rule TEXT NOT NULL,
    target TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    last_error TEXT,
    sent_at TEXT,
    UNIQUE (event_id, rule, target)
);
CREATE INDEX alerts_due ON alerts(status, next_attempt);
"""

# sqlite-utils' update trigger fires on every UPDATE, so a quiet crawl's `last_seen`
# bump would rewrite the FTS index; this one fires only when an indexed column is set.
_FTS_UPDATE_TRIGGER = """
DROP TRIGGER listings_au;
CREATE TRIGGER listings_au AFTER UPDATE OF title, seller ON listings BEGIN
  INSERT INTO listings_fts (listings_fts, rowid, title, seller)
    VALUES ('delete', old.rowid, old.title, old.seller);
  INSERT INTO listings_fts (rowid, title, seller) VALUES (new.rowid, new.title, new.seller);
END;
"""


def run_script(db: Database, script: str) -> None:
    """Run the statements of `script` one by one in the current transaction."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):  # not a `;` inside a trigger body
            db.execute(statement)
            statement = ""
    if statement.strip(" \t\n;"):
        raise ValueError(f"incomplete SQL statement at the end of a script: {statement!r}")


def _create_fts(db: Database, columns: Sequence[str], *, triggers: bool) -> None:
    """`listings_fts` over `columns` (external content: `listings`), filled from the
    table; what `Table.enable_fts` creates, without its COMMITs."""
    names = ", ".join(f'"{c}"' for c in columns)
    db.execute(
        f'CREATE VIRTUAL TABLE "listings_fts" USING FTS5 (\n    {names},\n    content="listings"\n)'
    )
    db.execute(f'INSERT INTO "listings_fts" (rowid, {names}) SELECT rowid, {names} FROM "listings"')
    if not triggers:
        return
    new = ", ".join(f'new."{c}"' for c in columns)
    old = ", ".join(f'old."{c}"' for c in columns)
    forget = (
        f'INSERT INTO "listings_fts" ("listings_fts", rowid, {names}) '
        f"VALUES('delete', old.rowid, {old});"
    )
    index = f'INSERT INTO "listings_fts" (rowid, {names}) VALUES (new.rowid, {new});'
    db.execute(f'CREATE TRIGGER "listings_ai" AFTER INSERT ON "listings" BEGIN\n  {index}\nEND')
    db.execute(f'CREATE TRIGGER "listings_ad" AFTER DELETE ON "listings" BEGIN\n  {forget}\nEND')
    db.execute(
        f'CREATE TRIGGER "listings_au" AFTER UPDATE ON "listings" BEGIN\n  {forget}\n  {index}\nEND'
    )


@MIGRATIONS(name="0001_schema")
def schema_0001(db: Database) -> None:
    """Tables, indexes and full-text search over listing title and seller."""
    run_script(db, _SCHEMA)
    _create_fts(db, ["title", "seller"], triggers=True)
    run_script(db, _FTS_UPDATE_TRIGGER)


_EVIDENCE = """
ALTER TABLE listings ADD COLUMN price_kind TEXT;
ALTER TABLE listings ADD COLUMN data_types TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(data_types));
ALTER TABLE listings ADD COLUMN size_bytes INTEGER;
ALTER TABLE listings ADD COLUMN span_from INTEGER;
ALTER TABLE listings ADD COLUMN span_to INTEGER;
ALTER TABLE listings ADD COLUMN country TEXT;
ALTER TABLE listings ADD COLUMN replies INTEGER;
ALTER TABLE listings ADD COLUMN views INTEGER;
ALTER TABLE listings ADD COLUMN sticky INTEGER NOT NULL DEFAULT 0;
ALTER TABLE listings ADD COLUMN first_post TEXT;
CREATE INDEX listings_seller ON listings(seller COLLATE NOCASE);
-- The digest (one delivered message) an alert went out in; NULL: its own message.
ALTER TABLE alerts ADD COLUMN message_id TEXT;
CREATE INDEX alerts_target_sent ON alerts(target, sent_at);
CREATE INDEX listings_first_seen ON listings(first_seen);

-- Every fetch of a listing's own page after it vanished, and its verdict.
CREATE TABLE verifications (
    id INTEGER PRIMARY KEY,
    listing_id TEXT NOT NULL REFERENCES listings(id),
    crawl_id TEXT NOT NULL REFERENCES crawls(id),
    at TEXT NOT NULL,
    url TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('gone', 'present', 'unknown')),
    reason TEXT NOT NULL,
    status INTEGER
);
CREATE INDEX verifications_listing ON verifications(listing_id, at);
CREATE INDEX verifications_crawl ON verifications(crawl_id);

-- Raw HTML of a listing's own page ([storage] keep_html), zlib-compressed, one row
-- per distinct content.
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    listing_id TEXT NOT NULL REFERENCES listings(id),
    crawl_id TEXT NOT NULL REFERENCES crawls(id),
    at TEXT NOT NULL,
    url TEXT NOT NULL,
    status INTEGER,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    html BLOB NOT NULL
);
CREATE INDEX pages_listing ON pages(listing_id, sha256);
CREATE INDEX pages_crawl ON pages(crawl_id);

-- Views for Datasette and sqlite-utils users.
CREATE VIEW active_listings AS
SELECT id, source, title, seller, records, price_raw, price_usd, data_types,
       first_seen, last_seen, url
FROM listings WHERE state = 'active';

CREATE VIEW deletions AS
SELECT id, source, title, seller, records, price_raw, price_usd, first_seen, last_seen,
       deleted_at,
       round((julianday(deleted_at) - julianday(first_seen)) * 24, 2) AS hours_up,
       round(julianday(deleted_at) - julianday(first_seen), 2) AS days_up,
       url
FROM listings WHERE state = 'deleted';

CREATE VIEW sellers AS
SELECT seller AS handle,
       count(DISTINCT source) AS sources,
       group_concat(DISTINCT source) AS source_names,
       count(*) AS listings,
       sum(state = 'active') AS active,
       sum(state = 'deleted') AS deleted,
       sum(records) AS total_records,
       min(first_seen) AS first_seen,
       max(last_seen) AS last_seen
FROM listings WHERE seller IS NOT NULL AND seller != ''
GROUP BY seller COLLATE NOCASE;
"""


@MIGRATIONS(name="0002_evidence")
def schema_0002(db: Database) -> None:
    """Listing fields of richer extraction, the verification trail, kept HTML pages,
    views, and full-text search over the first post too, kept in sync by
    `Store.apply` instead of triggers: FTS5 writes inside a trigger flush the index
    once per row (15x slower ingest)."""
    run_script(db, _EVIDENCE)
    run_script(
        db,
        "DROP TRIGGER listings_ai; DROP TRIGGER listings_ad; DROP TRIGGER listings_au; "
        "DROP TABLE listings_fts;",
    )
    _create_fts(db, ["title", "seller", "first_post"], triggers=False)


@MIGRATIONS(name="0003_drop_listings_last_seen")
def schema_0003(db: Database) -> None:
    """Drop `listings_last_seen`: no query reads it (`last_seen` is only sorted
    within a handful of repost candidates), and every crawl rewrote it for each
    listing it saw (an index entry moved per listing per quiet crawl)."""
    db.execute("DROP INDEX listings_last_seen")


@MIGRATIONS(name="0004_deleted_index")
def schema_0004(db: Database) -> None:
    """`listings_deleted`: a partial index of deleted listings by source and deletion
    time, for the restore re-check backlog (`Store.deleted_listings`), which read every
    deletion a source ever had after each crawl. New listings are active, so ingest
    does not pay for it."""
    db.execute(
        "CREATE INDEX listings_deleted ON listings(source, deleted_at) WHERE state = 'deleted'"
    )


@MIGRATIONS(name="0005_superseded_by")
def schema_0005(db: Database) -> None:
    """`listings.superseded_by`: the listing that continues this one under a new id
    after a redesign renamed a source's listings (lifecycle rule 2); NULL otherwise.
    Adding a column rewrites no row."""
    db.execute("ALTER TABLE listings ADD COLUMN superseded_by TEXT")


def migrate(db: Database) -> None:
    """Apply pending migrations; refuse a schema newer than this code knows."""
    unknown = [m.name for m in MIGRATIONS.applied(db) if m.name not in MIGRATION_NAMES]
    if unknown:
        raise StoreError(
            f"the database has migrations this leakmon does not know ({', '.join(unknown)}); "
            "it was written by a newer version"
        )
    MIGRATIONS.apply(db)
