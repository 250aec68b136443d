"""`leakmon run` as a real subprocess against the demo world, with a fake NOTIFY_SOCKET."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.health import DEGRADED, DOWN, HEALTHY, assess, prometheus
from monitor.models import RestoreBacklog, RevisitBacklog, Source
from monitor.sdnotify import notify, watchdog_interval
from tests.conftest import LiveWorld

FAST = 'every = "1s"'


def wait_for(check: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll until `check()` holds; fail after `limit` s (a hang guard, not a timing test)."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.1)


class Notifications:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET, drained by a
    thread as systemd would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while self.running:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def poll(self) -> list[str]:
        return list(self.messages)

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def notifications(tmp_path: Path) -> Iterator[Notifications]:
    n = Notifications(tmp_path / "notify.sock")
    yield n
    n.close()


def crawl_count(db: Path, source: str) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db)) as conn:  # `with conn` does not close
        try:
            row = conn.execute("SELECT count(*) FROM crawls WHERE source = ?", (source,)).fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0])


def start(config: Path, notifications: Notifications, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NOTIFY_SOCKET": str(notifications.path), "WATCHDOG_USEC": "2000000"}
    env["WATCHDOG_PID"] = ""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config), "--grace", "10"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_run_ready_crawls_reloads_and_stops_cleanly(
    tmp_path: Path, live_world: LiveWorld, notifications: Notifications
) -> None:
    config = live_world.config(tmp_path)
    config.write_text(config.read_text().replace('every = "2s"', FAST))
    db = tmp_path / "leakmon.db"
    log = tmp_path / "daemon.log"
    proc = start(config, notifications, log)
    try:
        wait_for(lambda: any("READY=1" in m for m in notifications.poll()))
        wait_for(lambda: crawl_count(db, "darkforum") >= 2 and crawl_count(db, "leakshop") >= 2)
        wait_for(lambda: any("WATCHDOG=1" in m for m in notifications.poll()))
        assert any("STATUS=" in m and "sources ok" in m for m in notifications.poll())

        # reload: drop the shop
        text = config.read_text()
        shop = text.index('[[source]]\nname = "leakshop"')
        rule = text.index("[[rule]]")
        config.write_text(text[:shop] + text[rule:])
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "leakshop removed" in log.read_text())
        shop_crawls = crawl_count(db, "leakshop")
        forum_crawls = crawl_count(db, "darkforum")
        wait_for(lambda: crawl_count(db, "darkforum") >= forum_crawls + 2)
        assert crawl_count(db, "leakshop") <= shop_crawls + 1  # at most one in flight

        # an invalid config is rejected and the old one keeps running
        good = config.read_text()
        config.write_text(good + "\n[[source]]\nname = 'x'\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload rejected" in log.read_text())
        forum_crawls = crawl_count(db, "darkforum")
        wait_for(lambda: crawl_count(db, "darkforum") >= forum_crawls + 1)
        assert proc.poll() is None

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert any("STOPPING=1" in m for m in notifications.poll())
    # the checkpoint thread closed its connection before the writer closed its own,
    # the last one: that close checkpointed the WAL and removed it
    assert not Path(f"{db}-wal").exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "Traceback" not in log.read_text()


def test_run_with_broken_config_exits_2_before_ready(
    tmp_path: Path, notifications: Notifications
) -> None:
    config = tmp_path / "sources.toml"
    config.write_text("[[source]]\nname = 'x'\n")
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        env={**os.environ, "NOTIFY_SOCKET": str(notifications.path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "source[0]" in done.stderr
    assert not any("READY=1" in m for m in notifications.poll())


def test_sd_notify_and_watchdog_env(
    tmp_path: Path, notifications: Notifications, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert notify("READY=1", str(notifications.path))
    wait_for(lambda: notifications.poll() == ["READY=1"], 5)
    assert not notify("READY=1", "")
    assert not notify("READY=1", str(tmp_path / "nobody-listens"))
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None


def test_health_levels_and_metrics() -> None:
    a = Source(name="a", url="http://a.onion/", engine="css", every=60)
    b = Source(name="b", url="http://b.onion/", engine="css", every=60)
    ok = {"name": "a", "state": "ok", "last_crawl": "2026-01-01T00:00:00+00:00"}
    bad = {
        "name": "b",
        "state": "failing",
        "last_crawl": "2026-01-01T00:00:00+00:00",
        "failure_streak": 4,
    }
    assert assess([a], [ok], {}, 0).level == HEALTHY
    assert assess([a], [ok], {"failed": 1}, 0).level == DEGRADED
    assert assess([a, b], [ok, bad], {}, 0).level == DEGRADED
    down = assess([b], [bad], {"pending": 3}, 10)
    assert down.level == DOWN
    text = prometheus(down)
    assert "leakmon_health 2" in text
    assert 'leakmon_source_failure_streak{source="b"} 4' in text
    assert "leakmon_alerts_pending 3" in text


def test_each_metric_is_one_group_with_its_type_first() -> None:
    """The text format wants all lines of one metric together, HELP and TYPE first."""
    a = Source(name="a", url="http://a.onion/", engine="css", every=60)
    b = Source(name="b", url="http://b.onion/", engine="css", every=60)
    rows = [{"name": n, "state": "ok", "last_crawl": "2026-01-01T00:00:00+00:00"} for n in "ab"]
    backlogs = {"a": RevisitBacklog(3, 2, 1), "b": RevisitBacklog()}
    text = prometheus(assess([a, b], rows, {}, 0, backlogs, {"a": RestoreBacklog(2, 1, 1)}))
    lines = text.splitlines()
    names = [li.split()[2] if li.startswith("# ") else li.split("{")[0].split()[0] for li in lines]
    starts = [i for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    assert len(starts) == len(set(names)), names  # no metric comes back after another
    assert all(lines[i].startswith("# ") for i in starts)  # its HELP or TYPE line first
    assert 'leakmon_source_restore_checks_overdue{source="a"} 1' in lines
    assert 'leakmon_source_restore_checks_overdue{source="b"}' not in text


def test_active_hours_windows() -> None:
    from datetime import UTC, datetime

    from monitor.daemon import in_active_hours

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 1, 1, hour, minute, tzinfo=UTC)

    assert in_active_hours(None, at(3))
    day = (8 * 60, 20 * 60)
    assert in_active_hours(day, at(8)) and in_active_hours(day, at(19, 59))
    assert not in_active_hours(day, at(20)) and not in_active_hours(day, at(7, 59))
    night = (22 * 60, 6 * 60)
    assert in_active_hours(night, at(23)) and in_active_hours(night, at(5))
    assert not in_active_hours(night, at(12))


def test_active_hours_config(tmp_path: Path) -> None:
    from monitor.config import load_config
    from monitor.errors import ConfigError

    onion = "http://exampleforums4td2ua3t5cqcxsze2q4kado62ehgy4rcu3qa3ibb2ud.onion/"
    path = tmp_path / "sources.toml"
    base = f'[[source]]\nname = "f"\nurl = "{onion}"\nengine = "mybb"\nevery = "1h"\n'
    path.write_text(base + 'active_hours = "22:30-06:00"\n')
    (source,) = load_config(path, engines=("mybb",)).sources
    assert source.active_hours == (22 * 60 + 30, 6 * 60)
    for bad in ('"9-17"', '"10:00-10:00"', '"25:00-26:00"', "8"):
        path.write_text(base + f"active_hours = {bad}\n")
        with pytest.raises(ConfigError) as info:
            load_config(path, engines=("mybb",))
        assert info.value.problems[0].startswith("source[0].active_hours: ")
