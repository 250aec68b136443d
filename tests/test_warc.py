"""monitor.warc (reading WARC files) and captures.scan_warc (captures from them),
on WARC files written here, plain and gzipped; and one replay of a WARC file
through the CLI."""

from __future__ import annotations

import gzip
import json
import re
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import brotli
import pytest
import zstandard
from click.testing import CliRunner

from monitor.captures import is_warc, scan_warc
from monitor.cli import main
from monitor.demo.sites import THREADS_PER_PAGE
from monitor.errors import ConfigError
from monitor.models import Source
from monitor.store import Store
from monitor.warc import read_warc
from tests.histories import FORUM_URL
from tests.test_replay import small_history, small_threads, write_forum
from tests.warcs import CODINGS, captures_warc, digest, http, record, write_warc

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
HTML = "Content-Type: text/html; charset=utf-8"
PAGE = b"<html><body><p>listing page</p></body></html>"


def response(url: str, at: datetime, body: bytes = PAGE, status: int = 200, *h: str) -> bytes:
    return record(
        "response", url, at, http(status, body, HTML, *h), WARC_Payload_Digest=digest(body)
    )


@pytest.mark.parametrize("gz", [True, False])
def test_responses_resources_and_revisits_in_file_order(tmp_path: Path, gz: bool) -> None:
    later = T0 + timedelta(hours=1)
    other = b"<html>another</html>"
    path = write_warc(
        tmp_path / ("a.warc.gz" if gz else "a.warc"),
        [
            record("warcinfo", "", T0, b"software: test\r\n"),
            record("request", "http://a.onion/", T0, b"GET / HTTP/1.1\r\n\r\n"),
            response("http://a.onion/", T0),
            record("resource", "http://a.onion/r", T0, other, Content_Type="text/html"),
            record(  # identical payload: the body of the first response
                "revisit",
                "http://a.onion/",
                later,
                http(200, b"", HTML),
                WARC_Payload_Digest=digest(PAGE),
            ),
            record(  # "server not modified", found by the record it refers to
                "revisit",
                "http://a.onion/r",
                later,
                http(304, b""),
                WARC_Refers_To_Target_URI="http://a.onion/r",
                WARC_Refers_To_Date=T0.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ),
            record("metadata", "http://a.onion/", later, b"outlinks: none"),
        ],
        gz=gz,
    )
    got = [(r.url, r.at, r.status, r.body, r.content_type) for r in read_warc(path)]
    assert got == [
        ("http://a.onion/", T0, 200, PAGE, "text/html; charset=utf-8"),
        ("http://a.onion/r", T0, 200, other, "text/html"),
        ("http://a.onion/", later, 200, PAGE, "text/html; charset=utf-8"),
        ("http://a.onion/r", later, 200, other, "text/html"),  # its headers: none
    ]


def test_transfer_and_content_codings_are_undone(tmp_path: Path) -> None:
    body = b"<html>" + b"x" * 3000 + b"</html>"
    gzipped = zlib.compress(body, 6, zlib.MAX_WBITS | 16)
    deflated = zlib.compress(body)
    blocks = [
        http(200, body, chunked=True),
        http(200, gzipped, "Content-Encoding: gzip"),
        http(200, deflated, "Content-Encoding: deflate"),
        http(200, gzipped, "Content-Encoding: gzip", chunked=True),
        http(200, body, "Content-Encoding: gzip"),  # saved decoded, header kept
        http(200, body, "Transfer-Encoding: chunked"),  # saved de-chunked, header kept
    ]
    path = write_warc(
        tmp_path / "c.warc",
        [record("response", f"http://a.onion/{i}", T0, b) for i, b in enumerate(blocks)],
    )
    assert [r.body for r in read_warc(path)] == [body] * len(blocks)


