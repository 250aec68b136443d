"""The demo world: the scripted ChinaDan story, step by step. Pure, no I/O.

A `World` holds the current step; `World.respond(host, target)` answers what the
fixture forum (`FORUM_HOST`) or leak shop (`SHOP_HOST`) would serve at that step.
Which threads and products exist, and how they read, is a function of the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from monitor.demo.sites import (
    FORUM_HOST,
    NOT_FOUND_PAGE,
    SHOP_HOST,
    Product,
    Thread,
    forum_page,
    mybb_error,
    product_page,
    shop_page,
    thread_page,
)
from monitor.models import EventKind

__all__ = [
    "FORUM_HOST",
    "FORUM_SOURCE",
    "SHOP_HOST",
    "SHOP_SOURCE",
    "STORY",
    "Expect",
    "Response",
    "Step",
    "World",
    "respond",
    "routes",
]

FORUM_SOURCE = "darkforum"  # the source names in demo/sources.toml
SHOP_SOURCE = "leakshop"
STORY_START = datetime(2022, 6, 30, 8, 0, tzinfo=UTC)  # story clock: one hour per step


def routes(server_port: int) -> dict[str, tuple[str, int]]:
    """`SocksRelay.routes` for the demo: both onion names -> the DemoServer on loopback."""
    return {host: ("127.0.0.1", server_port) for host in (FORUM_HOST, SHOP_HOST)}


@dataclass(frozen=True)
class Expect:
    """An event the story should make leakmon emit during a step."""

    kind: EventKind
    source: str
    external_id: str


@dataclass(frozen=True)
class Step:
    narration: str  # one line for the demo to print
    expect: tuple[Expect, ...] = ()


STORY: tuple[Step, ...] = (
    Step("Baseline: 6 threads on the forum's Databases section, 3 products on the shop."),
    Step(
        "ChinaDan posts '[SELLING] Shanghai police database - 1 billion records - 10 BTC'; "
        "cargo_cult posts an ordinary thread.",
        (
            Expect(EventKind.NEW, FORUM_SOURCE, "1042"),
            Expect(EventKind.NEW, FORUM_SOURCE, "1041"),
        ),
    ),
    Step(
        "ChinaDan drops the price to 8 BTC.",
        (Expect(EventKind.CHANGED, FORUM_SOURCE, "1042"),),
    ),
    Step(
        "ChinaDan deletes the thread; its page now says 'The specified thread does not exist.'",
        (Expect(EventKind.DELETED, FORUM_SOURCE, "1042"),),
    ),
    Step(
        "dataking reposts the same dataset on the leak shop for $200,000.",
        (Expect(EventKind.REPOSTED, SHOP_SOURCE, "342"),),
    ),
    Step("Quiet: nothing changes."),
)


def _clock(minutes: int) -> datetime:
    return STORY_START + timedelta(minutes=minutes)


@dataclass(frozen=True)
class _Script:
    """One thread's life; times are minutes after STORY_START (negative: before)."""

    tid: int
    titles: Mapping[int, str]  # step -> title from that step on (edits)
    seller: str
    uid: int
    posted: int
    body: str
    replies: int = 0
    views: int = 100
    bumps: tuple[int, ...] = ()  # minutes at which someone replied
    color: str | None = None
    appears: int = 0
    deleted: int | None = None
    sticky: bool = False

    def at(self, step: int) -> Thread | None:
        """The thread as shown at `step`; None before it is posted or once deleted."""
        if step < self.appears or (self.deleted is not None and step >= self.deleted):
            return None
        replies = [b for b in self.bumps if b <= step * 60]
        poster = _POSTERS[(self.tid + len(replies)) % len(_POSTERS)] if replies else self.seller
        return Thread(
            tid=self.tid,
            title=self.titles[max(s for s in self.titles if s <= step)],
            seller=self.seller,
            uid=self.uid,
            posted=_clock(self.posted),
            last_post=_clock(replies[-1] if replies else self.posted),
            last_poster=poster,
            replies=self.replies + len(replies),
            views=self.views + 37 * step,
            body=self.body,
            color=self.color,
            sticky=self.sticky,
        )


