"""The truth test of issue 5: synthetic histories of a MyBB forum and a WooCommerce
shop (hundreds of captures with edits, removals, returns, block and error pages,
truncated and partial captures, a repost across sources and a redesign) replayed
through `leakmon replay` into a real SQLite file, and every event counted against
what the generator knows happened."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.models import Source
from monitor.store import Store
from tests.histories import (
    FORUM_URL,
    REPOST_NAME,
    SHOP_URL,
    History,
    Truth,
    saved_by_wayback,
    write_history,
)
from tests.history_forum import forum_history
from tests.history_shop import shop_history
from tests.warcs import history_warc

CONFIG = """
[storage]
path = "{db}"

[[source]]
name = "forum"
engine = "mybb"
url = "{forum}"
every = "2h"
max_pages = 3
revisit_every = "6h"

[[source]]
name = "shop"
engine = "shop"
url = "{shop}"
every = "3h"
max_pages = 6
missing_after = 1

[[rule]]
name = "everything"
regex = ["."]
targets = ["console"]

[[notify]]
name = "console"
url = "console://"
"""


SOURCES = {  # the two sources of CONFIG, for writing their histories as WARC files
    "forum": Source("forum", FORUM_URL, "mybb", every=7200, max_pages=3),
    "shop": Source("shop", SHOP_URL, "shop", every=10800, max_pages=6),
}


@dataclass(frozen=True)
class Replayed:
    name: str
    history: History
    report: dict[str, Any]

    @property
    def truth(self) -> Truth:
        return self.history.truth

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.report["events"])

    def of(self, external_id: str, kind: str) -> list[dict[str, Any]]:
        listing_id = f"{self.name}:{external_id}"
        return [e for e in self.events if e["listing_id"] == listing_id and e["kind"] == kind]


def replay_all(
    root: Path,
    forum: History,
    shop: History,
    *options: str,
    warc: bool = False,
    config: str = CONFIG,
) -> tuple[Replayed, Replayed, Path]:
    """Both histories through `leakmon replay`, saved as capture directories (or,
    with `warc`, as one WARC file each)."""
    db = root / "leakmon.db"
    config_path = root / "sources.toml"
    config_path.write_text(config.format(db=db, forum=FORUM_URL, shop=SHOP_URL))
    done = []
    for name, history in (("forum", forum), ("shop", shop)):  # the forum first: the original
        if warc:  # captures are named by the time of their first response there
            directory = history_warc(history, SOURCES[name], root / name)
            names = {c.name: f"{c.at:%Y%m%dT%H%M%SZ}" for c in history.captures}
            outcomes = {names[k]: v for k, v in history.truth.outcomes.items()}
            history = replace(history, truth=replace(history.truth, outcomes=outcomes))
        else:
            directory = write_history(history, root / name)
        args = ["replay", str(directory), "--source", name, "--config", str(config_path)]
        args += ["--json"]
        args += options
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        done.append(Replayed(name, history, json.loads(result.stdout)))
    return done[0], done[1], db


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Replayed, Replayed, Path]:
    return replay_all(tmp_path_factory.mktemp("truth"), forum_history(), shop_history())


def check_against_truth(run: Replayed) -> None:
    """Every assertion of the acceptance, for one source's replay."""
    truth, events = run.truth, run.events
    # every capture was crawled, with the outcome its defects call for
    assert run.report["replayed"] == len(run.history.captures)
    outcomes = {c["capture"]: c["outcome"] for c in run.report["crawls"]}
    assert outcomes == truth.outcomes
    # every price and record-count edit: a changed event with the right before/after
    for edit in truth.edits:
        found = [
            e
            for e in run.of(edit.external_id, "changed")
            if e["at"] >= edit.at.isoformat()
            and {"field": edit.field, "before": edit.before, "after": edit.after}
            in e["details"]["changes"]
        ]
        assert found, edit
        assert bool(found[0]["details"].get("price_drop")) == edit.drop, edit
    # ... and no edit that did not happen (nor one found twice)
    tracked = [
        (e["listing_id"], c["field"], c["before"], c["after"])
        for e in events
        if e["kind"] == "changed"
        for c in e["details"]["changes"]
        if c["field"] != "title"
    ]
    expected = [(f"{run.name}:{x.external_id}", x.field, x.before, x.after) for x in truth.edits]
    assert sorted(tracked, key=str) == sorted(expected, key=str)
    # every removal found once, inside its window; every return found once, after it
    deleted = [e for e in events if e["kind"] == "deleted"]
    for removal in truth.removals:
        end = removal.returned.isoformat() if removal.returned else "9999"
        found = run.of(removal.external_id, "deleted")
        assert len([e for e in found if removal.at.isoformat() <= e["at"] < end]) == 1, removal
        if removal.returned is not None:
            later = [r.at for r in truth.removals if r.external_id == removal.external_id]
            until = min((t for t in later if t > removal.returned), default=None)
            back = [
                e
                for e in run.of(removal.external_id, "restored")
                if removal.returned.isoformat() <= e["at"]
                and (until is None or e["at"] < until.isoformat())
            ]
            assert len(back) == 1, removal
    # zero false deletions: every deleted event is a true removal
    assert len(deleted) == len(truth.removals)
    assert len([e for e in events if e["kind"] == "restored"]) == sum(
        1 for r in truth.removals if r.returned is not None
    )
    # no event twice: ids unique, and no two events alike at one time
    assert len({e["id"] for e in events}) == len(events)
    alike = Counter(
        (e["kind"], e["listing_id"], e["at"], json.dumps(e["details"], sort_keys=True))
        for e in events
    )
    assert max(alike.values()) == 1
    # no listing arrives twice
    arrivals = Counter(e["listing_id"] for e in events if e["kind"] in ("new", "reposted"))
    assert max(arrivals.values()) == 1
    # event times are capture times, never the wall clock
    first, last = run.history.captures[0].at, run.history.captures[-1].at
    assert all(
        first.isoformat() <= e["at"] < (last.replace(year=last.year + 1)).isoformat()
        for e in events
    )


