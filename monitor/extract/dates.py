"""Posting dates as forums print them, parsed to aware UTC datetimes. Pure.

Understood: ISO-8601 (``2026-06-30T14:02:00Z``, ``2026-06-30 14:02``), MyBB/US
``06-30-2026, 02:02 PM`` and ``06/30/2026`` (day first when the first number is
above 12), dotted day-first ``30.06.2026 14:02``, month names in English and
Russian (``Tue Jun 30, 2026 2:02 pm``, ``30 June 2026``, ``30 июня 2026``) and Unix
timestamps (XenForo ``data-time``). Times without an offset are in `tz` (the
source's timezone; UTC when None). Relative dates ("Less than 1 minute ago",
"Yesterday, 10:15 PM", "2 hours ago", "вчера в 22:15", "昨天 22:15", "3天前",
"Monday at 9:00 PM") are resolved against `now` (see `relative.py`); without `now`
they give None. Unknown text gives None, never "now".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from monitor.extract.relative import parse_relative

_TIME = r"(?:,?\s*(?:at\s+|в\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp]\.?[Mm]\.?)?)?"
_ISO = re.compile(
    r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?(?!\d)"
)
_YMD = re.compile(
    r"(?<!\d)(\d{4})(?:([/.])(\d{1,2})\2(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?)(?!\d)"
    r"\s*" + r"(?:(\d{1,2})[:时](\d{2})分?(?::(\d{2}))?)?"
)
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})([-/.])(\d{1,2})\2(\d{4})(?!\d)" + _TIME)
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
    "янв": 1, "фев": 2, "мар": 3, "апр": 4, "мая": 5, "май": 5, "июн": 6,
    "июл": 7, "авг": 8, "сен": 9, "окт": 10, "ноя": 11, "дек": 12,
}  # fmt: skip
_MONTH = (
    r"\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
    r"|янв(?:аря|арь)?|фев(?:раля|раль)?|мар(?:та|т)?|апр(?:еля|ель)?|ма[яй]|июн[яь]?"
    r"|июл[яь]?|авг(?:уста|уст)?|сен(?:тября|тябрь)?|окт(?:ября|ябрь)?|ноя(?:бря|брь)?"
    r"|дек(?:абря|абрь)?)(?![a-zа-я])\.?"
)
_MONTH_FIRST = re.compile(
    _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)" + _TIME, re.IGNORECASE
)
_DAY_FIRST = re.compile(
    r"(?<!\d)(\d{1,2})\s+" + _MONTH + r",?\s+(\d{4})(?:\s*г\.?)?(?!\d)" + _TIME, re.IGNORECASE
)
_YEAR_DIGITS = re.compile(r"\d\d\d\d")  # four plain classes: re scans for the first
_EPOCH = re.compile(r"\s*(\d{9,10})\s*")
_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01


def parse_posted(
    text: str, *, now: datetime | None = None, tz: tzinfo | None = None
) -> datetime | None:
    """The first recognisable date (and time) in `text`, in UTC, else None. Naive
    times are read in `tz` (default UTC); relative ones need `now` (aware)."""
    text = text[:200]
    absolute = _absolute(text, tz or UTC)
    if absolute is not None or now is None:
        return absolute
    return parse_relative(text, now, tz or UTC)


def parse_relative_posted(text: str, now: datetime, tz: tzinfo | None = None) -> datetime | None:
    """`parse_posted(text, now=now, tz=tz)` for a `text` known to hold no absolute date
    (one that `parse_posted(text, tz=tz)` reads as None): the absolute formats are
    not tried again."""
    return parse_relative(text[:200], now, tz or UTC)


def _absolute(text: str, tz: tzinfo) -> datetime | None:
    """The absolute date in `text` (naive parts read in `tz`), else None."""
    if not _YEAR_DIGITS.search(text):  # every absolute format has a year (or an epoch)
        return None
    if match := _EPOCH.fullmatch(text):
        seconds = int(match[1])
        if _EPOCH_MIN <= seconds < _EPOCH_MAX:
            return datetime.fromtimestamp(seconds, UTC)
        return None
    if match := _ISO.search(text):
        year, month, day, hour, minute, second, offset = match.groups()
        return _build(int(year), int(month), int(day), hour, minute, second, None, offset, tz)
    if match := _YMD.search(text):  # 2026/06/30, 2026年6月30日 14:02
        year, _, month_a, day_a, month_b, day_b, hour, minute, second = match.groups()
        month, day = int(month_a or month_b), int(day_a or day_b)
        return _build(int(year), month, day, hour, minute, second, None, None, tz)
    if match := _NUMERIC.search(text):
        first, sep, second_num, year, hour, minute, second, ampm = match.groups()
        a, b = int(first), int(second_num)
        month, day = (b, a) if sep == "." or a > 12 else (a, b)
        return _build(int(year), month, day, hour, minute, second, ampm, None, tz)
    if match := _MONTH_FIRST.search(text):
        month_name, day, year, hour, minute, second, ampm = match.groups()
        month = _MONTHS[month_name[:3].lower()]
        return _build(int(year), month, int(day), hour, minute, second, ampm, None, tz)
    if match := _DAY_FIRST.search(text):
        day, month_name, year, hour, minute, second, ampm = match.groups()
        month = _MONTHS[month_name[:3].lower()]
        return _build(int(year), month, int(day), hour, minute, second, ampm, None, tz)
    return None


def _build(
    year: int,
    month: int,
    day: int,
    hour: str | None,
    minute: str | None,
    second: str | None,
    ampm: str | None,
    offset: str | None,
    local: tzinfo = UTC,
) -> datetime | None:
    """An aware UTC datetime from parsed parts (naive ones in `local`); None when they
    name no real moment."""
    h = int(hour) if hour else 0
    if ampm:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ampm[0] in "Pp" else 0)
    tz = UTC if offset else local
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if delta >= timedelta(hours=24):
            return None
        tz = timezone(sign * delta)
    try:
        moment = datetime(year, month, day, h, int(minute or 0), int(second or 0), tzinfo=tz)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # no such day, or beyond year 1..9999 in UTC
        return None
