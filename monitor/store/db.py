"""`Store`: the SQLite database of sources, crawls, listings, their history and
the alert outbox (`OutboxStore`, on `StoreBase`'s connection and error mapping).
The only place with SQL (with `schema`, `sql`, `queries` and `history`).

Every sqlite error leaves as a `StoreError` naming the file and what failed.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from monitor.errors import StoreError
from monitor.models import (
    Alert,
    AlertStatus,
    CrawlDiff,
    EventKind,
    Listing,
    PageSnapshot,
    Source,
    SourceMove,
    StoredListing,
    Verification,
)
from monitor.moves import moved_url, origin
from monitor.store import history, queries
from monitor.store import sql as statements
from monitor.store.base import explain
from monitor.store.checkpoint import BACKSTOP_FRAMES, SQLITE_DEFAULT_FRAMES, Checkpointer
from monitor.store.convert import (
    SELECT_LISTINGS,
    Row,
    parse_ts,
    stored_listing,
    ts,
)
from monitor.store.outbox import OutboxStore
from monitor.store.schema import migrate
from monitor.store.write import write_crawl

T = TypeVar("T")
log = logging.getLogger(__name__)

# SQLite's page cache (`cache_size`, KiB) between crawls, and per listing of a crawl
# that writes or looks up many: a crawl of 10,000 new listings into 1M touches about
# 60 MiB of index pages (records, fingerprint and seller keys are scattered), which a
# 2 MiB cache re-reads from the OS for every insert (~100k reads) and spills, dirty,
# to the WAL twice over. Grown for such a crawl, given back after it.
CACHE_KIB = 2_000
CACHE_KIB_PER_LISTING = 8
CACHE_KIB_MAX = 256 * 1024
# A commit that wrote this many listings wakes the background checkpointer at once.
BIG_COMMIT = 1_000


class Store(OutboxStore):
    """An open leakmon database. Use `Store.open(path)`; close it (or `with`)."""

    def __init__(self, db: Database, path: Path) -> None:
        super().__init__(db, path)
        self._cache_kib = CACHE_KIB
        self._checkpointer: Checkpointer | None = None

    @classmethod
    def open(cls, path: Path, *, busy_timeout: float = 5.0) -> Store:
        """Open or create the database: parent dirs (0700), file mode 0600 from the
        first byte, WAL with `synchronous = NORMAL`, foreign keys, busy timeout,
        pending migrations.

        NORMAL in WAL mode syncs at checkpoints, not at every commit: a committed
        crawl survives the process being killed; a power cut or kernel crash can lose
        the last commits, never consistency (the WAL is checksummed)."""
        path = Path(path)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(f"database {path}: cannot create or open: {exc}") from exc
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout)
            db = Database(conn)
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            db.execute("PRAGMA foreign_keys = ON")
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            migrate(db)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"database {path}: cannot open: {explain(exc)}") from exc
        except StoreError as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"database {path}: {exc}") from exc
        return cls(db, path)

    def _grow_cache(self, listings: int) -> None:
        """Make the page cache hold the pages a crawl of `listings` listings touches
        (never shrinks it; `apply` gives it back after its commit)."""
        kib = min(CACHE_KIB_MAX, max(CACHE_KIB, listings * CACHE_KIB_PER_LISTING))
        if kib > self._cache_kib:
            self.db.execute(f"PRAGMA cache_size = -{kib}")
            self._cache_kib = kib

    def _reset_cache(self) -> None:
        if self._cache_kib != CACHE_KIB:
            self.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # frees the excess pages
            self._cache_kib = CACHE_KIB

    @contextmanager
    def background_checkpoints(self, every: float = 30.0) -> Iterator[Checkpointer]:
        """While inside: WAL checkpoints run on a `Checkpointer` thread, not inside
        this connection's commits (which keep a backstop at `BACKSTOP_FRAMES`)."""
        with self._errors("set up checkpoints"):
            self.db.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_FRAMES}")
        checkpointer = Checkpointer(self.path, every=every)
        checkpointer.start()
        self._checkpointer = checkpointer
        try:
            yield checkpointer
        finally:
            self._checkpointer = None
            checkpointer.stop()
            with self._errors("set up checkpoints"):
                self.db.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_DEFAULT_FRAMES}")

    # ------------------------------------------------------------ crawl input

    def sync_sources(self, sources: Sequence[Source]) -> tuple[SourceMove, ...]:
        """Insert configured sources and update their url and engine; never deletes
        (a source removed from the config keeps its history). A source whose url is
        now on another origin (scheme and host: a new onion address) takes its
        listings' urls on the old origin along, in the same transaction; each move
        is logged and returned."""
        rows = [{"name": s.name, "url": s.url, "engine": s.engine} for s in sources]
        sql = statements.insert("sources", ("name", "url", "engine")) + (
            "ON CONFLICT(name) DO UPDATE SET url = excluded.url, engine = excluded.engine"
        )
        moves: list[SourceMove] = []
        with self._errors("sync sources"), self.db.atomic():
            conn = self.db.conn
            stored = dict(conn.execute("SELECT name, url FROM sources").fetchall())
            for source in sources:
                before = origin(stored.get(source.name) or "")
                after = origin(source.url)
                if before and after and before != after:
                    urls = conn.execute(statements.LISTING_URLS, [source.name])
                    moved = [(new, i) for i, url in urls if (new := moved_url(url, before, after))]
                    conn.executemany(statements.SET_LISTING_URL, moved)
                    moves.append(SourceMove(source.name, before, after, len(moved)))
            conn.executemany(sql, rows)
        for move in moves:
            log.warning(
                "source %s moved from %s to %s: %d listing urls moved to the new address",
                move.source,
                move.before,
                move.after,
                move.listings,
            )
        return tuple(moves)

    def known_listings(self, source: str) -> dict[str, StoredListing]:
        """Every stored listing of `source`, in any state, keyed by listing id."""
        with self._errors("read listings"):
            rows = self.db.conn.execute(f"{SELECT_LISTINGS} WHERE source = ?", [source])
            return {row[0]: stored_listing(row) for row in rows}  # row[0]: id

    def _select_listings(self, where: str, params: Sequence[Any]) -> list[StoredListing]:
        with self._errors("read listings"):
            rows = self.db.conn.execute(f"{SELECT_LISTINGS} WHERE {where}", params)
            return [stored_listing(row) for row in rows]

    def aged_out_listings(self, source: str) -> list[StoredListing]:
        """The AGED_OUT listings of `source` (for the revisit backlog)."""
        return self._select_listings("source = ? AND state = 'aged_out'", [source])

    def deleted_listings(self, source: str, since: datetime) -> list[StoredListing]:
        """The DELETED listings of `source` deleted at or after `since` (for the restore
        backlog: `since` is the start of the restore window at the time of asking)."""
        where = "source = ? AND state = 'deleted' AND deleted_at >= ?"
        return self._select_listings(where, [source, ts(since)])

    def repost_candidates(
        self,
        listings: Sequence[Listing],
        *,
        fingerprints: Iterable[str] = (),
        limit: int = 500,
    ) -> list[StoredListing]:
        """Stored listings of any source with a record count of one of `listings`, or
        one of `fingerprints` (`lifecycle.fingerprint` of them); fingerprint matches
        first, then most recently seen; at most `limit`."""
        counts = sorted({li.records.count for li in listings if li.records is not None})
        prints = sorted(set(fingerprints))
        if not counts and not prints:
            return []
        sql = f"""
            {SELECT_LISTINGS}
            WHERE records IN (SELECT value FROM json_each(:counts))
               OR fingerprint IN (SELECT value FROM json_each(:prints))
            ORDER BY fingerprint IN (SELECT value FROM json_each(:prints)) DESC,
                     last_seen DESC, id
            LIMIT :limit
        """
        params = {"counts": json.dumps(counts), "prints": json.dumps(prints), "limit": limit}
        with self._errors("read repost candidates"):
            self._grow_cache(len(listings))
            return [stored_listing(row) for row in self.db.conn.execute(sql, params)]

    def recent_complete_counts(self, source: str, limit: int = 5) -> list[int]:
        """Listing counts of the source's latest complete crawls, newest first.

        Crawls that raised `layout_changed` or carry an error note (a suspected
        layout change) are left out: an implausible crawl must not become the
        yardstick that makes the next one look plausible.
        """
        sql = """
            SELECT listings_seen FROM crawls
            WHERE source = :source AND outcome = 'complete' AND error IS NULL
              AND NOT EXISTS (SELECT 1 FROM events
                              WHERE events.crawl_id = crawls.id AND kind = :layout)
            ORDER BY finished DESC, rowid DESC LIMIT :limit
        """
        params = {"source": source, "layout": EventKind.LAYOUT_CHANGED.value, "limit": limit}
        with self._errors("read crawls"):
            return [row["listings_seen"] for row in self._rows(sql, params)]

    def seen_pages(self, listing_ids: Iterable[str]) -> set[str]:
        """The listings among `listing_ids` whose own page was once found present."""
        sql = """
            SELECT DISTINCT listing_id FROM verifications
            WHERE verdict = 'present' AND listing_id IN (SELECT value FROM json_each(?))
            UNION SELECT DISTINCT listing_id FROM pages
            WHERE listing_id IN (SELECT value FROM json_each(?))
        """
        ids = json.dumps(sorted(set(listing_ids)))
        with self._errors("read verifications"):
            return {row["listing_id"] for row in self._rows(sql, [ids, ids])}

    def last_checks(self, listing_ids: Iterable[str]) -> dict[str, datetime]:
        """The time of the latest own-page check (any verdict) of each listing among
        `listing_ids` that has one (`absence.restore_at` of deleted listings)."""
        sql = """
            SELECT listing_id, MAX(at) AS at FROM verifications
            WHERE listing_id IN (SELECT value FROM json_each(?)) GROUP BY listing_id
        """
        ids = json.dumps(sorted(set(listing_ids)))
        with self._errors("read verifications"):
            return {row["listing_id"]: parse_ts(row["at"]) for row in self._rows(sql, [ids])}

    def failure_streak(self, source: str) -> int:
        """Crawls of `source` that failed or were blocked in a row (0 for an unknown
        source)."""
        sql = "SELECT failure_streak FROM sources WHERE name = ?"
        with self._errors("read sources"):
            row = self.db.conn.execute(sql, [source]).fetchone()
        return int(row[0] or 0) if row is not None else 0

    def layout_pending(self, source: str, window: int = 20) -> bool:
        """Whether the newest complete crawl among the source's last `window` carries
        an error note: a suspected layout change that no clean crawl has ended."""
        sql = (
            "SELECT outcome, error FROM crawls WHERE source = ? "
            "ORDER BY finished DESC, rowid DESC LIMIT ?"
        )
        with self._errors("read crawls"):
            rows = self.db.conn.execute(sql, [source, window]).fetchall()
        latest = next((error for outcome, error in rows if outcome == "complete"), None)
        return latest is not None

    def has_complete_crawl(self, source: str) -> bool:
        sql = "SELECT 1 FROM crawls WHERE source = ? AND outcome = 'complete' LIMIT 1"
        with self._errors("read crawls"):
            return bool(self._rows(sql, [source]))

    # ------------------------------------------------------------ crawl output

    def apply(
        self,
        diff: CrawlDiff,
        alerts: Sequence[Alert],
        *,
        verifications: Sequence[Verification] = (),
        pages: Sequence[PageSnapshot] = (),
    ) -> None:
        """Write one crawl in one transaction: the crawl row, listing rows, the
        `last_seen` of touched listings (one UPDATE), observations, events, alerts,
        the verification trail, kept pages (zlib-compressed)
        (an existing (event, rule, target) is kept) and the source's health.
        All or nothing. The source must exist (`sync_sources`).

        The page cache is grown for a crawl that writes many listings and given back
        after the commit; with `background_checkpoints`, the checkpointer hears of
        the commit."""
        with self._errors("apply a crawl"):
            if not self._rows("SELECT 1 FROM sources WHERE name = ?", [diff.crawl.source]):
                raise StoreError(
                    f"database {self.path}: unknown source {diff.crawl.source!r}; "
                    "sync_sources() must come first"
                )
            self._grow_cache(len(diff.writes))
            try:
                with self.db.atomic():
                    write_crawl(self.db.conn, diff, alerts, verifications, pages)
            finally:
                self._reset_cache()
        if self._checkpointer is not None:
            self._checkpointer.committed(big=len(diff.writes) >= BIG_COMMIT)

    # ------------------------------------------------------- CLI queries (dicts)

    def read(self, doing: str, query: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run one read query of `monitor.store.history` (or `queries`) on this
        database: `store.read("read sellers", history.sellers)`."""
        with self._errors(doing):
            return query(self.db, *args, **kwargs)

    def prune(
        self, *, events_before: datetime | None, crawls_before: datetime | None
    ) -> dict[str, int]:
        """Retention (`history.prune`), then VACUUM; returns the rows deleted."""
        with self._errors("prune"):
            counts = history.prune(
                self.db, events_before=events_before, crawls_before=crawls_before
            )
            history.vacuum(self.db)
        return counts

    def alerts(self, status: AlertStatus | None = None) -> list[Row]:
        with self._errors("read the outbox"):
            return queries.alerts(self.db, status)

    def listings(
        self, source: str | None = None, state: str | None = None, search: str | None = None
    ) -> list[Row]:
        with self._errors("read listings"):
            return history.listings(self.db, source=source, state=state, search=search)

    def listing(self, listing_id: str) -> Row | None:
        with self._errors("read a listing"):
            return queries.listing(self.db, listing_id)

    def events(
        self,
        since: datetime | None = None,
        listing_id: str | None = None,
        source: str | None = None,
    ) -> list[Row]:
        with self._errors("read events"):
            return history.events(self.db, since=since, listing_id=listing_id, source=source)

    def observations(self, listing_id: str) -> list[Row]:
        with self._errors("read observations"):
            return queries.observations(self.db, listing_id)

    def crawls(self, source: str | None = None, limit: int = 20) -> list[Row]:
        with self._errors("read crawls"):
            return queries.crawls(self.db, source, limit)

    def sources(self) -> list[Row]:
        with self._errors("read sources"):
            return queries.sources(self.db)
