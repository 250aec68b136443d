"""History commands on a database built by the scripted scenario world."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from monitor.cli_history import COMMANDS, events, listings, prune, seller, sellers, show, stats
from monitor.demo.sites import Product
from tests.test_scenarios import SHOP_SOURCE, World, thread


def run(command: click.Command, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Baseline; ChinaDan posts; drops the price; deletes; a repost on the shop."""
    w = World(tmp_path)
    for tid in range(1, 5):
        w.site.threads[tid] = thread(tid, f"Dataset number {tid} customers", bumped=tid)
    w.site.products = [Product(7, "acme", "=HYPERLINK(evil) Acme corp 2M", "500", "dk", "x")]
    w.crawl()
    w.crawl(SHOP_SOURCE)
    title = "[SELLING] Shanghai police database - 1,000,000,000 records - 10 BTC"
    w.site.threads[42] = thread(42, title, "ChinaDan", bumped=500)
    w.crawl()
    w.site.threads[42] = thread(42, title.replace("10 BTC", "8 BTC"), "ChinaDan", bumped=500)
    w.crawl()
    del w.site.threads[42]
    w.crawl(hours=30)
    w.site.products.append(
        Product(9, "sh", "Shanghai Police Database 1,000,000,000 records", "200,000", "dk", "y")
    )
    w.crawl(SHOP_SOURCE)
    w.store.close()
    return str(tmp_path / "leakmon.db")


def test_commands_are_named_for_registration() -> None:
    names = [c.name for c in COMMANDS]
    assert names == ["listings", "show", "events", "sellers", "seller", "stats", "prune"]


def test_listings_filters_and_formats(db: str) -> None:
    code, out, _ = run(listings, "--db", db, "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 7
    star = next(r for r in rows if r["seller"] == "ChinaDan")
    for key in ("id", "url", "title", "records", "price_raw", "state", "first_seen", "data_types"):
        assert key in star
    assert star["state"] == "deleted" and star["records"] == 1_000_000_000

    def ids(*args: str) -> list[str]:
        return [r["id"] for r in json.loads(run(listings, "--db", db, "--json", *args)[1])]

    assert ids("--seller", "chinadan") == ["forum:42"]
    assert ids("--state", "deleted") == ["forum:42"]
    assert ids("--source", "shop", "--min-records", "1000000") == ["shop:9", "shop:7"]
    assert ids("--search", "shanghai") == ["shop:9", "forum:42"]
    assert ids("--since", "2024-06-01T12:00:00+00:00") == ["shop:9"]
    assert ids("--limit", "2") == ["shop:9", "forum:42"]
    code, out, _ = run(listings, "--db", db, "--seller", "nobody")
    assert (code, out.strip()) == (0, "no listings")
    code, out, _ = run(listings, "--db", db, "--state", "deleted")
    assert "ChinaDan" in out and "deleted" in out
    code, _, err = run(listings, "--db", db, "--json", "--csv")
    assert code == 2 and "at most one" in err


def test_min_price_in_dollars_or_in_the_listings_own_currency(db: str, tmp_path: Path) -> None:
    def ids(*args: str) -> list[str]:
        code, out, err = run(listings, "--json", *args)
        assert code == 0, err
        return [r["id"] for r in json.loads(out)]

    assert ids("--db", db, "--min-price", "500") == ["shop:9", "shop:7"]  # USD estimates
    assert ids("--db", db, "--min-price", "$1,000") == ["shop:9"]
    assert ids("--db", db, "--min-price", "8 BTC") == ["forum:42"]  # priced in BTC
    assert ids("--db", db, "--min-price", "5btc") == ["forum:42"]
    assert ids("--db", db, "--min-price", "9BTC") == []
    assert ids("--db", db, "--min-price", "0.1 XMR") == []
    # With the config's [rates], 5 BTC is also worth $150,000: the $200,000 listing reaches it.
    config = tmp_path / "rates.toml"
    config.write_text(
        '[tor]\nsocks = "socks5h://127.0.0.1:9050"\n[rates]\nBTC = 30000\n'
        f'[[source]]\nname = "forum"\nengine = "mybb"\nurl = "http://{"a" * 56}.onion/f"\n'
        'every = "1h"\n',
        encoding="utf-8",
    )
    assert ids("--db", db, "--config", str(config), "--min-price", "5btc") == [
        "shop:9",
        "forum:42",
    ]
    # Without --db the one config gives both the database ([storage]) and the rates.
    text = config.read_text(encoding="utf-8")
    config.write_text(f"[storage]\npath = {json.dumps(db)}\n{text}", encoding="utf-8")
    assert ids("--config", str(config), "--min-price", "5btc") == ["shop:9", "forum:42"]
    assert ids("--config", str(config), "--min-price", "$1,000") == ["shop:9"]
    for bad, says in [("abc", "not an amount"), ("5 BTC or 2k", "one amount"), ("-3", "not an")]:
        code, _, err = run(listings, "--db", db, "--min-price", bad)
        assert code == 2 and says in err


def test_csv_is_parseable_and_defused(db: str) -> None:
    code, out, _ = run(listings, "--db", db, "--csv", "--source", "shop")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in rows] == ["shop:9", "shop:7"]
    assert rows[1]["title"].startswith("'=HYPERLINK")


