"""Crawl cycles: build one Fetcher per source, crawl, then deliver pending alerts.

Shared by `leakmon crawl`, the demo and the daemon. The store, the engines and the
sender are built by the caller and passed in; so is the `TorRuntime` every crawl of
a process shares (politeness across sources and the NEWNYM policy).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from monitor.errors import ConfigError, ExtractError, TorUnavailable
from monitor.extract import Engine, get_engine
from monitor.fetch import Fetcher, Politeness, one_line
from monitor.fetch.torctl import TorControl
from monitor.models import Config, Source, TorSettings
from monitor.notify import AppriseSender, DispatchReport, Sender, dispatch
from monitor.pipeline import CrawlReport, crawl_many, crawl_source, thread_reader, utcnow
from monitor.store import Store

log = logging.getLogger(__name__)


def build_engines(
    sources: Sequence[Source], rates: Mapping[str, float] | None = None
) -> dict[str, Engine]:
    """Every source's extractor, built up front; a bad selector is a config error
    naming the source (`source[2] (name): ...`)."""
    engines: dict[str, Engine] = {}
    problems: list[str] = []
    for index, source in enumerate(sources):
        try:
            engines[source.name] = get_engine(source, rates)
        except ExtractError as exc:
            problems.append(f"source[{index}] ({source.name}): {exc}")
    if problems:
        raise ConfigError(problems)
    return engines


class Newnym:
    """Asks Tor for new circuits when a source keeps failing.

    After each crawl, a source whose failure streak (failed or blocked crawls in a
    row) reaches a multiple of `newnym_after` asks for one NEWNYM; one request serves
    every source. Tor's rate limit (~10 s) postpones it to the next crawl. Without a
    control port, or when it is unreachable, this only logs: crawls never fail for it.
    """

    def __init__(self, tor: TorSettings, control: TorControl | None = None) -> None:
        self.after = tor.newnym_after
        self.control = control if control is not None else TorControl.from_settings(tor)
        self.pending = False  # a NEWNYM is owed (rate-limited last time)
        self.sent = 0

    async def after_crawls(self, streaks: Mapping[str, int], names: Iterable[str]) -> bool:
        """Ask for NEWNYM if one of `names` just reached a streak threshold (or one is
        owed). True when the signal was sent."""
        due = [n for n in names if streaks.get(n, 0) > 0 and streaks[n] % self.after == 0]
        if not due and not self.pending:
            return False
        why = ", ".join(f"{n} failed {streaks[n]} times" for n in due) or "owed"
        if self.control is None:
            log.warning("NEWNYM wanted (%s) but no [tor] control port is configured", why)
            return False
        try:
            wait = await asyncio.to_thread(self.control.newnym)
        except (TorUnavailable, ConfigError) as exc:
            log.warning("NEWNYM wanted (%s) but failed: %s", why, one_line(str(exc)))
            return False
        self.pending = wait > 0
        if self.pending:
            log.info("NEWNYM (%s) rate-limited by Tor; retrying after %.0fs", why, wait)
            return False
        self.sent += 1
        log.info("NEWNYM sent: new Tor circuits (%s)", why)
        return True

    def close(self) -> None:
        if self.control is not None:
            self.control.close()


class TorRuntime:
    """What every crawl of one process shares: one `Politeness` (global concurrency,
    per-host serialisation and delay) and one `Newnym` policy. Build it once, inside
    the running event loop's process, and pass it to every `crawl_cycle`."""

    def __init__(self, tor: TorSettings, control: TorControl | None = None) -> None:
        self.politeness = Politeness(tor.max_concurrency)
        self.newnym = Newnym(tor, control)
        self.tls = httpx.create_ssl_context()  # one for every Fetcher of the process

    def close(self) -> None:
        self.newnym.close()


async def crawl_cycle(
    config: Config,
    store: Store,
    sources: Sequence[Source],
    engines: Mapping[str, Any],
    sender: Sender,
    *,
    tor: TorRuntime | None = None,
) -> tuple[list[CrawlReport | BaseException], DispatchReport]:
    """Crawl `sources` once (concurrently), ask for NEWNYM if one keeps failing, then
    dispatch due alerts. Without `tor`, this cycle gets its own (limits span only it)."""
    shared = tor if tor is not None else TorRuntime(config.tor)

    async def one(source: Source) -> CrawlReport:
        async with Fetcher(config.tor, source, shared.politeness, shared.tls) as fetcher:
            return await crawl_source(
                source,
                fetcher,
                engines[source.name],
                store,
                config.rules,
                config.targets,
                keep_html=config.storage.keep_html,
                read_thread=thread_reader(source, config.rates),
                ops=config.ops,
            )

    try:
        # every source may start; Politeness alone limits the requests in flight
        reports = await crawl_many(sources, one, concurrency=max(1, len(sources)))
        streaks = {s.name: store.failure_streak(s.name) for s in sources}
        await shared.newnym.after_crawls(streaks, [s.name for s in sources])
    finally:
        if tor is None:
            shared.close()
    sent = deliver(store, sender, config)
    return reports, sent


def deliver(store: Store, sender: Sender, config: Config) -> DispatchReport:
    """Send every due alert once; failures are retried on a later cycle."""
    return dispatch(store, sender, {t.name: t for t in config.targets}, utcnow())


async def run_crawls(
    config: Config,
    store: Store,
    sources: Sequence[Source],
    engines: Mapping[str, Any],
    *,
    once: bool,
) -> int:
    """Crawl each source once, or each on its own `every` until interrupted.

    Prints one summary line per crawl. Returns how many crawls of the first cycle
    failed outright (or raised), for the exit code of `--once`.
    """
    store.sync_sources(config.sources)
    sender = AppriseSender()
    tor = TorRuntime(config.tor)
    try:
        return await _crawl_loop(config, store, sources, engines, sender, tor, once=once)
    finally:
        tor.close()


async def _crawl_loop(
    config: Config,
    store: Store,
    sources: Sequence[Source],
    engines: Mapping[str, Any],
    sender: Sender,
    tor: TorRuntime,
    *,
    once: bool,
) -> int:
    reports, _ = await crawl_cycle(config, store, sources, engines, sender, tor=tor)
    failed = 0
    for source, result in zip(sources, reports, strict=True):
        if isinstance(result, CrawlReport):
            print(result.summary(), flush=True)
            failed += result.crawl.outcome == "failed"
        else:
            print(f"{source.name}: error {one_line(str(result))}", flush=True)
            failed += 1
    if once:
        return failed

    async def keep_crawling(source: Source) -> None:
        while True:
            await asyncio.sleep(source.every)
            results, _ = await crawl_cycle(config, store, [source], engines, sender, tor=tor)
            result = results[0]
            line = result.summary() if isinstance(result, CrawlReport) else one_line(str(result))
            print(line, flush=True)

    await asyncio.gather(*(keep_crawling(s) for s in sources))
    return failed
