"""Relative posting dates resolved against the crawl time. Pure; regexes compiled once.

Understood (English, Russian, Chinese): "just now", "Less than 1 minute ago",
"5 minutes ago", "an hour ago", "2 hours ago", "3 days ago", "1 week ago",
"Today, 09:00 AM", "Yesterday, 10:15 PM", "Monday at 9:00 PM" (the last such
weekday before `now`), "только что", "5 минут назад", "час назад", "сегодня в 10:15",
"вчера, 22:15", "позавчера", "刚刚", "5分钟前", "2小时前", "3天前", "今天 10:15",
"昨天 22:15", "前天". Months and years ago are too coarse to be a posting time and give
None. A day without a time is that day's midnight in the site's timezone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo

_UNITS = {
    "second": 1, "sec": 1, "секунд": 1, "сек": 1, "秒": 1,
    "minute": 60, "min": 60, "минут": 60, "мин": 60, "分钟": 60, "分": 60,
    "hour": 3600, "hr": 3600, "час": 3600, "小时": 3600, "个小时": 3600, "钟头": 3600,
    "day": 86400, "день": 86400, "дн": 86400, "天": 86400, "日": 86400,
    "week": 604800, "недел": 604800, "周": 604800, "星期": 604800,
}  # fmt: skip
_UNIT = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
_AGO = re.compile(
    rf"(?:(?:less than|under|about|около|менее|меньше)\s+)?(\d{{1,4}}|an?|one|одн[уа]|)\s*"
    rf"({_UNIT})[a-zа-я]*\.?\s*(?:ago|назад|前|以前)"
)
_NOW = re.compile(r"just now|right now|moments? ago|только что|сейчас|刚刚|刚才")
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.]\d{2})?\s*([ap]\.?m\.?)?")
_DAYS = {
    "today": 0, "сегодня": 0, "今天": 0, "yesterday": 1, "вчера": 1, "昨天": 1,
    "позавчера": 2, "前天": 2,
}  # fmt: skip
_DAY = re.compile(
    r"(?<![a-zа-я])(" + "|".join(sorted(_DAYS, key=len, reverse=True)) + r")(?![a-zа-я])"
)
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6, "понедельник": 0, "вторник": 1, "среда": 2, "среду": 2,
    "четверг": 3, "пятница": 4, "пятницу": 4, "суббота": 5, "субботу": 5,
    "воскресенье": 6,
}  # fmt: skip
_WEEKDAY = re.compile(r"(?<![a-zа-я])(" + "|".join(_WEEKDAYS) + r")(?![a-zа-я])")


def parse_relative(text: str, now: datetime, tz: tzinfo = UTC) -> datetime | None:
    """The moment a relative date in `text` names, counted back from `now` (aware);
    clock times are read in `tz`. None when `text` holds no relative date."""
    low = text[:200].lower()
    if now.tzinfo is None:
        return None
    now = now.astimezone(UTC).replace(microsecond=0)
    if _NOW.search(low):
        return now
    if _mentions_ago(low) and (match := _AGO.search(low)):
        amount_text, unit = match.groups()
        amount = int(amount_text) if amount_text.isdigit() else 1
        if "less than" in low or "менее" in low or "меньше" in low:
            amount = max(amount - 1, 0) if _UNITS[unit] == 60 else amount
        try:
            return now - timedelta(seconds=amount * _UNITS[unit])
        except OverflowError:
            return None
    local_now = now.astimezone(tz)
    if match := _DAY.search(low):
        day = local_now.date() - timedelta(days=_DAYS[match[1]])
    elif match := _WEEKDAY.search(low):
        back = (local_now.weekday() - _WEEKDAYS[match[1]]) % 7 or 7
        day = local_now.date() - timedelta(days=back)
    else:
        return None
    clock_match = _TIME.search(low, match.end())
    clock = _clock(clock_match) if clock_match else time()
    if clock is None:
        return None
    moment = datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)
    return min(moment, now)  # a site clock ahead of ours never gives a future date


def _mentions_ago(low: str) -> bool:
    """Whether `low` holds a word every _AGO match ends in (cheaper than the regex)."""
    return "ago" in low or "назад" in low or "前" in low


def _clock(match: re.Match[str]) -> time | None:
    """The clock time a _TIME match names ("10:15 PM", "22:15"), else None."""
    hour, minute, ampm = int(match[1]), int(match[2]), match[3]
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm[0] == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)
