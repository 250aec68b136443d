"""The fetch layer against real loopback parts: a SOCKS5 relay standing in for Tor and
a small HTTP server behind it. Also holds the helpers the other test_fetch_* files use.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import stamina

from monitor.demo import SocksRelay
from monitor.demo.socks import ATYP_DOMAIN
from monitor.fetch import Fetcher, Politeness, probe_connect
from monitor.fetch.probe import REPLIES
from monitor.models import Page, PageOutcome, Source, TorSettings

HOST = "a" * 56 + ".onion"
OTHER = "b" * 56 + ".onion"
URL = f"http://{HOST}/"
PAGE = "<html><body>" + "<p>a real forum page with enough visible text</p>" * 5 + "</body></html>"


@dataclass
class Request:
    path: str
    headers: dict[str, str]


Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


async def respond(
    writer: asyncio.StreamWriter,
    status: int = 200,
    body: bytes | str = PAGE,
    headers: dict[str, str] | None = None,
) -> None:
    """One whole HTTP/1.1 response with Content-Length and Connection: close."""
    data = body.encode() if isinstance(body, str) else body
    head = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
    lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in head.items())]
    lines += [f"Content-Length: {len(data)}", "Connection: close"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
    await writer.drain()


async def ok_page(request: Request, writer: asyncio.StreamWriter) -> None:
    await respond(writer)


@dataclass
class LoopServer:
    """A loopback HTTP server: `handler` answers; records requests and concurrency."""

    handler: Handler
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    active: int = 0
    max_active: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
            request = Request(head[0].split(" ")[1], {k.lower(): v for k, v in headers.items()})
            self.requests.append(request)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                await self.handler(request, writer)
            finally:
                self.active -= 1
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


@asynccontextmanager
async def world(
    handler: Handler = ok_page,
    hosts: tuple[str, ...] = (HOST,),
    onion_errors: dict[str, int] | None = None,
) -> AsyncIterator[tuple[LoopServer, SocksRelay, TorSettings]]:
    """A server behind a relay that routes `hosts` to it; the TorSettings to use them."""
    server = LoopServer(handler)
    await server.start()
    relay = SocksRelay({h: ("127.0.0.1", server.port) for h in hosts}, onion_errors=onion_errors)
    await relay.start()
    try:
        yield server, relay, TorSettings(socks=f"socks5h://127.0.0.1:{relay.port}")
    finally:
        await relay.close()
        await server.close()


def source(name: str = "forum", host: str = HOST, **changes: Any) -> Source:
    """A test source: no politeness delay, no retries, short timeout, unless changed."""
    settings: dict[str, Any] = {"min_delay": 0, "retries": 0, "timeout": 5.0, **changes}
    return Source(name=name, url=f"http://{host}/", engine="css", every=60, **settings)


async def fetch(tor: TorSettings, src: Source, url: str | None = None) -> Page:
    async with Fetcher(tor, src, Politeness()) as fetcher:
        return await fetcher.get(url or src.url)


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    """Retries keep their count but do not wait."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


# ------------------------------------------------------------------------ tests


def test_onion_names_reach_the_proxy_unresolved(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(host))
        if str(host).endswith(".onion"):
            raise AssertionError(f"resolver called for {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)

    async def go() -> tuple[Page, SocksRelay]:
        async with world() as (_, relay, tor):
            return await fetch(tor, source()), relay

    page, relay = asyncio.run(go())
    assert page.outcome is PageOutcome.OK
    assert [(r.host, r.atyp, r.port) for r in relay.requests] == [(HOST, ATYP_DOMAIN, 80)]
    assert not [host for host in asked if host.endswith(".onion")]


def test_proxy_down_is_tor_unavailable_and_nothing_reaches_the_target() -> None:
    async def go() -> tuple[Page, LoopServer]:
        async with world() as (server, relay, tor):
            await relay.close()  # Tor is down; the site is up
            return await fetch(tor, source(retries=2)), server

    page, server = asyncio.run(go())
    assert (page.outcome, page.reason) == (PageOutcome.FAILED, "tor_unavailable")
    assert server.connections == 0


def test_environment_proxies_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "*")

    async def go() -> tuple[Page, SocksRelay]:
        async with world() as (_, relay, tor):
            return await fetch(tor, source()), relay

    page, relay = asyncio.run(go())
    assert page.outcome is PageOutcome.OK
    assert len(relay.requests) == 1