def test_show_tells_the_whole_story(db: str) -> None:
    code, out, _ = run(show, "--db", db, "forum:42")
    assert code == 0
    assert "ChinaDan" in out and "timeline:" in out
    for needle in ("first seen", "changed", "price", "verified gone", "deleted", "up for"):
        assert needle in out, needle
    assert "same dataset" in out and "shop:9" in out
    code, out, _ = run(show, "--db", db, "forum:42", "--json")
    detail: dict[str, Any] = json.loads(out)
    assert [e["kind"] for e in detail["events"]] == ["new", "changed", "deleted"]
    assert [o["field"] for o in detail["observations"]] == ["title", "price"]
    assert [v["verdict"] for v in detail["verifications"]] == ["gone"]
    assert [c["id"] for c in detail["cluster"]] == ["shop:9"]
    assert detail["up_seconds"] == 31 * 3600  # first seen at 11:00, gone by 18:00 next day
    code, _, err = run(show, "--db", db, "forum:nope")
    assert code == 1 and "no listing" in err


def test_events_by_kind_and_source(db: str) -> None:
    code, out, _ = run(events, "--db", db, "--json", "--kind", "deleted")
    assert [(e["kind"], e["listing_id"]) for e in json.loads(out)] == [("deleted", "forum:42")]
    code, out, _ = run(events, "--db", db, "--json", "--source", "shop")
    assert [e["kind"] for e in json.loads(out)] == ["reposted"]
    code, out, _ = run(events, "--db", db, "--csv")
    assert code == 0 and out.splitlines()[0] == "id,kind,source,listing_id,crawl_id,at,details"


def test_sellers_and_seller(db: str) -> None:
    code, out, _ = run(sellers, "--db", db, "--json")
    rows = {r["handle"]: r for r in json.loads(out)}
    assert rows["dk"]["listings"] == 2 and rows["dk"]["total_records"] == 1_002_000_000
    assert rows["ChinaDan"]["deleted"] == 1
    code, out, _ = run(seller, "--db", db, "chinadan")
    assert code == 0 and "forum:42" in out
    code, out, _ = run(seller, "--db", db, "DK", "--json")
    assert [r["id"] for r in json.loads(out)["listings_detail"]] == ["shop:9", "shop:7"]
    code, _, err = run(seller, "--db", db, "ghost")
    assert code == 1 and "no seller" in err


def test_stats(db: str) -> None:
    code, out, _ = run(stats, "--db", db, "--json")
    numbers = json.loads(out)
    assert numbers["listings"] == 7
    assert numbers["events_by_kind"] == {"changed": 1, "deleted": 1, "new": 1, "reposted": 1}
    assert numbers["verifications_by_verdict"] == {"gone": 1}
    code, out, _ = run(stats, "--db", db)
    assert code == 0 and "listings by state" in out
    assert f"records offered: {numbers['records_offered']:,}" in out  # thousands separated


def test_prune(db: str) -> None:
    code, out, _ = run(prune, "--db", db)
    assert code == 0 and "nothing to prune" in out
    code, out, _ = run(prune, "--db", db, "--keep-events", "1s", "--keep-crawls", "1s")
    assert code == 0 and "pruned 4 events" in out
    code, out, _ = run(listings, "--db", db, "--json")
    assert len(json.loads(out)) == 7  # listings are never pruned


def test_listings_table_shows_the_newest_100_unless_told(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from monitor.cli_history import listings
    from monitor.lifecycle import diff_crawl
    from monitor.models import Crawl, CrawlOutcome, Listing, Source
    from monitor.store import Store

    source = Source(name="shop", url="http://shop.onion/", engine="shop", every=60)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    items = tuple(
        Listing("shop", str(i), f"http://shop.onion/p/{i}", f"Dataset {i}") for i in range(130)
    )
    crawl = Crawl("c1", "shop", at, at, CrawlOutcome.COMPLETE, 1, 1, items)
    db = tmp_path / "db.sqlite"
    with Store.open(db) as store:
        store.sync_sources([source])
        store.apply(
            diff_crawl(
                crawl, {}, source, previous_complete=[], repost_candidates=[], first_complete=True
            ),
            (),
        )
    table = CliRunner().invoke(listings, ["--db", str(db)]).stdout
    assert len(table.splitlines()) == 2 + 100 + 1 and "--all" in table.splitlines()[-1]
    everything = CliRunner().invoke(listings, ["--db", str(db), "--all"]).stdout
    assert len(everything.splitlines()) == 2 + 130
    exported = CliRunner().invoke(listings, ["--db", str(db), "--json"]).stdout
    assert len(json.loads(exported)) == 130
