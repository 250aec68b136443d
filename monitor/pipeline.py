"""One crawl of one source, end to end: fetch → extract → lifecycle → rules → store.

The stages never import each other; this module composes them. A failure of one
source is recorded as a failed crawl and never stops another source.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from monitor.errors import ExtractError
from monitor.extract import Engine
from monitor.fetch import one_line
from monitor.lifecycle import diff_crawl, fingerprint
from monitor.models import (
    Alert,
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Listing,
    NotifyTarget,
    Page,
    PageOutcome,
    Rule,
    Source,
)
from monitor.rules import alerts_for
from monitor.store import Store

log = logging.getLogger(__name__)


class PageFetcher(Protocol):
    async def get(self, url: str) -> Page: ...


@dataclass(frozen=True)
class CrawlReport:
    """What one crawl did, for logs and the CLI."""

    crawl: Crawl
    diff: CrawlDiff
    alerts: tuple[Alert, ...]
    pages: tuple[Page, ...]
    seconds: float

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for event in self.diff.events:
            counts[event.kind] = counts.get(event.kind, 0) + 1
        kinds = " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no events"
        base = " (baseline)" if self.diff.baseline else ""
        err = f" error={self.crawl.error}" if self.crawl.error else ""
        return (
            f"{self.crawl.source}: {self.crawl.outcome}{base} pages={self.crawl.pages} "
            f"listings={len(self.crawl.listings)} {kinds} alerts={len(self.alerts)} "
            f"{self.seconds:.2f}s{err}"
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


async def fetch_listings(
    source: Source, fetcher: PageFetcher, engine: Engine
) -> tuple[tuple[Page, ...], tuple[Listing, ...], bool]:
    """Fetch the source's pages following `next` links up to `max_pages`.

    Returns the pages, the listings (first occurrence of each id wins) and whether
    pagination stopped at `max_pages` with more pages left.
    """
    pages: list[Page] = []
    listings: dict[str, Listing] = {}
    url: str | None = source.url
    visited: set[str] = set()
    truncated = False
    while url is not None:
        if len(pages) >= source.max_pages:
            truncated = True
            break
        visited.add(url)
        page = await fetcher.get(url)
        pages.append(page)
        if page.outcome is not PageOutcome.OK:
            break
        extract = engine.extract(page.text, page.url)
        for listing in extract.listings:
            listings.setdefault(listing.id, listing)
        url = extract.next_url if extract.next_url not in visited else None
    return tuple(pages), tuple(listings.values()), truncated


def judge(pages: Sequence[Page], truncated: bool) -> tuple[CrawlOutcome, str | None]:
    """The crawl's outcome from its pages.

    complete: every page fetched OK and pagination ended by itself. partial: some
    pages OK, then a failure, a block page or the `max_pages` limit. blocked: the
    first page was a block page. failed: nothing usable was fetched.
    """
    bad = next((p for p in pages if p.outcome is not PageOutcome.OK), None)
    if bad is None:
        if truncated:
            return CrawlOutcome.PARTIAL, "stopped at max_pages with more pages left"
        return CrawlOutcome.COMPLETE, None
    error = f"{bad.url}: {bad.error or bad.reason}"
    if bad is pages[0]:
        if bad.outcome is PageOutcome.BLOCKED:
            return CrawlOutcome.BLOCKED, error
        return CrawlOutcome.FAILED, error
    return CrawlOutcome.PARTIAL, error


async def crawl_source(
    source: Source,
    fetcher: PageFetcher,
    engine: Engine,
    store: Store,
    rules: Sequence[Rule],
    targets: Sequence[NotifyTarget],
    *,
    clock: Callable[[], datetime] = utcnow,
) -> CrawlReport:
    """Crawl one source and write everything it found in one transaction."""
    t0 = time.perf_counter()
    started = clock()
    try:
        pages, listings, truncated = await fetch_listings(source, fetcher, engine)
        outcome, error = judge(pages, truncated)
    except ExtractError as exc:  # an engine that cannot read the page at all
        pages, listings, outcome, error = (), (), CrawlOutcome.FAILED, one_line(str(exc))
    crawl = Crawl(
        id=uuid.uuid4().hex,
        source=source.name,
        started=started,
        finished=clock(),
        outcome=outcome,
        pages=sum(1 for p in pages if p.outcome is PageOutcome.OK),
        wire_bytes=sum(p.wire_bytes for p in pages),
        listings=listings,
        error=error,
    )
    known = store.known_listings(source.name)
    unknown = [li for li in listings if li.id not in known]
    diff = diff_crawl(
        crawl,
        known,
        source,
        previous_complete=store.recent_complete_counts(source.name),
        repost_candidates=store.repost_candidates(
            unknown, fingerprints=[fingerprint(li) for li in unknown]
        ),
        first_complete=not store.has_complete_crawl(source.name),
    )
    alerts: tuple[Alert, ...] = ()
    if not diff.baseline:
        by_id = {sl.id: sl.listing for sl in known.values()}
        by_id.update({sl.id: sl.listing for sl in diff.writes})
        alerts = alerts_for(diff.events, by_id, rules, targets, crawl.finished)
    store.apply(diff, alerts)
    report = CrawlReport(crawl, diff, alerts, pages, time.perf_counter() - t0)
    log.info("%s", report.summary())
    return report


async def crawl_many(
    sources: Sequence[Source],
    crawl_one: Callable[[Source], Awaitable[CrawlReport]],
    concurrency: int = 8,
) -> list[CrawlReport | BaseException]:
    """Crawl several sources concurrently; one source's exception never stops another.

    The result keeps the order of `sources`; a source that raised gives its exception.
    """
    gate = asyncio.Semaphore(concurrency)

    async def guarded(source: Source) -> CrawlReport:
        async with gate:
            return await crawl_one(source)

    results = await asyncio.gather(*(guarded(s) for s in sources), return_exceptions=True)
    for source, result in zip(sources, results, strict=True):
        if isinstance(result, BaseException):
            log.error("%s: crawl failed: %s", source.name, one_line(str(result)))
    return list(results)