_POSTERS = ("xor_eax", "ghost404", "b1n", "lurker", "deadbeef")
# fmt: off
_THREADS: tuple[_Script, ...] = (
    _Script(3, {0: "Forum rules - read before posting"}, "Admin", 1, -400_000,
            "No scams. Escrow for anything over $500. Post samples, never full dumps.",
            views=48_211, color="#ff3333", sticky=True),
    _Script(1001, {0: "Acme Telecom customers 2.3M rows - $1,500"}, "n0body", 311, -4_300,
            "Acme Telecom customer table, 2.3M rows: name, msisdn, plan, address. $1,500.",
            replies=7, views=1_204, bumps=(-300, 70, 190)),
    _Script(1007, {0: "Fiction Airlines PNR 480k - 0.05 BTC"}, "skyhigh", 402, -2_900,
            "Fiction Airlines bookings, 480k PNR records with passport numbers. 0.05 BTC.",
            replies=12, views=2_310, bumps=(-120, 130), color="#ff66ff"),
    _Script(1013, {0: "Globex Insurance claims DB 750k records - $2,000"}, "ledgerlord", 515,
            -1_500, "Globex claims database, 750,000 records, 2018-2021. $2,000 firm.",
            replies=3, views=640, bumps=(-45,)),
    _Script(1019, {0: "Initech HR portal employees 38k - 0.02 BTC"}, "m4rv", 77, -5_100,
            "Initech HR export: 38k employees, salaries and SSNs. 0.02 BTC.",
            replies=5, views=880, bumps=(-600, 250)),
    _Script(1024, {0: "Umbrella Pharma patients 1.1M - $3,500"}, "medic", 623, -800,
            "Umbrella Pharma patient records, 1.1M rows, diagnoses included. $3,500.",
            replies=2, views=410, bumps=(-20,), color="#00aaff"),
    _Script(1030, {0: "Stark Retail loyalty members 5.6M - 0.3 BTC"}, "k0ala", 688, -150,
            "Stark Retail loyalty programme, 5.6M members with emails and hashes. 0.3 BTC.",
            views=95),
    _Script(1041, {1: "Wayne Logistics shipments 900k - $1,200"}, "cargo_cult", 702, 35,
            "Wayne Logistics shipment records, 900k rows with consignee addresses. $1,200.",
            views=40, bumps=(160,), appears=1),
    _Script(1042, {1: "[SELLING] Shanghai police database - 1 billion records - 10 BTC",
                   2: "[SELLING] Shanghai police database - 1 billion records - 8 BTC"},
            "ChinaDan", 731, 50,
            "Shanghai police database, 1995-2019, about 1 billion records: names, ID numbers, "
            "phones, addresses, case records. 23 TB. Price in the title, BTC only, PM me.",
            views=310, bumps=(95,), appears=1, deleted=3),
)

_PRODUCTS: tuple[tuple[int, Product], ...] = (  # (step it appears, product), newest first
    (4, Product(342, "shanghai-police-database-1000000000-records",
                "Shanghai Police Database 1,000,000,000 records (1995-2019)", "200,000",
                "dataking", "Shanghai police dataset, 1995-2019: names, ID numbers, phones, "
                "addresses, case records. 1,000,000,000 records.")),
    (0, Product(325, "umbrella-pharma-patient-records", "Umbrella Pharma patient records 1.1M",
                "3,500", "medic", "1.1M patient rows with diagnoses and insurer ids.")),
    (0, Product(318, "globex-insurance-claims", "Globex Insurance claims 750k", "2,000",
                "vaultboy", "750,000 claims, 2018-2021, with policy holder contact details.")),
    (0, Product(311, "acme-telecom-subscribers", "Acme Telecom subscribers 2.3M records",
                "4,500", "dataking", "2.3M subscriber rows: name, msisdn, plan, billing address.")),
)
# fmt: on


def _threads(step: int, *, sticky: bool) -> list[Thread]:
    """Threads shown at `step`, most recent activity first (MyBB's default order)."""
    shown = [t for s in _THREADS if s.sticky == sticky and (t := s.at(step)) is not None]
    return sorted(shown, key=lambda t: t.last_post, reverse=True)


def _products(step: int) -> list[Product]:
    return [p for appears, p in _PRODUCTS if appears <= step]


@dataclass(frozen=True)
class Response:
    """An HTML answer; the server adds the HTTP framing."""

    status: int
    body: str


def respond(step: int, host: str, target: str) -> Response:
    """What the site named by `host` answers to `GET target` at `step`."""
    parts = urlsplit(target)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    host = host.lower().rstrip(".")
    now = _clock(step * 60)
    if host == FORUM_HOST:
        if parts.path == "/forumdisplay.php":
            if query.get("fid") != "2":
                return Response(200, mybb_error("Invalid forum"))
            page = _int(query.get("page"))
            sticky = _threads(step, sticky=True)
            return Response(200, forum_page(_threads(step, sticky=False), sticky, page, now))
        if parts.path == "/showthread.php":
            tid = _int(query.get("tid"))
            found = [t for s in _THREADS if s.tid == tid and (t := s.at(step)) is not None]
            return Response(200, thread_page(found[0] if found else None, now))
    elif host == SHOP_HOST:
        if parts.path == "/shop/":
            return Response(200, shop_page(_products(step)))
        for p in _products(step):
            if parts.path == p.path:
                return Response(200, product_page(p))
    return Response(404, NOT_FOUND_PAGE)


def _int(value: str | None) -> int:
    return int(value) if value is not None and value.isdigit() else 0


class World:
    """The story's current step; `respond` serves the two sites as they are now."""

    def __init__(self, step: int = 0) -> None:
        if not 0 <= step < len(STORY):
            raise ValueError(f"step must be in 0..{len(STORY) - 1}, got {step}")
        self._step = step

    @property
    def step(self) -> int:
        return self._step

    @property
    def steps(self) -> int:
        return len(STORY)

    @property
    def current(self) -> Step:
        return STORY[self._step]

    @property
    def narration(self) -> str:
        return STORY[self._step].narration

    def advance(self) -> int:
        """Move to the next step and return it; ValueError past the last step."""
        if self._step + 1 >= len(STORY):
            raise ValueError("the story is over")
        self._step += 1
        return self._step

    def respond(self, host: str, target: str) -> Response:
        return respond(self._step, host, target)

    def routes(self, server_port: int) -> dict[str, tuple[str, int]]:
        """`SocksRelay.routes` wiring both onion names to the DemoServer at `server_port`."""
        return routes(server_port)
