"""Background WAL checkpoints for a long-running writer (the daemon).

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past its
threshold: the crawl that commits waits while every page in the WAL is copied into
the database file and both files are fsynced (hundreds of milliseconds after a big
crawl into a 1M-listing database), and with it the daemon's event loop. A
`Checkpointer` does that work on its own thread and its own connection instead:
a PASSIVE checkpoint (it never blocks the writer or readers) right after a commit
that wrote many listings, and every `every` seconds after smaller ones. The writer
keeps an automatic checkpoint at `BACKSTOP_FRAMES` for when this thread cannot keep
up, so the WAL stays bounded either way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# The writer's own automatic checkpoint while a Checkpointer runs (SQLite's default
# is 1,000 frames): about 64 MB of WAL before a commit pays for a checkpoint itself.
BACKSTOP_FRAMES = 16_000
SQLITE_DEFAULT_FRAMES = 1_000


@dataclass(frozen=True)
class CheckpointResult:
    """One `PRAGMA wal_checkpoint(PASSIVE)`: frames in the WAL and frames copied into
    the database file (`busy`: a reader or writer held a lock it needed)."""

    busy: bool
    wal_frames: int
    copied_frames: int


class Checkpointer:
    """A thread that checkpoints the WAL of the database at `path`. `start()`, then
    `committed()` after every commit, `stop()` at the end (it joins the thread)."""

    def __init__(self, path: Path, *, every: float = 30.0, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.every = every
        self.busy_timeout = busy_timeout
        self.done = 0  # checkpoints run
        self.last: CheckpointResult | None = None
        self._wake = threading.Event()
        self._stopping = False
        self._pending = False
        self._finished = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="leakmon-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def committed(self, *, big: bool) -> None:
        """A commit happened; `big`: it wrote many pages, checkpoint now rather than
        at the next tick."""
        self._pending = True
        if big:
            self._wake.set()

    def stop(self) -> None:
        """Checkpoint what is pending, close the thread's connection, join it."""
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until `count` checkpoints have run (or `timeout` seconds passed);
        whether they have."""
        with self._finished:
            return self._finished.wait_for(lambda: self.done >= count, timeout)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout)
        except sqlite3.Error as exc:
            log.warning("WAL checkpoints: cannot open %s: %s", self.path, exc)
            return
        try:
            while True:
                self._wake.wait(self.every)
                self._wake.clear()
                if self._pending or self._stopping:
                    self._pending = False
                    self._checkpoint(conn)
                if self._stopping:
                    return
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # the writer's backstop checkpoint still runs
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
            return
        with self._finished:
            self.last = CheckpointResult(bool(busy), frames, copied)
            self.done += 1
            self._finished.notify_all()