def test_forum_history(replayed: tuple[Replayed, Replayed, Path]) -> None:
    forum, _, db = replayed
    assert len(forum.history.captures) >= 200
    check_against_truth(forum)
    truth = forum.truth
    assert len(truth.edits) >= 20 and len(truth.removals) >= 5
    assert sum(r.returned is not None for r in truth.removals) >= 2
    # the redesign: one layout_changed, at the first capture in the new theme, no flood
    layout = [e for e in forum.events if e["kind"] == "layout_changed"]
    assert truth.redesign is not None
    assert [e["at"] for e in layout] == [truth.redesign.isoformat()]
    after = [e for e in forum.events if e["at"] > truth.redesign.isoformat()]
    assert {e["kind"] for e in after} <= {"source_down", "source_recovered"}
    with Store.open(db) as store:
        listings = {r["external_id"]: r for r in store.listings(source="forum")}
        assert set(truth.listed) <= set(listings)  # every thread shown was recorded
        states = Counter(r["state"] for r in listings.values())
        assert states["aged_out"] >= 20  # threads that fell off the pages, verified there
        deleted_now = {i for i, r in listings.items() if r["state"] == "deleted"}
        assert deleted_now == {r.external_id for r in truth.removals if r.returned is None}
        assert next(r["state"] for r in store.sources() if r["name"] == "forum") == "layout_changed"


def test_shop_history_and_the_repost(replayed: tuple[Replayed, Replayed, Path]) -> None:
    forum, shop, db = replayed
    assert len(shop.history.captures) >= 200
    check_against_truth(shop)
    assert not [e for e in shop.events if e["kind"] == "layout_changed"]
    (repost,) = [e for e in shop.events if e["kind"] == "reposted"]
    assert repost["listing_id"] == f"shop:{shop.truth.reposts[0]}"
    original = next(
        e for e in forum.events if e["kind"] == "deleted" and REPOST_NAME in e["details"]["title"]
    )
    assert repost["details"]["original_id"] == original["listing_id"]
    with Store.open(db) as store:
        cluster = store.listing(repost["listing_id"])
        assert cluster is not None and cluster["cluster"] == original["listing_id"]


def test_alerts_are_recorded_not_sent(replayed: tuple[Replayed, Replayed, Path]) -> None:
    forum, shop, db = replayed
    with Store.open(db) as store:
        statuses = Counter(a["status"] for a in store.alerts())
        assert store.due_alerts(datetime.now(UTC), 1000) == []  # no dispatcher sends them
    assert statuses == {"failed": forum.report["alerts"] + shop.report["alerts"]}
    assert statuses["failed"] > 50


