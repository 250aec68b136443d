"""An asyncio SOCKS5 relay (RFC 1928, RFC 1929) that stands in for Tor in the demo.

It behaves like a Tor SocksPort as far as leakmon can tell: CONNECT by host name
only, username/password accepted whatever they are (Tor uses them for stream
isolation; the relay records them), and Tor's reply codes for what it cannot reach:
an unknown onion gets 0xF0 (descriptor not found), anything else 0x04 (host
unreachable), an IP literal 0x02 (not allowed). Known names are mapped by `routes`
to loopback addresses; the relay never resolves a requested name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.demo.tcp import LoopbackServer

__all__ = [
    "ATYP_DOMAIN",
    "ATYP_IPV4",
    "ATYP_IPV6",
    "KEEP_REQUESTS",
    "REP_CONNECTION_REFUSED",
    "REP_HOST_UNREACHABLE",
    "REP_NOT_ALLOWED",
    "REP_ONION_NOT_FOUND",
    "SocksRelay",
    "SocksRequest",
]

log = logging.getLogger(__name__)

ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6 = 0x01, 0x03, 0x04
REP_SUCCEEDED = 0x00
REP_NOT_ALLOWED = 0x02  # connection not allowed by ruleset
REP_HOST_UNREACHABLE = 0x04
REP_CONNECTION_REFUSED = 0x05
REP_COMMAND_NOT_SUPPORTED = 0x07
REP_ATYP_NOT_SUPPORTED = 0x08
REP_ONION_NOT_FOUND = 0xF0  # Tor: onion service descriptor can not be found
_NO_AUTH, _USER_PASS, _NO_METHOD = 0x00, 0x02, 0xFF
_CONNECT = 0x01
HANDSHAKE_TIMEOUT = 10.0  # seconds for greeting, auth and request
CHUNK = 64 * 1024  # bytes read at a time while piping; drain() bounds the buffers
KEEP_REQUESTS = 1024  # parsed requests a relay remembers (~300 B each)


@dataclass(frozen=True)
class SocksRequest:
    """One SOCKS5 request as the client sent it (before the relay decided anything)."""

    username: str | None  # None: the client chose "no authentication"
    host: str  # a name, or the IP literal's text form
    port: int
    atyp: int  # ATYP_DOMAIN, ATYP_IPV4 or ATYP_IPV6
    password: str | None = None
    command: int = _CONNECT


class _Refuse(Exception):
    """End the handshake with this SOCKS5 reply code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"SOCKS5 reply {code:#04x}")
        self.code = code


