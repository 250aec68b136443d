"""Alternations grouped by first character (monitor/extract/branches.py) match what
the plain alternation matches: same spans, same alternative, same label."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.extract import datatypes
from monitor.extract.branches import grouped, labelled, split_alternatives

FIXTURES = Path(__file__).parent / "fixtures"
ALTERNATIVES = ["ab", "a", "abc", "ba+", "c(?!a)", "a(?:b|c)d", "bc", "c", "a-?b", "d[ab]*", "b"]


def fixture_texts() -> list[str]:
    """Every text of the parser tables, lower-cased as the parsers read them."""
    texts = []
    for name in ("parser_cases.tsv", "heldout_titles.tsv"):
        for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                texts.extend(cell.lower() for cell in line.split("\t") if len(cell) > 1)
    return texts


def test_split_alternatives_keeps_groups_sets_and_escapes_whole() -> None:
    assert split_alternatives(r"a(?:b|c)|[|]x|\|y|z") == ["a(?:b|c)", "[|]x", r"\|y", "z"]


@pytest.mark.parametrize("bad", ["", "(?:a)b", "[ab]c", r"\dx", "a?b", "a*", "(a)", "ab(c)"])
def test_alternatives_that_cannot_be_grouped_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        grouped(["x", bad])


@given(
    st.lists(st.sampled_from(ALTERNATIVES), min_size=1, max_size=8),
    st.text(alphabet="abcd- ", max_size=30),
)
def test_grouped_matches_what_the_alternation_matches(alts: list[str], text: str) -> None:
    plain = re.compile(f"(?<![a-d])(?:{'|'.join(alts)})(?![a-d])")
    fast = re.compile(f"(?<![a-d])(?:{grouped(alts)})(?![a-d])")
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]


@given(
    st.lists(st.tuples(st.sampled_from("xyz"), st.sampled_from(ALTERNATIVES)), min_size=1),
    st.text(alphabet="abcd- ", max_size=30),
)
def test_labelled_names_the_alternative_that_matched(
    alts: list[tuple[str, str]], text: str
) -> None:
    plain = re.compile("|".join(f"({alt})" for _, alt in alts))
    body, labels = labelled(alts)
    fast = re.compile(body)
    expected = [(m.span(), alts[m.lastindex - 1][0]) for m in plain.finditer(text) if m.lastindex]
    found = [(m.span(), labels[m.lastindex or 0]) for m in fast.finditer(text)]
    assert found == expected


def test_data_type_words_match_as_the_plain_lexicon_does() -> None:
    """The lexicon as one plain alternation of named groups (as it was built before)."""
    for cjk in (False, True):
        groups = []
        for name, entry in datatypes._LEXICON:
            terms = [
                t for t in split_alternatives(entry) if bool(datatypes._CJK_CHAR.search(t)) == cjk
            ]
            if terms:
                groups.append(f"(?P<{name}>{'|'.join(terms)})")
        body = "|".join(groups)
        plain = re.compile(body if cjk else rf"(?<![\w@.-])(?:{body})(?![\w@-])")
        fast, kinds = (datatypes._CJK_TERMS, datatypes._CJK_KINDS) if cjk else (
            datatypes._WORDS, datatypes._WORD_KINDS)  # fmt: skip
        for text in fixture_texts():
            expected = [(m.span(), m.lastgroup) for m in plain.finditer(text)]
            assert [(m.span(), kinds[m.lastindex or 0]) for m in fast.finditer(text)] == expected
