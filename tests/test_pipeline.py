"""The pipeline end to end: real SOCKS relay, real fixture servers, real SQLite file."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config
from monitor.demo import STORY, DemoServer, SocksRelay, World
from monitor.extract import ENGINES, get_engine
from monitor.models import (
    Config,
    CrawlOutcome,
    EventKind,
    Page,
    PageOutcome,
    Source,
    TorSettings,
)
from monitor.notify import DispatchReport
from monitor.pipeline import CrawlReport, crawl_source, fetch_listings, judge
from monitor.runtime import crawl_cycle
from monitor.store import Store


def demo_config(socks: str) -> Config:
    with resources.as_file(resources.files("monitor.demo").joinpath("sources.toml")) as path:
        config = load_config(Path(path), engines=ENGINES)
    return replace(config, tor=TorSettings(socks=socks))


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, target: Any, alert: Any) -> None:
        self.sent.append((target.name, alert.title))


@pytest.fixture
def no_onion_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything resolves a .onion name locally."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str | bytes) and str(host).rstrip(".'").endswith(".onion"):
            raise AssertionError(f"local DNS lookup of {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def run_story(tmp_path: Path) -> tuple[list[list[Any]], list[DispatchReport], SocksRelay, Path]:
    """Run every story step through the real stack; return each step's events."""
    steps: list[list[Any]] = []
    dispatched: list[DispatchReport] = []

    async def go() -> SocksRelay:
        world = World()
        async with DemoServer(world) as server, SocksRelay(world.routes(server.port)) as relay:
            config = demo_config(f"socks5h://127.0.0.1:{relay.port}")
            engines = {s.name: get_engine(s) for s in config.sources}
            with Store.open(tmp_path / "leakmon.db") as store:
                store.sync_sources(config.sources)
                for step in range(world.steps):
                    reports, sent = await crawl_cycle(
                        config, store, config.sources, engines, RecordingSender()
                    )
                    dispatched.append(sent)
                    events = []
                    for report in reports:
                        assert isinstance(report, CrawlReport), report
                        assert report.crawl.outcome is CrawlOutcome.COMPLETE
                        events.extend(report.diff.events)
                    steps.append(events)
                    if step + 1 < world.steps:
                        world.advance()
            return relay

    relay = asyncio.run(go())
    return steps, dispatched, relay, tmp_path / "leakmon.db"


def test_story_end_to_end_through_the_relay(tmp_path: Path, no_onion_dns: None) -> None:
    steps, dispatched, relay, db = run_story(tmp_path)
    for step, (events, expected) in enumerate(zip(steps, STORY, strict=True)):
        got = {(e.kind, e.listing_id) for e in events}
        want = {(x.kind, f"{x.source}:{x.external_id}") for x in expected.expect}
        assert got == want, f"step {step}: {got} != {want}"
    # the rule matches ChinaDan's listing and the repost: new, changed, deleted, reposted
    assert [d.sent for d in dispatched] == [0, 1, 1, 1, 1, 0]
    # every request reached the relay as an unresolved onion name, one username per source
    assert relay.requests
    assert all(r.host.endswith(".onion") and r.atyp == 3 for r in relay.requests)
    assert {r.username for r in relay.requests} == {"leakmon-darkforum", "leakmon-leakshop"}
    with Store.open(db) as store:
        star = store.listing("darkforum:1042")
        assert star is not None
        assert star["state"] == "deleted"
        assert star["seller"] == "ChinaDan"
        assert star["records"] == 1_000_000_000
        assert star["price_raw"] == "8 BTC"
        history = store.events(listing_id="darkforum:1042")
        assert [e["kind"] for e in history] == ["new", "changed", "deleted"]
        # the forum's deletion was verified on the thread page itself
        assert history[-1]["details"]["how"] == (
            "verified: engine message: the specified thread does not exist"
        )
        changes = {
            o["field"]: (o["before"], o["after"]) for o in store.observations("darkforum:1042")
        }
        assert changes["price"] == ("10 BTC", "8 BTC")
        repost = store.listing("leakshop:342")
        assert repost is not None and repost["cluster"] == star["cluster"]
        # a quiet step wrote crawl rows only
        assert len(store.crawls(limit=100)) == 2 * len(STORY)


class ScriptedFetcher:
    """Pages from a script, for judging crawls without a network."""

    def __init__(self, pages: dict[str, Page]) -> None:
        self.pages = pages

    async def get(self, url: str) -> Page:
        return self.pages[url]


FORUM = "http://" + "f" * 56 + ".onion/"


def forum_page(n: int, titles: Sequence[str], last: bool) -> str:
    rows = "".join(
        f'<tr class="inline_row"><td><span id="tid_{i}"><a href="t?tid={i}">{t} thread about '
        f'databases</a></span><div class="author"><a>seller{i}</a></div></td></tr>'
        for i, t in enumerate(titles, start=10 * n)
    )
    nxt = "" if last else f'<a class="next" href="{FORUM}?page={n + 1}">next</a>'
    return f"<html><body><table>{rows}</table>{nxt}</body></html>"


def ok(url: str, html: str) -> Page:
    return Page(url=url, outcome=PageOutcome.OK, status=200, text=html)


def forum_source() -> Source:
    from monitor.models import Selectors

    return Source(
        name="forum",
        url=FORUM,
        engine="css",
        every=60,
        max_pages=3,
        selectors=Selectors(
            item="tr.inline_row",
            title="span a",
            url="span a@href",
            id_pattern=r"tid=(\d+)",
            seller="div.author a",
            next="a.next@href",
        ),
    )


