"""The only way leakmon talks to the network: httpx through Tor's SOCKS port.

Fail closed: no proxy means no client; the proxy is always ``socks5h://`` so the
hostname travels to Tor unresolved; the environment's proxy settings are ignored
(``trust_env=False``); clearnet hosts are refused unless the source allows them;
every request stays on the source's own host (redirects are followed by hand).
Every response is capped in time and in bytes, and decompressed by us with a bound.
Transport errors and 502/503/504 are retried with exponential backoff and jitter;
a shared `Politeness` spaces the requests.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
import socksio
import stamina

from monitor.errors import (
    Blocked,
    ConfigError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    OnionUnreachable,
    Refused,
    TooLarge,
    TorUnavailable,
)
from monitor.fetch.blocks import block_reason
from monitor.fetch.body import Bounded, decode_body, one_line
from monitor.fetch.politeness import Politeness
from monitor.fetch.probe import TRANSIENT, SocksReply, probe_connect, reply_code_of
from monitor.models import Page, PageOutcome, Source, TorSettings

log = logging.getLogger(__name__)

USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
DEFAULT_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.5",
    "Accept-Encoding": "gzip, deflate",
}
MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({502, 503, 504})
BACKOFF_INITIAL = 2.0  # seconds before the first retry; doubles each time
BACKOFF_MAX = 60.0
BACKOFF_JITTER = 2.0
CONNECT_TIMEOUT = 30.0  # Tor circuits are slow to build
_ALLOWED_TYPES = ("text/html", "application/xhtml+xml", "application/json", "text/plain")


def is_onion(host: str) -> bool:
    return host.lower().rstrip(".").endswith(".onion")


def proxy_url(tor: TorSettings, source_name: str) -> str:
    """The SOCKS URL for one source: its own username, so Tor's IsolateSOCKSAuth
    gives each source its own circuit. Refuses anything but ``socks5h://``."""
    parts = urlsplit(tor.socks)
    if parts.scheme != "socks5h" or not parts.hostname or not parts.port:
        raise ConfigError("tor.socks: must be socks5h://HOST:PORT (remote DNS through Tor)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"socks5h://{socks_username(source_name)}:x@{host}:{parts.port}"


def socks_username(source_name: str) -> str:
    """The SOCKS username of a source's circuit (Tor isolates streams by it)."""
    return f"leakmon-{source_name}"


class _Transient:
    """Mixin marking a failure worth another attempt."""


class _TransportTimeout(FetchTimeout, _Transient):
    pass


class _TransportFailure(FetchError, _Transient):
    pass


class _OnionTransient(OnionUnreachable, _Transient):
    pass


def retryable(exc: Exception) -> bool:
    """Retry transport failures and 502/503/504; never 4xx, refusals, caps or block pages."""
    if isinstance(exc, HTTPStatusError):
        return exc.status in RETRY_STATUSES
    return isinstance(exc, _Transient)


class _Tracker(httpcore.AsyncNetworkBackend):
    """Wraps httpcore's network backend to remember the streams opened for the current
    request, so the one httpcore leaves open after a failed SOCKS handshake is closed."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner
        self.opened: list[httpcore.AsyncNetworkStream] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        self.opened.append(stream)
        return stream

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

    async def close_opened(self) -> None:
        """Close the streams opened since the last call (those a failure left behind)."""
        streams, self.opened = self.opened, []
        for stream in streams:
            try:
                await stream.aclose()
            except (OSError, httpcore.NetworkError) as exc:
                log.debug("closing a leftover proxy connection: %r", exc)


def _transport(
    proxy: str, tls: ssl.SSLContext | None = None
) -> tuple[httpx.AsyncHTTPTransport, _Tracker | None]:
    """httpx's transport through `proxy`, with the stream tracker installed when httpcore
    exposes its backend (a private attribute; without it the leak waits for the GC).
    `tls`: a TLS context shared by every Fetcher of a process (building one per
    transport costs ~30 ms and native memory each time)."""
    transport = httpx.AsyncHTTPTransport(proxy=proxy, retries=0, verify=tls or True)
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if not isinstance(inner, httpcore.AsyncNetworkBackend):
        log.warning("cannot install the SOCKS stream tracker: httpcore changed")
        return transport, None
    tracker = _Tracker(inner)
    pool._network_backend = tracker  # type: ignore[union-attr]
    return transport, tracker


class Fetcher:
    """An httpx client for one source. Use as an async context manager.

    `get()` never raises for a page-level failure: it returns a `Page` whose
    outcome is ``failed`` or ``blocked`` with a short reason and a one-line error.
    Requests of one Fetcher run one at a time; `politeness` (shared by all Fetchers
    of a process; a private one when None) spaces them across sources.
    """

    def __init__(
        self,
        tor: TorSettings,
        source: Source,
        politeness: Politeness | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.source = source
        proxy = proxy_url(tor, source.name)
        parts = urlsplit(proxy)
        self._proxy = (parts.hostname or "", parts.port or 0, parts.username)
        self._host = (urlsplit(source.url).hostname or "").lower()
        self._politeness = politeness or Politeness(tor.max_concurrency)
        self._lock = asyncio.Lock()
        transport, self._tracker = _transport(proxy, tls)
        self._client = httpx.AsyncClient(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(min(CONNECT_TIMEOUT, source.timeout), read=source.timeout),
            headers={**DEFAULT_HEADERS, **source.headers},
            cookies=dict(source.cookies),
        )
        self._get_retrying = stamina.retry(
            on=retryable,
            attempts=source.retries + 1,
            timeout=None,
            wait_initial=BACKOFF_INITIAL,
            wait_max=BACKOFF_MAX,
            wait_jitter=BACKOFF_JITTER,
        )(self._get_polite)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._tracker is not None:
            self._tracker.opened.clear()

    async def get(self, url: str) -> Page:
        """Fetch one page within the source's caps and classify the outcome."""
        try:
            async with self._lock:
                status, text, wire = await self._get_following(url, self._politeness.now())
        except HTTPStatusError as exc:
            return _failed(url, exc, status=exc.status)
        except FetchError as exc:
            return _failed(url, exc)
        reason = block_reason(text, self.source.block_markers)
        if reason is not None:
            return Page(
                url=url,
                outcome=PageOutcome.BLOCKED,
                status=status,
                text=text,
                wire_bytes=wire,
                reason=f"blocked:{reason}",
                error=str(Blocked(f"block page ({reason})")),
            )
        return Page(url=url, outcome=PageOutcome.OK, status=status, text=text, wire_bytes=wire)

    async def _get_following(self, url: str, since: float) -> tuple[int, str, int]:
        """Fetch `url` and its redirects; every attempt queues as of `since`."""
        current = url
        self._check_target(current)
        for _hop in range(MAX_REDIRECTS + 1):
            status, location, text, wire = await self._get_retrying(current, since)
            if location is None:
                return status, text, wire
            current = urljoin(current, location)
            self._check_target(current, redirect=True)
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    def _check_target(self, url: str, *, redirect: bool = False) -> None:
        """Only http(s) on the source's own host (a redirect may also go to another
        .onion host when the source sets `onion_redirects`); clearnet only if allowed."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise Refused(f"not an http(s) URL: {one_line(url, 120)}")
        if not is_onion(host) and not self.source.allow_clearnet:
            raise Refused(f"clearnet host {one_line(host, 80)} refused (allow_clearnet is off)")
        moved = redirect and self.source.onion_redirects and is_onion(host)
        if host != self._host and not moved:
            raise Refused(f"another host {one_line(host, 80)} refused (not the source's host)")

    async def _get_polite(self, url: str, since: float) -> tuple[int, str | None, str, int]:
        """One attempt: wait for the host's turn (a retry keeps the place in line its
        page got at `since`), then fetch within the total time cap."""
        timeout = self.source.timeout
        async with self._politeness.slot(self._host, self.source.min_delay, since=since):
            try:
                async with asyncio.timeout(timeout):
                    return await self._get_once(url)
            except TimeoutError:
                raise FetchTimeout(f"no complete answer within {timeout:g}s") from None

    async def _get_once(self, url: str) -> tuple[int, str | None, str, int]:
        cap = self.source.max_bytes
        if self._tracker is not None:
            self._tracker.opened.clear()
        try:
            async with self._client.stream("GET", url) as resp:
                if resp.is_redirect:
                    return resp.status_code, resp.headers.get("location", ""), "", 0
                if resp.status_code >= 400:
                    raise HTTPStatusError(f"HTTP {resp.status_code}", resp.status_code)
                ctype = resp.headers.get("content-type", "text/html")
                if not ctype.lower().split(";")[0].strip().startswith(_ALLOWED_TYPES):
                    raise Refused(f"content type {one_line(ctype, 60)!r} is not HTML or JSON")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise TooLarge(f"declared length {declared} exceeds {cap} bytes")
                sink = Bounded(resp.headers.get("content-encoding", ""), cap)
                wire = 0
                async for chunk in resp.aiter_raw():
                    wire += len(chunk)
                    if wire > cap:
                        raise TooLarge(f"more than {cap} bytes on the wire")
                    sink.feed(chunk)
                return resp.status_code, None, decode_body(sink.body(), ctype), wire
        except (httpx.ProxyError, socksio.ProtocolError) as exc:
            await self._close_leftovers()
            raise await self._proxy_failure(url, exc) from None
        except asyncio.CancelledError:  # the time cap (or shutdown) hit mid-handshake too
            await self._close_leftovers()
            raise
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TorUnavailable(f"SOCKS proxy not reachable: {one_line(str(exc), 120)}") from None
        except httpx.TimeoutException:
            raise _TransportTimeout("read timed out") from None
        except httpx.TransportError as exc:
            raise _TransportFailure(one_line(f"{type(exc).__name__}: {exc}", 160)) from None

    async def _close_leftovers(self) -> None:
        """Close this attempt's proxy connections: httpcore leaves the socket of a failed
        or interrupted SOCKS handshake open (and a finished attempt's is dead anyway)."""
        if self._tracker is not None:
            await self._tracker.close_opened()

    async def _proxy_failure(self, url: str, exc: Exception) -> FetchError:
        """Tor refused the stream: name its reply (from the error, else by probing)."""
        code = reply_code_of(exc)
        if code is None and "Malformed reply" in str(exc):
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            proxy_host, proxy_port, user = self._proxy
            reply = await asyncio.to_thread(
                probe_connect, proxy_host, proxy_port, user, parts.hostname or "", port
            )
            code = reply.code if reply is not None and reply.code else None
        if code is None:
            return TorUnavailable(f"SOCKS proxy error: {one_line(str(exc), 160)}")
        reply = SocksReply(code)
        if code in TRANSIENT:
            return _OnionTransient(f"Tor could not reach the site: {reply.describe()}")
        return OnionUnreachable(f"Tor could not reach the site: {reply.describe()}")


def _failed(url: str, exc: FetchError, status: int | None = None) -> Page:
    return Page(
        url=url,
        outcome=PageOutcome.FAILED,
        status=status,
        reason=exc.reason,
        error=one_line(str(exc)),
    )