def test_concatenated_gzipped_files_are_one_stream(tmp_path: Path) -> None:
    one = gzip.compress(response("http://a.onion/", T0))
    two = gzip.compress(response("http://a.onion/", T0 + timedelta(hours=1)))
    path = tmp_path / "both.warc.gz"
    path.write_bytes(one + two)
    assert [r.at for r in read_warc(path)] == [T0, T0 + timedelta(hours=1)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>not a warc</html>", "no WARC record at byte 0"),
        (response("http://a.onion/", T0)[:-40], "record at byte 0 is cut short"),
        (
            response("http://a.onion/", T0) + b"WARC/1.1\r\nWARC-Type: response\r\n\r\n",
            f"record at byte {len(response('http://a.onion/', T0))} has no Content-Length",
        ),
        (
            record("response", "http://a.onion/", T0, http(200, PAGE)).replace(
                b"2024-06-01T08:00:00Z", b"yesterday"
            ),
            "no readable WARC-Date ('yesterday')",
        ),
        (
            record("response", "http://a.onion/", T0, b"<html>no HTTP</html>"),
            "holds no HTTP response",
        ),
        (
            record("revisit", "http://a.onion/", T0, b"", WARC_Payload_Digest="sha1:NOPE"),
            "refers to a response this file does not hold",
        ),
    ],
)
def test_a_damaged_file_is_a_config_error_naming_the_record(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "bad.warc"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=r"bad\.warc") as caught:
        read_warc(path)
    assert message in str(caught.value)


def test_a_broken_gzip_stream_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.warc.gz"
    path.write_bytes(gzip.compress(response("http://a.onion/", T0))[:-20])
    with pytest.raises(ConfigError, match="unreadable"):
        read_warc(path)


SRC = "http://a.onion/forum?fid=2"


def test_scan_warc_starts_a_capture_at_each_response_for_the_source_url(tmp_path: Path) -> None:
    hour = timedelta(hours=1)
    path = write_warc(
        tmp_path / "s.warc.gz",
        [
            response("http://a.onion/robots.txt", T0 - hour),  # before any capture: none
            response("http://A.onion/forum?fid=2#top", T0),  # the source URL, canonically
            response("http://a.onion/forum?fid=2&page=2", T0 + timedelta(seconds=5)),
            response("http://a.onion/t/1", T0 + timedelta(minutes=20), b"first copy"),
            response("http://a.onion/t/1", T0 + timedelta(minutes=21), b"second copy"),
            response("http://a.onion/t/9", T0 + timedelta(minutes=22), b"", 404),
            response("http://a.onion/forum?fid=2", T0 + hour),
            response("http://a.onion/old", T0 + hour, b"", 301, "Location: /new"),
            response("http://a.onion/new", T0 + hour, b"moved here"),
            response("http://a.onion/away", T0 + hour, b"", 302, "Location: http://b.onion/x"),
            response("http://b.onion/x", T0 + hour, b"other host"),
            response("http://a.onion/lost", T0 + hour, b"", 301, "Location: /nowhere"),
            response("http://a.onion/loop", T0 + hour, b"", 301, "Location: /loop"),
        ],
    )
    first, second = scan_warc(path, SRC)
    assert (first.name, first.at, second.name, second.at) == (
        "20240601T080000Z",
        T0,
        "20240601T090000Z",
        T0 + hour,
    )
    assert {u: (at, s.status, s.data) for u, (at, s) in first.urls.items()} == {
        "http://a.onion/forum?fid=2": (T0, 200, PAGE),
        "http://a.onion/forum?fid=2&page=2": (T0 + timedelta(seconds=5), 200, PAGE),
        "http://a.onion/t/1": (T0 + timedelta(minutes=20), 200, b"first copy"),
        "http://a.onion/t/9": (T0 + timedelta(minutes=22), 404, b""),
    }
    # a redirect is followed within the capture on the source's host; one off the
    # host, or to a response the capture lacks, or in a loop, is no page at all
    served = {u: s.data for u, (_, s) in second.urls.items()}
    assert served["http://a.onion/old"] == b"moved here"
    assert {"http://a.onion/away", "http://a.onion/lost", "http://a.onion/loop"}.isdisjoint(served)


def test_scan_warc_without_the_source_url_names_what_it_holds(tmp_path: Path) -> None:
    path = write_warc(tmp_path / "x.warc", [response("http://b.onion/", T0)], gz=False)
    with pytest.raises(ConfigError, match=r"no response for the source URL .*http://b.onion/"):
        scan_warc(path, SRC)
    assert is_warc(path) and is_warc(Path("A.WARC.GZ")) and not is_warc(tmp_path)


