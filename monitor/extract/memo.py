"""A memo bounded by what a source shows: the entries of the last two crawls. Pure.

`Memo` keeps two generations. `new_crawl()` (the engine's, called by the pipeline
once per crawl, before the crawl's first page is extracted) makes the current
generation the previous one and drops the old previous one; a hit in the previous
generation moves the entry to the current one. So an entry used in this crawl or
the one before survives, and one left unused for a whole crawl is dropped when the
next crawl starts. A crawl that used no entry at all (nothing was extracted: a
challenge or an empty page) does not age the memo. Each generation holds at most
`cap` entries (a new generation starts early when one is full), so a memo never
holds more than 2 x `cap`, whatever one page holds.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")


class _Missing(Enum):
    MISSING = 0


MISSING: Final = _Missing.MISSING  # `Memo.get`'s default where None is a value


class Memo(Generic[K, V]):
    """Two generations of memoised values; see the module docstring."""

    __slots__ = ("cap", "current", "previous")

    def __init__(self, cap: int = 4096) -> None:
        self.cap = max(1, cap)
        self.current: dict[K, V] = {}
        self.previous: dict[K, V] = {}

    def __len__(self) -> int:
        return len(self.current) + len(self.previous)

    def __contains__(self, key: object) -> bool:
        return key in self.current or key in self.previous

    def get(self, key: K, default: D) -> V | D:
        """The value memoised for `key` (moved to the current generation when it
        was in the previous one), else `default`. A hit in the current generation
        is one dictionary lookup."""
        found = self.current.get(key, MISSING)
        if found is not MISSING:
            return found
        return self.promote(key, default)

    def promote(self, key: K, default: D) -> V | D:
        """`get` for a `key` known not to be in the current generation: its value
        from the previous generation (moved to the current one), else `default`."""
        found = self.previous.pop(key, MISSING)
        if found is MISSING:
            return default
        current = self.current
        if len(current) >= self.cap:
            self.previous, self.current = current, {}
            current = self.current
        current[key] = found
        return found

    def put(self, key: K, value: V) -> None:
        """Memoise `value` for `key` in the current generation (a full one becomes
        the previous generation first)."""
        current = self.current
        if len(current) >= self.cap and key not in current:
            self.previous, self.current = current, {}
            current = self.current
        current[key] = value

    def new_crawl(self) -> None:
        """Start a generation: entries not used since the last call are dropped.
        Nothing happens when no entry was used since then."""
        if self.current:
            self.previous, self.current = self.current, {}
