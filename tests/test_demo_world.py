"""The demo world: the scripted story page by page, the shipped demo config against
that DOM, and the HTTP server over real loopback sockets."""

from __future__ import annotations

import asyncio
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from monitor.config import load_config
from monitor.demo.server import MAX_HEAD, DemoServer
from monitor.demo.world import (
    FORUM_HOST,
    FORUM_SOURCE,
    SHOP_HOST,
    SHOP_SOURCE,
    STORY,
    World,
    respond,
    routes,
)
from monitor.models import EventKind

FORUM_LIST = "/forumdisplay.php?fid=2"
CHINADAN = "1042"
REPOST = "342"
NOT_FOUND = "The specified thread does not exist."
STEPS = range(len(STORY))


def demo_toml() -> dict[str, Any]:
    text = resources.files("monitor.demo").joinpath("sources.toml").read_text()
    return tomllib.loads(text)


def selectors(source: str) -> dict[str, str]:
    (src,) = [s for s in demo_toml()["source"] if s["name"] == source]
    sels: dict[str, str] = src["selectors"]
    return sels


def pick(node: Any, selector: str) -> str | None:
    """The shipped selector semantics: CSS, optionally ending in @attr."""
    css, _, attr = selector.partition("@")
    found = node.css_first(css)
    if found is None:
        return None
    value: str | None = found.attributes.get(attr) if attr else found.text(strip=True)
    return value


def extract(html: str, source: str) -> list[dict[str, str | None]]:
    """Apply the demo config's selectors to a page, as the css engine is told to."""
    sels = selectors(source)
    rows = []
    for item in LexborHTMLParser(html).css(sels["item"]):
        url = pick(item, sels["url"]) or ""
        match = re.search(sels["id_pattern"], url)
        rows.append(
            {
                "id": match.group(1) if match else None,
                "title": pick(item, sels["title"]),
                "url": url,
                "seller": pick(item, sels["seller"]),
                "price": pick(item, sels["price"]) if "price" in sels else None,
            }
        )
    return rows


def next_link(html: str) -> str | None:
    return pick(LexborHTMLParser(html), selectors(FORUM_SOURCE)["next"])


def forum(step: int) -> list[dict[str, str | None]]:
    """Every listing of both crawled forum pages at `step`, in page order."""
    rows = []
    for page in (1, 2):
        answer = respond(step, FORUM_HOST, f"{FORUM_LIST}&page={page}")
        assert answer.status == 200
        rows += extract(answer.body, FORUM_SOURCE)
    return rows


def shop(step: int) -> list[dict[str, str | None]]:
    answer = respond(step, SHOP_HOST, "/shop/")
    assert answer.status == 200
    return extract(answer.body, SHOP_SOURCE)


def by_id(rows: list[dict[str, str | None]]) -> dict[str | None, dict[str, str | None]]:
    return {r["id"]: r for r in rows}


# ------------------------------------------------------------------ the story


def test_onion_names_are_well_formed_and_distinct() -> None:
    for host in (FORUM_HOST, SHOP_HOST):
        assert re.fullmatch(r"[a-z2-7]{56}\.onion", host)
    assert FORUM_HOST != SHOP_HOST
    assert routes(8080) == {FORUM_HOST: ("127.0.0.1", 8080), SHOP_HOST: ("127.0.0.1", 8080)}
    assert World().routes(8080) == routes(8080)


@pytest.mark.parametrize("step", STEPS)
def test_forum_pages_are_complete_at_every_step(step: int) -> None:
    page1 = respond(step, FORUM_HOST, FORUM_LIST).body
    page2 = respond(step, FORUM_HOST, f"{FORUM_LIST}&page=2").body
    assert next_link(page1) == "forumdisplay.php?fid=2&page=2"
    assert next_link(page2) is None
    rows = forum(step)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) and None not in ids
    assert ids[0] == "3"  # the sticky rules thread heads page 1
    threads = len(rows) - 1
    assert 6 <= threads <= 8
    assert len(extract(page2, FORUM_SOURCE)) <= 4
    assert all(r["title"] and r["seller"] for r in rows)
    # the ordinary threads of the baseline never fall off the crawled pages
    assert {"1001", "1007", "1013", "1019", "1024", "1030"} <= set(ids)


