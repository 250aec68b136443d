"""The SOCKS5 relay standing in for Tor, over real loopback sockets: handshakes,
Tor's refusals, piping, robustness, and the real client stacks (PySocks, httpx)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import socks  # PySocks

from monitor.demo.server import DemoServer
from monitor.demo.socks import (
    ATYP_DOMAIN,
    ATYP_IPV4,
    ATYP_IPV6,
    KEEP_REQUESTS,
    REP_CONNECTION_REFUSED,
    REP_HOST_UNREACHABLE,
    REP_NOT_ALLOWED,
    REP_ONION_NOT_FOUND,
    SocksRelay,
    SocksRequest,
)
from monitor.demo.world import FORUM_HOST, SHOP_HOST, World, routes

FORUM_LIST = "/forumdisplay.php?fid=2"
UNKNOWN_ONION = "b" * 56 + ".onion"
SUCCESS = b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"


@pytest.fixture(autouse=True)
def no_onion_resolution(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every test here fails if anything in-process resolves an .onion name."""
    asked: list[str] = []
    real: Callable[..., Any] = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        asked.append(name)
        if name.lower().rstrip(".").endswith(".onion"):
            raise socket.gaierror(socket.EAI_NONAME, f"test: refused to resolve {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return asked


def test_the_resolution_guard_is_live(no_onion_resolution: list[str]) -> None:
    async def go() -> None:
        with pytest.raises(socket.gaierror):
            await asyncio.get_running_loop().getaddrinfo(FORUM_HOST, 80)
        with pytest.raises(socket.gaierror):
            await asyncio.open_connection(FORUM_HOST, 80)

    asyncio.run(go())
    assert no_onion_resolution == [FORUM_HOST, FORUM_HOST]


@contextlib.asynccontextmanager
async def demo(step: int = 0, **relay_options: Any) -> AsyncIterator[SocksRelay]:
    async with (
        DemoServer(World(step)) as server,
        SocksRelay(routes(server.port), **relay_options) as relay,
    ):
        yield relay


def address(host: str, atyp: int) -> bytes:
    if atyp == ATYP_DOMAIN:
        return bytes([ATYP_DOMAIN, len(host)]) + host.encode()
    return bytes([atyp]) + ipaddress.ip_address(host).packed


async def socks_connect(
    port: int,
    host: str,
    *,
    dst_port: int = 80,
    auth: tuple[str, str] | None = None,
    atyp: int = ATYP_DOMAIN,
    command: int = 0x01,
) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-rolled RFC 1928/1929 client; returns the 10-byte reply and the stream."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x05\x02\x00\x02" if auth else b"\x05\x01\x00")
    assert await reader.readexactly(2) == (b"\x05\x02" if auth else b"\x05\x00")
    if auth:
        user, password = (s.encode() for s in auth)
        writer.write(bytes([1, len(user)]) + user + bytes([len(password)]) + password)
        assert await reader.readexactly(2) == b"\x01\x00"
    writer.write(bytes([5, command, 0]) + address(host, atyp) + dst_port.to_bytes(2, "big"))
    return await asyncio.wait_for(reader.readexactly(10), 10), reader, writer


async def shut(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def socks_reply(port: int, host: str, **options: Any) -> bytes:
    """Only the relay's 10-byte reply to a CONNECT; the connection is then closed."""
    reply, _, writer = await socks_connect(port, host, **options)
    await shut(writer)
    return reply


async def fetch_through(relay: SocksRelay, host: str, path: str) -> bytes:
    reply, reader, writer = await socks_connect(relay.port, host)
    assert reply == SUCCESS
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 10)
    await shut(writer)
    return raw


