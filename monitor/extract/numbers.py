"""Record counts in listing titles: "1 billion records", "480k", "2.3M rows",
"1,2 млн строк", "10亿条". Pure; regexes compiled once.

A number is a count when a count noun is attached to it (``500 users``,
``Records: 1,000,000``) or it carries a magnitude (``13k``, ``1.2M``, ``1 billion``,
``5000万``) or digit grouping (``1,000,000``). Sizes, prices, percentages, years,
versions, model numbers (``GeForce 800M``) and phone-like digit runs are not counts.
Among several candidates the largest one attached to a count noun wins, else the
largest qualified one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from monitor.extract.text import strip_escapes
from monitor.models import Records

# --- number grammar, shared with prices -------------------------------------------
# Grouped thousands with one consistent separator ("1,000,000", "1.000.000",
# "1 000 000", "1'000'000"), optional decimals; else a plain integer or decimal.
# Lengths are bounded: a longer digit run is no amount and no count.
NUMBER = (
    r"(?=\d)(?:\d{1,3}(?:,\d{3}(?!\d)){1,5}(?:\.\d{1,12})?"
    r"|\d{1,3}(?:\.\d{3}(?!\d)){1,5}(?:,\d{1,12})?"
    r"|\d{1,3}(?: \d{3}(?!\d)){1,5}(?:[.,]\d{1,12})?"
    r"|\d{1,3}(?:'\d{3}(?!\d)){1,5}(?:[.,]\d{1,12})?"
    r"|\d{1,15}(?:[.,]\d{1,12})?)"
)
_LETTER = r"0-9A-Za-z\u00c0-\u024f\u0400-\u04ff"  # Latin and Cyrillic letters, digits


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII) with whitespace collapsed and
    terminal escape sequences removed."""
    text = strip_escapes(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def number_value(text: str, *, prefer_decimal: bool) -> float:
    """The value of a NUMBER match. A single "," or "." before exactly three digits
    groups thousands ("1,000", "1.000") unless the integer part is 0 or the caller
    knows a decimal is likelier (`prefer_decimal`: "1.500M", "1.500 BTC")."""
    digits = text.replace(" ", "").replace("'", "")
    commas, dots = digits.count(","), digits.count(".")
    if commas and dots:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
        group = "." if decimal == "," else ","
        digits = digits.replace(group, "").replace(decimal, ".")
    elif commas + dots == 1:
        head, _, tail = digits.replace(",", ".").partition(".")
        grouped = len(tail) == 3 and head != "0" and not prefer_decimal
        digits = head + tail if grouped else f"{head}.{tail}"
    else:
        digits = digits.replace(",", "").replace(".", "")
    return float(digits)


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words`, longest first so that "kk" wins over "k"."""
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


# --- vocabulary -------------------------------------------------------------------
_MAGNITUDES = {
    "k": 1e3, "к": 1e3, "thousand": 1e3, "thousands": 1e3, "тыс": 1e3, "тысяч": 1e3,
    "тысячи": 1e3, "тысяча": 1e3, "千": 1e3, "万": 1e4, "十万": 1e5, "lakh": 1e5,
    "lakhs": 1e5, "kk": 1e6, "кк": 1e6, "m": 1e6, "mm": 1e6, "mil": 1e6, "mln": 1e6,
    "mio": 1e6, "million": 1e6, "millions": 1e6, "млн": 1e6, "миллион": 1e6,
    "миллиона": 1e6, "миллионов": 1e6, "百万": 1e6, "crore": 1e7, "crores": 1e7,
    "千万": 1e7, "亿": 1e8, "b": 1e9, "bn": 1e9, "bln": 1e9, "bil": 1e9, "billion": 1e9,
    "billions": 1e9, "млрд": 1e9, "миллиард": 1e9, "миллиарда": 1e9, "миллиардов": 1e9,
    "лям": 1e6, "ляма": 1e6, "лямов": 1e6, "лимон": 1e6, "лимонов": 1e6, "тыщ": 1e3,
    "萬": 1e4, "億": 1e8, "十亿": 1e9, "百亿": 1e10,
}  # fmt: skip
_MAGNITUDE = alternation(_MAGNITUDES)
_NOUNS = (
    r"records?|rows?|lines?|users?|accounts?|accs|customers?|clients?|citizens?"
    r"|e-?mails?|mails|entries|entry|people|persons?|members?|profiles?|subscribers?"
    r"|patients?|students?|employees?|contacts?|phones?|numbers|cards|logins?"
    r"|credentials|creds|combos?|passwords?|hashes|leads|documents|docs|identities"
    r"|voters?|individuals|residents|orders|victims|players|passports?|ssns|devices"
    r"|passengers?|buyers?|shoppers?|guests?|borrowers?|subscriptions?|holders?|applicants?"
    r"|строк[аи]?|строчек|записей|записи|запись|аккаунт(?:ов|а|ы)?|акков|юзеров"
    r"|пользовател(?:ей|я|и)|клиент(?:ов|а|ы)?|абонент(?:ов|а|ы)?|человек|граждан"
    r"|номер(?:ов|а)?|телефон(?:ов|а)?|почт|мыл|контакт(?:ов|а|ы)?|паспорт(?:ов|а)?"
    r"|лидов|заказ(?:ов|а)?|сотрудник(?:ов|а)?|пациент(?:ов|а)?|профил(?:ей|я|и)"
)
_ZH_NOUNS = r"条|人|个|名|行|户|位|用户|账号|账户|帐号|记录|数据"
_CJK = r"\u3400-\u9fff"

# All matching runs on lower-cased text (IGNORECASE makes big alternations slow).
_CANDIDATE = re.compile(
    rf"(?=\d)(?<![{_LETTER}_.,'+])(?<![{_LETTER}]-)({NUMBER})(?![.,]?\d)"
    rf"(?:( ?)({_MAGNITUDE})(?![{_LETTER}]))?(?![{_LETTER}])"
)
_NOUN = re.compile(rf"\b(?:{_NOUNS})\b|(?:{_ZH_NOUNS})")
_GLUE_AFTER = re.compile(rf"\.? ?\+? ?(?:[-–—:(] ?)?(?:(?:[^\W\d_]+\.? ){{0,2}}|[{_CJK}]{{0,6}})")
_GLUE_RIGHT_AFTER = re.compile(r"\.? ?")
_GLUE_BEFORE = re.compile(
    r"数?(?: ?[:=\-–—~≈] ?| )(?:(?:over|about|approx\.?|around|more than|up to|~|около|"
    r"более|свыше|примерно|больше|约|超过|共) ?)?"
)
_NOUN_REACH = 48  # characters between a number and its count noun, at most
# What makes a number something else than a count.
_UNIT_AFTER = re.compile(
    r" ?(?:[kmgtpe]i?b(?:ytes?)?|bytes?|байт|[кмгт]б|gigs?|[gt](?![a-zа-я])|%|"
    r"[$€£₽¥₿]|usd[tc]?|eur|btc|xmr|eth|ltc|rub|bitcoins?|dollars?|bucks|euros?|евро|"
    r"руб|долл|бакс|биткоин|元|美元|块|(?:video|uhd|hdr|tv|monitor|display|resolution|stream"
    r"|fps|hz|mah|mp|px)(?![a-zа-я]))"
)
_BEFORE = re.compile(
    r"(?:[$€£₽¥₿]|\b(?:usd[tc]?|eur|btc|xmr|eth|ltc|us\$))\s?$"
    r"|\b(?:price|cost|цена|стоимость|старт|start|step|шаг|blitz|блиц)\s?[:\-–—=]?\s?$"
    r"|\b(?:geforce|rtx|gtx|gts|quadro|radeon|rx|iphone|galaxy|pixel|xeon|ryzen|i[3579]"
    r"|celeron|pentium|snapdragon|model|ver|version|v|windows|win|android|ios|ps|xbox"
    r"|series|type|cve|part|vol|volume|chapter|ep|episode|season|gen|no|№|#)\.?\s?$"
)
_DIGIT_BEFORE = re.compile(r"\d[ \-/(]$")
_DIGIT_AFTER = re.compile(r"[ \-/)]\d")
_YEAR = re.compile(r"(?:19|20)\d\d")
_MAX_COUNT = 10**13


_STAT = re.compile(rf"({NUMBER})(?![.,]?\d) ?(k|к|m|м|тыс|млн)?\.?(?![{_LETTER}])")
_STAT_MAGNITUDES = {"k": 1e3, "к": 1e3, "тыс": 1e3, "m": 1e6, "м": 1e6, "млн": 1e6}


def parse_count(text: str) -> int | None:
    """A reply or view counter as forums print it ("1,204", "12K", "1.2M", "1,2 тыс.",
    "17 Replies"); the first number in `text`, else None."""
    match = _STAT.search(normalize(text[:100]).lower())
    if match is None:
        return None
    magnitude = match[2]
    value = number_value(match[1], prefer_decimal=bool(magnitude))
    count = round(value * _STAT_MAGNITUDES[magnitude] if magnitude else value)
    return count if 0 <= count <= _MAX_COUNT else None


def parse_records(text: str) -> Records | None:
    """The record count stated in `text` (a title or a count field), else None."""
    text = normalize(text[:2000])
    low = text.lower()
    if len(low) != len(text):  # rare letters whose lower case is longer
        text = low
    nouns: list[tuple[int, int]] | None = None
    best: tuple[bool, int, str] | None = None
    for match in _CANDIDATE.finditer(low):
        if nouns is None:
            nouns = [m.span() for m in _NOUN.finditer(low)]
        found = _candidate(text, low, match, nouns)
        if found is not None and (best is None or found[:2] > best[:2]):
            best = found
    if best is None:
        return None
    return Records(count=best[1], raw=best[2])


def _candidate(
    text: str, low: str, match: re.Match[str], nouns: list[tuple[int, int]]
) -> tuple[bool, int, str] | None:
    """(noun attached, count, raw) for one number, or None if it is no count."""
    number, space, magnitude = match.group(1, 2, 3)
    start, end = match.start(), match.end()
    if magnitude == "к" and space:  # "200 к ..." is a preposition
        magnitude, end = None, match.end(1)
    if _UNIT_AFTER.match(low, end) or _BEFORE.search(low, max(0, start - 16), start):
        return None
    plain = number.isdigit()
    if not magnitude and (
        _DIGIT_AFTER.match(low, end) or _DIGIT_BEFORE.search(low, max(0, start - 2), start)
    ):
        return None  # one group of a phone number, a date or a range
    value = number_value(number, prefer_decimal=bool(magnitude))
    if magnitude:
        value *= _MAGNITUDES[magnitude]
    elif value != int(value):
        return None
    count = round(value)
    if not 1 <= count <= _MAX_COUNT:
        return None
    year = plain and not magnitude and _YEAR.fullmatch(number)
    glue = _GLUE_RIGHT_AFTER if year else _GLUE_AFTER  # "2019" counts only as "2019 users"
    after = next(
        (e for s, e in nouns if end <= s <= end + _NOUN_REACH and glue.fullmatch(low, end, s)),
        None,
    )
    before = None
    if after is None and not year:
        before = next(
            (
                s
                for s, e in reversed(nouns)
                if start - _NOUN_REACH <= e <= start and _GLUE_BEFORE.fullmatch(low, e, start)
            ),
            None,
        )
    if after is None and before is None and not magnitude and (plain or count < 1000):
        return None  # a bare number: an id, a rank, a year, a page
    raw = text[before if before is not None else start : after if after is not None else end]
    return after is not None or before is not None, count, raw.strip()
