"""One crawl of one source, end to end: fetch → extract → lifecycle → rules → store.

The stages never import each other; this module composes them. A failure of one
source is recorded as a failed crawl and never stops another source.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from monitor.absence import (
    absence_mode,
    reread_due,
    restore_backlog,
    restore_watched,
    revisit_backlog,
)
from monitor.changes import field_changes, keep_evidence
from monitor.errors import ExtractError
from monitor.extract import Engine, extract_thread, parse_text
from monitor.extract.numbers import post_records
from monitor.extract.prices import post_price
from monitor.fetch import one_line
from monitor.lifecycle import diff_crawl, fingerprint, plan_verifications
from monitor.models import (
    Alert,
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    Listing,
    ListingState,
    NotifyTarget,
    OpsSettings,
    Page,
    PageOutcome,
    PageSnapshot,
    RestoreBacklog,
    RevisitBacklog,
    Rule,
    Source,
    StoredListing,
    Verification,
)
from monitor.moves import follow_moves
from monitor.rules import alerts_for, ops_alerts
from monitor.sourcehealth import source_events
from monitor.store import Store
from monitor.verify import verify_page

log = logging.getLogger(__name__)
NO_OPS = OpsSettings()  # no ops target: source-health events are stored, not sent
NO_BACKLOG = RevisitBacklog()
NO_RESTORES = RestoreBacklog()


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
    verifications: tuple[Verification, ...] = ()
    backlog: RevisitBacklog = NO_BACKLOG  # aged-out revisits left waiting
    restores: RestoreBacklog = NO_RESTORES  # re-checks of deleted listings left waiting

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for event in self.diff.events:
            counts[event.kind] = counts.get(event.kind, 0) + 1
        kinds = " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no events"
        base = " (baseline)" if self.diff.baseline else ""
        if self.verifications:
            verdicts = [v.verdict.value for v in self.verifications]
            kinds += " verified=" + ",".join(
                f"{v}:{verdicts.count(v)}" for v in sorted(set(verdicts))
            )
        if self.backlog.overdue:
            kinds += f" revisits_overdue={self.backlog.overdue}"
        if self.restores.overdue:
            kinds += f" restore_checks_overdue={self.restores.overdue}"
        err = f" error={self.crawl.error}" if self.crawl.error else ""
        return (
            f"{self.crawl.source}: {self.crawl.outcome}{base} pages={self.crawl.pages} "
            f"listings={len(self.crawl.listings)} {kinds} alerts={len(self.alerts)} "
            f"{self.seconds:.2f}s{err}"
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


async def fetch_listings(
    source: Source, fetcher: PageFetcher, engine: Engine, now: datetime | None = None
) -> tuple[tuple[Page, ...], tuple[Listing, ...], bool]:
    """Fetch the source's pages following `next` links up to `max_pages`; relative
    dates on them ("2 hours ago") are read against `now`. The engine is told a crawl
    starts (`new_crawl`) before the first page is extracted, so a crawl whose first
    page does not arrive does not age the engine's memos.

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
        if len(pages) == 1:
            engine.new_crawl()
        extract = engine.extract(page.text, page.url, now=now)
        for listing in extract.listings:
            listings.setdefault(listing.id, listing)
        url = extract.next_url if extract.next_url not in visited else None
    return tuple(pages), tuple(listings.values()), truncated


def judge(
    pages: Sequence[Page], truncated: bool, *, verify: bool = False
) -> tuple[CrawlOutcome, str | None]:
    """The crawl's outcome from its pages.

    complete: every page fetched OK and pagination ended by itself -- or, for a
    source whose absences are verified on the listing's own page (`verify`), ended
    at `max_pages`: there a thread that fell off the crawled pages is checked, never
    deleted for its absence alone. partial: some pages OK, then a failure, a block
    page or (count mode) the `max_pages` limit. blocked: the first page was a block
    page. failed: nothing usable was fetched.
    """
    bad = next((p for p in pages if p.outcome is not PageOutcome.OK), None)
    if bad is None:
        if truncated and not verify:
            return CrawlOutcome.PARTIAL, "stopped at max_pages with more pages left"
        return CrawlOutcome.COMPLETE, None
    error = f"{bad.url}: {bad.error or bad.reason}"
    if bad is pages[0]:
        if bad.outcome is PageOutcome.BLOCKED:
            return CrawlOutcome.BLOCKED, error
        return CrawlOutcome.FAILED, error
    return CrawlOutcome.PARTIAL, error


