"""The only way leakmon talks to the network: httpx through Tor's SOCKS port.

Fail closed: no proxy means no client; the proxy is always ``socks5h://`` so the
hostname travels to Tor unresolved; the environment's proxy settings are ignored
(``trust_env=False``); clearnet hosts are refused unless the source allows them;
redirects are followed by hand, same host only. Every response is capped in time
and in bytes, and decompressed by us with a bound.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx
import socksio

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
from monitor.models import Page, PageOutcome, Source, TorSettings

USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
DEFAULT_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.5",
    "Accept-Encoding": "gzip, deflate",
}
MAX_REDIRECTS = 5
_ALLOWED_TYPES = ("text/html", "application/xhtml+xml", "application/json", "text/plain")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_onion(host: str) -> bool:
    return host.lower().rstrip(".").endswith(".onion")


def proxy_url(tor: TorSettings, source_name: str) -> str:
    """The SOCKS URL for one source: its own username, so Tor's IsolateSOCKSAuth
    gives each source its own circuit. Refuses anything but ``socks5h://``."""
    parts = urlsplit(tor.socks)
    if parts.scheme != "socks5h" or not parts.hostname or not parts.port:
        raise ConfigError("tor.socks: must be socks5h://HOST:PORT (remote DNS through Tor)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"socks5h://leakmon-{source_name}:x@{host}:{parts.port}"


def one_line(text: str, limit: int = 300) -> str:
    """A message safe for a log line or a terminal: no control characters, capped."""
    return _CONTROL.sub(" ", text)[:limit]


class _Bounded:
    """Collects a body, decompressing gzip/deflate itself, within a decoded-byte cap."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        enc = encoding.strip().lower()
        if enc in ("", "identity"):
            self.decoder: zlib._Decompress | None = None
        elif enc in ("gzip", "x-gzip"):
            self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self.decoder = zlib.decompressobj()
        else:
            raise Refused(f"unsupported content encoding {one_line(enc, 40)!r}")

    def feed(self, chunk: bytes) -> None:
        if self.decoder is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            room = self.cap - self.size + 1
            try:
                out = self.decoder.decompress(data, room)
            except zlib.error as exc:
                raise FetchError(f"corrupt compressed body: {exc}") from None
            self._add(out)
            data = self.decoder.unconsumed_tail

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise TooLarge(f"decoded body larger than {self.cap} bytes")
        self.parts.append(data)

    def body(self) -> bytes:
        return b"".join(self.parts)


def decode_body(body: bytes, content_type: str) -> str:
    """Text of a body: header charset, then <meta charset>, then BOM, then detection."""
    for candidate in (_header_charset(content_type), _meta_charset(body)):
        if candidate:
            try:
                return body.decode(candidate)
            except (LookupError, UnicodeDecodeError):
                continue
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # detection only when needed

    best = from_bytes(body[:200_000]).best()
    return body.decode(best.encoding if best else "utf-8", errors="replace")


def _header_charset(content_type: str) -> str | None:
    match = re.search(r"charset=\"?([A-Za-z0-9_.:-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None


class Fetcher:
    """An httpx client for one source. Use as an async context manager.

    `get()` never raises for a page-level failure: it returns a `Page` whose
    outcome is ``failed`` or ``blocked`` with a short reason and a one-line error.
    """

    def __init__(self, tor: TorSettings, source: Source) -> None:
        self.source = source
        timeout = httpx.Timeout(min(30.0, source.timeout), read=source.timeout)
        headers = {**DEFAULT_HEADERS, **source.headers}
        self._client = httpx.AsyncClient(
            proxy=proxy_url(tor, source.name),
            trust_env=False,
            follow_redirects=False,
            timeout=timeout,
            headers=headers,
            cookies=dict(source.cookies),
        )

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

    async def get(self, url: str) -> Page:
        """Fetch one page within the source's caps and classify the outcome."""
        wire = 0
        try:
            async with asyncio.timeout(self.source.timeout):
                status, text, wire = await self._get_following(url)
        except TimeoutError:
            return _failed(url, FetchTimeout(f"no complete answer within {self.source.timeout:g}s"))
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

    async def _get_following(self, url: str) -> tuple[int, str, int]:
        current = url
        self._check_target(current, origin=url)
        for _hop in range(MAX_REDIRECTS + 1):
            status, location, text, wire = await self._get_once(current)
            if location is None:
                return status, text, wire
            nxt = urljoin(current, location)
            self._check_target(nxt, origin=url)
            current = nxt
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    def _check_target(self, url: str, origin: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise Refused(f"not an http(s) URL: {one_line(url, 120)}")
        if not is_onion(host) and not self.source.allow_clearnet:
            raise Refused(f"clearnet host {one_line(host, 80)} refused (allow_clearnet is off)")
        if host != (urlsplit(origin).hostname or ""):
            raise Refused(f"redirect to another host {one_line(host, 80)} refused")

    async def _get_once(self, url: str) -> tuple[int, str | None, str, int]:
        cap = self.source.max_bytes
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
                sink = _Bounded(resp.headers.get("content-encoding", ""), cap)
                wire = 0
                async for chunk in resp.aiter_raw():
                    wire += len(chunk)
                    if wire > cap:
                        raise TooLarge(f"more than {cap} bytes on the wire")
                    sink.feed(chunk)
                return resp.status_code, None, decode_body(sink.body(), ctype), wire
        except (httpx.ProxyError, socksio.ProtocolError) as exc:
            raise _proxy_failure(exc) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TorUnavailable(f"SOCKS proxy not reachable: {one_line(str(exc), 120)}") from None
        except httpx.TimeoutException:
            raise FetchTimeout("read timed out") from None
        except httpx.RemoteProtocolError as exc:
            raise FetchError(f"protocol error: {one_line(str(exc), 120)}") from None
        except httpx.HTTPError as exc:
            raise FetchError(one_line(f"{type(exc).__name__}: {exc}", 160)) from None


def _proxy_failure(exc: Exception) -> FetchError:
    message = one_line(str(exc), 160)
    if "Malformed reply" in message or "could not connect" in message.lower():
        return OnionUnreachable(f"Tor could not reach the site ({message})")
    return TorUnavailable(f"SOCKS proxy error: {message}")


def _failed(url: str, exc: FetchError, status: int | None = None) -> Page:
    return Page(
        url=url,
        outcome=PageOutcome.FAILED,
        status=status,
        reason=exc.reason,
        error=one_line(str(exc)),
    )