def test_replay_of_a_warc_file_through_the_cli(tmp_path: Path) -> None:
    """The small history of test_replay as a WARC file: the same events and
    verifications (a thread page saved 20 minutes after the last listing capture
    included); the source is named after the file."""
    small_history(tmp_path / "dir")
    source = Source("forum", FORUM_URL, "mybb", every=3600)
    path = captures_warc(tmp_path / "dir", source, tmp_path / "forum.warc.gz")
    db = tmp_path / "leakmon.db"
    args = ["replay", str(path), "--engine", "mybb", "--url", FORUM_URL, "--db", str(db), "--json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert (result.exit_code, result.stderr) == (0, "")
    report = json.loads(result.stdout)
    assert report["source"] == "forum" and report["outcomes"] == {"complete": 4}
    assert [(e["capture"], e["kind"], e["listing_id"]) for e in report["events"]] == [
        ("20240601T100000Z", "deleted", "forum:1"),
        ("20240601T110000Z", "restored", "forum:1"),
    ]
    with Store.open(db) as store:
        row = store.listing("forum:2")
        assert row is not None and row["state"] == "aged_out"  # verified present at 11:20
        assert row["last_seen"].startswith("2024-06-01T11:20:00")


def test_a_record_past_the_cap_is_skipped_not_held(tmp_path: Path) -> None:
    big = b"<html>" + b"y" * 5000 + b"</html>"
    path = write_warc(
        tmp_path / "big.warc",
        [response("http://a.onion/big", T0, big), response("http://a.onion/", T0)],
        gz=False,
    )
    first, second = read_warc(path, max_body=200)
    assert first.url.endswith("/big") and len(first.body) <= 200 < len(big)
    assert second.body == PAGE  # the next record is read where it begins


def test_a_wacz_package_reads_its_warc_files_in_name_order(tmp_path: Path) -> None:
    """A WACZ (Browsertrix's zip package): every WARC under archive/, a revisit in
    one file finding its response in another; the rest of the package ignored."""
    first = gzip.compress(response("http://a.onion/forum?fid=2", T0))
    revisit = record(
        "revisit",
        "http://a.onion/forum?fid=2",
        T0 + timedelta(hours=1),
        http(200, b"", HTML),
        WARC_Payload_Digest=digest(PAGE),
    )
    path = tmp_path / "crawl.wacz"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("datapackage.json", "{}")
        package.writestr("pages/pages.jsonl", "")
        package.writestr("archive/rec-1.warc.gz", first)
        package.writestr("archive/rec-2.warc", revisit)
    assert [(r.at, r.body) for r in read_warc(path)] == [
        (T0, PAGE),
        (T0 + timedelta(hours=1), PAGE),
    ]
    assert [c.at for c in scan_warc(path, SRC)] == [T0, T0 + timedelta(hours=1)]
    assert is_warc(path)


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_a_wacz_without_warc_files_is_a_config_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "bad.wacz"
    if content is None:
        with zipfile.ZipFile(path, "w") as package:
            package.writestr("datapackage.json", "{}")
    else:
        path.write_bytes(content)
    message = "unreadable" if content else "no WARC file under archive/"
    with pytest.raises(ConfigError, match=message):
        read_warc(path)


@pytest.mark.parametrize(("coding", "encode"), CODINGS)
def test_a_body_saved_still_coded_is_decoded(
    tmp_path: Path, coding: str, encode: Callable[[bytes], bytes]
) -> None:
    """gzip, br, zstd and a stack of two (last applied undone first) give the page."""
    page = PAGE * 40
    path = write_warc(
        tmp_path / "coded.warc",
        [
            record(
                "response",
                "http://a.onion/p",
                T0,
                http(200, encode(page), f"Content-Encoding: {coding}"),
            )
        ],
        gz=False,
    )
    assert [r.body for r in read_warc(path)] == [page]


def test_a_body_that_cannot_be_decoded_is_left_out(tmp_path: Path) -> None:
    """A br or zstd body cut short, a zstd window over RFC 9659's 8 MiB and a coding
    not known here are no page (the URL is then not captured: a failed fetch); one
    saved decoded with its header kept is read as it is."""
    page = PAGE * 400
    big_window = zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters(window_log=24)
    ).compress(page * 2000)
    cases = {
        "br-cut": (brotli.compress(page)[:-8], "br"),
        "zstd-cut": (zstandard.ZstdCompressor().compress(page)[:-8], "zstd"),
        "zstd-window": (big_window, "zstd"),
        "compress": (b"\x1f\x9d\x90<h", "compress"),
        "br-of-gzip-cut": (brotli.compress(zlib.compress(page, 6, 31)[:-8]), "gzip, br"),
    }
    records = [
        record("response", f"http://a.onion/{name}", T0, http(200, body, f"Content-Encoding: {c}"))
        for name, (body, c) in cases.items()
    ]
    records.append(
        record("response", "http://a.onion/ok", T0, http(200, PAGE, "Content-Encoding: br"))
    )
    path = write_warc(tmp_path / "bad.warc", records, gz=False)
    assert [(r.url, r.body) for r in read_warc(path)] == [("http://a.onion/ok", PAGE)]


