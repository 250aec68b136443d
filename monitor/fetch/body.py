"""Response bodies: bounded decompression and charset decoding. Pure, no I/O.

`Bounded` collects a body from raw wire chunks, decompressing gzip/deflate itself
with a cap on the decoded size (httpx would decompress without a bound);
`decode_body` turns the bytes into text the way a browser would.
"""

from __future__ import annotations

import re
import zlib

from monitor.errors import FetchError, Refused, TooLarge
from monitor.text import safe_line

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def one_line(text: str, limit: int = 300) -> str:
    """A message safe for a log line or a terminal (see monitor.text.safe_line)."""
    return safe_line(text, limit)


class Bounded:
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
