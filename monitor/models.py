"""Typed values that cross module boundaries. Imports nothing from the project.

All datetimes are timezone-aware UTC. All dataclasses are frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class PageOutcome(StrEnum):
    """What fetching one page gave."""

    OK = "ok"
    BLOCKED = "blocked"
    FAILED = "failed"


class CrawlOutcome(StrEnum):
    """How a whole crawl of one source went; only COMPLETE may infer absence."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    BLOCKED = "blocked"
    FAILED = "failed"


class ListingState(StrEnum):
    ACTIVE = "active"
    MISSING = "missing"
    AGED_OUT = "aged_out"
    DELETED = "deleted"


class EventKind(StrEnum):
    """Kinds of stored events. PRICE_DROP is never stored on its own: it names, for
    rules, a CHANGED event whose details carry ``price_drop: true``."""

    NEW = "new"
    CHANGED = "changed"
    PRICE_DROP = "price_drop"
    DELETED = "deleted"
    RESTORED = "restored"
    REPOSTED = "reposted"
    SOURCE_DOWN = "source_down"
    SOURCE_RECOVERED = "source_recovered"
    LAYOUT_CHANGED = "layout_changed"
    LAYOUT_SETTLED = "layout_settled"  # a redesign's new ids hold: the episode ends
    SUPERSEDED = "superseded"  # a listing continues under a new id after a redesign


class SourceState(StrEnum):
    OK = "ok"
    FAILING = "failing"
    BLOCKED = "blocked"
    LAYOUT_CHANGED = "layout_changed"


class AlertStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# --------------------------------------------------------------------- config


@dataclass(frozen=True)
class Selectors:
    """CSS selectors of the `css` engine; all but `item` are relative to an item.

    A selector may end in ``@attr`` to read an attribute instead of the text
    (``a.subject@href``). `id` falls back to the url; `id_pattern` is a regex whose
    first group extracts the site's own id from the id text (``tid=(\\d+)``).
    `next` is evaluated on the whole page and yields the next page's link.
    """

    item: str
    title: str
    url: str
    id: str | None = None
    id_pattern: str | None = None
    seller: str | None = None
    price: str | None = None
    records: str | None = None
    posted: str | None = None
    next: str | None = None


@dataclass(frozen=True)
class Source:
    """One watched site section, as configured."""

    name: str
    url: str
    engine: str
    every: float  # seconds between crawls
    selectors: Selectors | None = None  # the css engine's full selector set
    # engine profiles (mybb, xenforo, ...): selector keys overriding the profile's
    overrides: Mapping[str, str] = field(default_factory=dict)
    max_pages: int = 5
    missing_after: int = 1  # count mode: complete crawls without a listing before it is gone
    absence: str = "auto"  # auto | verify (fetch the thread page) | count (missing_after)
    revisit_every: float | None = None  # seconds: shortest interval between revisits
    revisit_max: float | None = None  # seconds: longest interval between revisits
    page_budget: int = 20  # own pages (verifications, revisits, evidence) per crawl
    revisit_budget: int | None = None  # revisits per crawl at most (None: what is left)
    restore_window: float | None = None  # seconds a deleted listing's page is re-checked (0: off)
    reread_every: float | None = None  # seconds: an active listing's post read again (0: off)
    allow_clearnet: bool = False
    onion_redirects: bool = False  # a redirect may lead to another .onion host (a mirror)
    baseline_alerts: bool = False  # alert on the first complete crawl too
    enabled: bool = True
    timeout: float = 60.0  # total seconds per page
    max_bytes: int = 5_000_000  # decoded bytes per page
    min_delay: float = 2.0  # seconds between two requests to the same host
    retries: int = 2  # extra attempts on transport errors and 502/503/504
    skip_sticky: bool = True  # sticky threads and announcements are not listings
    timezone: str | None = None  # IANA name for dates the site shows without one
    active_hours: tuple[int, int] | None = None  # crawl only from..to (minutes of day, UTC)
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    block_markers: tuple[str, ...] = ()
    # engine profiles tried in order on a listing page `engine` reads nothing from
    # (the forum profiles among them on a thread page it finds no post on, too)
    fallback_engines: tuple[str, ...] = ()


@dataclass(frozen=True)
class TorSettings:
    socks: str  # "socks5h://127.0.0.1:9050"
    control: str | None = None  # "127.0.0.1:9051"
    control_password: str | None = None  # None: cookie authentication
    newnym_after: int = 3  # consecutive failed crawls of a source before NEWNYM
    max_concurrency: int = 8  # requests in flight across all sources