@pytest.mark.parametrize("coding", ["br", "zstd"])
def test_a_compression_bomb_stops_at_the_body_cap(tmp_path: Path, coding: str) -> None:
    """64 MiB of zeros in a few KiB: decoding stops at `max_body` (kept, as a long
    gzip body is), and never holds the whole (Python's allocations peak far below)."""
    zeros = bytes(64 * 1024 * 1024)
    coded = (
        brotli.compress(zeros, quality=1)
        if coding == "br"
        else zstandard.ZstdCompressor(level=1).compress(zeros)
    )
    del zeros
    path = write_warc(
        tmp_path / "bomb.warc",
        [
            record(
                "response",
                "http://a.onion/bomb",
                T0,
                http(200, coded, f"Content-Encoding: {coding}"),
            )
        ],
        gz=False,
    )
    tracemalloc.start()
    try:
        (held,) = read_warc(path, max_body=1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held.body == bytes(1024 * 1024)
    assert peak < 16 * 1024 * 1024


@pytest.mark.parametrize("url", ["http://A.onion/forum?fid=2#top", "HTTP://a.onion/forum?fid=2"])
def test_the_source_url_is_found_in_any_spelling(tmp_path: Path, url: str) -> None:
    """The config's URL as written (host case, a fragment) finds the responses, which
    are kept under their canonical URL."""
    threads = small_threads()[:THREADS_PER_PAGE]  # one page
    write_forum(tmp_path / "dir", [(T0, threads, {})])
    html = next((tmp_path / "dir").glob("*/page1.html")).read_bytes()
    path = write_warc(tmp_path / "f.warc.gz", [response("http://a.onion/forum?fid=2", T0, html)])
    db = tmp_path / "leakmon.db"
    args = ["replay", str(path), "--engine", "mybb", "--url", url, "--db", str(db), "--json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout)["outcomes"] == {"complete": 1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            record("response", "http://a.onion/", T0, http(200, PAGE)).replace(
                b"Content-Length: ", b"Content-Length: -"
            ),
            "has no Content-Length",
        ),
        (
            record("response", "http://a.onion/", T0, http(200, PAGE)).replace(
                b"Content-Length: ", b"Content-Length: 1_"
            ),
            "has no Content-Length",
        ),
        (
            record("response", "http://a.onion/", T0, b"HTTP/1.1 \xb200 OK\r\n\r\n"),
            "no HTTP response",
        ),
        (
            record("response", "http://a.onion/", T0, b"HTTP/1.1 " + b"9" * 5000 + b"\r\n\r\n"),
            "no HTTP",
        ),
        (
            record("response", "http://a.onion/", T0, http(200, PAGE)).replace(
                b"2024-06-01T08:00:00Z", b"0001-01-01T00:00:00+01:00"
            ),
            "no readable WARC-Date",
        ),
        (b"WARC/1.1\r\nX-Long: " + b"a" * 100_000 + b"\r\n\r\n", "a header line over 64 KiB"),
        (b"WARC" + b"a" * 100_000, "a header line over 64 KiB"),
    ],
)
def test_hostile_records_are_config_errors_in_bounded_memory(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "bad.warc"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=re.escape(message)):
        read_warc(path)


def test_pages_that_cannot_be_read_are_left_out_not_served(tmp_path: Path) -> None:
    """A gzip body cut short, a revisit of a body left out, a status that is no final
    one, and a response on another host are not held (a failed fetch when asked)."""
    whole = zlib.compress(PAGE * 50, 6, zlib.MAX_WBITS | 16)
    cut_brotli = brotli.compress(PAGE * 50)[:-6]
    path = write_warc(
        tmp_path / "left.warc",
        [
            record(
                "response",
                "http://a.onion/cut",
                T0,
                http(200, whole[:-30], "Content-Encoding: gzip"),
            ),
            record(
                "response",
                "http://a.onion/br",
                T0,
                http(200, cut_brotli, "Content-Encoding: br"),
                WARC_Payload_Digest="sha1:BR",
            ),
            record("revisit", "http://a.onion/br", T0, b"", WARC_Payload_Digest="sha1:BR"),
            record("response", "http://a.onion/early", T0, http(103, b"")),
            record("response", "http://b.onion/other", T0, http(200, PAGE)),
            response("http://a.onion/ok", T0),
        ],
        gz=False,
    )
    held = read_warc(path, keep=lambda url: url.startswith("http://a.onion/"))
    assert [r.url for r in held] == ["http://a.onion/ok"]