def test_connect_without_auth_reaches_the_mapped_onion(no_onion_resolution: list[str]) -> None:
    async def go() -> None:
        async with demo(step=1) as relay:
            raw = await fetch_through(relay, FORUM_HOST, FORUM_LIST)
            assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"[SELLING] Shanghai police database" in raw
            shop = await fetch_through(relay, SHOP_HOST, "/shop/")
            assert b"woocommerce-loop-product__title" in shop
            assert list(relay.requests) == [
                SocksRequest(None, FORUM_HOST, 80, ATYP_DOMAIN),
                SocksRequest(None, SHOP_HOST, 80, ATYP_DOMAIN),
            ]
            assert relay.connections == 2

    asyncio.run(go())
    assert not [h for h in no_onion_resolution if h.endswith(".onion")]


def test_username_password_is_accepted_and_recorded() -> None:
    async def go() -> None:
        async with demo() as relay:
            for user in ("leakmon-darkforum", "leakmon-leakshop"):
                reply = await socks_reply(relay.port, FORUM_HOST, auth=(user, "x"))
                assert reply == SUCCESS
            assert [(r.username, r.password) for r in relay.requests] == [
                ("leakmon-darkforum", "x"),
                ("leakmon-leakshop", "x"),
            ]

    asyncio.run(go())


def test_the_request_log_keeps_only_the_last_requests() -> None:
    """A relay that serves a long run (bench/memory.py: ~8 requests per cycle) must not
    grow with every connection: it remembers the last `keep`, and counts them all."""

    async def go() -> None:
        async with demo() as relay:
            assert relay.requests.maxlen == KEEP_REQUESTS
        async with demo(keep=3) as relay:
            for n in range(5):
                reply = await socks_reply(relay.port, FORUM_HOST, auth=(f"user{n}", "x"))
                assert reply == SUCCESS
            assert [r.username for r in relay.requests] == ["user2", "user3", "user4"]
            assert relay.connections == 5

    asyncio.run(go())


@pytest.mark.parametrize(
    ("host", "atyp", "code"),
    [
        (UNKNOWN_ONION, ATYP_DOMAIN, REP_ONION_NOT_FOUND),
        ("example.com", ATYP_DOMAIN, REP_HOST_UNREACHABLE),
        ("127.0.0.1", ATYP_IPV4, REP_NOT_ALLOWED),
        ("::1", ATYP_IPV6, REP_NOT_ALLOWED),
    ],
)
def test_destinations_outside_the_routes_are_refused(
    host: str, atyp: int, code: int, no_onion_resolution: list[str]
) -> None:
    async def go() -> None:
        async with demo() as relay:
            reply, reader, writer = await socks_connect(relay.port, host, atyp=atyp)
            assert reply == bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])
            assert await asyncio.wait_for(reader.read(), 10) == b""  # then closed
            await shut(writer)
            assert list(relay.requests) == [SocksRequest(None, host, 80, atyp)]

    asyncio.run(go())
    assert host not in no_onion_resolution  # refused without resolving it


def test_forced_onion_errors_and_unsupported_commands() -> None:
    async def go() -> None:
        async with demo(onion_errors={FORUM_HOST: 0xF2}) as relay:
            assert (await socks_reply(relay.port, FORUM_HOST))[1] == 0xF2
            assert (await socks_reply(relay.port, SHOP_HOST, command=0x02))[1] == 0x07  # BIND
            relay.onion_errors.clear()
            assert await socks_reply(relay.port, FORUM_HOST) == SUCCESS
        with pytest.raises(ValueError):
            SocksRelay(onion_errors={FORUM_HOST: 0x100})

    asyncio.run(go())


def test_a_routed_name_whose_server_is_down_gets_connection_refused() -> None:
    async def go() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        dead_port = listener.getsockname()[1]
        listener.close()
        async with SocksRelay({FORUM_HOST: ("127.0.0.1", dead_port)}) as relay:
            assert (await socks_reply(relay.port, FORUM_HOST))[1] == REP_CONNECTION_REFUSED

    asyncio.run(go())


