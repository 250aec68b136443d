"""Hostile text made safe for one line of a terminal, a log or an alert.

Pure; imports nothing from the project, so every stage may use it.
"""

from __future__ import annotations

import re

# C0/C1 controls and line/paragraph separators become spaces.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Invisible characters are removed: soft hyphen, zero-width and joiner characters,
# bidi embeddings/overrides/isolates, invisible fillers, variation selectors, BOM,
# interlinear annotations, tag characters and lone surrogates.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\ud800-\udfff"
    "\U000e0000-\U000e0fff]+"
)
_SPACES = re.compile(r"\s+")


def safe_line(value: object, limit: int | None = None) -> str:
    """`value` as one safe line: controls become spaces, invisible and bidi characters
    are removed, whitespace runs collapse; cut to `limit` characters ending in "…"."""
    text = "" if value is None else str(value)
    text = _SPACES.sub(" ", _INVISIBLE.sub("", _CONTROL.sub(" ", text))).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