class SocksRelay(LoopbackServer):
    """SOCKS5 relay from a local port to the loopback servers named in `routes`.

    `routes` maps a host name (``"xxxx.onion"``) to the ``(host, port)`` to connect to,
    whatever port was requested; `onion_errors` forces a reply code for a name (e.g.
    0xF2, introduction failed) even if it is routed. Both may be changed while the
    relay runs (keys in lower case). `requests` holds the last `keep` parsed requests,
    oldest first (a long-running relay must not grow with every connection);
    `connections` counts every accepted client connection.
    """

    def __init__(
        self,
        routes: Mapping[str, tuple[str, int]] | None = None,
        *,
        onion_errors: Mapping[str, int] | None = None,
        keep: int = KEEP_REQUESTS,
    ) -> None:
        super().__init__()
        self.routes: dict[str, tuple[str, int]] = {k.lower(): v for k, v in (routes or {}).items()}
        self.onion_errors: dict[str, int] = {k.lower(): v for k, v in (onion_errors or {}).items()}
        for name, code in self.onion_errors.items():
            if not 0 < code <= 0xFF:
                raise ValueError(f"onion_errors[{name!r}]: {code} is not a SOCKS5 error reply")
        self.requests: deque[SocksRequest] = deque(maxlen=max(1, keep))
        self.connections = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        self.connections += 1
        upstream: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                up_reader, upstream = await self._handshake(reader, writer)
            writer.write(_reply(REP_SUCCEEDED))
            await writer.drain()
            await _pipe_both(reader, writer, up_reader, upstream)
        except _Refuse as refused:
            log.debug("socks relay: %s", refused)
            writer.write(_reply(refused.code))
        except (asyncio.IncompleteReadError, OSError, ValueError) as exc:
            log.debug("socks relay: closing client connection: %r", exc)
        except asyncio.CancelledError:
            pass  # close() cut us; end quietly (3.11's stream callback logs cancelled tasks)
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Greeting, optional RFC 1929 auth and the request; the upstream connection.

        Raises _Refuse for a reply the client should get, ValueError for a client
        that does not speak SOCKS5 (no reply: the connection is just closed).
        """
        version, count = await reader.readexactly(2)
        if version != 0x05:
            raise ValueError(f"not SOCKS5: version byte {version:#04x}")
        methods = await reader.readexactly(count)
        username = password = None
        if _USER_PASS in methods:  # Tor prefers it when offered: it isolates streams
            writer.write(bytes([0x05, _USER_PASS]))
            username, password = await _read_credentials(reader)
            writer.write(b"\x01\x00")  # any credentials are good
        elif _NO_AUTH in methods:
            writer.write(bytes([0x05, _NO_AUTH]))
        else:
            writer.write(bytes([0x05, _NO_METHOD]))
            raise ValueError(f"no acceptable method in {methods.hex()}")
        await writer.drain()
        version, command, _, atyp = await reader.readexactly(4)
        if version != 0x05:
            raise ValueError(f"request with version byte {version:#04x}")
        host = await _read_address(reader, atyp)
        dst_port = int.from_bytes(await reader.readexactly(2), "big")
        self.requests.append(SocksRequest(username, host, dst_port, atyp, password, command))
        if command != _CONNECT:
            raise _Refuse(REP_COMMAND_NOT_SUPPORTED)
        target = self._route(host, atyp)
        try:
            return await asyncio.open_connection(*target)
        except OSError as exc:
            log.debug("socks relay: %r -> %s:%d failed: %r", host, *target, exc)
            raise _Refuse(REP_CONNECTION_REFUSED) from exc

    def _route(self, host: str, atyp: int) -> tuple[str, int]:
        """The loopback address for `host`, or _Refuse with Tor's reply code."""
        if atyp != ATYP_DOMAIN:
            raise _Refuse(REP_NOT_ALLOWED)  # Tor clients must not send IP literals here
        name = host.lower().rstrip(".")
        if name in self.onion_errors:
            raise _Refuse(self.onion_errors[name])
        if name in self.routes:
            return self.routes[name]
        raise _Refuse(REP_ONION_NOT_FOUND if name.endswith(".onion") else REP_HOST_UNREACHABLE)


async def _read_credentials(reader: asyncio.StreamReader) -> tuple[str, str]:
    """RFC 1929 username/password sub-negotiation."""
    version, ulen = await reader.readexactly(2)
    if version != 0x01:
        raise ValueError(f"auth sub-negotiation version {version:#04x}")
    username = await reader.readexactly(ulen)
    (plen,) = await reader.readexactly(1)
    password = await reader.readexactly(plen)
    return username.decode("utf-8", "replace"), password.decode("utf-8", "replace")


async def _read_address(reader: asyncio.StreamReader, atyp: int) -> str:
    if atyp == ATYP_DOMAIN:
        (length,) = await reader.readexactly(1)
        return (await reader.readexactly(length)).decode("ascii", "replace")
    if atyp == ATYP_IPV4:
        return str(ipaddress.IPv4Address(await reader.readexactly(4)))
    if atyp == ATYP_IPV6:
        return str(ipaddress.IPv6Address(await reader.readexactly(16)))
    raise _Refuse(REP_ATYP_NOT_SUPPORTED)


def _reply(code: int) -> bytes:
    """A SOCKS5 reply with BND.ADDR 0.0.0.0:0 (Tor sends the same)."""
    return bytes([0x05, code, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0])


async def _pipe_both(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    up_r: asyncio.StreamReader,
    up_w: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes (Tor has no half-closed streams)."""
    tasks = {
        asyncio.ensure_future(_pipe(client_r, up_w)),
        asyncio.ensure_future(_pipe(up_r, client_w)),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()  # back-pressure: never buffer more than the transport allows
    except OSError as exc:
        log.debug("socks relay: pipe closed: %r", exc)
