"""The HTTP responses of a WARC file (ISO 28500, 1.0 and 1.1), as `leakmon replay`
reads them. Plain ``.warc`` or gzip-compressed ``.warc.gz`` (one gzip member per
record, or the whole file; concatenated files are one stream).

Records used: ``response`` (an HTTP response: status, headers, body; chunked
transfer coding and gzip/deflate content coding undone), ``resource`` (a body
without HTTP, status 200) and ``revisit`` (a crawler's "same payload as before":
the body of the earlier response with the same ``WARC-Payload-Digest``, or of the
record it refers to, with the revisit's own status and headers when it has them).
Every other type (warcinfo, request, metadata, ...) is skipped.

`read_warc` raises ConfigError naming the byte offset of a record it cannot read
(in the uncompressed stream), so that a damaged file never silently becomes
missing pages.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BufferedIOBase
from pathlib import Path

from monitor.errors import ConfigError

MAX_BODY = 64 * 1024 * 1024  # bytes of a record or decoded body kept; replay caps again per source
_MAX_HEADER_LINES = 500


@dataclass(frozen=True)
class WarcResponse:
    """One HTTP response as a WARC file holds it."""

    url: str
    at: datetime
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


# Earlier responses by payload digest and by (target URI, WARC-Date), for revisits.
_Seen = tuple[dict[str, WarcResponse], dict[tuple[str, str], WarcResponse]]


def read_warc(path: Path) -> list[WarcResponse]:
    """Every response of the WARC file at `path` in file order; of a WACZ (a zip
    package, as Browsertrix writes it), of each WARC file under ``archive/`` in
    name order."""
    if path.name.lower().endswith(".wacz"):
        return _read_wacz(path)
    try:
        with path.open("rb") as raw:
            if raw.read(2) != b"\x1f\x8b":
                raw.seek(0)
                return list(_responses(raw, str(path)))
        with gzip.open(path, "rb") as unzipped:
            return list(_responses(unzipped, str(path)))
    except (OSError, EOFError, zlib.error) as exc:
        raise ConfigError(f"WARC file {path}: unreadable ({exc})") from None


def _read_wacz(path: Path) -> list[WarcResponse]:
    seen: _Seen = ({}, {})
    out: list[WarcResponse] = []
    try:
        with zipfile.ZipFile(path) as package:
            names = sorted(
                n
                for n in package.namelist()
                if n.startswith("archive/") and n.lower().endswith((".warc", ".warc.gz"))
            )
            if not names:
                raise ConfigError(f"WACZ file {path}: no WARC file under archive/")
            for name in names:
                where = f"{path}!{name}"
                with package.open(name) as member:
                    if name.lower().endswith(".gz"):
                        with gzip.GzipFile(fileobj=member) as unzipped:
                            out += _responses(unzipped, where, seen)
                    else:
                        out += _responses(member, where, seen)  # type: ignore[arg-type]
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise ConfigError(f"WACZ file {path}: unreadable ({exc})") from None
    return out


def _responses(
    stream: BufferedIOBase, where: str, seen: _Seen | None = None
) -> Iterator[WarcResponse]:
    """The responses of one WARC stream; `seen` carries the responses that revisit
    records may refer to from one file of a WACZ to the next."""
    by_digest, by_target = seen if seen is not None else ({}, {})
    offset = 0
    while True:
        record = _record(stream, where, offset)
        if record is None:
            return
        fields, block, offset_next = record
        kind = fields.get("warc-type", "")
        url = fields.get("warc-target-uri", "").strip("<>")
        at = _date(fields.get("warc-date", ""), where, offset)
        response: WarcResponse | None = None
        if kind == "response":
            status, headers, body = _http(block, where, offset)
            if body is not None:  # else left out: the page counts as not captured
                response = WarcResponse(url, at, status, body, headers)
        elif kind == "resource":
            headers = {"content-type": fields.get("content-type", "")}
            response = WarcResponse(url, at, 200, block[:MAX_BODY], headers)
        elif kind == "revisit":
            response = _revisit(fields, block, url, at, by_digest, by_target, where, offset)
        if response is not None and url:
            digest = fields.get("warc-payload-digest")
            if digest and kind != "revisit":
                by_digest.setdefault(digest, response)
            by_target.setdefault((url, fields.get("warc-date", "")), response)
            yield response
        offset = offset_next


def _record(
    stream: BufferedIOBase, where: str, offset: int
) -> tuple[dict[str, str], bytes, int] | None:
    """The next record's header fields (names lower-cased), its block and the offset
    after it; None at the end of the file."""
    line = stream.readline()
    position = offset + len(line)
    while line in (b"\r\n", b"\n"):  # blank lines between records
        offset = position
        line = stream.readline()
        position += len(line)
    if not line:
        return None
    if not line.startswith(b"WARC/"):
        raise ConfigError(f"WARC file {where}: no WARC record at byte {offset}")
    fields: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        line = stream.readline()
        position += len(line)
        if line in (b"\r\n", b"\n", b""):
            break
        name, sep, value = line.decode("utf-8", "replace").partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    else:
        raise ConfigError(f"WARC file {where}: record at byte {offset} has no end of header")
    try:
        length = int(fields.get("content-length", ""))
    except ValueError:
        raise ConfigError(
            f"WARC file {where}: record at byte {offset} has no Content-Length"
        ) from None
    block = stream.read(min(length, MAX_BODY))
    read = len(block)
    while read < length:  # past MAX_BODY: skipped, never held (the page fails as too large)
        chunk = stream.read(min(length - read, 1 << 20))
        if not chunk:
            break
        read += len(chunk)
    if read != length:
        raise ConfigError(
            f"WARC file {where}: record at byte {offset} is cut short ({read} of {length} bytes)"
        )
    return fields, block, position + length


def _date(text: str, where: str, offset: int) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"WARC file {where}: record at byte {offset} has no readable WARC-Date ({text!r})"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _http(block: bytes, where: str, offset: int) -> tuple[int, dict[str, str], bytes | None]:
    """Status, headers and decoded body of an HTTP response message (None: a content
    coding that cannot be undone here)."""
    head, sep, body = block.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = block.partition(b"\n\n")
    lines = head.decode("iso-8859-1").splitlines()
    parts = lines[0].split(None, 2) if lines else []
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ConfigError(f"WARC file {where}: record at byte {offset} holds no HTTP response")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunked(body)
    return int(parts[1]), headers, _decoded(body, headers.get("content-encoding", ""))


def _dechunked(body: bytes) -> bytes:
    """`body` without chunked transfer coding; as it is when it is not chunked (many
    crawlers save the body already de-chunked but keep the header)."""
    out: list[bytes] = []
    rest = body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            return body
        if not sep or size < 0 or len(rest) < size:
            return body
        if size == 0:
            return b"".join(out)
        out.append(rest[:size])
        rest = rest[size:].removeprefix(b"\r\n")
    return b"".join(out)


def _decoded(body: bytes, coding: str) -> bytes | None:
    """`body` without gzip/deflate content coding, at most `MAX_BODY` bytes; as it is
    when it is not so coded (crawlers often save the decoded body). None for a body
    still in another coding (br, zstd, ...): it cannot be read here."""
    coding = coding.strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate"):
        plain = coding in ("", "identity") or body.lstrip()[:1] in (b"<", b"{", b"[", b"")
        return body[:MAX_BODY] if plain else None
    for wbits in (zlib.MAX_WBITS | 32, zlib.MAX_WBITS, -zlib.MAX_WBITS):
        try:
            return zlib.decompressobj(wbits).decompress(body, MAX_BODY)
        except zlib.error:
            continue
    return body[:MAX_BODY]


def _revisit(
    fields: dict[str, str],
    block: bytes,
    url: str,
    at: datetime,
    by_digest: dict[str, WarcResponse],
    by_target: dict[tuple[str, str], WarcResponse],
    where: str,
    offset: int,
) -> WarcResponse:
    digest = fields.get("warc-payload-digest", "")
    target = (
        fields.get("warc-refers-to-target-uri", url).strip("<>"),
        fields.get("warc-refers-to-date", ""),
    )
    earlier = by_digest.get(digest) if digest else None
    earlier = earlier or by_target.get(target)
    if earlier is None:
        raise ConfigError(
            f"WARC file {where}: revisit record at byte {offset} ({url}) refers to a "
            "response this file does not hold"
        )
    if block.startswith(b"HTTP/"):
        status, headers, _ = _http(block, where, offset)
        if status == 304:  # "server not modified": the earlier response stands
            status = earlier.status
        return WarcResponse(url, at, status, earlier.body, headers or earlier.headers)
    return WarcResponse(url, at, earlier.status, earlier.body, earlier.headers)
