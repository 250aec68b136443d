"""`leakmon replay`: the capture layout, its errors, and a small replay through the
real extractor, lifecycle and SQLite store (CLI through click's CliRunner)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.captures import Capture, parse_time, scan
from monitor.cli_replay import HELD
from monitor.demo.sites import THREADS_PER_PAGE, Thread, forum_page, thread_page
from monitor.errors import ConfigError
from monitor.replay import without_archive_banner
from monitor.store import Store
from tests.histories import FORUM_URL

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def run(*args: str) -> tuple[int, str, str]:
    from monitor.cli import main

    result = CliRunner().invoke(main, ["replay", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240601T080000Z", T0),
        ("20240601T080000", T0),
        ("2024-06-01T08:00:00Z", T0),
        ("2024-06-01T10:00:00+02:00", T0),
        ("2024-06-01T08-00-00Z", T0),
        ("2024-06-01T08-00", T0),
        ("2024-06-01T08-00-00.123", T0.replace(microsecond=123000)),
        ("2024-06-01", T0 - timedelta(hours=8)),
        (str(int(T0.timestamp())), T0),
        ("20241301T080000Z", None),
        ("page1", None),
        ("2024-13-01T08:00:00", None),
        ("12345", None),
        # 14 digits (Wayback Machine, wget, crawlers): bare, `_` or `-` between date and time
        ("20240601080000", T0),
        ("20240601_080000", T0),
        ("20240601-080000", T0),
        ("20241301080000", None),  # month 13
        ("20240631_080000", None),  # June 31
        ("20240601-250000", None),
        ("20240601-08000", None),  # 13 digits with a separator
        ("20240601__080000", None),
        ("20240601 080000", None),
        # 12 digits (Wayback Machine timestamps to the minute), in the same forms
        ("202406010800", T0),
        ("20240601_0800", T0),
        ("20240601-0800", T0),
        ("20240601T0800Z", T0),
        ("202406010834", T0 + timedelta(minutes=34)),
        ("202413010800", None),  # month 13
        ("202406310800", None),  # June 31
        ("202406012400", None),
        ("202406010860", None),
        ("20240601-080", None),
        ("20240601_08:00", None),
        ("20240601__0800", None),
        # epoch seconds with a fraction (ArchiveBox snapshot directories)
        ("1717228800.123456", T0.replace(microsecond=123456)),
        ("1717228800.25", T0.replace(microsecond=250000)),
        ("1717228800.0", T0),
        ("1717228800.1234567", T0.replace(microsecond=123456)),  # kept to the microsecond
        ("1717228800.", None),
        ("1717228800.12a", None),
        ("1717228800.1.2", None),
        # 13 digits: epoch milliseconds (JavaScript's Date.now()), kept to the millisecond
        ("1717228800123", T0.replace(microsecond=123000)),
        ("1717228800000", T0),
        ("1767225600123", datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)),
        ("1000000000000", datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)),
        # a 14-digit time short of a digit is read as milliseconds too (in 2034)
        ("2024060108000", datetime(2034, 2, 20, 14, 55, 8, tzinfo=UTC)),
        ("1717228800123.5", None),  # no fraction of milliseconds
        ("17172288001234", None),  # 14 digits: a compact time (month 22)
    ],
)
def test_capture_times(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def put(root: Path, relative: str, text: str = "<html><body>x</body></html>") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_scan_reads_both_forms_statuses_and_attaches_thread_pages(tmp_path: Path) -> None:
    put(tmp_path, "20240601T080000Z/page1.html")
    put(tmp_path, "20240601T080000Z/page2.503.html")
    put(tmp_path, "20240601T080000Z/threads/1042.html")
    put(tmp_path, "20240601T093000Z/threads/1042.404.html")  # thread-only: serves 08:00
    put(tmp_path, "20240601T093000Z/threads/77.html")
    put(tmp_path, "2024-06-01T10-00-00Z.html")
    put(tmp_path, "2024-06-01T10-00-00Z-p2.html")
    put(tmp_path, ".DS_Store")
    first, second = scan(tmp_path)
    assert (first.at, first.name, sorted(first.pages)) == (T0, "20240601T080000Z", [1, 2])
    assert first.pages[2].status == 503 and first.pages[1].status == 200
    assert first.threads["1042"][0] == T0  # the capture's own copy is the earliest
    assert first.threads["77"][0] == T0 + timedelta(minutes=90)
    assert (second.at, sorted(second.pages), second.threads) == (
        T0 + timedelta(hours=2),
        [1, 2],
        {},
    )


def outline(captures: list[Capture]) -> list[tuple[Any, ...]]:
    """Each capture's name, time, page statuses by number and thread ids."""
    return [
        (c.name, c.at, {n: s.status for n, s in c.pages.items()}, sorted(c.threads))
        for c in captures
    ]


