"""Extraction: listing pages in, listings out. Pure (no I/O, no clock).

`get_engine(source)` builds the extractor a source names; every engine turns one
page into a `PageExtract` and never raises on page content, however hostile.
Engines: `css` (the source's [selectors]), the profiles `mybb`, `xenforo`,
`phpbb`, `shop`, `blog` (profiles.py; overridable through Source.overrides) and
`json` (field paths over a JSON API); `fallback.FallbackEngine` tries other
profiles on a page a source's engine reads nothing from. `extract_thread` reads a
fetched thread page.
Field parsers: `parse_text` (all of them), `numbers.parse_records`,
`prices.parse_prices`, `size.parse_size`, `span.parse_span`,
`datatypes.parse_data_types`, `dates.parse_posted`, `country.parse_country`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from monitor.engines import ENGINES
from monitor.errors import ExtractError
from monitor.extract.css import CssEngine, spec_of
from monitor.extract.jsonapi import JsonEngine
from monitor.extract.parse import ParsedText, parse_text
from monitor.extract.profiles import PROFILES, check_keys, profile_spec
from monitor.extract.thread import ThreadPage, extract_thread
from monitor.models import PageExtract, Source


class Engine(Protocol):
    """Turns one fetched listing page into listings and the next page's link.
    `now` (the crawl time, aware) resolves relative dates; without it they stay None.
    `new_crawl()` marks where one crawl of the source ends and the next begins (the
    pipeline calls it once per crawl, before the crawl's first page is extracted):
    the engine's memos keep what the last two crawls used (memo.py). An engine never
    told so still bounds its memos, by size alone."""

    def new_crawl(self) -> None: ...

    def extract(self, html: str, page_url: str, *, now: datetime | None = None) -> PageExtract: ...


def get_engine(source: Source, rates: Mapping[str, float] | None = None) -> Engine:
    """The engine `source.engine` names, built and validated for `source`; `rates`
    (USD per unit, Config.rates) give prices their USD estimate. With
    `source.fallback_engines`, a `FallbackEngine` over it and those profiles (their
    built-in selectors: the source's overrides are for its own engine).

    Raises ExtractError for an unknown engine or unusable selectors (a css source
    without selectors, a selector lexbor cannot compile, a bad id_pattern, an
    unknown override key).
    """
    if source.fallback_engines:
        from monitor.extract.fallback import FallbackEngine

        names = (source.engine, *source.fallback_engines)
        own = replace(source, fallback_engines=())
        others = [replace(own, engine=name, overrides={}) for name in names[1:]]
        return FallbackEngine([get_engine(s, rates) for s in (own, *others)])
    where = f"source {source.name!r}"
    if source.engine == "css":
        if source.selectors is None:
            raise ExtractError(f"{where}: engine 'css' needs [selectors]")
        # the [selectors] table, plus the list-page extras (text, replies, ...) it set
        check_keys(source.overrides, f"{where}: selectors")
        spec = {**spec_of(source.selectors), **source.overrides}
        return CssEngine(source, spec, rates=rates)
    if source.engine == "json":
        return JsonEngine(source, rates=rates)
    if source.engine in PROFILES:
        spec = profile_spec(source.engine, source.overrides, f"{where}: overrides")
        return CssEngine(source, spec, rates=rates)
    known = ", ".join(ENGINES)
    raise ExtractError(f"{where}: unknown engine {source.engine!r} (known: {known})")


__all__ = [
    "ENGINES",
    "Engine",
    "ParsedText",
    "ThreadPage",
    "extract_thread",
    "get_engine",
    "parse_text",
]
