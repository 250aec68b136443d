"""Replay saved captures of one source through the real crawl (`leakmon replay`).

`SavedSite` stands in for the network: it answers the pipeline's requests from one
capture (`monitor.captures`) -- listing pages by their place in the pagination,
listing pages' own URLs from the capture's thread pages -- and classifies every
saved file exactly as the live `Fetcher` classifies a response (HTTP status, size
cap, `fetch.blocks.block_reason`), once the banner a web archive puts into the pages
it serves is taken out (`without_archive_banner`). Everything after that is
`pipeline.crawl_source`:
the source's extractor, lifecycle, verification, rules and the store. Crawl times
are the capture times; a thread page's verdict carries the time it was saved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from monitor.absence import reread_every
from monitor.captures import Capture, SavedFile
from monitor.extract import Engine
from monitor.extract.urls import resolve_url
from monitor.fetch import block_reason, decode_body
from monitor.models import (
    Alert,
    CrawlDiff,
    Event,
    Listing,
    NotifyTarget,
    OpsSettings,
    Page,
    PageExtract,
    PageOutcome,
    PageSnapshot,
    Rule,
    Source,
    Verification,
)
from monitor.pipeline import NO_OPS, crawl_source, thread_reader
from monitor.store import Store

log = logging.getLogger(__name__)


class ReplayClock:
    """The crawl's clock: the capture's time, moved on to a thread page's saved time
    when that page is served."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class SavedSite:
    """A `PageFetcher` and an `Engine` over one capture at a time (`load`).

    As an engine it runs the source's extractor and remembers each listing's URL
    (to find its thread page) and each page's next link (to number the pages).
    Unknown or unsaved URLs answer a failed page, as a timeout would live: a missing
    page 2 makes a partial crawl, a missing thread page an unknown verdict."""

    def __init__(
        self,
        source: Source,
        engine: Engine,
        clock: ReplayClock,
        ids: Mapping[str, str] | None = None,
    ) -> None:
        self.source = source
        self.engine = engine
        self.clock = clock
        self.ids = dict(ids or {})  # listing URL -> external id
        self.capture: Capture | None = None
        self._numbers: dict[str, int] = {}

    def load(self, capture: Capture) -> None:
        self.capture = capture
        self.clock.now = capture.at
        self._numbers = {self.source.url: 1}

    def new_crawl(self) -> None:
        self.engine.new_crawl()

    def extract(self, html: str, page_url: str, *, now: datetime | None = None) -> PageExtract:
        result = self.engine.extract(html, page_url, now=now)
        for listing in result.listings:
            self.ids[listing.url] = listing.external_id
        number = self._numbers.get(page_url)
        if number is not None and result.next_url is not None:
            self._numbers.setdefault(result.next_url, number + 1)
        return result

    async def get(self, url: str) -> Page:
        capture = self.capture
        assert capture is not None, "load() a capture first"
        if capture.urls:  # read from a WARC file: every response by its canonical URL
            found = capture.urls.get(url) or capture.urls.get(resolve_url(url, url) or url)
            if found is None:
                return _missing(url, f"no response for {url} in capture {capture.name}")
            self.clock.now = max(self.clock.now, found[0])
            return self._serve(url, found[1])
        number = self._numbers.get(url)
        if number is not None:
            saved = capture.pages.get(number)
            if saved is None:
                return _missing(url, f"page {number} not in capture {capture.name}")
            return self._serve(url, saved)
        external_id = self.ids.get(url)
        found = None if external_id is None else capture.threads.get(quote(external_id, safe=""))
        if found is None:
            return _missing(url, f"no saved page for {capture.name}")
        saved_at, saved = found
        self.clock.now = max(self.clock.now, saved_at)
        return self._serve(url, saved)

    def holds(self, listing: Listing) -> bool:
        """Whether the capture saved `listing`'s own page: a replay reads every saved
        post again (it costs no request), where a live crawl re-reads a share."""
        capture = self.capture
        if capture is None:
            return False
        if capture.urls:
            url = listing.url
            return url in capture.urls or (resolve_url(url, url) or url) in capture.urls
        return quote(listing.external_id, safe="") in capture.threads

    def _serve(self, url: str, saved: SavedFile) -> Page:
        """The saved file as the live fetcher would have returned it."""
        try:
            size = saved.path.stat().st_size if saved.data is None else len(saved.data)
            if size > self.source.max_bytes:
                error = f"{saved.path.name}: {size} bytes exceeds {self.source.max_bytes}"
                return Page(url, PageOutcome.FAILED, reason="too_large", error=error)
            body = saved.path.read_bytes() if saved.data is None else saved.data
        except OSError as exc:
            return Page(url, PageOutcome.FAILED, reason="unreadable", error=str(exc)[:200])
        if saved.status >= 400:
            error = f"HTTP {saved.status}"
            return Page(url, PageOutcome.FAILED, saved.status, reason="http_error", error=error)
        json_file = saved.data is None and saved.path.suffix == ".json"
        ctype = "application/json" if json_file else saved.content_type
        text = without_archive_banner(decode_body(body, ctype))
        reason = block_reason(text, self.source.block_markers)
        if reason is not None:
            return Page(
                url,
                PageOutcome.BLOCKED,
                saved.status,
                text,
                len(body),
                reason=f"blocked:{reason}",
                error=f"block page ({reason}) in {saved.path.name}",
            )
        return Page(url, PageOutcome.OK, saved.status, text, len(body))