def test_a_redirect_is_followed_only_to_the_sources_own_host(tmp_path: Path) -> None:
    path = write_warc(
        tmp_path / "r.warc",
        [
            response(SRC, T0),
            response("http://a.onion/go", T0, b"", 302, "Location: http://b.onion/x"),
            response("http://b.onion/x", T0, b"elsewhere"),
            response("http://a.onion/in", T0, b"", 301, "Location: /t/2"),
            response("http://a.onion/t/2", T0, b"here"),
        ],
        gz=False,
    )
    (capture,) = scan_warc(path, SRC)
    assert {u: s.data for u, (_, s) in capture.urls.items()} == {
        SRC: PAGE,
        "http://a.onion/in": b"here",
        "http://a.onion/t/2": b"here",
    }


def test_bodies_past_the_sources_max_bytes_are_held_cut_and_fail_as_too_large(
    tmp_path: Path,
) -> None:
    big = b"<html>" + b"z" * 10_000 + b"</html>"
    path = write_warc(tmp_path / "m.warc", [response(SRC, T0, big)], gz=False)
    (capture,) = scan_warc(path, SRC, max_bytes=1_000)
    data = capture.urls[SRC][1].data
    assert data is not None and len(data) == 1_001  # one more than allowed: too large


def test_second_review_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One-byte chunks are undone (in linear time: the body is walked by index); a
    record longer than any page the source takes is left out, not served cut; an
    empty gzip-coded redirect and a BOM-led body saved decoded are read; revisits
    of one body count it once against the total."""
    body = b"<html>" + b"c" * 3000 + b"</html>"
    one_byte = b"".join(b"1\r\n%s\r\n" % body[i : i + 1] for i in range(len(body))) + b"0\r\n\r\n"
    bom = b"\xef\xbb\xbf<html>bom</html>"
    records = [
        record(
            "response",
            "http://a.onion/chunks",
            T0,
            http(200, one_byte, "Transfer-Encoding: chunked"),
        ),
        record("response", "http://a.onion/huge", T0, http(200, b"<" + b"h" * 200_000)),
        record(
            "response",
            "http://a.onion/moved",
            T0,
            http(301, b"", "Content-Encoding: gzip", "Location: /chunks"),
        ),
        record("response", "http://a.onion/bom", T0, http(200, bom, "Content-Encoding: gzip")),
    ]
    held = read_warc(write_warc(tmp_path / "c.warc", records, gz=False), max_body=50_000)
    assert {r.url.rsplit("/", 1)[1]: r.body for r in held} == {
        "chunks": body,
        "moved": b"",
        "bom": bom,
    }
    monkeypatch.setattr("monitor.warc.MAX_TOTAL", 100_000)
    page = b"<html>" + b"r" * 60_000
    many = [record("response", SRC, T0, http(200, page), WARC_Payload_Digest=digest(page))]
    many += [
        record(
            "revisit",
            SRC,
            T0 + timedelta(hours=i),
            http(200, b""),
            WARC_Payload_Digest=digest(page),
        )
        for i in range(1, 30)
    ]
    assert len(scan_warc(write_warc(tmp_path / "r.warc", many), SRC)) == 30


def test_blank_lines_and_archived_urls(tmp_path: Path) -> None:
    """A run of blank lines is no record (an error, quickly); responses saved from a
    web archive's replay (`/web/<time>/<original>`) belong to the source's host."""
    path = tmp_path / "nl.warc"
    path.write_bytes(b"\r\n" * 5_000)
    with pytest.raises(ConfigError, match="no WARC record"):
        read_warc(path)
    archived = "https://web.archive.org/web/20240601080000/" + SRC
    warc = write_warc(tmp_path / "wb.warc", [response(archived, T0)], gz=False)
    (capture,) = scan_warc(warc, SRC)
    assert list(capture.urls) == [SRC]
