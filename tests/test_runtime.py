"""runtime: crawl cycles share politeness and ask for NEWNYM when a source keeps failing."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from monitor.errors import TorUnavailable
from monitor.extract import get_engine
from monitor.fetch.torctl import TorControl
from monitor.models import Alert, Config, NotifyTarget, Selectors, TorSettings
from monitor.pipeline import CrawlReport
from monitor.runtime import Newnym, TorRuntime, crawl_cycle
from monitor.store import Store
from tests.test_fetch_live import HOST, OTHER, no_backoff, source, world

__all__ = ["no_backoff"]  # the autouse fixture, imported to apply here too

SELECTORS = Selectors(item="p", title="p", url="p")


class FakeControl(TorControl):
    """Answers newnym() from a script: 0 (sent), a wait (rate-limited) or an error."""

    def __init__(self, answers: list[float | Exception] | None = None) -> None:
        super().__init__("127.0.0.1:9")
        self.answers = list(answers or [])
        self.calls = 0

    def newnym(self) -> float:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else 0.0
        if isinstance(answer, Exception):
            raise answer
        return answer


class NoSender:
    def send(self, target: NotifyTarget, alert: Alert) -> None:
        raise AssertionError("nothing to send")


def test_newnym_once_per_streak_threshold() -> None:
    control = FakeControl()
    policy = Newnym(TorSettings(socks="socks5h://127.0.0.1:9050", newnym_after=3), control)

    async def go() -> list[bool]:
        return [await policy.after_crawls({"a": n, "b": 0}, ["a", "b"]) for n in range(1, 8)]

    assert asyncio.run(go()) == [False, False, True, False, False, True, False]
    assert control.calls == policy.sent == 2


def test_newnym_rate_limited_is_owed_until_sent() -> None:
    control = FakeControl([7.0, 0.0])
    policy = Newnym(TorSettings(socks="socks5h://127.0.0.1:9050", newnym_after=1), control)

    async def go() -> list[bool]:
        first = await policy.after_crawls({"a": 1}, ["a"])
        owed = policy.pending
        second = await policy.after_crawls({"a": 0}, ["a"])  # recovered, but a NEWNYM is owed
        third = await policy.after_crawls({"a": 0}, ["a"])
        return [first, owed, second, third]

    assert asyncio.run(go()) == [False, True, True, False]
    assert control.calls == 2


def test_newnym_problems_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    tor = TorSettings(socks="socks5h://127.0.0.1:9050", newnym_after=1)
    failing = Newnym(tor, FakeControl([TorUnavailable("control port does not answer")]))
    unconfigured = Newnym(tor)

    async def go() -> list[bool]:
        return [
            await failing.after_crawls({"a": 1}, ["a"]),
            await unconfigured.after_crawls({"a": 1}, ["a"]),
        ]

    with caplog.at_level(logging.WARNING, logger="monitor.runtime"):
        assert asyncio.run(go()) == [False, False]
    assert "control port does not answer" in caplog.text
    assert "no [tor] control port is configured" in caplog.text


def test_failing_source_triggers_newnym_and_others_keep_crawling(tmp_path: Path) -> None:
    failing = source("dead", OTHER, selectors=SELECTORS)
    healthy = source("alive", HOST, selectors=SELECTORS)
    control = FakeControl()

    async def go() -> list[list[str]]:
        async with world(onion_errors={OTHER: 0xF0}) as (server, _relay, tor_settings):
            tor_settings = TorSettings(socks=tor_settings.socks, newnym_after=2)
            config = Config(tor=tor_settings, db_path=None, sources=(failing, healthy))
            engines = {s.name: get_engine(s) for s in config.sources}
            shared = TorRuntime(tor_settings, control)
            outcomes = []
            with Store.open(tmp_path / "leakmon.db") as store:
                store.sync_sources(config.sources)
                for _ in range(4):
                    reports, _ = await crawl_cycle(
                        config, store, config.sources, engines, NoSender(), tor=shared
                    )
                    assert all(isinstance(r, CrawlReport) for r in reports)
                    outcomes.append([r.crawl.outcome.value for r in reports])  # type: ignore[union-attr]
            assert len(server.requests) == 4  # the healthy source, once per cycle
            return outcomes

    outcomes = asyncio.run(go())
    assert outcomes == [["failed", "complete"]] * 4
    assert control.calls == 2  # after the 2nd and the 4th failure in a row
