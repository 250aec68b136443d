"""The held-out-style title set (tests/fixtures/heldout_titles.tsv): invented forum
titles and price strings in English, Russian and Chinese, each with the record count
and primary price an analyst reads, scored the way issue 4's acceptance run scores
`leakmon parse`: records exact, primary price exact (amount and currency), and no
count read out of a size, year, version, model, phone number or price."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from monitor.extract.parse import ParsedText, parse_text

TABLE = Path(__file__).parent / "fixtures" / "heldout_titles.tsv"
BAR = 0.98


class Case(NamedTuple):
    lang: str
    text: str
    records: str
    price: str
    trap: str


def load() -> list[Case]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(Case(*(field.strip() for field in line.split("\t"))))
    return rows


CASES = load()


def records_of(parsed: ParsedText) -> str:
    return str(parsed.records.count) if parsed.records else "-"


def price_of(parsed: ParsedText) -> str:
    """The primary price in the table's notation."""
    if parsed.free:
        return "free"
    price = parsed.price
    if price is not None and price.amount is not None:
        return f"{price.amount:.12g} {price.currency or '?'}"
    return "neg" if parsed.negotiable else "-"


def test_table_shape() -> None:
    assert len(CASES) >= 300
    assert len({case.text for case in CASES}) == len(CASES)
    assert {case.lang for case in CASES} == {"en", "ru", "zh"}
    assert sum(1 for case in CASES if case.trap != "-") >= 100
    assert sum(1 for case in CASES if case.records == "-") >= 80


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedText]:
    return {case.text: parse_text(case.text) for case in CASES}


def score(field: str, parsed: dict[str, ParsedText]) -> tuple[float, list[str]]:
    read = records_of if field == "records" else price_of
    misses = [
        f"{case.text!r}: want {getattr(case, field)}, got {read(parsed[case.text])}"
        for case in CASES
        if read(parsed[case.text]) != getattr(case, field)
    ]
    return 1 - len(misses) / len(CASES), misses


@pytest.mark.parametrize("field", ["records", "price"])
def test_accuracy(field: str, parsed: dict[str, ParsedText]) -> None:
    accuracy, misses = score(field, parsed)
    print(f"{field}: {accuracy:.1%} exact over {len(CASES)}; misses:", *misses, sep="\n  ")
    assert accuracy >= BAR, "\n".join(misses)


def test_no_count_from_a_trap(parsed: dict[str, ParsedText]) -> None:
    """A title with a size, year, model, phone, price … never yields a wrong count."""
    wrong = [
        f"{case.text!r} ({case.trap}): want {case.records}, got {records_of(parsed[case.text])}"
        for case in CASES
        if case.trap != "-"
        and parsed[case.text].records is not None
        and records_of(parsed[case.text]) != case.records
    ]
    assert not wrong, "\n".join(wrong)
