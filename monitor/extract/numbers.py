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

from monitor.extract.branches import grouped, split_alternatives
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
_DIGIT = re.compile(r"\d")  # a plain class: re scans for it without trying a match per position
_LETTER = r"0-9A-Za-z\u00c0-\u024f\u0400-\u04ff"  # Latin and Cyrillic letters, digits


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII) with whitespace collapsed and
    terminal escape sequences removed."""
    text = strip_escapes(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def first_digit(text: str) -> int:
    """Where the first digit of `text` is (its length when it has none): no NUMBER
    starts before it, so number patterns need not be tried there."""
    match = _DIGIT.search(text)
    return len(text) if match is None else match.start()


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
    """A regex alternation of `words`, longest first so that "kk" wins over "k"
    (grouped by first character, see branches.py)."""
    return grouped(sorted(map(re.escape, words), key=len, reverse=True))


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
    # common misspellings
    "milion": 1e6, "milions": 1e6, "millon": 1e6, "millons": 1e6, "billon": 1e9,
    "billons": 1e9, "bilion": 1e9, "bilions": 1e9, "lac": 1e5, "lacs": 1e5,
    "лярд": 1e9, "лярда": 1e9, "лярдов": 1e9,
}  # fmt: skip
_MAGNITUDE = alternation(_MAGNITUDES)
# Chinese-market slang, read only in text with Chinese in it: "500w" = 500万, "3kw" = 3千万.
_ZH_SLANG = {"w": 1e4, "kw": 1e7}
_MAGNITUDES |= _ZH_SLANG
_ABBREVIATED = frozenset({"тыс", "млн", "млрд", "mln", "mil", "bn"})  # "300 тыс. руб"
_NOUNS = (
    r"records?|recs?|rows?|lines?|lns|users?|accounts?|accs|accts|customers?|clients?|citizens?"
    r"|e-?mails?|mails|entries|entry|people|persons?|members?|profiles?|subscribers?"
    r"|patients?|students?|employees?|contacts?|phones?|numbers|cards|logins?"
    r"|credentials|creds|combos?|passwords?|hashes|leads|documents|docs|identities"
    r"|voters?|individuals|residents|orders|victims|players|passports?|ssns|devices"
    r"|passengers?|buyers?|shoppers?|guests?|borrowers?|subscriptions?|holders?|applicants?"
    r"|shells|sites|websites|domains|bots|wallets|transactions|logs"
    r"|строк[аи]?|строчек|записей|записи|запись|аккаунт(?:ов|а|ы)?|акков|юзеров"
    r"|пользовател(?:ей|я|и)|клиент(?:ов|а|ы)?|абонент(?:ов|а|ы)?|человек|граждан"
    r"|номер(?:ов|а)?|телефон(?:ов|а)?|почт|мыл|контакт(?:ов|а|ы)?|паспорт(?:ов|а)?"
    r"|лидов|заказ(?:ов|а)?|сотрудник(?:ов|а)?|пациент(?:ов|а)?|профил(?:ей|я|и)"
    r"|логов|уч[её]т(?:ок|ки)|анкет|полисов|шт"
)
_ZH_NOUNS = r"条|人(?!民)|个(?!月)|名|行|户|位|份|笔|用户|账号|账户|帐号|记录|数据"
_CJK = r"\u3400-\u9fff"

# All matching runs on lower-cased text (IGNORECASE makes big alternations slow).
_CANDIDATE, _ZH_CANDIDATE = (
    re.compile(
        rf"(?=\d)(?<![{_LETTER}.,'+])({NUMBER})(?![.,]?\d)"
        rf"(?:( ?)({magnitudes})(?![{_LETTER}]))?(?![{_LETTER}])"
    )
    for magnitudes in (_MAGNITUDE, f"{_MAGNITUDE}|{alternation(_ZH_SLANG)}")
)
_NOUN = re.compile(
    rf"\b(?:{grouped(split_alternatives(_NOUNS))})\b|{grouped(split_alternatives(_ZH_NOUNS))}"
)
_GLUE_AFTER = re.compile(rf"\.? ?\+? ?(?:[-–—:(] ?)?(?:(?:[^\W\d_]+\.? ){{0,2}}|[{_CJK}]{{0,6}})")
_GLUE_RIGHT_AFTER = re.compile(r"\.? ?")
_GLUE_BEFORE = re.compile(
    r"数?(?: ?[:=\-–—~≈] ?| )(?:(?:over|about|approx\.?|around|more than|up to|~|около|"
    r"более|свыше|примерно|больше|约|超过|共) ?)?"
)
_NOUN_REACH = 48  # characters between a number and its count noun, at most
# What makes a number something else than a count.
_UNIT_AFTER = re.compile(
    r"\+? ?(?:[kmgtpe]i?b(?:ytes?)?|bytes?|байт|[кмгт]б|gigs?|megs?|гиг|мег|метров"
    r"|[gt](?![a-zа-я])|%|"
    r"(?:kilo|mega|giga|tera|кило|мега|гига|тера)(?:bytes?|байт)|"
    r"[$€£₽¥₿]|usd[tc]?|eur|btc|xmr|eth|ltc|rub|bitcoins?|dollars?|bucks|euros?|евро|"
    r"руб|долл|бакс|биткоин|元|美元|块|人民币|u(?![a-zа-я])|-bits?(?![a-z])"
    r"|(?:video|uhd|hdr|tv|monitor|display|resolution|stream|fps|[kmg]?hz|mah|mp|px|bits?|бит)"
    r"(?![a-zа-я]))"
)


def _reversed(words: Iterable[str]) -> str:
    """An alternation of `words` spelt backwards (for _NOT_COUNT_BEFORE)."""
    return alternation(word[::-1] for word in words)


# What, written just before a number, makes it something else than a count: a
# currency, a price or revenue label, a company-size label ("Employees: 40"), a model,
# version, part or rank word, an ISO/ZIP/port label, or a pricing unit ("50$ per 1k
# lines", "по 30$ за 10к строк", "$5/1k", "每1万条"). Matched once, anchored, against
# the reversed text before the number: cheaper than searching a window for "…$".
_CURRENCY_WORDS = ("usd", "usdt", "usdc", "eur", "btc", "xmr", "eth", "ltc")
_LABEL_WORDS = ("price", "cost", "цена", "стоимость", "старт", "start", "step", "шаг",
                "blitz", "блиц", "revenue", "rev", "turnover", "оборот", "выручка",
                "выручки", "доход")  # fmt: skip
_COMPANY_WORDS = ("employees", "staff", "headcount", "сотрудников", "сотрудники", "员工",
                  "员工数", "员工人数")  # fmt: skip
_MODEL_WORDS = (
    "geforce", "rtx", "gtx", "gts", "quadro", "radeon", "rx", "iphone", "galaxy", "pixel",
    "xeon", "ryzen", "i3", "i5", "i7", "i9", "celeron", "pentium", "snapdragon", "model",
    "ver", "version", "v", "windows", "win", "android", "ios", "ps", "xbox", "series",
    "type", "cve", "part", "vol", "volume", "chapter", "ep", "episode", "season", "gen",
    "no", "top", "топ", "tier", "level", "lvl", "rank", "page", "стр", "часть", "том",
    "iso", "zip", "postcode", "port", "rfc", "din", "гост", "индекс",
)  # fmt: skip
_CJK_BEFORE_WORDS = ("前", "第", "价格", "售价", "总价", "单价", "报价", "营收", "营业额")
_NOT_COUNT_BEFORE = re.compile(
    rf"\s?(?:[$€£₽¥₿#№]|(?:{_reversed(_CURRENCY_WORDS)})\b"
    rf"|[:\-–—=]?\s?(?:{_reversed(_LABEL_WORDS)})\b"
    rf"|[:\-–—=]\s?(?:{_reversed(_COMPANY_WORDS)})\b"
    rf"|\.?(?:{_reversed(_MODEL_WORDS)})\b"
    rf"|{_reversed(_CJK_BEFORE_WORDS)}"
    rf"|rep\b|每|аз [^,;|]{{1,16}} оп\b"
    rf"|/ ?(?:[$€£₽¥₿元]|{_reversed(_CURRENCY_WORDS)}))"
)
_BEFORE_REACH = 28
_PRICE_FOR = re.compile(
    r"(?:[$€£₽¥₿]|\b(?:usd[tc]?|eur|btc|xmr|руб\w*|бакс\w*|долл\w*|евро)) (?:за|for) $"
)
_DASHED = re.compile(rf"(?<![{_LETTER}])[^\W\d_]{{2,}}-$")  # "bank-" of "bank-1.2M-rows"
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
# A Chinese numeral starts with a digit or 十 ("千万" alone is an adverb, "万能" a word)
# and is not an ordinal or a rank ("第二", "前十").
_ZH_NUMERAL = re.compile(
    r"(?<![零〇一二两三四五六七八九十百千万亿第前])[一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*"
)
_ZH_MAGNITUDE = re.compile(r"[千万亿]")
_ZH_MIXED = re.compile(r"(?<![\d.,])\d{1,4}[万亿](?:\d{1,4}[千百万]){1,2}")  # "1万5千"
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_DIGIT_BEFORE = re.compile(r"\d[ \-/(]$")
_DIGIT_AFTER = re.compile(r"[ \-/)]\d")
_YEAR = re.compile(r"(?:19|20)\d\d")
_MAX_COUNT = 10**13


_STAT = re.compile(rf"({NUMBER})(?![.,]?\d) ?(k|к|m|м|тыс|млн)?\.?(?![{_LETTER}])")
_STAT_MAGNITUDES = {"k": 1e3, "к": 1e3, "тыс": 1e3, "m": 1e6, "м": 1e6, "млн": 1e6}


def parse_count(text: str) -> int | None:
    """A reply or view counter as forums print it ("1,204", "12K", "1.2M", "1,2 тыс.",
    "17 Replies"); the first number in `text`, else None."""
    if text.isdigit() and text.isascii() and len(text) <= 13:  # "1204": what _STAT reads
        return int(text)
    match = _STAT.search(normalize(text[:100]).lower())
    if match is None:
        return None
    magnitude = match[2]
    value = number_value(match[1], prefer_decimal=bool(magnitude))
    count = round(value * _STAT_MAGNITUDES[magnitude] if magnitude else value)
    return count if 0 <= count <= _MAX_COUNT else None


def parse_records(text: str) -> Records | None:
    """The record count stated in `text` (a title or a count field), else None."""
    return records_in(normalize(text[:2000]))


_SENTENCE_END = re.compile(r"[!?;|•]|\.(?!\d)")  # a sentence's end; not "0.5"
_LABELLED_WINDOW = 120  # characters read after a label at most
# A record count a seller labels in a post ("Records: 1,200,000", "Rows - 5M",
# "Записей: 500 000", "数量：50万"); a bare number after such a label is the count.
_RECORDS_LABEL = re.compile(
    r"(?<!\w)(?:records?|rows|lines|entries|users|accounts|customers|записей|строк"
    r"|пользователей|аккаунтов)\s?[:=\-–—]|(?:数量|条数|记录数|记录)\s?[:=\-–—]?",
    re.IGNORECASE,
)


def labelled_sentences(text: str, label: re.Pattern[str]) -> Iterable[tuple[str, str]]:
    """(the sentence from each `label` match on, the part after the label) in
    normalised `text`: up to the sentence's end or `_LABELLED_WINDOW` characters."""
    for match in label.finditer(text):
        window = text[match.end() : match.end() + _LABELLED_WINDOW]
        end = _SENTENCE_END.search(window)
        after = window[: end.start()] if end else window
        yield text[match.start() : match.end()] + after, after


