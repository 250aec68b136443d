"""`leakmon run`: the long-running service.

APScheduler 3 (AsyncIOScheduler) runs one interval job per source, with jitter,
`max_instances=1` and coalescing, plus the outbox dispatcher. Crawls run as tasks
that this module tracks itself, because the scheduler's shutdown would cancel
them: SIGTERM/SIGINT stop scheduling, let in-flight crawls finish within a grace
period (a crawl's database writes are one transaction, so a cancelled crawl
leaves nothing half-written), flush the dispatcher and return 0; a second signal
exits at once. SIGHUP reloads the config: jobs are added, removed or changed to
match; an invalid config is logged and the old one keeps running. The config is
validated in a child process (`config_child`), so pydantic never loads here.
systemd hears READY, STATUS and WATCHDOG through sd_notify.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import sdnotify
from monitor.backlogs import restore_backlogs, revisit_backlogs
from monitor.config_child import load_config_isolated
from monitor.errors import ConfigError, LeakmonError
from monitor.extract import ENGINES
from monitor.health import Health, assess, prometheus
from monitor.models import AlertStatus, Config, Source
from monitor.notify import AppriseSender, Sender
from monitor.pipeline import CrawlReport
from monitor.runtime import TorRuntime, build_engines, crawl_cycle, deliver
from monitor.store import Store

log = logging.getLogger(__name__)

DISPATCH_EVERY = 30.0  # seconds between outbox dispatcher runs
START_SPREAD = 30.0  # first crawls are spread over this many seconds at most


def jitter_for(every: float) -> float:
    """Random jitter per run: 10% of the interval, at most 5 minutes."""
    return min(every * 0.1, 300.0)


def in_active_hours(window: tuple[int, int] | None, now: datetime) -> bool:
    """Whether `now` (UTC) falls in a source's `active_hours` window (minutes of the
    day, start inclusive, end exclusive; a window may wrap past midnight)."""
    if window is None:
        return True
    start, end = window
    minute = now.astimezone(UTC).hour * 60 + now.astimezone(UTC).minute
    return start <= minute < end if start < end else minute >= start or minute < end


def health_of(config: Config, store: Store, now: datetime | None = None) -> Health:
    """The installation's health from the database (revisit and re-check backlogs at
    `now`)."""
    counts = {str(s): store.alert_count(s) for s in (AlertStatus.PENDING, AlertStatus.FAILED)}
    files = [Path(f"{store.path}{suffix}") for suffix in ("", "-wal", "-shm")]
    size = sum(f.stat().st_size for f in files if f.exists())
    at = now or datetime.now(UTC)
    backlogs = revisit_backlogs(store, config.sources, at)
    restores = restore_backlogs(store, config.sources, at)
    return assess(config.sources, store.sources(), counts, size, backlogs, restores)


@dataclass
class Daemon:
    """The service: scheduler, in-flight crawls, signals, reload and health."""

    config_path: Path
    db_path: Path | None = None
    grace: float = 30.0
    metrics_file: Path | None = None
    sender: Sender = field(default_factory=AppriseSender)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self.config = load_config_isolated(self.config_path, engines=ENGINES)
        self.engines = build_engines(self.config.sources, self.config.rates)
        self.inflight: set[asyncio.Task[Any]] = set()
        self.last: dict[str, str] = {}
        self._stop = asyncio.Event()
        self._signals = 0

    # ------------------------------------------------------------------ run

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        path = self.db_path or self.config.db_path
        if path is None:
            raise ConfigError("storage.path: no database: give --db or [storage] path")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal)
        loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)
        self.tor = TorRuntime(self.config.tor)
        with Store.open(path) as store, store.background_checkpoints():
            self.store = store
            store.sync_sources(self.config.sources)
            self.scheduler = AsyncIOScheduler(timezone=UTC)
            self._schedule_all()
            self.scheduler.add_job(
                self._dispatch,
                IntervalTrigger(seconds=DISPATCH_EVERY),
                id="dispatch",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
            self.scheduler.start()
            watchdog = asyncio.create_task(self._watchdog())
            sdnotify.notify("READY=1\nSTATUS=" + self.status_line())
            log.info("leakmon running: %d sources", len(self.config.sources))
            await self._stop.wait()
            sdnotify.notify("STOPPING=1\nSTATUS=stopping: finishing in-flight crawls")
            self.scheduler.shutdown(wait=False)
            await self._drain()
            watchdog.cancel()
            self._dispatch_now()
        self.tor.close()
        log.info("leakmon stopped")
        return 0

    async def _drain(self) -> None:
        """Let in-flight crawls finish within the grace period, then cancel them."""
        if not self.inflight:
            return
        log.info("waiting up to %.0fs for %d crawls", self.grace, len(self.inflight))
        _done, pending = await asyncio.wait(set(self.inflight), timeout=self.grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            log.warning(
                "%d crawls cancelled at shutdown; nothing of them was written", len(pending)
            )

    # ------------------------------------------------------------- schedule

    def _schedule_all(self) -> None:
        for source in self.config.sources:
            if source.enabled:
                self._schedule(source, first=True)

    def _schedule(self, source: Source, first: bool) -> None:
        delay = random.uniform(0, min(source.every, START_SPREAD)) if first else 0.0
        self.scheduler.add_job(
            self._crawl_job,
            IntervalTrigger(seconds=source.every, jitter=jitter_for(source.every)),
            args=[source.name],
            id=f"crawl:{source.name}",
            name=source.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(max(source.every, 1)),
            next_run_time=self.clock() + timedelta(seconds=delay),
            replace_existing=True,
        )

    async def _crawl_job(self, name: str) -> None:
        """One crawl, tracked so that shutdown can wait for it."""
        if self._stop.is_set():
            return
        try:
            source = self.config.source(name)
        except KeyError:
            return
        if not in_active_hours(source.active_hours, self.clock()):
            log.debug("%s: outside its active hours, not crawled", name)
            return
        task = asyncio.create_task(self._crawl(source), name=f"crawl:{name}")
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        # shielded: the scheduler's shutdown cancels its jobs, never our crawl
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)

    async def _crawl(self, source: Source) -> None:
        config, engines = self.config, self.engines
        try:
            reports, _ = await crawl_cycle(
                config, self.store, [source], engines, self.sender, tor=self.tor
            )
        except LeakmonError as exc:
            log.error("%s: %s", source.name, exc)
            return
        result = reports[0]
        if isinstance(result, CrawlReport):
            self.last[source.name] = result.summary()
        else:
            self.last[source.name] = f"{source.name}: error {result}"
        sdnotify.notify("STATUS=" + self.status_line())
        self._write_metrics()

    def _write_metrics(self) -> None:
        """Atomically rewrite the Prometheus textfile, when one is configured."""
        if self.metrics_file is None:
            return
        tmp = self.metrics_file.with_suffix(".tmp")
        try:
            tmp.write_text(prometheus(health_of(self.config, self.store)))
            tmp.replace(self.metrics_file)
        except OSError as exc:
            log.warning("metrics file: %s", exc)

    async def _dispatch(self) -> None:
        await asyncio.sleep(0)
        self._dispatch_now()

    def _dispatch_now(self) -> None:
        try:
            report = deliver(self.store, self.sender, self.config)
        except LeakmonError as exc:
            log.error("dispatch: %s", exc)
            return
        if report.sent or report.retried or report.failed:
            log.info(
                "alerts: sent=%d retried=%d failed=%d", report.sent, report.retried, report.failed
            )

    async def _watchdog(self) -> None:
        interval = sdnotify.watchdog_interval()
        if interval is None:
            return
        while True:
            sdnotify.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    def status_line(self) -> str:
        """One line for systemd's STATUS=."""
        rows = {row["name"]: row for row in self.store.sources()}
        bad = sorted(n for n, r in rows.items() if r.get("state") not in (None, "ok"))
        active = [s for s in self.config.sources if s.enabled]
        text = f"{len(active) - len(bad)}/{len(active)} sources ok"
        if bad:
            text += " (not ok: " + ", ".join(bad[:5]) + ")"
        return text + f"; {len(self.inflight)} crawling"

    # --------------------------------------------------------------- signals

    def _on_stop_signal(self) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second signal: exiting at once")
            os._exit(130)
        log.info("stop requested")
        self._stop.set()

    def _on_reload_signal(self) -> None:
        sdnotify.notify("RELOADING=1")
        try:
            self.reload()
        finally:
            sdnotify.notify("READY=1\nSTATUS=" + self.status_line())

    def reload(self) -> bool:
        """Re-read the config; on error keep the old one. True when applied."""
        try:
            config = load_config_isolated(self.config_path, engines=ENGINES)
            engines = build_engines(config.sources, config.rates)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload rejected: %s", problem)
            return False
        old: Mapping[str, Source] = {s.name: s for s in self.config.sources if s.enabled}
        new: Mapping[str, Source] = {s.name: s for s in config.sources if s.enabled}
        if config.tor != self.config.tor:
            old_tor, self.tor = self.tor, TorRuntime(config.tor)
            old_tor.close()
        self.config, self.engines = config, engines
        self.store.sync_sources(config.sources)
        for name in old.keys() - new.keys():
            self.scheduler.remove_job(f"crawl:{name}")
            log.info("reload: %s removed", name)
        for name, source in new.items():
            if name not in old:
                self._schedule(source, first=True)
                log.info("reload: %s added", name)
            elif source != old[name]:
                self._schedule(source, first=False)
                log.info("reload: %s changed", name)
        return True