@dataclass(frozen=True)
class StorageSettings:
    keep_html: bool = False  # keep a listing page's HTML (compressed) at first sight/change
    keep_events: float | None = None  # seconds; `leakmon prune` drops older events
    keep_crawls: float | None = None  # seconds; `leakmon prune` drops older crawl rows


@dataclass(frozen=True)
class Rule:
    """A keyword rule: which events about which listings raise alerts where."""

    name: str
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # empty: every source
    sellers: tuple[str, ...] = ()  # empty: every seller
    regex: tuple[str, ...] = ()  # at least one must match (case-insensitive, on folded text)
    min_records: int | None = None
    min_price_usd: float | None = None  # listings without a USD estimate never match
    data_types: tuple[str, ...] = ()  # at least one of the listing's data types
    countries: tuple[str, ...] = ()  # ISO alpha-2; the listing's country hint must be one
    first_post: bool = False  # keywords also match the thread's first post text
    events: tuple[EventKind, ...] = (
        EventKind.NEW,
        EventKind.CHANGED,
        EventKind.DELETED,
        EventKind.RESTORED,
        EventKind.REPOSTED,
    )
    severity: str = "medium"
    targets: tuple[str, ...] = ()  # empty: every target


@dataclass(frozen=True)
class NotifyTarget:
    name: str
    url: str  # apprise URL, secrets already substituted; never log it
    format: str = "text"  # text | markdown | html | slack
    defang: bool = True  # hxxp://example[.]onion in alerts, as TI reports write links
    proxy: str | None = None  # socks5h://127.0.0.1:9050: HTTP-based targets go through Tor
    digest: float | None = None  # seconds: collect alerts into one message this often
    rate_limit: int | None = None  # messages per hour; the overflow goes into one digest
    min_severity: str = "low"  # low | medium | high | critical


@dataclass(frozen=True)
class OpsSettings:
    """[ops]: where source-health notices go (down, session expired, layout, recovered)."""

    target: str | None = None  # a [[notify]] name; None: no ops notices
    down_after: int = 3  # failed or blocked crawls in a row before "source down"


@dataclass(frozen=True)
class Config:
    tor: TorSettings
    db_path: Path | None
    sources: tuple[Source, ...]
    rules: tuple[Rule, ...] = ()
    targets: tuple[NotifyTarget, ...] = ()
    path: Path | None = None
    storage: StorageSettings = field(default_factory=StorageSettings)
    rates: Mapping[str, float] = field(default_factory=dict)  # USD per unit: {"BTC": 60000}
    ops: OpsSettings = field(default_factory=OpsSettings)

    def source(self, name: str) -> Source:
        for src in self.sources:
            if src.name == name:
                return src
        raise KeyError(name)


# -------------------------------------------------------------- crawled data


@dataclass(frozen=True)
class Price:
    amount: float | None
    currency: str | None  # ISO code or crypto ticker: USD, EUR, BTC, XMR
    raw: str
    usd: float | None = None
    negotiable: bool = False
    kind: str = "ask"  # ask | start | step | blitz | alternative


@dataclass(frozen=True)
class PriceFloor:
    """A lower bound on the asking price (`leakmon listings --min-price`): `amount`
    in `currency`; `usd`, the bound in US dollars when it is known (always for USD,
    else from the configured [rates]), also admits listings priced in other
    currencies through their USD estimate."""

    amount: float
    currency: str
    usd: float | None = None


@dataclass(frozen=True)
class Records:
    count: int
    raw: str


@dataclass(frozen=True)
class Page:
    """One fetched page. `text` is decoded; empty when the fetch failed."""

    url: str
    outcome: PageOutcome
    status: int | None = None
    text: str = ""
    wire_bytes: int = 0
    reason: str | None = None  # FetchError.reason when not OK
    error: str | None = None  # one-line, sanitised


@dataclass(frozen=True)
class Listing:
    """One listing as extracted from a page (no lifecycle state)."""

    source: str
    external_id: str
    url: str
    title: str
    seller: str | None = None
    price: Price | None = None
    records: Records | None = None
    posted_at: datetime | None = None
    posted_raw: str | None = None
    data_types: tuple[str, ...] = ()  # canonical: names, emails, phones, national_ids, ...
    size_bytes: int | None = None  # size of the dump, when the seller states it
    span: tuple[int, int] | None = None  # years the data covers, e.g. (1995, 2019)
    country: str | None = None  # ISO 3166 alpha-2 hint from the title
    replies: int | None = None
    views: int | None = None
    sticky: bool = False
    first_post: str | None = None  # the thread's first post text, capped, when fetched

    @property
    def id(self) -> str:
        return f"{self.source}:{self.external_id}"


