"""The outbox with the real Store, apprise and a loopback receiver: rate limits turn a
flood into a digest, a down receiver loses nothing, nothing is sent twice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.extract import get_engine
from monitor.models import NotifyTarget, Rule
from monitor.notify import AppriseSender, dispatch
from monitor.pipeline import crawl_source
from monitor.store import Store
from tests.conftest import Hook
from tests.test_pipeline import FORUM, ScriptedFetcher, forum_page, forum_source, ok


def flood(tmp_path: Path, target: NotifyTarget) -> Store:
    """One crawl of a page with 200 matching threads, alerted (baseline_alerts on)."""
    source = replace(forum_source(), baseline_alerts=True)
    titles = [f"Police database part {i}" for i in range(200)]
    pages = {FORUM: ok(FORUM, forum_page(0, titles, last=True))}
    store = Store.open(tmp_path / "db.sqlite")
    store.sync_sources([source])
    rule = Rule("police", any=("police",))
    report = asyncio.run(
        crawl_source(source, ScriptedFetcher(pages), get_engine(source), store, [rule], [target])
    )
    assert len(report.alerts) == 200
    return store


def test_200_alerts_under_a_rate_limit_make_one_digest(tmp_path: Path, hook: Hook) -> None:
    target = NotifyTarget("hook", hook.url, rate_limit=5)
    now = datetime.now(UTC)
    with flood(tmp_path, target) as store:
        report = dispatch(store, AppriseSender(), {"hook": target}, now)
        assert report.sent == 200
        assert len(hook.titles) == 5  # 4 single alerts, then one digest of 196
        assert hook.titles[-1].endswith("leakmon digest: 196 alerts")
        assert store.alerts(status=None) and all(
            a["status"] == "sent" for a in store.alerts(status=None)
        )
        assert store.messages_since("hook", now - timedelta(hours=1)) == 5
        # nothing is due any more: a second dispatch sends nothing
        assert dispatch(store, AppriseSender(), {"hook": target}, now).sent == 0
        assert len(hook.titles) == 5


def test_a_down_receiver_loses_nothing_and_gets_everything_once(tmp_path: Path, hook: Hook) -> None:
    target = NotifyTarget("hook", hook.url, digest=3600)
    now = datetime.now(UTC)
    hook.status = 500
    with flood(tmp_path, target) as store:
        report = dispatch(store, AppriseSender(), {"hook": target}, now)
        assert report.retried == 200 and hook.titles == []
        # not due yet: backoff
        assert dispatch(store, AppriseSender(), {"hook": target}, now).sent == 0
        hook.status = 200
        later = now + timedelta(minutes=2)
        assert dispatch(store, AppriseSender(), {"hook": target}, later).sent == 200
        assert hook.titles == ["[medium] leakmon digest: 200 alerts"]
        assert dispatch(store, AppriseSender(), {"hook": target}, later).sent == 0