def post_records(text: str) -> Records | None:
    """The record count a post's text labels (`_RECORDS_LABEL`); None when none does."""
    for sentence, after in labelled_sentences(normalize(text[:4000]), _RECORDS_LABEL):
        found = records_in(sentence) or records_in(after.strip())
        if found is not None:
            return found
    return None


def records_in(text: str) -> Records | None:
    """`parse_records` of a text already normalised by `normalize`. A text that is only
    a plain number other than a year is a count (a records field, a JSON value)."""
    low = text.lower()
    if len(low) != len(text):  # rare letters whose lower case is longer
        text = low
    nouns: list[tuple[int, int]] | None = None
    per: bool | None = None
    best: tuple[int, int, str] | None = None
    cjk = not low.isascii() and _CJK_CHAR.search(low) is not None
    for match in (_ZH_CANDIDATE if cjk else _CANDIDATE).finditer(low, first_digit(low)):
        if nouns is None:
            nouns = [m.span() for m in _NOUN.finditer(low)]
        if per is None:
            per = "за" in low or "for" in low
        found = _candidate(text, low, match, nouns, per=per)
        if found is not None and (best is None or found[:2] > best[:2]):
            best = found
    if cjk:
        for match in (*_ZH_NUMERAL.finditer(low), *_ZH_MIXED.finditer(low)):
            if nouns is None:
                nouns = [m.span() for m in _NOUN.finditer(low)]
            found = _zh_candidate(text, low, match, nouns)
            if found is not None and (best is None or found[:2] > best[:2]):
                best = found
    if best is None:
        # a text that is one plain number (a records field, a JSON value) is a count
        if text.isdigit() and text.isascii() and not _YEAR.fullmatch(text):
            count = int(text)
            return Records(count=count, raw=text) if 1 <= count <= _MAX_COUNT else None
        return None
    return Records(count=best[1], raw=best[2])