def test_the_forum_within_a_live_crawls_page_budget(tmp_path: Path) -> None:
    """The same forum history with live's bound of 20 listing pages per crawl: the
    verification queue still reaches every deleted thread in time."""
    forum, _, _ = replay_all(
        tmp_path, forum_history(), shop_history(steps=3), "--page-budget", "20"
    )
    check_against_truth(forum)


def test_the_histories_saved_by_the_wayback_machine(tmp_path: Path) -> None:
    """Every page as a web archive serves it, its links rewritten to carry its own
    capture's time: the same truth, found the same way."""
    forum, shop, _ = replay_all(
        tmp_path,
        saved_by_wayback(forum_history(), FORUM_URL),
        saved_by_wayback(shop_history(), SHOP_URL),
    )
    check_against_truth(forum)
    check_against_truth(shop)
    assert len([e for e in forum.events if e["kind"] == "layout_changed"]) == 1


def test_the_histories_saved_as_warc_files(tmp_path: Path) -> None:
    """Every page a crawl fetched as a crawler records it in a WARC file (unchanged
    bodies as revisit records, some chunked, some gzip-encoded; thread pages after
    the listing pages): the same truth, found the same way."""
    forum, shop, _ = replay_all(tmp_path, forum_history(), shop_history(), warc=True)
    check_against_truth(forum)
    check_against_truth(shop)
    assert len([e for e in forum.events if e["kind"] == "layout_changed"]) == 1


def test_a_forum_moved_to_another_engine_is_read_on_with_a_fallback(tmp_path: Path) -> None:
    """The forum's redesign is XenForo markup, the same thread numbers. With
    `fallback_engines = ["xenforo"]` the source reads on: no layout change, the
    same ids seen again (no arrival twice, no false deletion, every edit and return
    before it found as without). Its captures hold page 1 only, so those crawls are
    partial: the next page the XenForo list links to was not saved."""
    history = forum_history()
    redesign = history.truth.redesign
    assert redesign is not None
    outcomes = {
        c.name: "partial"
        if c.at >= redesign and history.truth.outcomes[c.name] == "complete"
        else history.truth.outcomes[c.name]
        for c in history.captures
    }
    history = replace(history, truth=replace(history.truth, outcomes=outcomes))
    config = CONFIG.replace(
        'engine = "mybb"\n', 'engine = "mybb"\nfallback_engines = ["xenforo"]\n'
    )
    forum, _, db = replay_all(tmp_path, history, shop_history(), config=config)
    check_against_truth(forum)
    assert not [e for e in forum.events if e["kind"] == "layout_changed"]
    with Store.open(db) as store:
        after = {r["id"] for r in store.db.query(
            "SELECT id FROM listings WHERE source = 'forum' AND last_seen >= ?",
            [redesign.isoformat()])}  # fmt: skip
    assert len(after) >= 15  # read on after the redesign, under the ids it had


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_longer_histories(tmp_path: Path, seed: int) -> None:
    forum, shop, _ = replay_all(
        tmp_path, forum_history(seed=seed, steps=700), shop_history(seed=seed, steps=600)
    )
    check_against_truth(forum)
    check_against_truth(shop)
    assert len([e for e in forum.events if e["kind"] == "layout_changed"]) == 1


def test_replay_takes_fallback_engines_on_the_command_line(tmp_path: Path) -> None:
    """`--fallback-engine xenforo` with `--engine mybb`: the same reading on."""
    directory = write_history(forum_history(), tmp_path / "forum")
    base = ["replay", str(directory), "--engine", "mybb", "--url", FORUM_URL, "--json"]
    kinds = []
    for extra in ([], ["--fallback-engine", "xenforo"]):
        args = [*base, "--db", str(tmp_path / f"{len(extra)}.db"), *extra]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        kinds.append(Counter(e["kind"] for e in json.loads(result.stdout)["events"]))
    assert kinds[0]["layout_changed"] == 1 and kinds[1]["layout_changed"] == 0
    assert kinds[0]["deleted"] == kinds[1]["deleted"]  # nothing more deleted: nothing false
