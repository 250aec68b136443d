"""Posting dates as forums print them, to aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.extract import dates, relative
from monitor.extract.dates import parse_posted

AT_1402 = datetime(2026, 6, 30, 14, 2, tzinfo=UTC)
MIDNIGHT = datetime(2026, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-30T14:02:00Z", AT_1402),
        ("2026-06-30T14:02:00+00:00", AT_1402),
        ("2026-06-30T16:02:00+02:00", AT_1402),
        ("2026-06-30T14:02:00+0000", AT_1402),  # XenForo <time datetime>
        ("2026-06-30T14:02:00.123Z", AT_1402),
        ("2026-06-30 14:02", AT_1402),
        ("2026-06-30", MIDNIGHT),
        ("06-30-2026, 02:02 PM", AT_1402),  # MyBB default
        ("06/30/2026 2:02 pm", AT_1402),
        ("30-06-2026 14:02", AT_1402),  # first number above 12: day first
        ("30.06.2026", MIDNIGHT),
        ("30.06.2026, 14:02", AT_1402),
        ("Tue Jun 30, 2026 2:02 pm", AT_1402),  # phpBB default
        ("Jun 30, 2026 at 2:02 PM", AT_1402),  # XenForo
        ("June 30th, 2026", MIDNIGHT),
        ("30 June 2026", MIDNIGHT),
        ("30 июня 2026 в 14:02", AT_1402),
        ("Posted: 30 Jun 2026", MIDNIGHT),
        ("1782828120", AT_1402),  # data-time
        ("06-30-2026, 12:00 AM", MIDNIGHT),
    ],
)
def test_formats(text: str, expected: datetime) -> None:
    parsed = parse_posted(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "Today, 04:12 PM",
        "Yesterday",
        "2 hours ago",
        "13-13-2026",
        "2026-02-30",
        "06-30-2026, 13:02 PM",
        "Marketplace 12, 2026",
        "9999-12-31T23:59:00-23:00",
        "0001-01-01T00:00:00+05:00",
        "2026-06-30T14:02:00+24:00",
        "123",
        "",
    ],
)
def test_unparseable(text: str) -> None:
    assert parse_posted(text) is None


@given(st.text(st.characters(exclude_categories=()), max_size=200))
def test_never_raises(text: str) -> None:
    parsed = parse_posted(text)
    assert parsed is None or parsed.tzinfo is UTC


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_every_date_pattern_match_holds_what_is_looked_for_first(data: st.DataObject) -> None:
    """Absolute formats are tried only where four digits stand together (a year or an
    epoch), "… ago" only where ago / назад / 前 occurs."""
    for pattern in (dates._EPOCH, dates._ISO, dates._YMD, dates._NUMERIC,
                    dates._MONTH_FIRST, dates._DAY_FIRST):  # fmt: skip
        text = data.draw(st.from_regex(pattern))
        if pattern.search(text):
            assert dates._YEAR_DIGITS.search(text)
    text = data.draw(st.from_regex(relative._AGO)).lower()
    if relative._AGO.search(text):
        assert relative._mentions_ago(text)
