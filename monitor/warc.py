"""The HTTP responses of a WARC file (ISO 28500, 1.0 and 1.1), as `leakmon replay`
reads them. Plain ``.warc`` or gzip-compressed ``.warc.gz`` (one gzip member per
record, or the whole file; concatenated files are one stream).

Records used: ``response`` (an HTTP response: status, headers, body; chunked
transfer coding and gzip/deflate/br/zstd content coding undone), ``resource`` (a body
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
import hashlib
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BufferedIOBase
from pathlib import Path

import brotli
import zstandard

from monitor.errors import ConfigError

MAX_BODY = 16 * 1024 * 1024  # bytes of a decoded body kept (`read_warc(max_body=...)`)
MAX_TOTAL = 1024 * 1024 * 1024  # bytes of bodies one file may make the replay hold
_MAX_BLOCK_HEAD = 64 * 1024  # bytes of a block read beyond the body cap (HTTP headers)
_MAX_LINE = 64 * 1024  # bytes of one header line
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


class _Reader:
    """What one `read_warc` call carries from record to record (and from one WARC
    file of a WACZ to the next): the caps, and the responses revisits refer to."""

    def __init__(self, max_body: int, keep: Callable[[str], bool]) -> None:
        self.max_body = max_body
        self.keep = keep
        self.total = 0
        self.by_digest: dict[str, WarcResponse] = {}
        self.by_target: dict[tuple[str, str], WarcResponse] = {}
        self.left_out: set[bytes] = set()  # hashes of digests, "uri date" keys left out
        self.counted: set[int] = set()  # ids of the bodies counted in `total` (held ones)

    def hold(self, size: int, where: str, offset: int) -> None:
        """Count `size` bytes more held for the replay; past MAX_TOTAL, an error."""
        self.total += size
        if self.total > MAX_TOTAL:
            raise ConfigError(
                f"WARC file {where}: more than {MAX_TOTAL >> 20} MiB of pages to hold "
                f"(at byte {offset}); split it"
            )

    def responses(self, stream: BufferedIOBase, where: str) -> Iterator[WarcResponse]:
        offset = 0
        while True:
            record = _record(stream, where, offset, self.max_body + _MAX_BLOCK_HEAD)
            if record is None:
                return
            fields, block, cut, offset_next = record
            response = None if cut else self.response(fields, block, where, offset)
            if cut:  # longer than any page the source takes: left out (not captured)
                self.forget(fields)
            if response is not None:
                if id(response.body) not in self.counted:  # a revisit shares its body
                    self.counted.add(id(response.body))
                    self.hold(len(response.body), where, offset)
                self.hold(sum(len(k) + len(v) for k, v in response.headers.items()), where, offset)
                yield response
            offset = offset_next

    def forget(self, fields: dict[str, str]) -> None:
        """Remember a response left out, so that a revisit of it is left out too."""
        if fields.get("warc-type") == "revisit":
            return
        url = fields.get("warc-target-uri", "").strip("<>")
        for key in (fields.get("warc-payload-digest", ""), f"{url} {fields.get('warc-date', '')}"):
            if key:
                self.left_out.add(_key(key))

    def response(
        self, fields: dict[str, str], block: bytes, where: str, offset: int
    ) -> WarcResponse | None:
        """The response a record holds; None for other records, other hosts, bodies
        that cannot be read and statuses that are not final."""
        kind = fields.get("warc-type", "")
        url = fields.get("warc-target-uri", "").strip("<>")
        if kind not in ("response", "resource", "revisit") or not url:
            return None
        digest = fields.get("warc-payload-digest", "")
        if not self.keep(url):  # a revisit of it elsewhere is left out too
            self.forget(fields)
            return None
        at = _date(fields.get("warc-date", ""), where, offset)
        response: WarcResponse | None = None
        if kind == "response":
            status, headers, body = _http(block, where, offset, self.max_body)
            if body is not None:
                response = WarcResponse(url, at, status, body, headers)
        elif kind == "resource":
            headers = {"content-type": fields.get("content-type", "")}
            response = WarcResponse(url, at, 200, block[: self.max_body], headers)
        else:
            response = self.revisit(fields, block, url, at, where, offset)
        if response is None or not 200 <= response.status < 600:  # no final response
            self.forget(fields)
            return None
        if kind != "revisit" and digest:
            self.by_digest.setdefault(digest, response)
        self.by_target.setdefault((url, fields.get("warc-date", "")), response)
        return response

    def revisit(
        self, fields: dict[str, str], block: bytes, url: str, at: datetime, where: str, offset: int
    ) -> WarcResponse | None:
        digest = fields.get("warc-payload-digest", "")
        target_uri = fields.get("warc-refers-to-target-uri", url).strip("<>")
        target_date = fields.get("warc-refers-to-date", "")
        earlier = self.by_digest.get(digest) if digest else None
        earlier = earlier or self.by_target.get((target_uri, target_date))
        if earlier is None:
            if {_key(digest), _key(f"{target_uri} {target_date}")} & self.left_out:
                return None  # the response it repeats could not be read either
            raise ConfigError(
                f"WARC file {where}: revisit record at byte {offset} ({url}) refers to a "
                "response this file does not hold"
            )
        if block.startswith(b"HTTP/"):
            status, headers, _ = _http(block, where, offset, self.max_body)
            if status == 304:  # "server not modified": the earlier response stands
                status = earlier.status
            return WarcResponse(url, at, status, earlier.body, headers or earlier.headers)
        return WarcResponse(url, at, earlier.status, earlier.body, earlier.headers)


def _key(text: str) -> bytes:
    """A left-out record's key, hashed: a hostile file's long URLs are not held."""
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()


def read_warc(
    path: Path, *, max_body: int = MAX_BODY, keep: Callable[[str], bool] = lambda url: True
) -> list[WarcResponse]:
    """Every response of the WARC file at `path` in file order; of a WACZ (a zip
    package, as Browsertrix writes it), of each WARC file under ``archive/`` in
    name order. Bodies are kept to `max_body` bytes (a longer one is cut: the
    caller sees it is longer than that); responses whose URL `keep` rejects are
    not held. Raises ConfigError when the file cannot be read."""
    reader = _Reader(max_body, keep)
    if path.name.lower().endswith(".wacz"):
        return _read_wacz(path, reader)
    try:
        with path.open("rb") as raw:
            if raw.read(2) != b"\x1f\x8b":
                raw.seek(0)
                return list(reader.responses(raw, str(path)))
        with gzip.open(path, "rb") as unzipped:
            return list(reader.responses(unzipped, str(path)))
    except (OSError, EOFError, zlib.error) as exc:
        raise ConfigError(f"WARC file {path}: unreadable ({exc})") from None


def _read_wacz(path: Path, reader: _Reader) -> list[WarcResponse]:
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
                            out += reader.responses(unzipped, where)
                    else:
                        out += reader.responses(member, where)  # type: ignore[arg-type]
    except (
        OSError,
        EOFError,
        zlib.error,
        zipfile.BadZipFile,
        RuntimeError,  # an encrypted member
        NotImplementedError,  # a compression method zipfile lacks
    ) as exc:
        raise ConfigError(f"WACZ file {path}: unreadable ({exc})") from None
    return out


# header fields, block (at most the `keep` bytes asked for), whether it was cut, offset after it
_Record = tuple[dict[str, str], bytes, bool, int]
_MAX_BLANK_LINES = 1000  # between two records
# The HTTP headers a replay reads (a hostile file's others are not held), and how much of each.
_HEADERS_KEPT = frozenset({"content-type", "content-encoding", "transfer-encoding", "location"})
_MAX_HEADER_VALUE = 4096


def _line(stream: BufferedIOBase, where: str, offset: int) -> bytes:
    line = stream.readline(_MAX_LINE)
    if len(line) == _MAX_LINE and not line.endswith(b"\n"):
        raise ConfigError(
            f"WARC file {where}: record at byte {offset} has a header line over "
            f"{_MAX_LINE >> 10} KiB"
        )
    return line


def _record(stream: BufferedIOBase, where: str, offset: int, keep: int) -> _Record | None:
    """The next record's header fields (names lower-cased), its block (at most `keep`
    bytes of it; the rest is skipped, never held), whether it was cut, and the offset
    after it; None at the end of the file."""
    line = _line(stream, where, offset)
    position = offset + len(line)
    blank = 0
    while line in (b"\r\n", b"\n"):  # blank lines between records
        blank += 1
        if blank > _MAX_BLANK_LINES:
            raise ConfigError(f"WARC file {where}: no WARC record at byte {offset}")
        offset = position
        line = _line(stream, where, offset)
        position += len(line)
    if not line:
        return None
    if not line.startswith(b"WARC/"):
        raise ConfigError(f"WARC file {where}: no WARC record at byte {offset}")
    fields: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        line = _line(stream, where, offset)
        position += len(line)
        if line in (b"\r\n", b"\n", b""):
            break
        name, sep, value = line.decode("utf-8", "replace").partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    else:
        raise ConfigError(f"WARC file {where}: record at byte {offset} has no end of header")
    text = fields.get("content-length", "")
    if not (text.isascii() and text.isdigit()):
        raise ConfigError(f"WARC file {where}: record at byte {offset} has no Content-Length")
    length = int(text)
    block = stream.read(min(length, keep))
    read = len(block)
    while read < length:  # past `keep`: skipped, never held (the page fails as too large)
        chunk = stream.read(min(length - read, 1 << 20))
        if not chunk:
            break
        read += len(chunk)
    if read != length:
        raise ConfigError(
            f"WARC file {where}: record at byte {offset} is cut short ({read} of {length} bytes)"
        )
    return fields, block, length > keep, position + length


def _date(text: str, where: str, offset: int) -> datetime:
    try:
        at = datetime.fromisoformat(text)
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ConfigError(
            f"WARC file {where}: record at byte {offset} has no readable WARC-Date ({text!r})"
        ) from None


def _http(
    block: bytes, where: str, offset: int, max_body: int
) -> tuple[int, dict[str, str], bytes | None]:
    """Status, headers and decoded body (at most `max_body` bytes) of an HTTP
    response message; None for a body that cannot be read (a content coding
    not known here, a compressed body cut short)."""
    head, sep, body = block.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = block.partition(b"\n\n")
    lines = head.decode("iso-8859-1").splitlines()
    parts = lines[0].split(None, 2) if lines else []
    code = parts[1] if len(parts) >= 2 else ""
    if not parts[0:1] or not parts[0].startswith("HTTP/") or not re.fullmatch("[0-9]{3}", code):
        raise ConfigError(f"WARC file {where}: record at byte {offset} holds no HTTP response")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if colon and name in _HEADERS_KEPT:
            headers[name] = value.strip()[:_MAX_HEADER_VALUE]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunked(body)
    return int(code), headers, _decoded(body, headers.get("content-encoding", ""), max_body)


def _dechunked(body: bytes) -> bytes:
    """`body` without chunked transfer coding; as it is when it is not chunked (many
    crawlers save the body already de-chunked but keep the header). Linear: the body
    is walked by index, never copied per chunk."""
    out: list[bytes] = []
    pos = 0
    while pos < len(body):
        end = body.find(b"\r\n", pos, pos + 80)
        if end < 0 or not _CHUNK_SIZE.fullmatch(body, pos, end):
            return body
        size = int(body[pos:end].split(b";")[0], 16)
        start = end + 2
        if size == 0:
            return b"".join(out)
        if len(body) < start + size:
            return body
        out.append(body[start : start + size])
        pos = start + size
        if body.startswith(b"\r\n", pos):
            pos += 2
    return b"".join(out)


_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,8}(?:;[^\r\n]*)?")
_BOM = b"\xef\xbb\xbf"


def _decoded(body: bytes, coding: str, max_body: int) -> bytes | None:
    """`body` with its content codings (gzip, deflate, br, zstd; several in the order
    of RFC 9110, last applied first undone) undone, at most `max_body` bytes; as it
    is when it is not so coded (crawlers often save the decoded body). None for a
    body in a coding not known here, or a compressed one cut short."""
    codings = [c.strip() for c in coding.lower().split(",")]
    codings = [c for c in codings if c not in ("", "identity")]
    looks_plain = body.lstrip().removeprefix(_BOM)[:1] in (b"<", b"{", b"[", b"")
    unknown = any(c not in _DECODERS for c in codings)
    if not codings or not body or unknown:
        return body[:max_body] if not codings or looks_plain else None
    out = body
    for name in reversed(codings):
        undone = _DECODERS[name](out, max_body)
        if undone is None:  # saved decoded after all, or compressed and cut short
            return body[:max_body] if looks_plain else None
        out = undone
    return out


def _inflated(body: bytes, max_body: int) -> bytes | None:
    """gzip (with its header), zlib or raw deflate; None when no form is complete."""
    for wbits in (zlib.MAX_WBITS | 32, zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflate = zlib.decompressobj(wbits)
        try:
            out = inflate.decompress(body, max_body)
        except zlib.error:
            continue
        if inflate.eof or len(out) >= max_body:
            return out
    return None


def _unbrotli(body: bytes, max_body: int) -> bytes | None:
    """brotli (RFC 7932); None when not brotli or cut short."""
    decoder = brotli.Decompressor()
    try:
        out = decoder.process(body, output_buffer_limit=max_body)
    except brotli.error:
        return None
    if decoder.is_finished() or len(out) >= max_body:
        return bytes(out[:max_body])
    return None


_ZSTD_FEED = 256  # input bytes per step: one step yields at most ~8 MiB (RLE blocks)
_ZSTD_WINDOW = 8 * 1024 * 1024  # RFC 9659: an HTTP zstd window is at most 8 MiB


def _unzstd(body: bytes, max_body: int) -> bytes | None:
    """zstd (RFC 8878), fed in small steps so that a bomb stops at `max_body`; None
    when not zstd, a window over 8 MiB, or cut short."""
    decoder = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW).decompressobj()
    out: list[bytes] = []
    size = 0
    try:
        for at in range(0, len(body), _ZSTD_FEED):
            piece = decoder.decompress(body[at : at + _ZSTD_FEED])
            out.append(piece)
            size += len(piece)
            if size >= max_body:
                return b"".join(out)[:max_body]
            if decoder.eof:
                break
    except zstandard.ZstdError:
        return None
    return b"".join(out) if decoder.eof else None


_DECODERS: dict[str, Callable[[bytes, int], bytes | None]] = {
    "gzip": _inflated,
    "x-gzip": _inflated,
    "deflate": _inflated,
    "br": _unbrotli,
    "zstd": _unzstd,
}
