"""Preflight of the Tor client before any crawl: does the SOCKS port speak SOCKS5, is
it Tor's, and does the control port accept our credentials?

Nothing here reaches a destination: the SOCKS port gets a greeting (no CONNECT) and
an HTTP request, which Tor answers itself ("This is a SOCKS proxy, not an HTTP proxy").
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.errors import ConfigError, TorUnavailable
from monitor.fetch.body import one_line
from monitor.fetch.torctl import TorControl
from monitor.models import TorSettings

_GREETING = b"\x05\x02\x00\x02"  # SOCKS5, two methods: no auth, username/password
_HTTP_PROBE = b"GET / HTTP/1.0\r\nHost: leakmon-preflight\r\n\r\n"
_TOR_ANSWER = "not an http proxy"


@dataclass(frozen=True)
class Check:
    """One preflight result: `ok`, or why not; `config` marks a configuration fault."""

    name: str
    ok: bool
    detail: str
    config: bool = False


def socks_address(tor: TorSettings) -> tuple[str, int]:
    parts = urlsplit(tor.socks)
    if parts.hostname is None or parts.port is None:
        raise ConfigError("tor.socks: must be socks5h://HOST:PORT")
    return parts.hostname, parts.port


async def _exchange(host: str, port: int, data: bytes, want: int, timeout: float) -> bytes:
    """Send `data` on a fresh connection and read up to `want` bytes (b"" if it closed)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(data)
        await writer.drain()
        chunks, size = [], 0
        while size < want:
            chunk = await asyncio.wait_for(reader.read(want - size), timeout)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def check_socks(tor: TorSettings, timeout: float = 10.0) -> tuple[Check, Check]:
    """(the SOCKS5 greeting check, the "is it Tor" check). The second is only
    informative (ok=True) unless the first failed."""
    host, port = socks_address(tor)
    where = f"SOCKS port {host}:{port}"
    try:
        reply = await _exchange(host, port, _GREETING, 2, timeout)
    except (OSError, TimeoutError) as exc:
        reason = "no answer in time" if isinstance(exc, TimeoutError) else exc.strerror or exc
        failed = Check("socks", False, f"{where} does not answer: {reason}")
        return failed, Check("tor", False, "not checked: the SOCKS port does not answer")
    if reply[:1] != b"\x05" or reply[1:2] not in (b"\x00", b"\x02"):
        failed = Check("socks", False, f"{where} does not speak SOCKS5 (answered {reply[:8]!r})")
        return failed, Check("tor", False, "not checked: not a SOCKS5 server")
    socks = Check("socks", True, f"{where} speaks SOCKS5")
    try:
        answer = await _exchange(host, port, _HTTP_PROBE, 4096, timeout)
    except (OSError, TimeoutError):
        answer = b""
    if _TOR_ANSWER in answer.decode("latin-1").casefold():
        return socks, Check("tor", True, "it is Tor (it answers HTTP with 'not an HTTP proxy')")
    detail = "a SOCKS5 server that is not Tor (no 'not an HTTP proxy' answer): not anonymous"
    return socks, Check("tor", True, detail)


async def check_control(tor: TorSettings) -> Check:
    """Connect and authenticate to the control port, if one is configured."""
    control = TorControl.from_settings(tor)
    if control is None:
        return Check("control", True, "not configured (no NEWNYM when a source keeps failing)")
    try:
        with control:
            version = await asyncio.to_thread(control.version)
    except ConfigError as exc:
        return Check("control", False, one_line(str(exc)), config=True)
    except TorUnavailable as exc:
        return Check("control", False, one_line(str(exc)))
    auth = "password" if tor.control_password else "cookie"
    return Check("control", True, f"{control.where}: Tor {version}, {auth} authentication ok")