def test_scan_reads_fourteen_digit_and_fractional_epoch_names(tmp_path: Path) -> None:
    put(tmp_path, "20240601080000/page1.html")  # Wayback / wget
    put(tmp_path, "20240601080000/page2.404.html")
    put(tmp_path, "20240601_090000.html")  # flat: page 1 ...
    put(tmp_path, "20240601_090000-p2.htm")  # ... page 2
    put(tmp_path, "20240601-100000.503.html")  # flat: page 1 with a status ...
    put(tmp_path, "20240601-100000-p2.503.html")  # ... page 2 with a status
    put(tmp_path, "20240601-100000-p3.json")
    put(tmp_path, "1717239600.123456/page1.html")  # ArchiveBox: 11:00:00.123456
    put(tmp_path, "1717239600.123456/page2.503.html")
    put(tmp_path, "1717239600.123456/threads/7.404.html")
    put(tmp_path, "20240601-113000/threads/8.html")  # thread pages saved later
    captures = scan(tmp_path)
    got = outline(captures)
    assert got == [
        ("20240601080000", T0, {1: 200, 2: 404}, []),
        ("20240601_090000", T0 + timedelta(hours=1), {1: 200, 2: 200}, []),
        ("20240601-100000", T0 + timedelta(hours=2), {1: 503, 2: 503, 3: 200}, []),
        ("1717239600.123456", T0 + timedelta(hours=3, microseconds=123456),
         {1: 200, 2: 503}, ["7", "8"]),
    ]  # fmt: skip
    assert captures[2].pages[3].path.name == "20240601-100000-p3.json"
    assert captures[3].threads["7"][1].status == 404
    assert captures[3].threads["8"][0] == T0 + timedelta(hours=3, minutes=30)


def test_scan_reads_twelve_digit_minutes_in_both_forms(tmp_path: Path) -> None:
    put(tmp_path, "202406010800/page1.html")  # Wayback, to the minute
    put(tmp_path, "202406010800/page2.503.html")
    put(tmp_path, "20240601_0900.html")  # flat: page 1 ...
    put(tmp_path, "20240601_0900-p2.htm")  # ... and page 2
    put(tmp_path, "20240601-1000.404.html")  # flat with a status ...
    put(tmp_path, "20240601-1000-p2.503.html")  # ... page 2 with a status
    put(tmp_path, "20240601T1030Z/threads/9.html")  # thread pages saved later
    captures = scan(tmp_path)
    got = outline(captures)
    assert got == [
        ("202406010800", T0, {1: 200, 2: 503}, []),
        ("20240601_0900", T0 + timedelta(hours=1), {1: 200, 2: 200}, []),
        ("20240601-1000", T0 + timedelta(hours=2), {1: 404, 2: 503}, ["9"]),
    ]
    assert captures[2].threads["9"][0] == T0 + timedelta(hours=2, minutes=30)


def test_scan_reads_epoch_milliseconds_in_both_forms(tmp_path: Path) -> None:
    put(tmp_path, "1717228800123/page1.html")  # 08:00:00.123
    put(tmp_path, "1717228800123/page2.503.html")
    put(tmp_path, "1717228800123/threads/7.html")
    put(tmp_path, "1717232400456.html")  # flat: 09:00:00.456 ...
    put(tmp_path, "1717232400456-p2.404.html")  # ... its page 2, saved with a 404
    put(tmp_path, "1717232400999/threads/8.html")  # thread pages saved later
    captures = scan(tmp_path)
    got = outline(captures)
    assert got == [
        ("1717228800123", T0.replace(microsecond=123000), {1: 200, 2: 503}, ["7"]),
        ("1717232400456", T0 + timedelta(hours=1, microseconds=456000), {1: 200, 2: 404},
         ["8"]),
    ]  # fmt: skip
    assert captures[1].threads["8"][0] == T0 + timedelta(hours=1, microseconds=999000)