def crawl_with(store: Store, pages: dict[str, Page]) -> CrawlReport:
    source = forum_source()
    return asyncio.run(
        crawl_source(source, ScriptedFetcher(pages), get_engine(source), store, (), ())
    )


def test_blocked_or_partial_crawl_never_deletes(tmp_path: Path) -> None:
    source = forum_source()
    with Store.open(tmp_path / "db.sqlite") as store:
        store.sync_sources([source])
        full = {
            FORUM: ok(FORUM, forum_page(0, ["a", "b", "c"], last=False)),
            FORUM + "?page=1": ok(FORUM + "?page=1", forum_page(1, ["d", "e", "f"], last=True)),
        }
        assert crawl_with(store, full).crawl.outcome is CrawlOutcome.COMPLETE
        blocked_second = dict(full)
        blocked_second[FORUM + "?page=1"] = Page(
            url=FORUM + "?page=1",
            outcome=PageOutcome.BLOCKED,
            status=200,
            text="captcha",
            reason="blocked:captcha",
        )
        partial = crawl_with(store, blocked_second)
        assert partial.crawl.outcome is CrawlOutcome.PARTIAL
        assert partial.diff.events == ()
        captcha = {FORUM: Page(url=FORUM, outcome=PageOutcome.BLOCKED, reason="blocked:captcha")}
        blocked = crawl_with(store, captcha)
        assert blocked.crawl.outcome is CrawlOutcome.BLOCKED
        assert blocked.diff.events == ()
        assert {r["state"] for r in store.listings()} == {"active"}
        # a complete crawl without page 2's threads does delete them
        first_only = {FORUM: ok(FORUM, forum_page(0, ["a", "b", "c"], last=True))}
        done = crawl_with(store, first_only)
        assert sorted(e.kind for e in done.diff.events) == [EventKind.DELETED] * 3


class Recording:
    """An engine that notes where the pipeline says crawls start."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def new_crawl(self) -> None:
        self.calls.append("new_crawl")
        self.inner.new_crawl()

    def extract(self, html: str, page_url: str, *, now: Any = None) -> Any:
        self.calls.append(page_url)
        return self.inner.extract(html, page_url, now=now)


def test_the_engine_is_told_once_per_crawl_before_its_first_page() -> None:
    source = forum_source()
    engine = Recording(get_engine(source))
    full = {
        FORUM: ok(FORUM, forum_page(0, ["a", "b"], last=False)),
        FORUM + "?page=1": ok(FORUM + "?page=1", forum_page(1, ["c"], last=True)),
    }
    for _ in range(2):
        asyncio.run(fetch_listings(source, ScriptedFetcher(full), engine))
    assert engine.calls == ["new_crawl", FORUM, FORUM + "?page=1"] * 2
    down = {FORUM: Page(url=FORUM, outcome=PageOutcome.BLOCKED, reason="blocked:captcha")}
    asyncio.run(fetch_listings(source, ScriptedFetcher(down), engine))
    assert len(engine.calls) == 6  # no page extracted: the memos do not age


def test_judge() -> None:
    good = ok(FORUM, "x")
    bad = Page(url=FORUM, outcome=PageOutcome.FAILED, reason="timeout", error="slow")
    blocked = Page(url=FORUM, outcome=PageOutcome.BLOCKED, reason="blocked:captcha")
    assert judge([good, good], truncated=False) == (CrawlOutcome.COMPLETE, None)
    assert judge([good], truncated=True)[0] is CrawlOutcome.PARTIAL
    assert judge([good, bad], truncated=False)[0] is CrawlOutcome.PARTIAL
    assert judge([bad], truncated=False)[0] is CrawlOutcome.FAILED
    assert judge([blocked], truncated=False)[0] is CrawlOutcome.BLOCKED


def test_proxy_down_is_a_failed_crawl_not_a_crash(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = demo_config(f"socks5h://127.0.0.1:{port}")

    async def go() -> list[Any]:
        engines = {s.name: get_engine(s) for s in config.sources}
        with Store.open(tmp_path / "db.sqlite") as store:
            store.sync_sources(config.sources)
            reports, _ = await crawl_cycle(
                config, store, config.sources, engines, RecordingSender()
            )
            assert store.listings() == []
            return reports

    reports = asyncio.run(go())
    for report in reports:
        assert isinstance(report, CrawlReport)
        assert report.crawl.outcome is CrawlOutcome.FAILED
        assert report.pages[0].reason == "tor_unavailable"


def test_a_bug_in_a_stage_is_recorded_as_a_failed_crawl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.pipeline as pipeline

    source = forum_source()
    pages = {FORUM: ok(FORUM, forum_page(0, ["a", "b"], last=True))}
    with Store.open(tmp_path / "db.sqlite") as store:
        store.sync_sources([source])
        assert crawl_with(store, pages).crawl.outcome is CrawlOutcome.COMPLETE

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("lifecycle\r\nbug")

        monkeypatch.setattr(pipeline, "diff_crawl", broken)
        with pytest.raises(RuntimeError):
            crawl_with(store, pages)
        latest = store.crawls("forum", limit=1)[0]
        assert latest["outcome"] == "failed"
        assert latest["error"] == "internal error: RuntimeError: lifecycle bug"
        # nothing was inferred from the crawl that broke
        assert {r["state"] for r in store.listings()} == {"active"}
        assert len(store.listings()) == 2
