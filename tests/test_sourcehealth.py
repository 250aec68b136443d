"""Source-health events and their [ops] alerts: down, session expired, recovered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from monitor.extract import get_engine
from monitor.models import (
    Crawl,
    CrawlOutcome,
    EventKind,
    NotifyTarget,
    OpsSettings,
    Page,
    PageOutcome,
)
from monitor.pipeline import crawl_source
from monitor.rules import ops_alerts
from monitor.sourcehealth import source_events
from monitor.store import Store
from tests.test_pipeline import FORUM, ScriptedFetcher, forum_page, forum_source, ok

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def crawl(outcome: CrawlOutcome, error: str | None = None) -> Crawl:
    return Crawl("c1", "forum", NOW, NOW, outcome, 0, 0, (), error)


def kinds(outcome: CrawlOutcome, streak: int, error: str | None = None) -> list[EventKind]:
    return [e.kind for e in source_events(crawl(outcome, error), streak, down_after=3)]


def test_down_at_the_threshold_only_and_recovered_after() -> None:
    assert kinds(CrawlOutcome.FAILED, 0) == []
    assert kinds(CrawlOutcome.FAILED, 1) == []
    assert kinds(CrawlOutcome.BLOCKED, 2) == [EventKind.SOURCE_DOWN]
    assert kinds(CrawlOutcome.FAILED, 3) == []  # no repeat while it stays down
    assert kinds(CrawlOutcome.COMPLETE, 5) == [EventKind.SOURCE_RECOVERED]
    assert kinds(CrawlOutcome.PARTIAL, 3) == [EventKind.SOURCE_RECOVERED]
    assert kinds(CrawlOutcome.COMPLETE, 2) == []  # it was never reported down


def test_a_login_wall_is_reported_at_once() -> None:
    (event,) = source_events(crawl(CrawlOutcome.BLOCKED, "x: blocked:login_wall"), 0, 3)
    assert event.kind is EventKind.SOURCE_DOWN
    assert event.details["session_expired"] is True


def test_ops_alerts_go_to_the_ops_target_only() -> None:
    events = source_events(crawl(CrawlOutcome.FAILED, "tor_unavailable \x1b[31m"), 2, 3)
    assert ops_alerts(events, None, NOW) == ()
    (alert,) = ops_alerts(events, "ops", NOW)
    assert alert.target == "ops" and alert.rule == "ops"
    assert alert.title.startswith("[high] source down: forum (3 failed crawls")
    assert "\x1b" not in alert.body


def down_page() -> Page:
    return Page(url=FORUM, outcome=PageOutcome.FAILED, reason="tor_unavailable", error="down")


def test_pipeline_raises_one_down_and_one_recovered_alert(tmp_path: Path) -> None:
    source = forum_source()
    ops = OpsSettings(target="ops", down_after=2)
    targets = (NotifyTarget("ops", "json://127.0.0.1:9/x"),)
    good = {FORUM: ok(FORUM, forum_page(0, ["a", "b", "c"], last=True))}
    with Store.open(tmp_path / "db.sqlite") as store:
        store.sync_sources([source])
        titles = []
        for pages in (good, {FORUM: down_page()}, {FORUM: down_page()}, {FORUM: down_page()}, good):
            report = asyncio.run(
                crawl_source(
                    source, ScriptedFetcher(pages), get_engine(source), store, (), targets, ops=ops
                )
            )
            titles += [a.title for a in report.alerts]
        assert len(titles) == 2
        assert "source down: forum (2 failed crawls" in titles[0]
        assert "source recovered: forum after 3 failed crawls" in titles[1]
        kinds = [e["kind"] for e in store.events(source="forum")]
        assert kinds.count("source_down") == 1 and kinds.count("source_recovered") == 1
        assert {a["target"] for a in store.alerts()} == {"ops"}
