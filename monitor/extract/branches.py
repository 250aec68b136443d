"""Big regex alternations arranged for Python's `re`: alternatives grouped under
their first character. Pure.

`re` tries the alternatives of ``a|b|c`` one after another at every position where
it tries the group, and entering a group costs more than skipping a plain
alternative. Grouped by first character (``x(?:a|b)|y(?:c)``), it passes over all
but the few that can start at that position. The match is the same: only
alternatives that begin with the character there can match, and those are tried
in their original order. Patterns built here must be compiled without IGNORECASE
(the texts they read are lower-cased).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

L = TypeVar("L")

_SPECIAL = frozenset("\\()[]{}|.^$?*+")
_QUANTIFIERS = frozenset("?*+{")


def split_alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of `pattern` (split at `|` outside groups, sets
    and escapes)."""
    parts: list[str] = []
    depth, start, i, in_set = 0, 0, 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_set:
            in_set = char != "]"
        elif char == "[":
            in_set = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def grouped(alternatives: Iterable[str]) -> str:
    """A pattern matching exactly what ``"|".join(alternatives)`` matches, with the
    alternatives grouped by first character; raises ValueError for an alternative
    that does not start with one plain, unquantified character."""
    return labelled((None, alternative) for alternative in alternatives)[0]


def labelled(alternatives: Iterable[tuple[L, str]]) -> tuple[str, tuple[L | None, ...]]:
    """`grouped` of (label, alternative) pairs, every run of one label's alternatives
    in one bucket a capturing group (none when the label is None). Returns the pattern
    and, per group number, the label of that group (index 0: None), so that a match's
    label is ``labels[match.lastindex]``. Alternatives must hold no capturing group."""
    buckets: dict[str, list[tuple[L | None, list[str]]]] = {}
    for label, alternative in alternatives:
        _check(alternative)
        runs = buckets.setdefault(alternative[0], [])
        if runs and runs[-1][0] == label:
            runs[-1][1].append(alternative[1:])
        else:
            runs.append((label, [alternative[1:]]))
    labels: list[L | None] = [None]
    branches = []
    for first, runs in buckets.items():
        inner = []
        for kind, rests in runs:
            body = "|".join(rests)
            if kind is None:
                inner.append(body)
            else:
                labels.append(kind)
                inner.append(f"({body})")
        branches.append(f"{re.escape(first)}(?:{'|'.join(inner)})")
    return "|".join(branches), tuple(labels)


def _check(alternative: str) -> None:
    """Raise ValueError unless `alternative` starts with one plain character that is
    not quantified, and holds no capturing group."""
    if (
        not alternative
        or alternative[0] in _SPECIAL
        or alternative[1:2] in _QUANTIFIERS
        or re.compile(alternative).groups
    ):
        raise ValueError(f"cannot group alternative {alternative!r} by its first character")
