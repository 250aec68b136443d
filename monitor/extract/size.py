"""The size of a dump as sellers state it: "27KB", "3.2 GB", "500 ГБ", "1,5 Тб",
"4.7 gigs", "120G". Pure; regexes compiled once.

Units are binary (1 KB = 1024 bytes): sellers read sizes from file managers and
archive tools, most of which count in powers of two. A bare "G"/"T" counts only
after a decimal or a number of 10 or more ("120G", "1.5T"; not "5G"). Of several
sizes the largest wins (the uncompressed one). Capped at 1 PB.
"""

from __future__ import annotations

import re

from monitor.extract.numbers import NUMBER, first_digit, normalize, number_value

_POWERS = {"": 0, "k": 1, "к": 1, "m": 2, "м": 2, "g": 3, "г": 3, "t": 4, "т": 4, "p": 5}
_SIZE = re.compile(
    rf"(?<![\w.,])({NUMBER})(?![.,]?\d)\+? ?"
    r"(?:([kmgtpкмгт])i?(?:b|б|bytes?|байт(?:а|ов)?)"
    r"|(kilo|mega|giga|tera|кило|мега|гига|тера)(?:bytes?|байт(?:а|ов)?)"
    r"|(gigs?|megs?|гиг(?:а|ов)?|мег(?:а|ов)?|метров|терабайт)"
    r"|(bytes?|байт(?:а|ов)?)"
    r"|([gtгт]))(?![a-zа-яё0-9])"
)
_WORD_POWERS = {"kilo": 1, "кило": 1, "mega": 2, "мега": 2, "giga": 3, "гига": 3,
                "tera": 4, "тера": 4}  # fmt: skip
_SLANG = {"gig": 3, "gigs": 3, "meg": 2, "megs": 2, "гиг": 3, "гига": 3, "гигов": 3,
          "мег": 2, "мега": 2, "метров": 2, "терабайт": 4}  # fmt: skip
_MAX = 2**50


def parse_size(text: str) -> int | None:
    """The largest dump size stated in `text`, in bytes, else None."""
    return size_in(normalize(text[:2000]))


def size_in(text: str) -> int | None:
    """`parse_size` of a text already normalised by `normalize`."""
    low = text.lower()
    best: int | None = None
    for match in _SIZE.finditer(low, first_digit(low)):
        number, prefix, word, slang, plain, bare = match.groups()
        decimal = "." in number or "," in number
        value = number_value(number, prefer_decimal=True)
        if prefix is not None:
            power = _POWERS[prefix]
        elif word is not None:
            power = _WORD_POWERS[word]
        elif slang is not None:
            power = _SLANG[slang]
        elif plain is not None:
            power = 0
        else:
            if not decimal and value < 10:
                continue  # "5G" is a network, "3T" a model
            power = _POWERS[bare]
        size = round(value * 1024**power)
        if 0 < size <= _MAX and (best is None or size > best):
            best = size
    return best
