"""The years a dump covers: "1995-2019", "from 1995 to 2019", "2015 по 2020",
"с 2015 по 2020 гг.", "2015年至2020年", "2015~2020". Pure; regexes compiled once.

Both ends are years 1900..2099 and the first is not after the second; a span inside
a longer digit run or a date ("2019-2020-01") is none. The first span found wins.
"""

from __future__ import annotations

import re

from monitor.extract.numbers import normalize

_YEAR = r"((?:19|20)\d\d)"
_SPAN = re.compile(
    r"(?<![\d.\-/:])(?:(?:from|between|с|от|从|自) ?)?" + _YEAR
    + r"(?: ?(?:г\.?|гг\.?|年))? ?(?:-|–|—|~|～|/|to|till|until|through|по|до|至|到|-) ?"
    + _YEAR + r"(?![\d]|[-./:]\d)"
)  # fmt: skip


def parse_span(text: str) -> tuple[int, int] | None:
    """(first year, last year) of the first year span in `text`, else None."""
    return span_in(normalize(text[:2000]))


def span_in(text: str) -> tuple[int, int] | None:
    """`parse_span` of a text already normalised by `normalize`."""
    low = text.lower()
    if "19" not in low and "20" not in low:  # no year, no span
        return None
    for match in _SPAN.finditer(low):
        first, last = int(match[1]), int(match[2])
        if first <= last:
            return first, last
    return None
