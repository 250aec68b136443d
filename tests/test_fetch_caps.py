"""Caps, time limits, redirects, block pages and charsets, served for real on loopback
through the SOCKS relay."""

from __future__ import annotations

import asyncio
import gzip
import struct
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from monitor.extract import get_engine
from monitor.fetch import Fetcher, Politeness
from monitor.models import CrawlOutcome, Page, PageOutcome, Selectors, Source
from monitor.pipeline import fetch_listings, judge
from tests.test_fetch_live import (
    HOST,
    PAGE,
    URL,
    Handler,
    Request,
    fetch,
    no_backoff,
    ok_page,
    respond,
    source,
    world,
)

__all__ = ["no_backoff"]  # the autouse fixture, imported to apply here too

MB = 1024 * 1024


async def _stream_head(writer: asyncio.StreamWriter, extra: str = "") -> None:
    """Headers of a body without Content-Length (ends when the connection closes)."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n{extra}Connection: close\r\n\r\n"
    writer.write(head.encode())
    await writer.drain()


def zeros_gzipped(mebibytes: int = 1024) -> Iterator[bytes]:
    """`mebibytes` MiB of zeros as one valid gzip stream, produced lazily: one deflate
    block of 1 MiB of zeros, ended by a full flush (so it stands alone), repeated."""
    zeros = bytes(MB)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip header, no name, no mtime
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
        yield block
    yield packer.flush() + struct.pack("<II", crc, (mebibytes * MB) & 0xFFFFFFFF)


def test_the_bomb_is_a_valid_gzip_stream() -> None:
    assert gzip.decompress(b"".join(zeros_gzipped(3))) == bytes(3 * MB)
    assert sum(len(chunk) for chunk in zeros_gzipped()) < 2 * MB  # 1 GiB decoded


async def gzip_bomb(request: Request, writer: asyncio.StreamWriter) -> None:
    await _stream_head(writer, "Content-Encoding: gzip\r\n")
    for chunk in zeros_gzipped():
        writer.write(chunk)
        await writer.drain()


async def endless(request: Request, writer: asyncio.StreamWriter) -> None:
    await _stream_head(writer)
    chunk = b"<p>listing</p>" * 4096
    while True:
        writer.write(chunk)
        await writer.drain()


async def drip(request: Request, writer: asyncio.StreamWriter) -> None:
    await _stream_head(writer)
    while True:
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(1)


def run_measured(handler: Handler, src: Source) -> tuple[Page, int]:
    """Fetch through a real relay and server; the traced peak memory in bytes."""

    async def go() -> Page:
        async with world(handler) as (_, _relay, tor):
            return await fetch(tor, src)

    tracemalloc.start()
    try:
        page = asyncio.run(go())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return page, peak


def test_gzip_bomb_is_stopped_at_the_decoded_cap_with_little_memory() -> None:
    page, peak = run_measured(gzip_bomb, source(max_bytes=5_000_000))
    assert (page.outcome, page.reason) == (PageOutcome.FAILED, "too_large")
    assert "decoded body larger than 5000000 bytes" in (page.error or "")
    assert peak < 100 * MB, f"peak {peak / MB:.1f} MiB"


def test_endless_body_is_stopped_at_the_wire_cap_with_little_memory() -> None:
    page, peak = run_measured(endless, source(max_bytes=5_000_000))
    assert (page.outcome, page.reason) == (PageOutcome.FAILED, "too_large")
    assert "on the wire" in (page.error or "")
    assert peak < 100 * MB, f"peak {peak / MB:.1f} MiB"


def test_a_dripping_server_hits_the_total_time_cap() -> None:
    page, _ = run_measured(drip, source(timeout=2.0))
    assert (page.outcome, page.reason) == (PageOutcome.FAILED, "timeout")
    assert "no complete answer within 2s" in (page.error or "")


async def redirects(request: Request, writer: asyncio.StreamWriter) -> None:
    targets = {
        "/": f"http://{HOST}/hop",
        "/hop": "/page",
        "/clearnet": "http://example.com/",
        "/elsewhere": "http://" + "c" * 56 + ".onion/",
        "/loop-a": "/loop-b",
        "/loop-b": "/loop-a",
    }
    if request.path in targets:
        await respond(writer, 302, b"", {"Location": targets[request.path]})
    else:
        await ok_page(request, writer)


@pytest.mark.parametrize(
    ("path", "outcome", "phrase", "requests"),
    [
        ("/", PageOutcome.OK, "", 3),
        ("/clearnet", PageOutcome.FAILED, "clearnet host example.com refused", 1),
        ("/elsewhere", PageOutcome.FAILED, "another host", 1),
        ("/loop-a", PageOutcome.FAILED, "more than 5 redirects", 6),
    ],
)
def test_redirects(path: str, outcome: PageOutcome, phrase: str, requests: int) -> None:
    async def go() -> tuple[Page, int]:
        async with world(redirects) as (server, _relay, tor):
            return await fetch(tor, source(), URL.rstrip("/") + path), len(server.requests)

    page, seen = asyncio.run(go())
    assert page.outcome is outcome
    assert phrase in (page.error or "")
    assert seen == requests


BLOCK_PAGES = {
    "captcha": "<h1>Please solve the CAPTCHA to continue to the forum</h1>",
    "ddos_queue": "You are in a queue. Your estimated wait time is 2 minutes.",
    "login_wall": "You must be logged in to view this forum. Login or register.",
    "maintenance": "The site is under maintenance. We will be back soon, friends.",
    "empty": "",
}
LIST_PAGE = (
    "<html><body><table>"
    + "".join(f"<tr class='row'><td><a href='/t/{i}'>Database {i}</a></td></tr>" for i in range(3))
    + "</table><a class='next' href='/page2'>next</a>"
    + "<p>a long enough forum page with real visible text for the block detector</p>"
    + "</body></html>"
)


@pytest.mark.parametrize("reason", sorted(BLOCK_PAGES))
def test_a_block_page_on_page_2_makes_the_crawl_partial(reason: str) -> None:
    async def pages(request: Request, writer: asyncio.StreamWriter) -> None:
        block = f"<html><body>{BLOCK_PAGES[reason]}</body></html>"
        await respond(writer, 200, LIST_PAGE if request.path == "/" else block)

    selectors = Selectors(item="tr.row", title="a", url="a@href", next="a.next@href")
    src = source(selectors=selectors)

    async def go() -> tuple[tuple[Page, ...], int, bool]:
        async with world(pages) as (_, _relay, tor), Fetcher(tor, src, Politeness()) as fetcher:
            got, listings, truncated = await fetch_listings(src, fetcher, get_engine(src))
            return got, len(listings), truncated

    got, count, truncated = asyncio.run(go())
    assert [p.outcome for p in got] == [PageOutcome.OK, PageOutcome.BLOCKED]
    assert got[1].reason == f"blocked:{reason}"
    assert count == 3
    outcome, error = judge(got, truncated)
    assert outcome is CrawlOutcome.PARTIAL  # not complete: nothing can be inferred from absence
    assert error is not None and f"({reason})" in error


@pytest.mark.parametrize(
    ("text", "charset", "declared"),
    [
        ("База данных МВД 1.1кк строк, продажа", "windows-1251", "meta"),
        ("上海 公安 数据库 10亿条 出售 完整", "gb18030", "header"),
        ("上海 公安 数据库 10亿条 出售 完整", "gb18030", "none"),
    ],
)
def test_pages_in_legacy_charsets_decode(text: str, charset: str, declared: str) -> None:
    meta = f"<meta charset='{charset}'>" if declared == "meta" else ""
    html = f"<html><head>{meta}</head><body><p>{text}</p>" + PAGE[12:]
    ctype = f"text/html; charset={charset}" if declared == "header" else "text/html"

    async def serve(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, html.encode(charset), {"Content-Type": ctype})

    async def go() -> Page:
        async with world(serve) as (_, _relay, tor):
            return await fetch(tor, source())

    page = asyncio.run(go())
    assert page.outcome is PageOutcome.OK
    assert text in page.text
    assert "\ufffd" not in page.text