def test_baseline_has_six_threads_and_three_products() -> None:
    assert len(forum(0)) == 1 + 6
    assert CHINADAN not in by_id(forum(0))
    assert sorted(r["id"] or "" for r in shop(0)) == ["311", "318", "325"]


def test_chinadan_posts_then_edits_the_price() -> None:
    for step, price in ((1, "10 BTC"), (2, "8 BTC")):
        rows = forum(step)
        post = by_id(rows)[CHINADAN]
        assert rows[1]["id"] == CHINADAN  # top of the normal threads
        assert post["seller"] == "ChinaDan"
        assert post["title"] == f"[SELLING] Shanghai police database - 1 billion records - {price}"
        page = respond(step, FORUM_HOST, f"/showthread.php?tid={CHINADAN}")
        assert page.status == 200 and NOT_FOUND not in page.body
        assert f"1 billion records - {price}" in page.body and "ChinaDan" in page.body
    assert "1041" in by_id(forum(1)) and "1041" not in by_id(forum(0))


def test_chinadan_deletes_the_thread() -> None:
    for step in range(3, len(STORY)):
        assert CHINADAN not in by_id(forum(step))
        page = respond(step, FORUM_HOST, f"/showthread.php?tid={CHINADAN}")
        assert page.status == 200  # MyBB answers a missing thread with 200 and an error box
        assert NOT_FOUND in page.body and "Shanghai" not in page.body


def test_dataking_reposts_on_the_shop() -> None:
    for step in range(4):
        assert REPOST not in by_id(shop(step))
    path = "/product/shanghai-police-database-1000000000-records-342/"
    assert respond(3, SHOP_HOST, path).status == 404
    for step in (4, 5):
        rows = shop(step)
        assert rows[0] == {
            "id": REPOST,
            "title": "Shanghai Police Database 1,000,000,000 records (1995-2019)",
            "url": f"http://{SHOP_HOST}{path}",
            "seller": "dataking",
            "price": "$200,000",
        }
        product = respond(step, SHOP_HOST, path)
        assert product.status == 200 and "1,000,000,000 records" in product.body


def test_seller_names_inside_rank_spans_are_extracted() -> None:
    html = respond(0, FORUM_HOST, FORUM_LIST).body
    assert '<span style="color:#ff66ff"><strong>skyhigh</strong></span>' in html
    assert by_id(forum(0))["1007"]["seller"] == "skyhigh"


def test_step_expectations_match_the_pages() -> None:
    def listed(step: int, source: str) -> dict[str | None, dict[str, str | None]]:
        return by_id(forum(step) if source == FORUM_SOURCE else shop(step))

    assert STORY[0].expect == () and STORY[-1].expect == ()
    for step in range(1, len(STORY)):
        for e in STORY[step].expect:
            before, after = listed(step - 1, e.source), listed(step, e.source)
            if e.kind in (EventKind.NEW, EventKind.REPOSTED):
                assert e.external_id not in before and e.external_id in after
            elif e.kind == EventKind.CHANGED:
                assert before[e.external_id] != after[e.external_id]
            else:
                assert e.kind == EventKind.DELETED
                assert e.external_id in before and e.external_id not in after
    quiet = len(STORY) - 1
    assert by_id(forum(quiet)) == by_id(forum(quiet - 1))  # threads may only move
    assert shop(quiet) == shop(quiet - 1)


def test_only_the_story_matches_the_demo_rule() -> None:
    (rule,) = demo_toml()["rule"]
    hits = set()
    for step in STEPS:
        for r in forum(step) + shop(step):
            if any(word in (r["title"] or "").lower() for word in rule["any"]):
                hits.add(r["id"])
    assert hits == {CHINADAN, REPOST}


def test_world_walks_the_story() -> None:
    world = World()
    seen = [world.narration]
    while world.step < world.steps - 1:
        assert world.advance() == world.step
        seen.append(world.narration)
    assert len(seen) == world.steps == 6 and all(seen)
    assert world.current is STORY[-1]
    with pytest.raises(ValueError):
        world.advance()
    with pytest.raises(ValueError):
        World(step=6)


