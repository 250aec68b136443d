"""WARC files written for tests: records, HTTP responses, and a whole synthetic
history (`tests.histories`) as one WARC file, the way a crawler that records
WARCs would have saved it (pages in crawl order, then thread pages; unchanged
bodies as revisit records; some bodies chunked, some gzip-, br- or zstd-encoded)."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from base64 import b32encode
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import brotli
import zstandard

from monitor.captures import scan
from monitor.extract import get_engine
from monitor.models import Source
from tests.histories import History, write_history

# Content codings the way a Chrome-based crawler saves them, each with its encoder.
CODINGS: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("gzip", lambda body: zlib.compress(body, 6, zlib.MAX_WBITS | 16)),
    ("br", brotli.compress),
    ("zstd", lambda body: zstandard.ZstdCompressor().compress(body)),
    ("gzip, br", lambda body: brotli.compress(zlib.compress(body, 6, zlib.MAX_WBITS | 16))),
]


def record(kind: str, url: str, at: datetime, block: bytes, **fields: str) -> bytes:
    """One WARC/1.1 record."""
    head = {
        "WARC-Type": kind,
        "WARC-Target-URI": url,
        "WARC-Date": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "WARC-Record-ID": f"<urn:uuid:{hashlib.md5(url.encode() + block).hexdigest()}>",
        **{k.replace("_", "-"): v for k, v in fields.items()},
        "Content-Length": str(len(block)),
    }
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    return f"WARC/1.1\r\n{lines}\r\n".encode() + block + b"\r\n\r\n"


def http(status: int, body: bytes, *headers: str, chunked: bool = False) -> bytes:
    """An HTTP/1.1 response message; `chunked` codes the body in chunks of 700 bytes."""
    if chunked:
        pieces = [body[i : i + 700] for i in range(0, len(body), 700)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        headers = (*headers, "Transfer-Encoding: chunked")
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status} X\r\n{head}\r\n".encode() + body


def digest(body: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(body).digest()).decode()


def write_warc(path: Path, records: Iterable[bytes], *, gz: bool = True) -> Path:
    """`records` into `path`, one gzip member each when `gz` (as crawlers write)."""
    with path.open("wb") as out:
        for r in records:
            out.write(gzip.compress(r) if gz else r)
    return path


def history_warc(history: History, source: Source, root: Path) -> Path:
    """`history` as one WARC file, `root`/history.warc.gz (`captures_warc`)."""
    return captures_warc(write_history(history, root / "dir"), source, root / "history.warc.gz")


def captures_warc(directory: Path, source: Source, path: Path) -> Path:
    """The capture directory `directory` as one WARC file at `path`: a response per
    page a crawl of `source` would fetch (the next-page links and thread URLs found
    by its engine), at its capture's time; a body seen before as a revisit record."""
    engine = get_engine(source)
    url_of: dict[str, str] = {}  # external id -> listing url
    seen: set[str] = set()
    records: list[bytes] = []
    n = 0
    for capture in scan(directory):
        engine.new_crawl()
        url: str | None = source.url
        fetched: list[tuple[str, datetime, int, bytes]] = []
        for number in sorted(capture.pages):
            if url is None or number != len(fetched) + 1:
                break
            saved = capture.pages[number]
            body = saved.path.read_bytes()
            fetched.append((url, capture.at, saved.status, body))
            result = engine.extract(body.decode(), url, now=capture.at)
            url_of.update((li.external_id, li.url) for li in result.listings)
            url = result.next_url if saved.status < 400 else None
        for key, (at, saved) in sorted(capture.threads.items()):
            thread_url = url_of.get(unquote(key))
            if thread_url is not None:
                fetched.append((thread_url, at, saved.status, saved.path.read_bytes()))
        for page_url, at, status, body in fetched:
            n += 1
            sha = digest(body)
            if sha in seen and status == 200:
                block = http(200, b"", "Content-Type: text/html; charset=utf-8")
                records.append(
                    record(
                        "revisit",
                        page_url,
                        at,
                        block,
                        WARC_Payload_Digest=sha,
                        WARC_Profile="http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
                    )
                )
                continue
            seen.add(sha)
            ctype = "Content-Type: text/html; charset=utf-8"
            if n % 3 == 0:
                coding, coded = CODINGS[(n // 3) % len(CODINGS)]
                block = http(status, coded(body), ctype, f"Content-Encoding: {coding}")
            else:
                block = http(status, body, ctype, chunked=n % 3 == 1)
            records.append(record("response", page_url, at, block, WARC_Payload_Digest=sha))
    return write_warc(path, records)