def test_scan_reads_final_statuses_and_iso_milliseconds(tmp_path: Path) -> None:
    """A status is 200-599; three other digits after a zone-less ISO time to the second
    are its milliseconds, and the status may follow them."""
    put(tmp_path, "20240601T080000Z/page1.200.html")
    put(tmp_path, "20240601T080000Z/page2.599.html")
    put(tmp_path, "20240601T080000Z/threads/v1.100.200.html")  # an id ending in .100
    put(tmp_path, "20240601T080000Z/threads/v2.302.html")
    put(tmp_path, "2024-06-01T09-00-00.123.html")  # 09:00:00.123, page 1 ...
    put(tmp_path, "2024-06-01T09-00-00.123-p2.html")  # ... and its page 2
    put(tmp_path, "2024-06-01T09-00-00.123-p3.503.html")
    put(tmp_path, "2024-06-01T10-00-00.042.503.html")  # 10:00:00.042, status 503
    put(tmp_path, "2024-06-01 11:00:00.999.html")
    put(tmp_path, "2024-06-01T12-00-00.250.html")  # 200-599: the status, as it always was
    put(tmp_path, "2024-06-01T13-00-00.250Z.html")  # with a zone: the milliseconds
    captures = scan(tmp_path)
    got = [(c.name, c.at, {n: s.status for n, s in c.pages.items()}) for c in captures]
    ms = timedelta(milliseconds=1)
    assert got == [
        ("20240601T080000Z", T0, {1: 200, 2: 599}),
        ("2024-06-01T09-00-00.123", T0 + timedelta(hours=1) + 123 * ms, {1: 200, 2: 200, 3: 503}),
        ("2024-06-01T10-00-00.042", T0 + timedelta(hours=2) + 42 * ms, {1: 503}),
        ("2024-06-01 11:00:00.999", T0 + timedelta(hours=3) + 999 * ms, {1: 200}),
        ("2024-06-01T12-00-00", T0 + timedelta(hours=4), {1: 250}),
        ("2024-06-01T13-00-00.250Z", T0 + timedelta(hours=5) + 250 * ms, {1: 200}),
    ]
    threads = {key: saved.status for key, (_, saved) in captures[0].threads.items()}
    assert threads == {"v1.100": 200, "v2": 302}


def test_scan_lists_every_name_with_digits_that_are_no_status(tmp_path: Path) -> None:
    bad = [
        "20240601T080000Z/page2.123.html",
        "20240601T080000Z/page3.600.html",
        "20240601T080000Z/threads/1042.199.html",
        "20240601T090000Z.100.html",
        "20240601-100000-p2.000.html",
        "1717243200.123.html",  # epoch: no fraction in a flat name, and no status
        "2024-06-01T13-00-00-p2.123.html",  # after a page number: a status position
        "2024-06-01T14-00-00Z.123.html",  # after a zone
        "2024-06-01T15-00.123.html",  # not to the second
        "2024-06-01T16-00-00.123.123.html",  # the milliseconds are there already
    ]
    put(tmp_path, "20240601T080000Z/page1.html")
    for name in bad:
        put(tmp_path, name)
    with pytest.raises(ConfigError) as caught:
        scan(tmp_path)
    message = str(caught.value)
    for name in bad:
        digits = name.rsplit(".", 2)[1]
        assert f"{name}: .{digits} is not an HTTP status (200-599)" in message, name
    assert "an id ending in .199 is saved as 1042.199.200.html" in message
    assert "(and" not in message and "same time as" not in message


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["notatime/page1.html"], "notatime: unreadable capture time"),
        (["20241301080000/page1.html"], "20241301080000: unreadable capture time"),
        (["20240631_080000.html"], "20240631_080000.html: unreadable capture time"),
        (["20240601-080000-p2x.html"], "unreadable capture time"),
        (["1717228800.5/page_1.html"], "1717228800.5/page_1.html: not a listing page"),
        # a fraction cannot be told from a status in the flat form: directories only
        (["1717228800.123456.html"], "1717228800.123456.html: a fractional epoch names a dir"),
        (["1717228800.5-p2.503.html"], "a fractional epoch names a directory only"),
        (["20240601080000.html", "20240601T080000Z/page1.html"], "same time as"),
        (["20240601_080000.html", "20240601-080000-p2.html"], "same time as"),
        (["1717228800/page1.html", "1717228800.0/page1.html"], "same time as"),
        (["1717228800/page1.html", "1717228800000.html"], "same time as"),
        (["2024-06-01T08-00-00.05/page1.html", "2024-06-01T08-00-00.050.html"], "same time as"),
        (["notatime.123.html"], "notatime.123.html: unreadable capture time"),
        (["202406010800.html", "20240601080000/page1.html"], "same time as"),
        (["20240601-0800-p2.html", "20240601_0800/page1.html"], "same time as"),
        (["202406010860.html"], "202406010860.html: unreadable capture time"),
        (["1717228800123-p2x.html"], "1717228800123-p2x.html: unreadable capture time"),
        (["20240601T080000Z/page_2.html"], "20240601T080000Z/page_2.html: not a listing page"),
        (["20240601T080000Z.html", "1717228800.html"], "same time as"),
        (["20240601T070000Z/threads/1.html", "20240601T080000Z.html"], "before any listing"),
        (["20240601T080000Z/threads/1.html"], "before any listing capture"),
        ([], "no listing capture"),
        (["20240601T080000Z/page1.html", "20240601T080000Z/page1.htm"], "not a new page number"),
    ],
)
def test_scan_names_every_problem(tmp_path: Path, files: list[str], message: str) -> None:
    for name in files:
        put(tmp_path, name)
    with pytest.raises(ConfigError, match=message):
        scan(tmp_path)


