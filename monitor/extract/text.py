"""Hostile page text made safe: invisible characters removed, whitespace collapsed,
length capped. Pure functions, no project imports."""

from __future__ import annotations

import re

# C0/C1 controls (whitespace controls are collapsed below instead), soft hyphen,
# zero-width and joiner characters, bidi embeddings/overrides/isolates, invisible
# fillers, variation selectors, interlinear annotations, tag characters, lone
# surrogates. Stripping them keeps "Chi\u200bnaDan" and "ChinaDan" one seller and
# stops right-to-left overrides from reaching a terminal or an alert.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff"
    "\uffa0\ufff0-\ufffb\ud800-\udfff\U000e0000-\U000e0fff]+"
)
# Terminal escape sequences (CSI "ESC [ 31m", OSC "ESC ] ... BEL") are no content:
# their parameters would otherwise read as text ("[31m": 31 million).
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?)")


def strip_escapes(value: str) -> str:
    """`value` without terminal escape sequences."""
    return _ESCAPE.sub("", value) if "\x1b" in value else value


def clean_text(value: str, limit: int) -> str:
    """Return `value` without invisible/control characters, with every whitespace run
    collapsed to one space, stripped, and cut to at most `limit` characters."""
    text = _visible(value)
    if len(text) > limit:
        text = text[:limit].rstrip()
    return text


def _visible(value: str) -> str:
    """`value` without invisible characters and escape sequences, every whitespace run
    collapsed to one space, stripped."""
    if value.isascii():
        text = " ".join(value.split())
        if text.isprintable():  # no control character left: nothing to remove
            return text
    return " ".join(_INVISIBLE.sub("", strip_escapes(value)).split())
