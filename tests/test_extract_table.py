"""The parser case table (tests/fixtures/parser_cases.tsv): records, sizes, spans,
prices, data types, countries and relative dates in English, Russian and Chinese,
with negatives (sizes, years, models, phone numbers, prices mistaken for counts)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.extract.country import parse_country
from monitor.extract.datatypes import parse_data_types
from monitor.extract.dates import parse_posted
from monitor.extract.numbers import parse_records
from monitor.extract.parse import parse_text
from monitor.extract.size import parse_size
from monitor.extract.span import parse_span

TABLE = Path(__file__).parent / "fixtures" / "parser_cases.tsv"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def load() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, lang, text, expected = line.split("\t")
            rows.append((kind, lang, text, expected.strip()))
    return rows


CASES = load()


def test_table_size_and_languages() -> None:
    assert len(CASES) >= 400
    assert sum(1 for *_, expected in CASES if expected == "-") >= 80
    langs = {lang for _, lang, _, _ in CASES}
    assert langs == {"en", "ru", "zh"}
    for lang in langs:
        assert sum(1 for _, la, _, _ in CASES if la == lang) >= 60


def got(kind: str, text: str) -> str:
    """What the parser of `kind` reads in `text`, in the table's notation."""
    if kind == "records":
        records = parse_records(text)
        return str(records.count) if records else "-"
    if kind == "size":
        size = parse_size(text)
        return str(size) if size is not None else "-"
    if kind == "span":
        span = parse_span(text)
        return f"{span[0]}-{span[1]}" if span else "-"
    if kind == "types":
        return ",".join(parse_data_types(text)) or "-"
    if kind == "country":
        return parse_country(text) or "-"
    if kind == "date":
        when = parse_posted(text, now=NOW)
        return when.isoformat() if when else "-"
    assert kind == "price", kind
    parsed = parse_text(text)
    if parsed.prices:
        return "; ".join(f"{p.amount:g} {p.currency} {p.kind}" for p in parsed.prices)
    return "free" if parsed.free else "neg" if parsed.negotiable else "-"


def want(kind: str, expected: str) -> str:
    if kind == "size" and expected != "-":
        return str(math.prod(int(f) for f in expected.split("*")))
    return expected


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [pytest.param(k, t, e, id=f"{k}:{t}") for k, _, t, e in CASES],
)
def test_case(kind: str, text: str, expected: str) -> None:
    assert got(kind, text) == want(kind, expected)
