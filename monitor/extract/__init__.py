"""Extraction: listing pages in, listings out. Pure (no I/O, no clock).

`get_engine(source)` builds the extractor a source names; every engine turns one
page's HTML into a `PageExtract` and never raises on page content, however hostile.
Field parsers: `numbers.parse_records`, `prices.parse_price`, `dates.parse_posted`.
"""

from __future__ import annotations

from typing import Protocol

from monitor.errors import ExtractError
from monitor.extract.css import CssEngine
from monitor.models import PageExtract, Source

ENGINES: tuple[str, ...] = ("css",)


class Engine(Protocol):
    """Turns one fetched listing page into listings and the next page's link."""

    def extract(self, html: str, page_url: str) -> PageExtract: ...


def get_engine(source: Source) -> Engine:
    """The engine `source.engine` names, built and validated for `source`.

    Raises ExtractError for an unknown engine or unusable selectors (a css source
    without selectors, a selector lexbor cannot compile, a bad id_pattern).
    """
    if source.engine == "css":
        return CssEngine(source)
    known = ", ".join(ENGINES)
    raise ExtractError(f"source {source.name!r}: unknown engine {source.engine!r} (known: {known})")


__all__ = ["ENGINES", "Engine", "get_engine"]