@pytest.mark.parametrize("code", sorted(c for c in REPLIES if c >= 0xF0))
def test_onion_errors_are_named(code: int) -> None:
    async def go() -> Page:
        async with world(onion_errors={HOST: code}) as (_, _relay, tor):
            return await fetch(tor, source())

    page = asyncio.run(go())
    _, text = REPLIES[code]
    assert (page.outcome, page.reason) == (PageOutcome.FAILED, "onion_unreachable")
    assert text in (page.error or "") and f"{code:#04x}" in (page.error or "")


def test_failed_socks_handshakes_leave_no_open_socket() -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def go() -> tuple[int, int]:
        errors = {HOST: 0xF0}
        async with world(onion_errors=errors) as (_, _r, tor), Fetcher(tor, source()) as fetcher:
            await fetcher.get(URL)
            before = open_fds()
            for _ in range(5):
                await fetcher.get(URL)
            return before, open_fds()

    before, after = asyncio.run(go())
    assert after <= before


def test_probe_names_the_reply_code() -> None:
    async def go() -> list[Any]:
        async with world(onion_errors={OTHER: 0xF2}) as (_, relay, _tor):
            return [
                await asyncio.to_thread(probe_connect, "127.0.0.1", relay.port, "u", h, 80, 5.0)
                for h in (OTHER, HOST)
            ]

    failed, connected = asyncio.run(go())
    assert failed.code == 0xF2 and failed.name == "introduction_failed"
    assert "introduction failed" in failed.describe()
    assert connected.code == 0
    assert probe_connect("127.0.0.1", 1, None, HOST, 80, 2.0) is None  # nobody listening


def test_transient_onion_errors_are_retried_and_final_ones_are_not() -> None:
    async def go() -> tuple[Page, Page, SocksRelay]:
        async with world(onion_errors={HOST: 0xF2, OTHER: 0xF0}) as (_, relay, tor):
            transient = await fetch(tor, source(retries=2))
            final = await fetch(tor, source("other", OTHER, retries=2))
            return transient, final, relay

    transient, final, relay = asyncio.run(go())
    assert transient.reason == final.reason == "onion_unreachable"
    hosts = [r.host for r in relay.requests]
    assert hosts.count(HOST) == 3 and hosts.count(OTHER) == 1


def test_socks_usernames_and_cookies_are_per_source() -> None:
    async def go() -> tuple[LoopServer, SocksRelay]:
        async with world(hosts=(HOST, OTHER)) as (server, relay, tor):
            forum = source("forum", cookies={"session": "forum-secret"})
            shop = source("shop", OTHER, cookies={"sid": "shop-secret"})
            politeness = Politeness()
            async with Fetcher(tor, forum, politeness) as a, Fetcher(tor, shop, politeness) as b:
                for _ in range(2):
                    await asyncio.gather(a.get(forum.url), b.get(shop.url))
            return server, relay

    server, relay = asyncio.run(go())
    users = {(r.host, r.username) for r in relay.requests}
    assert users == {(HOST, "leakmon-forum"), (OTHER, "leakmon-shop")}
    by_host: dict[str, set[str]] = {}
    for request in server.requests:
        by_host.setdefault(request.headers["host"], set()).add(request.headers.get("cookie", ""))
    assert by_host == {HOST: {"session=forum-secret"}, OTHER: {"sid=shop-secret"}}


def test_a_proxy_that_never_answers_the_connect_hits_the_time_cap() -> None:
    async def stalling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(2 + 2)  # greeting with two methods
        writer.write(b"\x05\x00")  # no authentication... then silence after the CONNECT
        await asyncio.sleep(30)

    async def go() -> tuple[Page, int, int]:
        server = await asyncio.start_server(stalling, "127.0.0.1", 0)
        tor = TorSettings(socks=f"socks5h://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        try:
            async with Fetcher(tor, source(timeout=0.3)) as fetcher:
                await fetcher.get(URL)
                before = len(os.listdir("/proc/self/fd"))
                page = await fetcher.get(URL)
                return page, before, len(os.listdir("/proc/self/fd"))
        finally:
            server.close()

    page, before, after = asyncio.run(go())
    assert (page.outcome, page.reason) == (PageOutcome.FAILED, "timeout")
    assert after <= before


def test_without_the_code_in_the_error_the_proxy_is_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.fetch.client.reply_code_of", lambda exc: None)

    async def go() -> tuple[Page, SocksRelay]:
        async with world(onion_errors={HOST: 0xF4}) as (_, relay, tor):
            return await fetch(tor, source()), relay

    page, relay = asyncio.run(go())
    assert page.reason == "onion_unreachable"
    assert "needs client authorization (SOCKS5 reply 0xf4)" in (page.error or "")
    assert [(r.host, r.username) for r in relay.requests] == [(HOST, "leakmon-forum")] * 2