def test_unknown_hosts_paths_and_forums() -> None:
    assert respond(0, "example.com", FORUM_LIST).status == 404
    assert respond(0, FORUM_HOST, "/admin/").status == 404
    assert respond(0, SHOP_HOST, "/shop/page/2/").status == 404
    assert respond(0, FORUM_HOST, "/showthread.php?tid=abc").body.count(NOT_FOUND) == 1
    invalid = respond(0, FORUM_HOST, "/forumdisplay.php?fid=9")
    assert invalid.status == 200 and "Invalid forum" in invalid.body
    # MyBB shows page 1 for a page out of range
    assert respond(0, FORUM_HOST, f"{FORUM_LIST}&page=99") == respond(0, FORUM_HOST, FORUM_LIST)
    assert respond(0, FORUM_HOST.upper(), FORUM_LIST).status == 200


# ------------------------------------------------------------------- the config


def test_demo_config_points_at_the_world_and_validates(tmp_path: Path) -> None:
    doc = demo_toml()
    names = [s["name"] for s in doc["source"]]
    assert names == [FORUM_SOURCE, SHOP_SOURCE]
    assert doc["source"][0]["url"] == f"http://{FORUM_HOST}{FORUM_LIST}"
    assert doc["source"][1]["url"] == f"http://{SHOP_HOST}/shop/"
    ref = resources.files("monitor.demo").joinpath("sources.toml")
    with resources.as_file(ref) as path:
        config = load_config(Path(path), env={})
    assert [s.name for s in config.sources] == names
    assert config.source(SHOP_SOURCE).missing_after == 2
    assert config.rules[0].targets == ("console",) and config.targets[0].url == "console://"


# ------------------------------------------------------------------- the server


async def http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to 127.0.0.1:port; the status, headers and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def get(path: str, host: str = FORUM_HOST, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: t\r\n\r\n".encode()


def test_server_serves_the_world_over_loopback() -> None:
    async def go() -> None:
        world = World()
        async with DemoServer(world) as server:
            status, headers, body = await http(server.port, get(FORUM_LIST))
            assert status == 200
            assert headers["content-type"] == "text/html; charset=utf-8"
            assert headers["connection"] == "close"
            assert int(headers["content-length"]) == len(body)
            assert body.decode() == world.respond(FORUM_HOST, FORUM_LIST).body

            status, headers, body = await http(server.port, get(FORUM_LIST, method="HEAD"))
            assert status == 200 and body == b"" and int(headers["content-length"]) > 1000

            status, _, body = await http(server.port, get("/shop/", host=f"{SHOP_HOST}:80"))
            assert status == 200 and b"woocommerce-loop-product__title" in body

            world.advance()
            _, _, body = await http(server.port, get(FORUM_LIST))
            assert b"Shanghai police database" in body
            assert server.requests == 4

    asyncio.run(go())


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (get(FORUM_LIST, method="POST"), 405),
        (b"GET /forumdisplay.php?fid=2 HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (get("/nope"), 404),
        (get(FORUM_LIST, host="example.com"), 404),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * MAX_HEAD + b"\r\n\r\n", 431),
    ],
)
def test_server_answers_bad_requests(request_bytes: bytes, status: int) -> None:
    async def go() -> None:
        async with DemoServer(World()) as server:
            got, headers, _ = await http(server.port, request_bytes)
            assert got == status
            if status == 405:
                assert headers["allow"] == "GET, HEAD"
            # and it keeps serving
            assert (await http(server.port, get(FORUM_LIST)))[0] == 200

    asyncio.run(go())


def test_server_survives_clients_that_vanish_and_closes_with_idle_ones() -> None:
    async def go() -> None:
        server = DemoServer(World())
        await server.start()
        _, gone = await asyncio.open_connection("127.0.0.1", server.port)
        gone.write(b"GET / HTT")
        gone.close()
        await gone.wait_closed()
        idle_reader, idle = await asyncio.open_connection("127.0.0.1", server.port)
        assert (await http(server.port, get(FORUM_LIST)))[0] == 200
        await asyncio.wait_for(server.close(), 10)  # does not wait for the idle client
        assert await asyncio.wait_for(idle_reader.read(), 10) == b""  # it was cut
        idle.close()
        await idle.wait_closed()
        with pytest.raises(RuntimeError):
            _ = server.port

    asyncio.run(go())
