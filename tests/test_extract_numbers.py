"""Record counts in listing titles: what counts, what does not, and never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.extract import country, numbers, prices, size
from monitor.extract.numbers import (
    first_digit,
    number_value,
    parse_count,
    parse_records,
    post_records,
    zh_numeral_value,
)

COUNTS = [
    # the brief's examples
    ("Shanghai police database - 1 billion records", 1_000_000_000),
    ("Fiction Airlines PNR 480k", 480_000),
    ("Acme Telecom customers 2.3M rows", 2_300_000),
    ("Qatar 13k", 13_000),
    # digit groups
    ("Acme 1,000,000", 1_000_000),
    ("Acme 1.000.000", 1_000_000),
    ("Acme 1 000 000", 1_000_000),
    ("Acme 1'000'000 lines", 1_000_000),
    ("1,000 records", 1_000),
    # decimals with magnitudes
    ("dump 1.2M", 1_200_000),
    ("combo 3.5kk", 3_500_000),
    ("1b", 1_000_000_000),
    ("telecom 1bn", 1_000_000_000),
    ("272 M", 272_000_000),
    ("900k", 900_000),
    ("5M+ users", 5_000_000),
    # a records field or a JSON value holding only a number
    ("1500000", 1_500_000),
    ("~7 mln", 7_000_000),
    ("2 mil accounts", 2_000_000),
    ("4 mm", 4_000_000),
    ("1 thousand rows", 1_000),
    ("5 million users", 5_000_000),
    ("10 lakh customers", 1_000_000),
    # count nouns make a bare number a count
    ("500 users", 500),
    ("12 accounts", 12),
    ("Records: 5,000,000", 5_000_000),
    ("13k US citizens", 13_000),
    ("2.3M unique emails", 2_300_000),
    ("USA citizens 13k", 13_000),
    ("COVID-19 patients 50k", 50_000),
    ("Shanghai 1995-2019 1 billion people 10 BTC", 1_000_000_000),
    ("Acme 4.5 GB dump 120k lines", 120_000),
    ("Database 2019 100k users", 100_000),
    ("500k users, 2M rows", 2_000_000),
    ("2019 users", 2019),
    # Russian
    ("1,2 млн", 1_200_000),
    ("200к", 200_000),
    ("1.1кк", 1_100_000),
    ("База клиентов МФО 1,2 млн строк", 1_200_000),
    ("1.000.000 записей", 1_000_000),
    ("12 000 аккаунтов", 12_000),
    ("10 тыс. строк", 10_000),
    ("3 млрд", 3_000_000_000),
    ("База 50к строк", 50_000),
    ("500 юзеров", 500),
    ("Строк: 2 500 000", 2_500_000),
    # Chinese
    ("上海公安数据库 10亿条", 1_000_000_000),
    ("5000万用户", 50_000_000),
    ("1.2亿", 120_000_000),
    ("3千万人", 30_000_000),
    ("用户：5000万", 50_000_000),
    ("１０亿条", 1_000_000_000),  # full-width digits
    ("200万", 2_000_000),
]

NOT_COUNTS = [
    "27KB",
    "3.2 GB",
    "500 ГБ",
    "2 TB of records",
    "5 MB",
    "MB",
    "2019",
    "1995-2019",
    "Database 2019 leaked users",
    "v2.1",
    "version 3.5",
    "Release 2.0",
    "$200,000",
    "10 BTC",
    "200k$",
    "€300",
    "Price: 5k",
    "GeForce 800M",
    "RTX 3080",
    "i7-9700K",
    "+7 999 123 45 67",
    "8 800 555 35 35",
    "(555) 123-4567",
    "30.06.2026",
    "192.168.1.1",
    "100% valid",
    "Top 10",
    "thread 4521",
    "200 к пользователям",
    "",
]


@pytest.mark.parametrize(("text", "count"), COUNTS)
def test_counts(text: str, count: int) -> None:
    records = parse_records(text)
    assert records is not None, text
    assert records.count == count


@pytest.mark.parametrize("text", NOT_COUNTS)
def test_not_counts(text: str) -> None:
    assert parse_records(text) is None


def test_table_is_large_enough() -> None:
    assert len(COUNTS) + len(NOT_COUNTS) >= 40


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("Shanghai police database - 1 billion records", "1 billion records"),
        ("Fiction Airlines PNR 480k", "480k"),
        ("Acme Telecom customers 2.3M rows", "2.3M rows"),
        ("Records: 5,000,000", "Records: 5,000,000"),
        ("База клиентов МФО 1,2 млн строк", "1,2 млн строк"),
        ("上海公安数据库 10亿条", "10亿条"),
    ],
)
def test_raw_is_the_matched_text(text: str, raw: str) -> None:
    records = parse_records(text)
    assert records is not None
    assert records.raw == raw


def test_noun_attached_count_beats_bigger_bare_magnitude() -> None:
    records = parse_records("Part of a 5M dump: 300k users")
    assert records is not None
    assert records.count == 300_000


@pytest.mark.parametrize(
    ("text", "prefer_decimal", "value"),
    [
        ("1,000", False, 1000.0),
        ("1.000", False, 1000.0),
        ("1.500", True, 1.5),
        ("0.500", False, 0.5),
        ("1,2", False, 1.2),
        ("5,000.00", False, 5000.0),
        ("5.000,00", False, 5000.0),
        ("1 000 000", False, 1_000_000.0),
    ],
)
def test_number_value(text: str, prefer_decimal: bool, value: float) -> None:
    assert number_value(text, prefer_decimal=prefer_decimal) == value


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("十", 10), ("十二", 12), ("二十万", 200_000), ("十二万", 120_000), ("五千", 5000),
     ("两千万", 20_000_000), ("一亿五千万", 150_000_000), ("三亿", 300_000_000),
     ("一万五千", 15_000), ("一百万", 1_000_000)],
)  # fmt: skip
def test_zh_numeral_value(numeral: str, value: int) -> None:
    assert zh_numeral_value(numeral) == value


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Цена 50$ за 1к строк, всего 3кк", 3_000_000),  # what a price is for yields
        ("200 баксов за 100к строк", 100_000),  # … unless it is the only count
        ("Email leads 100k — $50 per 10k", 100_000),
    ],
)
def test_pricing_units_yield(text: str, count: int) -> None:
    records = parse_records(text)
    assert records is not None
    assert records.count == count


TOKENS = st.sampled_from(
    ["1", "0", "9", "13", "2019", "1,000", "1.2", ".", ",", " ", "-", "+", "$", "k", "kk",
     "十", "两", "千", "第", "前", "火", "w", "kw", "_", "/", "per", "за", "по", "top",
     "employees:", "185.100.200.150", "i7-", "bank-", "тыс.", "руб",
     "M", "b", "bn", "GB", "KB", "млн", "к", "亿", "万", "条", "records", "users", "строк",
     "BTC", "%", "v", "(", ")", ":", "\u200b", "\u00a0", "\x00", "\ud800", "İ", "ß", "١",
     "9" * 40, ",000" * 7]
)  # fmt: skip
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)


@given(st.one_of(ANY_TEXT, st.lists(TOKENS | ANY_TEXT, max_size=40).map("".join)))
def test_never_raises(text: str) -> None:
    records = parse_records(text)
    if records is not None:
        assert 1 <= records.count <= 10**13
        assert records.raw


@given(st.text(alphabet="19.,'+ kmb$xAZ()[]-٣", max_size=40))
def test_number_patterns_found_from_the_first_digit_are_all_of_them(text: str) -> None:
    """The parsers start their number scans at `first_digit`, and country codes at the
    first two capitals (less one for a bracket): nothing matches before."""
    low = text.lower()
    for pattern in (numbers._CANDIDATE, numbers._ZH_CANDIDATE, prices._AMOUNT, size._SIZE):
        every = [m.span() for m in pattern.finditer(low)]
        assert [m.span() for m in pattern.finditer(low, first_digit(low))] == every
    caps = country._CAPITALS.search(text)
    tokens = [m.span() for m in country._TOKEN.finditer(text)]
    if caps is None:
        assert tokens == []
    else:
        start = max(0, caps.start() - 1)
        assert [m.span() for m in country._TOKEN.finditer(text, start)] == tokens


@given(st.integers(0, 10**16).map(str) | st.text(alphabet="0123456789", max_size=16))
def test_a_plain_counter_reads_as_the_counter_pattern_reads_it(text: str) -> None:
    match = numbers._STAT.search(text)
    count = round(float(match[1])) if match else None
    assert parse_count(text) == (count if count is None or count <= 10**13 else None)


@pytest.mark.parametrize(
    ("post", "count"),
    [
        ("Acme DB. Records: 1,200,000. Price: $500", 1_200_000),
        ("Fresh dump. Rows - 5M; emails, phones", 5_000_000),
        ("Продаю базу. Записей: 500 000", 500_000),
        ("数据出售 数量：50万条", 500_000),
        ("Three shops, customers: 120000", 120_000),  # a bare number after the label
        ("Revenue: $80M, 2,000 employees, price $500", None),  # no records label
        ("Lines: 2018-2020", None),  # years are no count
        ("", None),
    ],
)
def test_a_post_record_count_is_only_a_labelled_one(post: str, count: int | None) -> None:
    found = post_records(post)
    assert (None if found is None else found.count) == count