NOT_CAPTURED = "not_captured"  # the reason of a page no capture holds
# The banner the Wayback Machine and pywb (Webrecorder) insert into the pages they
# serve: its text (capture counts, dates, "About this capture") is not the site's.
_ARCHIVE_BANNER = re.compile(
    r"<!--\s*BEGIN WAYBACK TOOLBAR INSERT\s*-->.*?<!--\s*END WAYBACK TOOLBAR INSERT\s*-->"
    r"|<!--\s*WB Insert\s*-->.*?<!--\s*End WB Insert\s*-->",
    re.IGNORECASE | re.DOTALL,
)


def without_archive_banner(text: str) -> str:
    """`text` without a web archive's banner, so that an empty, captcha or error page
    saved by an archive is judged as the page itself would be."""
    return _ARCHIVE_BANNER.sub("", text) if "<!--" in text else text


def _missing(url: str, why: str) -> Page:
    return Page(url, PageOutcome.FAILED, reason=NOT_CAPTURED, error=why)


class _ReplayStore(Store):
    """The store, without verification rows for listing pages no capture holds:
    nothing was fetched, so there is no trail to keep (the verdict, unknown, still
    counts in the listing's `missing_streak`)."""

    def apply(
        self,
        diff: CrawlDiff,
        alerts: Sequence[Alert],
        *,
        verifications: Sequence[Verification] = (),
        pages: Sequence[PageSnapshot] = (),
    ) -> None:
        kept = [v for v in verifications if v.reason != NOT_CAPTURED]
        super().apply(diff, alerts, verifications=kept, pages=pages)


@dataclass(frozen=True)
class ReplayedCrawl:
    """What one capture's crawl gave."""

    capture: str
    at: datetime
    outcome: str
    error: str | None
    summary: str
    events: tuple[Event, ...]
    alerts: tuple[str, ...]  # ids of the alerts the crawl wrote to the outbox
    unverified: tuple[str, ...] = ()  # listings to verify whose page no capture held


@dataclass(frozen=True)
class ReplayReport:
    source: str
    crawls: tuple[ReplayedCrawl, ...]
    skipped: int  # captures not newer than the source's last stored crawl

    @property
    def unverified(self) -> tuple[str, ...]:
        """Every listing a crawl had to verify without a saved page (an unknown
        verdict: never deleted on it), in the order first met."""
        return tuple(dict.fromkeys(i for c in self.crawls for i in c.unverified))


async def replay_captures(
    source: Source,
    captures: Sequence[Capture],
    engine: Engine,
    store: Store,
    *,
    rules: Sequence[Rule] = (),
    targets: Sequence[NotifyTarget] = (),
    rates: Mapping[str, float] | None = None,
    keep_html: bool = False,
    ops: OpsSettings = NO_OPS,
    page_budget: int | None = None,
    on_crawl: Callable[[ReplayedCrawl], None] | None = None,
) -> ReplayReport:
    """Crawl `source` once per capture, oldest first, into `store`.

    `page_budget`: listing pages (verifications, evidence) fetched per crawl, as
    `pipeline.crawl_source` takes it (default: the source's `page_budget`, as live).

    Captures at or before the source's last stored crawl are skipped, so replaying
    a directory again (or after new captures were added) adds only what is new.
    `on_crawl` sees each crawl as it is written.
    """
    store.sync_sources([source])
    row = next((r for r in store.sources() if r["name"] == source.name), None)
    last = datetime.fromisoformat(row["last_crawl"]) if row and row["last_crawl"] else None
    known = store.known_listings(source.name)
    clock = ReplayClock(captures[0].at if captures else datetime.min)
    site = SavedSite(
        source, engine, clock, {s.listing.url: s.listing.external_id for s in known.values()}
    )
    read_thread = thread_reader(source, rates)
    rereads = reread_every(source) > timedelta(0)
    target = _ReplayStore(store.db, store.path)  # the same connection
    done: list[ReplayedCrawl] = []
    skipped = 0
    for capture in captures:
        if last is not None and capture.at <= last:
            skipped += 1
            continue
        site.load(capture)
        report = await crawl_source(
            source,
            site,
            site,
            target,
            rules,
            targets,
            clock=clock,
            keep_html=keep_html,
            read_thread=read_thread,
            ops=ops,
            page_budget=page_budget,
            reread=lambda li: rereads and site.holds(li),
        )
        crawl = ReplayedCrawl(
            capture.name,
            capture.at,
            report.crawl.outcome.value,
            report.crawl.error,
            report.summary(),
            report.diff.events,
            tuple(a.id for a in report.alerts),
            tuple(v.listing_id for v in report.verifications if v.reason == NOT_CAPTURED),
        )
        done.append(crawl)
        if on_crawl is not None:
            on_crawl(crawl)
    return ReplayReport(source.name, tuple(done), skipped)