@pytest.mark.parametrize(
    ("greeting", "answer"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b""),  # not SOCKS at all
        (b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00", b""),  # SOCKS4
        (b"\x05\x01\x80", b"\x05\xff"),  # no acceptable method
        (b"\x05", b""),  # truncated, then closed
        (b"\x05\x01\x02\x02\x01", b"\x05\x02"),  # RFC 1929 version 2
        (
            b"\x05\x01\x00\x05\x01\x00\x09\x00\x00",
            b"\x05\x00" + b"\x05\x08" + b"\x00\x01" + bytes(6),
        ),
    ],
)
def test_malformed_clients_do_not_hurt_the_relay(greeting: bytes, answer: bytes) -> None:
    async def go() -> None:
        async with demo() as relay:
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(greeting)
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 10) == answer
            await shut(writer)
            raw = await fetch_through(relay, FORUM_HOST, FORUM_LIST)
            assert raw.startswith(b"HTTP/1.1 200 OK")

    asyncio.run(go())


def test_pipes_large_payloads_both_ways_and_closes_upstream_with_the_client() -> None:
    async def go() -> None:
        eof = asyncio.Event()

        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            eof.set()
            writer.close()

        upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = upstream.sockets[0].getsockname()[1]
        async with SocksRelay({"echo.onion": ("127.0.0.1", port)}) as relay:
            reply, reader, writer = await socks_connect(relay.port, "echo.onion")
            assert reply == SUCCESS
            payload = bytes(range(256)) * 16_384  # 4 MiB

            async def send() -> None:
                writer.write(payload)
                await writer.drain()

            sender = asyncio.create_task(send())
            echoed = await asyncio.wait_for(reader.readexactly(len(payload)), 30)
            await sender
            assert echoed == payload
            await shut(writer)
            await asyncio.wait_for(eof.wait(), 10)  # the relay closed its upstream side
        upstream.close()
        await upstream.wait_closed()

    asyncio.run(go())


def test_close_cuts_relayed_connections() -> None:
    async def go() -> None:
        async with demo() as relay:
            reply, reader, writer = await socks_connect(relay.port, FORUM_HOST)
            assert reply == SUCCESS
            await asyncio.wait_for(relay.close(), 10)
            assert await asyncio.wait_for(reader.read(), 10) == b""
            await shut(writer)

    asyncio.run(go())


# ------------------------------------------------------------ real client stacks


def pysocks_get(port: int, host: str, path: str) -> bytes:
    sock = socks.socksocket()
    sock.set_proxy(socks.SOCKS5, "127.0.0.1", port, rdns=True, username="probe", password="p")
    sock.settimeout(10)
    try:
        sock.connect((host, 80))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        sock.close()


def test_pysocks_fetches_through_the_relay_and_names_tor_reply_codes() -> None:
    async def go() -> None:
        async with demo() as relay:
            raw = await asyncio.to_thread(pysocks_get, relay.port, FORUM_HOST, FORUM_LIST)
            assert raw.startswith(b"HTTP/1.1 200 OK") and b'class="inline_row"' in raw
            with pytest.raises(socks.ProxyError) as failed:
                await asyncio.to_thread(pysocks_get, relay.port, UNKNOWN_ONION, "/")
            assert "0xf0" in str(failed.value).lower()
            assert relay.requests[0] == SocksRequest("probe", FORUM_HOST, 80, ATYP_DOMAIN, "p")

    asyncio.run(go())


def test_httpx_socks5h_fetches_the_forum_through_the_relay(
    no_onion_resolution: list[str],
) -> None:
    async def go() -> None:
        async with demo(step=2) as relay:
            proxy = f"socks5h://leakmon-darkforum:x@127.0.0.1:{relay.port}"
            async with httpx.AsyncClient(proxy=proxy, trust_env=False, timeout=10) as client:
                page = await client.get(f"http://{FORUM_HOST}{FORUM_LIST}")
                assert page.status_code == 200
                assert page.headers["content-type"] == "text/html; charset=utf-8"
                assert "Shanghai police database - 1 billion records - 8 BTC" in page.text
            assert relay.requests[0] == SocksRequest(
                "leakmon-darkforum", FORUM_HOST, 80, ATYP_DOMAIN, "x"
            )

    asyncio.run(go())
    assert not [h for h in no_onion_resolution if ".onion" in h]