ReadThread = Callable[[str, str], Listing | None]


def thread_reader(source: Source, rates: Mapping[str, float] | None = None) -> ReadThread | None:
    """`read_thread` for `source` (None for JSON feeds, which have no listing pages).

    Title, seller and posting time come from the listing's own page; price and
    record count are parsed from that title, as on the list page, so that a revisit
    does not report the first post's other numbers as edits; only a price or count
    the post labels ("Price: $500", `post_price`; "Records: 1.2M", `post_records`)
    stands in for a title without one. The first post's text gives the evidence
    fields (first post, data types, size, span, country).
    """
    if source.engine == "json":
        return None

    def read(html: str, url: str) -> Listing | None:
        page = extract_thread(html, url, source, rates=rates)
        if page.gone or not (page.title or page.first_post):
            return None
        head = parse_text(page.title or "", rates)
        body = page.parsed
        return Listing(
            source=source.name,
            external_id="",
            url=url,
            title=page.title or "",
            seller=page.seller,
            price=head.price or post_price(page.first_post or "", rates),
            records=head.records or post_records(page.first_post or ""),
            posted_at=page.posted_at,
            posted_raw=page.posted_raw,
            data_types=tuple(dict.fromkeys(head.data_types + body.data_types)),
            size_bytes=head.size_bytes if head.size_bytes is not None else body.size_bytes,
            span=head.span or body.span,
            country=head.country or body.country,
            first_post=page.first_post,
        )

    return read


async def verify_listings(
    plan: Sequence[StoredListing],
    fetcher: PageFetcher,
    *,
    seen_before: set[str],
    keep_html: bool,
    clock: Callable[[], datetime],
    read_thread: ReadThread | None = None,
) -> tuple[tuple[Verification, ...], tuple[PageSnapshot, ...]]:
    """Fetch each planned listing's own page and judge it (`verify.verify_page`).

    `read_thread(html, url)` re-reads the listing's fields from its own page (None:
    not a readable listing page). Keeps the page's HTML when `keep_html`.
    """
    checks: list[Verification] = []
    kept: list[PageSnapshot] = []
    for stored in plan:
        page = await fetcher.get(stored.listing.url)
        at = clock()
        parsed: Listing | None = None
        if page.outcome is PageOutcome.OK and read_thread is not None:
            try:
                parsed = read_thread(page.text, page.url)
            except ExtractError:
                parsed = None
        check = verify_page(
            page,
            stored.listing,
            at,
            parsed=parsed,
            seen_before=stored.id in seen_before,
            deleted=stored.state is ListingState.DELETED,
        )
        checks.append(check)
        if keep_html and page.outcome is PageOutcome.OK and page.text:
            kept.append(PageSnapshot(stored.id, page.url, at, page.status, page.text))
    return tuple(checks), tuple(kept)


def evidence_due(
    listings: Sequence[Listing],
    known: Mapping[str, StoredListing],
    *,
    keep_html: bool,
    read_thread: ReadThread | None,
) -> list[Listing]:
    """The listings whose own page `collect_evidence` wants: new or changed ones,
    when their HTML is kept or their page can be read (else none)."""
    if not keep_html and read_thread is None:
        return []
    return [li for li in listings if li.id not in known or _changed(known[li.id].listing, li)]


def _changed(old: Listing, new: Listing) -> bool:
    """A tracked field of `new`, a list page's row, differs from `old` once what
    `old`'s first post states is counted in (`keep_evidence`)."""
    return bool(field_changes(old, new)) and bool(field_changes(old, keep_evidence(old, new)))


def rereads_due(
    listings: Sequence[Listing],
    known: Mapping[str, StoredListing],
    wanted: Sequence[Listing],
    due: Callable[[Listing], bool],
) -> list[Listing]:
    """The listings of this crawl, active and unchanged, whose post `due` says to
    read again (`absence.reread_due` live; a saved page in a replay)."""
    skip = {li.id for li in wanted}
    return [
        li
        for li in listings
        if li.id in known
        and li.id not in skip
        and known[li.id].state is ListingState.ACTIVE
        and due(li)
    ]