def forum_thread(tid: int, title: str, last_post: datetime) -> Thread:
    posted = T0 - timedelta(days=3)
    return Thread(tid, title, "seller", tid, posted, last_post, "someone", 1, 10, title)


def write_forum(root: Path, captures: list[tuple[datetime, list[Thread], dict[str, str]]]) -> None:
    """A small MyBB history: each capture's threads (every page) and thread pages."""
    for at, threads, pages in captures:
        name = at.strftime("%Y%m%dT%H%M%SZ")
        for n in range(1, -(-len(threads) // THREADS_PER_PAGE) + 1):
            put(root, f"{name}/page{n}.html", forum_page(threads, [], n, at))
        for key, html in pages.items():
            put(root, f"{name}/threads/{key}", html)


def small_threads() -> list[Thread]:
    return [
        forum_thread(i, f"Dataset {name} customers 1.{i}M - {i} BTC", T0 - timedelta(hours=i))
        for i, name in enumerate(("alpha", "bravo", "charlie", "delta", "echo"), start=1)
    ]


def small_history(root: Path) -> None:
    threads = small_threads()
    hour = timedelta(hours=1)
    write_forum(
        root,
        [
            (T0, threads, {}),
            (T0 + hour, threads[1:], {}),  # 1 vanished, no thread page saved: unknown
            (T0 + 2 * hour, threads[1:], {"1.html": thread_page(None, T0)}),  # gone
            (T0 + 3 * hour, [threads[0], *threads[2:]], {}),  # 1 is back, 2 vanished
        ],
    )
    # the thread page of 2, saved 20 minutes after the last listing capture
    put(root, "20240601T112000Z/threads/2.html", thread_page(threads[1], T0))


def test_replay_through_the_real_stages(tmp_path: Path) -> None:
    root = tmp_path / "forum"
    small_history(root)
    db = tmp_path / "leakmon.db"
    args = [str(root), "--engine", "mybb", "--url", FORUM_URL, "--db", str(db), "--json"]
    code, out, err = run(*args)
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["source"] == "forum" and report["outcomes"] == {"complete": 4}
    events = [(e["capture"], e["kind"], e["listing_id"]) for e in report["events"]]
    assert events == [
        ("20240601T100000Z", "deleted", "forum:1"),
        ("20240601T110000Z", "restored", "forum:1"),
    ]
    assert report["unverified"] == ["forum:1"]  # at 09:00, before its page was saved
    deleted = report["events"][0]
    assert deleted["at"] == (T0 + timedelta(hours=2)).isoformat()  # capture time, not now
    assert (
        deleted["details"]["how"] == "verified: engine message: the specified thread does not exist"
    )
    with Store.open(db) as store:
        row = store.listing("forum:2")
        assert row is not None and row["state"] == "aged_out"  # verified present at 11:20
        assert row["last_seen"].startswith("2024-06-01T11:20:00")
        assert len(store.crawls("forum")) == 4
        # the trail holds the saved pages read, not the checks no capture could answer
        trail = [(v["listing_id"], v["verdict"]) for v in store.db.query(
            "SELECT listing_id, verdict FROM verifications ORDER BY at")]  # fmt: skip
        assert trail == [("forum:1", "gone"), ("forum:2", "present")]
    # replaying again adds nothing: every capture is older than the last stored crawl
    code, out, _ = run(*args)
    again = json.loads(out)
    assert (code, again["replayed"], again["skipped"], again["events"]) == (0, 0, 4, [])


def test_replay_of_captures_named_by_other_tools(tmp_path: Path) -> None:
    """The history of test_replay_through_the_real_stages under Wayback/wget times
    (bare, `_`, `-`, to the minute), an ArchiveBox fractional-epoch directory, epoch
    milliseconds and flat names with page numbers and a status, plus a last capture
    whose page 2 was saved with a 503."""
    root = tmp_path / "forum"
    one, two, *rest = small_threads()
    hour = timedelta(hours=1)
    put(root, "20240601080000/page1.html", forum_page([one, two, *rest], [], 1, T0))
    put(root, "20240601080000/page2.html", forum_page([one, two, *rest], [], 2, T0))
    put(root, "20240601_090000.html", forum_page([two, *rest], [], 1, T0 + hour))
    put(root, "1717236000.25/page1.html", forum_page([two, *rest], [], 1, T0 + 2 * hour))
    put(root, "1717236000.25/threads/1.html", thread_page(None, T0))
    put(root, "1717239600123.html", forum_page([one, *rest], [], 1, T0 + 3 * hour))
    put(root, "20240601-1120/threads/2.html", thread_page(two, T0))
    put(root, "20240601-120000.html", forum_page([one, *rest, two], [], 1, T0 + 4 * hour))
    put(root, "20240601-120000-p2.503.html", forum_page([one, *rest, two], [], 2, T0 + 4 * hour))
    db = tmp_path / "leakmon.db"
    args = [str(root), "--engine", "mybb", "--url", FORUM_URL, "--db", str(db), "--json"]
    code, out, err = run(*args)
    assert (code, err) == (0, "")
    report = json.loads(out)
    crawls = [(c["capture"], c["at"], c["outcome"]) for c in report["crawls"]]
    assert crawls == [
        ("20240601080000", T0.isoformat(), "complete"),
        ("20240601_090000", (T0 + hour).isoformat(), "complete"),
        ("1717236000.25", (T0 + 2 * hour).replace(microsecond=250000).isoformat(), "complete"),
        ("1717239600123", (T0 + 3 * hour).replace(microsecond=123000).isoformat(), "complete"),
        ("20240601-120000", (T0 + 4 * hour).isoformat(), "partial"),  # page 2: HTTP 503
    ]
    events = [(e["capture"], e["kind"], e["listing_id"]) for e in report["events"]]
    assert events == [
        ("1717236000.25", "deleted", "forum:1"),
        ("1717239600123", "restored", "forum:1"),
    ]
    assert report["events"][0]["at"] == crawls[2][1]  # the fraction is kept
    with Store.open(db) as store:
        row = store.listing("forum:2")  # verified present at 11:20, unseen in the partial crawl
        assert row is not None and row["state"] == "aged_out"
        assert row["last_seen"].startswith("2024-06-01T11:20:00")


def test_count_mode_for_forum_histories_without_thread_pages(tmp_path: Path) -> None:
    root = tmp_path / "forum"
    small_history(root)
    db = tmp_path / "leakmon.db"
    base = [str(root), "--engine", "mybb", "--url", FORUM_URL, "--db", str(db), "--name", "f"]
    code, out, _ = run(*base, "--absence", "count", "--missing-after", "2", "--json")
    assert code == 0
    kinds = [(e["kind"], e["listing_id"]) for e in json.loads(out)["events"]]
    assert kinds == [("deleted", "f:1"), ("restored", "f:1")]
    assert json.loads(out)["events"][0]["details"]["how"] == "absent from 2 complete crawls"


def test_a_forum_history_without_thread_pages_says_why_nothing_was_deleted(
    tmp_path: Path,
) -> None:
    root = tmp_path / "forum"
    hour = timedelta(hours=1)
    threads = small_threads()
    write_forum(
        root, [(T0, threads, {}), (T0 + hour, threads[2:], {}), (T0 + 2 * hour, threads[2:], {})]
    )
    db = tmp_path / "leakmon.db"
    base = [str(root), "--engine", "mybb", "--url", FORUM_URL, "--db", str(db)]
    code, out, err = run(*base)
    assert (code, err) == (0, "")
    summary, note = out.strip().splitlines()[-2:]
    assert "events: none" in summary
    assert note.startswith("note: 2 listing(s) had to be checked on their own page")
    assert "--absence count --missing-after 2" in note
    with Store.open(db) as store:
        assert {store.listing(f"forum:{i}")["state"] for i in (1, 2)} == {"missing"}  # type: ignore[index]
    # counted instead, the same history deletes both, and needs no note
    code, out, _ = run(*base, "--db", str(tmp_path / "count.db"), "--absence", "count")
    assert code == 0 and "note:" not in out and "deleted=2" in out


def test_a_post_edited_between_captures_is_read_again_from_every_saved_page(
    tmp_path: Path,
) -> None:
    """The row on the list stays the same; the seller edits the price in the post.
    A replay reads every saved post again (it costs nothing), so the edit is found
    at the first capture that saved the edited page; captures without it change
    nothing."""
    from dataclasses import replace

    root = tmp_path / "forum"
    hour = timedelta(hours=1)
    threads = [
        forum_thread(i, f"Dataset {n} customers", T0 - i * hour)
        for i, n in ((1, "alpha"), (2, "bravo"))
    ]
    body = "Dataset alpha: emails, phones. Records: 2,000,000. Price: $500."
    one = replace(threads[0], body=body)
    cheaper = replace(one, body=body.replace("$500", "$350"))
    write_forum(
        root,
        [
            (T0, [one, threads[1]], {"1.html": thread_page(one, T0)}),
            (T0 + hour, [one, threads[1]], {}),  # no page saved: nothing to compare
            (T0 + 2 * hour, [one, threads[1]], {"1.html": thread_page(cheaper, T0)}),
            (T0 + 3 * hour, [one, threads[1]], {"1.html": thread_page(cheaper, T0)}),
        ],
    )
    args = [str(root), "--engine", "mybb", "--url", FORUM_URL, "--db", str(tmp_path / "l.db")]
    code, out, err = run(*args, "--json")
    assert (code, err) == (0, "")
    events = [
        (e["capture"], e["kind"], e["listing_id"], e["details"]) for e in json.loads(out)["events"]
    ]
    assert events == [
        (
            "20240601T100000Z",
            "changed",
            "forum:1",
            {
                "changes": [{"field": "price", "before": "$500", "after": "$350"}],
                "price_drop": True,
            },
        )
    ]


BROKEN_PAGES = [
    "\x00\x01\x02 not html at all \xff" * 3000,
    "<div>" * 20_000 + "deep" + "</div>" * 10,
    "<!DOCTYPE html><html><body><table><tr class='inline_row'><td><span id='tid_1'>",
    "",
]


@pytest.mark.parametrize("page", BROKEN_PAGES)
def test_a_broken_page_never_crashes_a_replay_nor_deletes(tmp_path: Path, page: str) -> None:
    root = tmp_path / "forum"
    small_history(root)
    (root / "20240601T100000Z" / "page1.html").write_text(page)
    db = tmp_path / "leakmon.db"
    base = [str(root), "--engine", "mybb", "--url", FORUM_URL, "--db", str(db)]
    code, out, _ = run(*base, "--absence", "count", "--json")
    assert code == 0
    report = json.loads(out)
    (crawl,) = [c for c in report["crawls"] if c["capture"] == "20240601T100000Z"]
    kinds = [e["kind"] for e in report["events"] if e["capture"] == "20240601T100000Z"]
    # a block page, or a page read as empty: a suspected layout change; never deletions
    assert (crawl["outcome"], kinds) in (("blocked", []), ("complete", ["layout_changed"]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["MISSING", "--engine", "mybb", "--url", FORUM_URL], "not found or not a directory"),
        (["DIR", "--engine", "mybb"], "--engine needs --url"),
        (["DIR"], "give exactly one of --source NAME or --engine"),
        (["DIR", "--engine", "vbulletin3", "--url", FORUM_URL], "unknown engine 'vbulletin3'"),
        (["DIR", "--source", "nope", "--config", "CONFIG"], "unknown source 'nope'"),
        (
            ["BADNAMES", "--engine", "mybb", "--url", FORUM_URL],
            "yesterday.html: unreadable capture time",
        ),
        (
            ["BADTIMES", "--engine", "mybb", "--url", FORUM_URL],
            "20241301080000.html: unreadable capture time",
        ),
        (
            ["BADTIMES", "--engine", "mybb", "--url", FORUM_URL],
            "1717228800.5.html: a fractional epoch names a directory only",
        ),
        (
            ["BADTIMES", "--engine", "mybb", "--url", FORUM_URL],
            "20240601080000/page2.123.html: .123 is not an HTTP status (200-599)",
        ),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    put(tmp_path / "dir", "20240601T080000Z.html")
    put(tmp_path / "bad", "yesterday.html")
    put(tmp_path / "badtimes", "20240601080000/page1.html")  # readable; the others are not
    put(tmp_path / "badtimes", "20241301080000.html")
    put(tmp_path / "badtimes", "1717228800.5.html")
    put(tmp_path / "badtimes", "20240601080000/page2.123.html")
    config = tmp_path / "sources.toml"
    config.write_text(
        f'[[source]]\nname = "forum"\nengine = "mybb"\nevery = "1h"\nurl = "{FORUM_URL}"\n'
    )
    names = {"DIR": tmp_path / "dir", "BADNAMES": tmp_path / "bad", "CONFIG": config,
             "BADTIMES": tmp_path / "badtimes", "MISSING": tmp_path / "missing"}  # fmt: skip
    argv = [str(names.get(a, a)) for a in args] + ["--db", str(tmp_path / "x.db")]
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert any(message in line for line in err.splitlines()), err
    assert not (tmp_path / "x.db").exists()  # checked before anything is written


def test_help_stays_lazy() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from monitor.cli import main;"
        "r = CliRunner().invoke(main, ['--help']); assert 'replay' in r.output, r.output;"
        "print(any(m in sys.modules for m in ('monitor.cli_replay', 'monitor.replay',"
        " 'monitor.pipeline')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def alerting_config(tmp_path: Path) -> Path:
    config = tmp_path / "sources.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "leakmon.db"}"\n\n'
        f'[[source]]\nname = "forum"\nengine = "mybb"\nevery = "1h"\nurl = "{FORUM_URL}"\n\n'
        '[[rule]]\nname = "all"\nregex = ["."]\ntargets = ["console"]\n\n'
        '[[notify]]\nname = "console"\nurl = "console://"\n'
    )
    return config


@pytest.mark.parametrize(
    ("flag", "recorded", "sent"), [(None, 2, 0), ("--alerts", 2, 2), ("--no-alerts", 0, 0)]
)
def test_alerts_are_recorded_sent_or_left_out(
    tmp_path: Path, flag: str | None, recorded: int, sent: int
) -> None:
    small_history(tmp_path / "forum")
    args = [
        str(tmp_path / "forum"),
        "--source",
        "forum",
        "--config",
        str(alerting_config(tmp_path)),
    ]
    code, out, _ = run(*args, *([flag] if flag else []))
    assert code == 0
    assert out.count("ALERT ") == sent  # the console target prints what it delivers
    assert f"alerts recorded: {recorded}" in out
    with Store.open(tmp_path / "leakmon.db") as store:
        rows = store.alerts()
    assert (len(rows), [a["status"] for a in rows].count("sent")) == (recorded, sent)
    if flag is None:  # recorded, but no later `leakmon run` will send them
        assert {(a["status"], a["last_error"]) for a in rows} == {("failed", HELD)}


def test_json_api_captures_replay_too(tmp_path: Path) -> None:
    """A source served as a JSON API: saved .json captures, a price edit and a listing
    that stays away for two complete crawls (count absence)."""
    api = "http://" + "j" * 56 + ".onion/api/threads"
    config = tmp_path / "sources.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "leakmon.db"}"\n\n'
        f'[[source]]\nname = "api"\nengine = "json"\nevery = "1h"\nurl = "{api}"\n'
        'absence = "count"\nmissing_after = 2\n\n'
        '[source.selectors]\nitem = "data.threads"\ntitle = "title"\nid = "id"\n'
        'url_template = "/t/{id}"\nprice = "price"\nseller = "author"\n'
    )

    def capture(at: datetime, threads: list[tuple[int, str, str]]) -> None:
        items = [{"id": i, "title": t, "price": p, "author": "x"} for i, t, p in threads]
        name = at.strftime("%Y%m%dT%H%M%SZ") + ".json"
        put(tmp_path / "api", name, json.dumps({"data": {"threads": items}}))

    acme = (1, "Acme Telecom 2.5M subscribers", "3 BTC")
    globex = (2, "Globex Bank 800k customers", "$4,000")
    capture(T0, [acme, globex])
    capture(T0 + timedelta(hours=1), [(1, acme[1], "2 BTC"), globex])
    capture(T0 + timedelta(hours=2), [(1, acme[1], "2 BTC")])
    capture(T0 + timedelta(hours=3), [(1, acme[1], "2 BTC")])
    code, out, err = run(str(tmp_path / "api"), "--config", str(config), "--source", "api",
                         "--json")  # fmt: skip
    assert code == 0, err
    events = json.loads(out)["events"]
    assert [(e["kind"], e["listing_id"]) for e in events] == [
        ("changed", "api:1"),
        ("deleted", "api:2"),
    ]
    assert events[0]["details"]["price_drop"] is True  # 3 BTC -> 2 BTC
    with Store.open(tmp_path / "leakmon.db") as store:
        urls = {r["id"]: r["url"] for r in store.listings()}
    assert urls["api:1"] == api.rsplit("/api/", 1)[0] + "/t/1"


def test_captures_made_across_a_move_to_a_new_address_keep_the_listings(tmp_path: Path) -> None:
    """A leak blog (its ids are its post urls) moved to a new onion address halfway
    through the captures, its links absolute on the new one; the source's url stays
    the old one. The posts keep their ids: no new, no deleted, no layout change."""
    fixture = Path(__file__).parent / "fixtures" / "engines" / "blog_ransom.html"
    page = fixture.read_text(encoding="utf-8").replace(
        '<div class="pagination"><a class="next" href="/?page=2">Older</a></div>', ""
    )
    moved = page.replace('href="/post/', 'href="http://' + "n" * 56 + ".onion/post/")
    hour = timedelta(hours=1)
    for n, html in enumerate([page, page, moved, moved, moved]):
        put(tmp_path / "blog", (T0 + n * hour).strftime("%Y%m%dT%H%M%SZ.html"), html)
    db = tmp_path / "leakmon.db"
    args = [str(tmp_path / "blog"), "--engine", "blog", "--url", "http://nightowlxyz.onion/"]
    code, out, err = run(*args, "--db", str(db), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["outcomes"] == {"complete": 5} and report["events"] == []
    with Store.open(db) as store:
        rows = store.db.query("SELECT id, state FROM listings ORDER BY id")
        assert [(r["id"], r["state"]) for r in rows] == [
            ("blog:http://nightowlxyz.onion/post/acme-logistics", "active"),
            ("blog:http://nightowlxyz.onion/post/fiction-clinic?lang=en", "active"),
            ("blog:http://nightowlxyz.onion/post/municipio", "active"),
        ]


def test_a_web_archives_banner_is_not_part_of_the_page() -> None:
    page = "<html><body>{}<p>Just a moment...</p></body></html>"
    wayback = (
        "<!-- BEGIN WAYBACK TOOLBAR INSERT --><div>1,204 captures 01 Mar 2024</div>"
        "<!-- END WAYBACK TOOLBAR INSERT -->"
    )
    pywb = "<!-- WB Insert --><script>wbinfo = {}</script><div>Live on</div><!-- End WB Insert -->"
    for banner in (wayback, pywb):
        assert without_archive_banner(page.format(banner)) == page.format("")
    assert without_archive_banner(page) is page