def _candidate(
    text: str, low: str, match: re.Match[str], nouns: list[tuple[int, int]], *, per: bool
) -> tuple[int, int, str] | None:
    """(rank, count, raw) for one number, or None if it is no count. Rank 2: a count
    noun is attached; 1: a bare count; 0: what a price is for ("200$ за 100к строк"),
    which counts only when nothing else does."""
    number, space, magnitude = match.group(1, 2, 3)
    start, end = match.start(), match.end()
    if magnitude == "к" and space:  # "200 к ..." is a preposition
        magnitude, end = None, match.end(1)
    unit_at = end + 1 if magnitude in _ABBREVIATED and low.startswith(".", end) else end
    if _UNIT_AFTER.match(low, unit_at) or _NOT_COUNT_BEFORE.match(
        low[max(0, start - _BEFORE_REACH) : start][::-1]
    ):
        return None
    glued = low[start - 1] if start else ""
    if glued == "_" and not magnitude:
        return None  # "tid_123"; "users_180k.sql" counts
    dashed = glued == "-" and start >= 2 and low[start - 2].isalnum()
    if dashed and not (magnitude and _DASHED.search(low, max(0, start - 24), start)):
        return None  # a model or an identifier: "i7-9700K", "COVID-19", "CVE-2023-…"
    if number.count(".") == 3 and not magnitude and not number.endswith(".000"):
        return None  # an IPv4 address: "185.100.200.150"
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
    year = plain and not magnitude and _YEAR.fullmatch(number) is not None
    bare = not magnitude and (plain or count < 1000)
    found = _attach(text, low, (start, end), nouns, count, year=year, bare=bare)
    if found is not None and per and _PRICE_FOR.search(low, max(0, start - 16), start):
        return 0, found[1], found[2]
    return found