async def collect_evidence(
    listings: Sequence[Listing],
    known: Mapping[str, StoredListing],
    fetcher: PageFetcher,
    *,
    budget: int,
    keep_html: bool,
    clock: Callable[[], datetime],
    read_thread: ReadThread | None = None,
    rereads: Sequence[Listing] = (),
) -> tuple[tuple[Listing, ...], tuple[PageSnapshot, ...]]:
    """At first sight and on change, then for `rereads` (known listings whose post is
    read again for edits the list does not show), fetch up to `budget` listings' own
    pages: keep their HTML (`keep_html`; a re-read's only when the post changed) and
    take the evidence fields (first post, size, span, data types, country, a labelled
    price or count) `read_thread` finds there. Returns every listing (enriched where
    read) and the pages to keep. Does nothing unless one of the two is on."""
    due = evidence_due(listings, known, keep_html=keep_html, read_thread=read_thread)
    again = {li.id for li in rereads} if read_thread is not None else set()
    due = (due + [li for li in rereads if li.id in again])[:budget]
    enriched: dict[str, Listing] = {}
    kept: list[PageSnapshot] = []
    for listing in due:
        page = await fetcher.get(listing.url)
        if page.outcome is not PageOutcome.OK:
            continue
        parsed = None
        if read_thread is not None:
            try:
                parsed = read_thread(page.text, page.url)
            except ExtractError:
                parsed = None
            if parsed is not None:
                enriched[listing.id] = keep_evidence(parsed, listing)
        fresh = listing.id not in again or _post_changed(known[listing.id].listing, parsed)
        if keep_html and page.text and fresh:
            kept.append(PageSnapshot(listing.id, page.url, clock(), page.status, page.text))
    return tuple(enriched.get(li.id, li) for li in listings), tuple(kept)


def _post_changed(old: Listing, parsed: Listing | None) -> bool:
    return parsed is not None and parsed.first_post != old.first_post


