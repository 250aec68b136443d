"""`store.checkpoint` and the page-cache sizing of `Store.apply`, on a real SQLite
file: WAL checkpoints on their own thread after big commits, at the tick after small
ones, at stop; the writer's backstop; a cache grown for a big crawl and given back."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import StoreError
from monitor.models import (
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Listing,
    ListingState,
    Source,
    StoredListing,
)
from monitor.store import Store
from monitor.store import db as store_db
from monitor.store.checkpoint import BACKSTOP_FRAMES, SQLITE_DEFAULT_FRAMES, Checkpointer

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FORUM = Source(name="forum", url="http://forum.onion/", engine="css", every=600)


def listings(n: int, prefix: str = "") -> tuple[StoredListing, ...]:
    return tuple(
        StoredListing(
            Listing("forum", f"{prefix}{i}", f"http://forum.onion/t/{prefix}{i}", f"Dataset {i}"),
            ListingState.ACTIVE,
            T0,
            T0,
        )
        for i in range(n)
    )


def apply(store: Store, n: int, writes: tuple[StoredListing, ...]) -> None:
    at = T0 + timedelta(hours=n)
    crawl = Crawl(f"c{n}", "forum", at, at, CrawlOutcome.COMPLETE, 1, 1, ())
    store.apply(CrawlDiff(crawl, writes, (), {}, ()), ())


def autocheckpoint(store: Store) -> int:
    return int(store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "leakmon.db") as s:
        s.sync_sources([FORUM])
        yield s


def test_a_big_commit_is_checkpointed_by_the_thread_at_once(store: Store) -> None:
    with store.background_checkpoints(every=3600) as checkpointer:
        apply(store, 1, listings(store_db.BIG_COMMIT))
        assert checkpointer.wait_for(1, timeout=60)
        last = checkpointer.last
        assert last is not None and not last.busy
        assert last.wal_frames > 0 and last.copied_frames == last.wal_frames
    assert store.db.execute("SELECT count(*) FROM listings").fetchone()[0] == store_db.BIG_COMMIT


def test_small_commits_wait_for_the_tick_and_stop_checkpoints_what_is_pending(
    store: Store,
) -> None:
    with store.background_checkpoints(every=3600) as checkpointer:
        apply(store, 1, listings(3))
        assert checkpointer.done == 0  # no wake-up for a small commit
    assert checkpointer.done == 1
    assert checkpointer.last is not None and checkpointer.last.copied_frames > 0


def test_the_tick_checkpoints_small_commits(store: Store) -> None:
    with store.background_checkpoints(every=0.05) as checkpointer:
        apply(store, 1, listings(3))
        assert checkpointer.wait_for(1, timeout=60)


def test_the_writer_keeps_a_backstop_while_the_thread_runs(store: Store) -> None:
    assert autocheckpoint(store) == SQLITE_DEFAULT_FRAMES
    with store.background_checkpoints():
        assert autocheckpoint(store) == BACKSTOP_FRAMES
    assert autocheckpoint(store) == SQLITE_DEFAULT_FRAMES


def test_a_checkpointer_that_cannot_open_the_database_logs_and_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpointer = Checkpointer(tmp_path / "no" / "such" / "dir.db", every=3600)
    with caplog.at_level(logging.WARNING):
        checkpointer.start()
        checkpointer.committed(big=True)
        checkpointer.stop()
    assert checkpointer.done == 0
    assert "cannot open" in caplog.text


def test_a_failed_checkpoint_is_logged_and_the_thread_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "x.db"
    sqlite3.connect(path).close()  # not in WAL mode: a checkpoint is a no-op, not an error
    path.write_bytes(b"not a database at all" * 100)
    checkpointer = Checkpointer(path, every=3600)
    with caplog.at_level(logging.WARNING):
        checkpointer.start()
        checkpointer.committed(big=True)
        checkpointer.stop()
    assert checkpointer.done == 0
    assert "checkpoint" in caplog.text and "failed" in caplog.text


def test_apply_grows_the_page_cache_for_a_big_crawl_and_gives_it_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real = store_db.write_crawl

    def spy(conn: sqlite3.Connection, *args: Any) -> None:
        seen.append(int(conn.execute("PRAGMA cache_size").fetchone()[0]))
        real(conn, *args)

    monkeypatch.setattr(store_db, "write_crawl", spy)
    apply(store, 1, listings(10))
    apply(store, 2, listings(5_000, prefix="b"))
    assert seen == [
        -store_db.CACHE_KIB,
        -5_000 * store_db.CACHE_KIB_PER_LISTING,
    ]
    assert int(store.db.execute("PRAGMA cache_size").fetchone()[0]) == -store_db.CACHE_KIB


def test_a_failed_apply_gives_the_cache_back_too(store: Store) -> None:
    ghosts = tuple(
        StoredListing(
            Listing("ghost", str(i), f"http://g.onion/{i}", "x"), ListingState.ACTIVE, T0, T0
        )
        for i in range(5_000)
    )
    with pytest.raises(StoreError, match="missing row"):  # no source "ghost"
        apply(store, 1, ghosts)
    assert int(store.db.execute("PRAGMA cache_size").fetchone()[0]) == -store_db.CACHE_KIB
    assert store.db.execute("SELECT count(*) FROM listings").fetchone()[0] == 0