def _zh_candidate(
    text: str, low: str, match: re.Match[str], nouns: list[tuple[int, int]]
) -> tuple[int, int, str] | None:
    """(rank, count, raw) for one Chinese numeral ("十万", "两千万条"), or None.
    The numeral must end the word or carry a count noun: "十万火急" is an idiom."""
    start, end = match.span()
    if end < len(low) and _CJK_CHAR.match(low, end) and not _NOUN.match(low, end):
        return None
    if _NOT_COUNT_BEFORE.match(low[max(0, start - _BEFORE_REACH) : start][::-1]):
        return None
    count = zh_numeral_value(match[0])
    if not 1 <= count <= _MAX_COUNT:
        return None
    bare = count < 1000 or not _ZH_MAGNITUDE.search(match[0])
    return _attach(text, low, (start, end), nouns, count, year=False, bare=bare)


def zh_numeral_value(numeral: str) -> int:
    """The value of a Chinese numeral in digits and units: 十二万 = 120000,
    两千万 = 20000000, 一亿五千万 = 150000000; ASCII digit runs stand for a digit
    (1万5千 = 15000)."""
    total = section = digit = 0
    arabic = False
    for char in numeral:
        if "0" <= char <= "9":
            digit = digit * 10 + int(char) if arabic else int(char)
            arabic = True
            continue
        arabic = False
        if char in _ZH_DIGITS:
            digit = _ZH_DIGITS[char]
        elif char in _ZH_UNITS:
            section += (digit or 1) * _ZH_UNITS[char]
            digit = 0
        elif char == "万":
            section = (section + digit or 1) * 10**4
            digit = 0
        else:  # 亿
            total = (total + section + digit or 1) * 10**8
            section = digit = 0
    return total + section + digit


def _attach(
    text: str,
    low: str,
    span: tuple[int, int],
    nouns: list[tuple[int, int]],
    count: int,
    *,
    year: bool,
    bare: bool,
) -> tuple[int, int, str] | None:
    """(rank, count, raw) for a number at `span`: a count noun after it (or,
    unless it looks like a year, before it) attaches; a `bare` number needs one."""
    start, end = span
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
    if after is None and before is None and bare:
        return None  # a bare number: an id, a rank, a year, a page
    raw = text[before if before is not None else start : after if after is not None else end]
    attached = (after is not None or before is not None) and not year  # "2024 voters 8,9M"
    return 2 if attached else 1, count, raw.strip()
