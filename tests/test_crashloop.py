"""Crash loop: `leakmon run` killed with SIGKILL at random moments while the demo
story unfolds, restarted each time. Afterwards every event exists once, no listing
was falsely deleted, the database is intact and each alert arrived once (at most
one repeat for a send interrupted by the kill).

The quick variant runs in `make test`; `make soak` runs many more kills.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import LiveWorld

KILLS = int(os.environ.get("LEAKMON_SOAK_KILLS", "4"))


class Receiver:
    """A webhook receiver on loopback counting apprise json:// deliveries by title."""

    def __init__(self) -> None:
        received: Counter[str] = Counter()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                received[payload.get("title", "")] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/alerts"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_kill_9_crash_loop(tmp_path: Path, live_world: LiveWorld, receiver: Receiver) -> None:
    config = live_world.config(tmp_path)
    text = config.read_text().replace('every = "2s"', 'every = "1s"')
    text = text.replace('targets = ["console"]', 'targets = ["hook"]')
    text += f'\n[[notify]]\nname = "hook"\nurl = "{receiver.url}"\n'
    config.write_text(text)
    db = tmp_path / "leakmon.db"
    log = tmp_path / "daemon.log"
    rng = random.Random(7)
    world = live_world.world
    kills, seen = 0, 0

    def forum_crawls() -> int:
        if not db.exists():
            return 0
        with sqlite3.connect(db) as conn:
            try:
                query = "SELECT count(*) FROM crawls WHERE source = 'darkforum'"
                return int(conn.execute(query).fetchone()[0])
            except sqlite3.OperationalError:
                return 0

    while kills < KILLS or world.step + 1 < world.steps:
        proc = daemon(config, log)
        time.sleep(rng.uniform(0.6, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert kills < KILLS + 80, "the daemon never got a crawl done between kills"
        # the story moves on only once the forum was crawled in its current step, so
        # every step is seen at least once however slow the machine is
        crawled = forum_crawls()
        if world.step + 1 < world.steps and crawled > seen and rng.random() < 0.6:
            world.advance()
            seen = crawled
    # a clean final run sees the end state and delivers what is still pending
    proc = daemon(config, log)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        events = conn.execute("SELECT kind, listing_id FROM events").fetchall()
        per = Counter(events)
        for (kind, listing), count in per.items():
            if kind in ("new", "reposted", "deleted"):
                assert count == 1, (kind, listing, count)
        deleted = {listing for kind, listing in events if kind == "deleted"}
        assert deleted <= {"darkforum:1042"}, deleted  # the only thread the story deletes
        states = dict(conn.execute("SELECT id, state FROM listings").fetchall())
        assert states.get("darkforum:1042", "deleted") == "deleted"
        assert all(s == "active" for i, s in states.items() if i != "darkforum:1042")
        sent = [t for (t,) in conn.execute("SELECT title FROM alerts WHERE status = 'sent'")]
        pending = conn.execute("SELECT count(*) FROM alerts WHERE status != 'sent'").fetchone()
    assert pending[0] == 0
    assert sent, "the story produces alerts"
    for title in sent:
        assert 1 <= receiver.received[title] <= 2, (title, receiver.received[title])
    assert sum(receiver.received.values()) <= len(sent) + kills
