"""Parse config durations ("30s", "1h30m") and sizes ("5MB", "1GiB"). Stdlib only.

The parsers accept a TOML value (number or string), return a positive number
(`parse_delay` also allows zero) and raise ``ValueError`` with a short human message
for anything else.
"""

from __future__ import annotations

import math
import re

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DURATION_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[wdhms])+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([kmgt]i?b|b)")
_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}

DURATION_HINT = "not a duration: use e.g. '30s', '15m', '2h', '1d', '1h30m' or a number of seconds"
SIZE_HINT = "not a size: use e.g. '512KB', '5MB', '1GiB' or a whole number of bytes"


def parse_duration(value: object) -> float:
    """Seconds in `value`: a number of seconds, or units w/d/h/m/s largest first ("1h30m")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(DURATION_HINT)
    if isinstance(value, str):
        text = re.sub(r"\s+", "", value.lower())
        if _NUMBER.fullmatch(text):
            seconds = float(text)
        elif _DURATION.fullmatch(text):
            parts = _DURATION_PART.findall(text)
            units = [unit for _, unit in parts]
            if units != sorted(set(units), key=list(_DURATION_UNITS).index):
                raise ValueError(f"{DURATION_HINT} (each unit once, largest first)")
            seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
        else:
            raise ValueError(DURATION_HINT)
    else:
        seconds = float(value)
    return _positive(seconds)


def parse_delay(value: object) -> float:
    """Like `parse_duration`, but zero ("0", "0s", 0) is allowed: no delay."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
        if value < 0:
            raise ValueError("must not be negative")
        return 0.0
    if isinstance(value, str) and re.fullmatch(r"\s*0+(?:\.0+)?\s*[wdhms]?\s*", value.lower()):
        return 0.0
    return parse_duration(value)


def parse_size(value: object) -> int:
    """Bytes in `value`: a whole number, or units B, KB/MB/GB/TB (1000), KiB/MiB/GiB/TiB (1024)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(SIZE_HINT)
    if isinstance(value, str):
        text = re.sub(r"\s+", "", value.lower())
        if text.isdigit():
            size = float(text)
        elif match := _SIZE.fullmatch(text):
            size = float(match[1]) * _SIZE_UNITS[match[2]]
        else:
            raise ValueError(SIZE_HINT)
    else:
        size = float(value)
    nbytes = round(_positive(size))
    if nbytes < 1:
        raise ValueError("must be at least 1 byte")
    return nbytes


def _positive(number: float) -> float:
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    if number <= 0:
        raise ValueError("must be greater than zero")
    return number