@dataclass(frozen=True)
class PageExtract:
    listings: tuple[Listing, ...]
    next_url: str | None = None


@dataclass(frozen=True)
class Crawl:
    """One crawl of one source: its pages' verdict and every listing seen."""

    id: str
    source: str
    started: datetime
    finished: datetime
    outcome: CrawlOutcome
    pages: int
    wire_bytes: int
    listings: tuple[Listing, ...]
    error: str | None = None


@dataclass(frozen=True)
class RevisitBacklog:
    """Aged-out listings of one source and how far their revisits are behind."""

    aged_out: int = 0
    due: int = 0  # revisit due now
    overdue: int = 0  # due for longer than the source's grace (`absence.revisit_grace`)
    worst_late: float = 0.0  # seconds the most overdue revisit is past due (0: none due)


@dataclass(frozen=True)
class SourceMove:
    """A configured source now at another origin (`monitor.moves`): its stored
    listing urls on the old one (`listings` of them) were moved to the new one."""

    source: str
    before: str  # scheme://host of the stored url
    after: str  # scheme://host of the configured url
    listings: int


@dataclass(frozen=True)
class RestoreBacklog:
    """Deleted listings of one source inside their restore window and how far their
    own-page re-checks (`absence.restore_at`) are behind."""

    watched: int = 0  # deleted listings inside their `restore_window`
    due: int = 0  # re-check due now
    overdue: int = 0  # due for longer than the source's grace (`absence.revisit_grace`)
    worst_late: float = 0.0  # seconds the most overdue re-check is past due (0: none due)


LEFT_BEHIND = ""  # `StoredListing.superseded_by` of a listing a redesign left with no successor


@dataclass(frozen=True)
class StoredListing:
    """A listing as the store knows it: last field values plus lifecycle state."""

    listing: Listing
    state: ListingState
    first_seen: datetime
    last_seen: datetime
    missing_streak: int = 0
    deleted_at: datetime | None = None
    fingerprint: str | None = None
    cluster: str | None = None
    # the listing that continues this one under a new id after a redesign renamed
    # the source's listings (lifecycle rule 2), or LEFT_BEHIND when none was seen:
    # either way no longer checked on its own page
    superseded_by: str | None = None

    @property
    def id(self) -> str:
        return self.listing.id


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Event:
    """Something that happened to a listing or a source. `id` is made by lifecycle."""

    id: str
    kind: EventKind
    source: str
    crawl_id: str
    at: datetime
    listing_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CrawlDiff:
    """What lifecycle decided about one crawl; the store writes it atomically.

    `writes` are listings whose row must be inserted or rewritten; `touched` are
    ids seen unchanged (only `last_seen` moves); `changes` maps a listing id to
    its field changes (one observation row each); `joins` are (cluster, into)
    pairs: every listing of the first dataset cluster joins the second (a
    redesign's successor joins the dataset of the listing it continues).
    """

    crawl: Crawl
    writes: tuple[StoredListing, ...]
    touched: tuple[str, ...]
    changes: Mapping[str, tuple[FieldChange, ...]]
    events: tuple[Event, ...]
    baseline: bool = False  # first complete crawl of the source: no alerts
    layout_suspected: bool = False  # an implausible complete crawl (event or not)
    joins: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Alert:
    """One (event, rule, target) notification in the outbox."""

    id: str
    event_id: str
    rule: str
    target: str
    severity: str
    title: str
    body: str
    created: datetime
    status: AlertStatus = AlertStatus.PENDING
    attempts: int = 0
    next_attempt: datetime | None = None
    last_error: str | None = None


# ------------------------------------------------------------- verification


class Verdict(StrEnum):
    """What a listing's own page says: GONE deletes, PRESENT ages out, UNKNOWN waits."""

    GONE = "gone"
    PRESENT = "present"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verification:
    """One fetch of a listing's own page and its verdict (see `monitor.verify`).

    `listing` carries fields re-read from the page when the engine can parse it.
    """

    listing_id: str
    url: str
    at: datetime
    verdict: Verdict
    reason: str  # "http 404", "phrase: ...", "blocked:captcha", "title present", ...
    status: int | None = None
    listing: Listing | None = None


@dataclass(frozen=True)
class PageSnapshot:
    """The raw HTML of a listing's own page, kept as evidence when `keep_html` is on."""

    listing_id: str
    url: str
    at: datetime
    status: int | None
    html: str
