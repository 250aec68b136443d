"""Crawl cycles: build one Fetcher per source, crawl, then deliver pending alerts.

Shared by `leakmon crawl`, the demo and (later) the daemon. The store, the
engines and the sender are built by the caller and passed in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.fetch import Fetcher, one_line
from monitor.models import Config, Source
from monitor.notify import AppriseSender, DispatchReport, Sender, dispatch
from monitor.pipeline import CrawlReport, crawl_many, crawl_source, utcnow
from monitor.store import Store

log = logging.getLogger(__name__)


async def crawl_cycle(
    config: Config,
    store: Store,
    sources: Sequence[Source],
    engines: Mapping[str, Any],
    sender: Sender,
) -> tuple[list[CrawlReport | BaseException], DispatchReport]:
    """Crawl `sources` once (concurrently), then dispatch due alerts."""

    async def one(source: Source) -> CrawlReport:
        async with Fetcher(config.tor, source) as fetcher:
            return await crawl_source(
                source, fetcher, engines[source.name], store, config.rules, config.targets
            )

    reports = await crawl_many(sources, one)
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
    reports, _ = await crawl_cycle(config, store, sources, engines, sender)
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
            results, _ = await crawl_cycle(config, store, [source], engines, sender)
            result = results[0]
            line = result.summary() if isinstance(result, CrawlReport) else one_line(str(result))
            print(line, flush=True)

    await asyncio.gather(*(keep_crawling(s) for s in sources))
    return failed