async def crawl_source(
    source: Source,
    fetcher: PageFetcher,
    engine: Engine,
    store: Store,
    rules: Sequence[Rule],
    targets: Sequence[NotifyTarget],
    *,
    clock: Callable[[], datetime] = utcnow,
    keep_html: bool = False,
    read_thread: ReadThread | None = None,
    ops: OpsSettings = NO_OPS,
    page_budget: int | None = None,
    reread: Callable[[Listing], bool] | None = None,
) -> CrawlReport:
    """Crawl one source, verify the listings that vanished (their own pages, through
    the same fetcher), and write everything in one transaction. `keep_html` keeps
    the HTML of fetched listing pages; `read_thread` see `verify_listings`; `ops`
    routes source-health events (down, recovered, layout changed) to its target;
    `page_budget` bounds the listing pages fetched (default `source.page_budget`):
    listings that just vanished, first-sight evidence, then still-missing listings
    and aged-out revisits, last re-checks of deleted listings inside their
    `restore_window` (`lifecycle.plan_verifications`), and with what is left the
    posts of active listings read again (`reread(listing)`, default
    `absence.reread_due`: about once per `reread_every`). Revisits and re-checks still
    waiting past their grace are logged as warnings and reported in
    `CrawlReport.backlog` and `CrawlReport.restores`."""
    budget = source.page_budget if page_budget is None else page_budget
    t0 = time.perf_counter()
    started = clock()
    try:
        pages, listings, truncated = await fetch_listings(source, fetcher, engine, started)
        outcome, error = judge(pages, truncated, verify=absence_mode(source) == "verify")
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
    try:
        known = store.known_listings(source.name)
        listings = follow_moves(listings, known)  # ids with an address from before a move
        crawl = replace(crawl, listings=listings)
        previous = store.recent_complete_counts(source.name)
        wanted = evidence_due(listings, known, keep_html=keep_html, read_thread=read_thread)
        watched = [s.id for s in known.values() if restore_watched(s, source, crawl.finished)]
        last_checks = store.last_checks(watched) if watched else {}
        layout_pending = store.layout_pending(source.name)
        plan = plan_verifications(
            crawl,
            known,
            source,
            previous_complete=previous,
            limit=budget,
            reserve=len(wanted),
            last_checks=last_checks,
            layout_pending=layout_pending,
        )
        checks: tuple[Verification, ...] = ()
        kept: tuple[PageSnapshot, ...] = ()
        if plan:
            checks, kept = await verify_listings(
                plan,
                fetcher,
                read_thread=read_thread,
                seen_before=store.seen_pages(s.id for s in plan),
                keep_html=keep_html,
                clock=clock,
            )
        again = reread or (lambda li: reread_due(li.id, source, crawl.finished))
        listings, first_sight = await collect_evidence(
            listings,
            known,
            fetcher,
            budget=max(0, budget - len(plan)),
            keep_html=keep_html,
            read_thread=read_thread,
            clock=clock,
            rereads=rereads_due(listings, known, wanted, again) if read_thread else (),
        )
        kept += first_sight
        if plan or keep_html or read_thread is not None:  # pages fetched after the list
            crawl = replace(crawl, listings=listings, finished=max(crawl.finished, clock()))
        unknown = [li for li in listings if li.id not in known]
        diff = diff_crawl(
            crawl,
            known,
            source,
            previous_complete=previous,
            repost_candidates=store.repost_candidates(
                unknown, fingerprints=[fingerprint(li) for li in unknown]
            ),
            first_complete=not store.has_complete_crawl(source.name),
            verifications={c.listing_id: c for c in checks},
            layout_pending=layout_pending,
        )
        # What is left waiting once this crawl is written, as `leakmon status` reads it.
        after = {**known, **{s.id: s for s in diff.writes}}.values()
        checked = {**last_checks, **{c.listing_id: c.at for c in checks}}
        backlog = revisit_backlog(after, source, crawl.finished)
        restores = restore_backlog(after, source, crawl.finished, checked)
        health = source_events(crawl, store.failure_streak(source.name), ops.down_after)
        if health:
            diff = replace(diff, events=diff.events + health)
        alerts = ops_alerts(diff.events, ops.target, crawl.finished)
        if not diff.baseline:
            by_id = {sl.id: sl.listing for sl in known.values()}
            by_id.update({sl.id: sl.listing for sl in diff.writes})
            alerts += alerts_for(diff.events, by_id, rules, targets, crawl.finished)
        store.apply(diff, alerts, verifications=checks, pages=kept)
        report = CrawlReport(
            diff.crawl, diff, alerts, pages, time.perf_counter() - t0, checks, backlog, restores
        )
    except Exception as exc:  # a bug in a stage, not a page failure
        _record_internal_error(store, crawl, exc)
        raise
    if log.isEnabledFor(logging.INFO):  # the summary is built only to be logged
        log.info("%s", report.summary())
    if backlog.overdue:
        log.warning(
            "%s: %d of %d aged-out revisits overdue (the oldest by %.1f h): raise "
            "page_budget or revisit_budget, or revisit_max",
            source.name,
            backlog.overdue,
            backlog.aged_out,
            backlog.worst_late / 3600,
        )
    if restores.overdue:
        log.warning(
            "%s: %d of %d re-checks of deleted listings overdue (the oldest by %.1f h): "
            "raise page_budget or revisit_budget",
            source.name,
            restores.overdue,
            restores.watched,
            restores.worst_late / 3600,
        )
    return report


def _record_internal_error(store: Store, crawl: Crawl, exc: Exception) -> None:
    """Write `crawl` as a failed crawl with the error (nothing inferred, nothing
    alerted), so that `leakmon status` and the crawls table show that a source is not
    being crawled; never raises (a store that cannot write is logged)."""
    error = f"internal error: {type(exc).__name__}: {one_line(str(exc))}"[:500]
    failed = replace(crawl, outcome=CrawlOutcome.FAILED, listings=(), error=error)
    empty = CrawlDiff(crawl=failed, writes=(), touched=(), changes={}, events=())
    try:
        store.apply(empty, ())
    except Exception as second:  # the first error is the one raised
        log.error("%s: could not record the failed crawl: %s", crawl.source, one_line(str(second)))


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
