"""The `json` engine: listings from a site's JSON API through field paths.

Path syntax (values of ``Source.overrides``): dot-separated keys from the current
object; a segment of digits indexes a list (``tags.0``); ``*`` alone, or an empty
path, is the object itself. `item` is a path from the document root to the list of
items (``data.threads``; empty: the root is the list). Every other key except
`next` and `url_template` is a path inside one item: title, url, id, id_pattern,
seller, price, records, posted, replies, views, sticky (a true value marks the item
sticky), text. `next` is a path from the root to the next page's URL.
`url_template` builds a link from the id when the API gives none
(``/threads/{id}/``). Numbers become text; an epoch posting time in milliseconds
is read as seconds. Pure; never raises on content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from monitor.errors import ExtractError
from monitor.extract.css import zone
from monitor.extract.listing import FIELDS, Context, ListingCache
from monitor.extract.parse import TextParser
from monitor.extract.urls import resolve_url, same_host
from monitor.models import Listing, PageExtract, Source

MAX_ITEMS = 1000
MAX_JSON = 10_000_000
_KEYS = frozenset(FIELDS) | {"item", "id_pattern", "next", "url_template"}


class JsonEngine:
    """Field-path extractor for one JSON source."""

    def __init__(self, source: Source, rates: Mapping[str, float] | None = None) -> None:
        """Validate the source's paths (Source.overrides); raises ExtractError."""
        where = f"source {source.name!r}: overrides"
        paths = dict(source.overrides)
        unknown = sorted(set(paths) - _KEYS)
        if unknown:
            raise ExtractError(f"{where}: unknown key {', '.join(unknown)} for engine 'json'")
        for key in ("title",):
            if not paths.get(key, "").strip():
                raise ExtractError(f"{where}.{key} is required for engine 'json'")
        if not paths.get("url") and not paths.get("url_template"):
            raise ExtractError(f"{where}: engine 'json' needs url or url_template")
        if paths.get("url_template") and "id" not in paths:
            raise ExtractError(f"{where}.url_template needs an id path")
        try:
            pattern = paths.get("id_pattern")
            self._id_pattern = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ExtractError(f"{where}.id_pattern is not a valid regex: {exc}") from None
        self.source = source
        self._parse = TextParser(rates)
        self._rows = ListingCache()
        self._paths = {k: _split(v) for k, v in paths.items() if k in FIELDS}
        self._item = _split(paths.get("item", ""))
        self._next = _split(paths["next"]) if paths.get("next") else None
        self._template = paths.get("url_template")
        self._tz = zone(source)

    def new_crawl(self) -> None:
        """A crawl of the source starts: memoised rows and texts the last crawl did
        not use are forgotten (the memos keep two crawls, see memo.py)."""
        self._rows.new_crawl()
        self._parse.new_crawl()

    def extract(self, html: str, page_url: str, *, now: datetime | None = None) -> PageExtract:
        """The listings in one JSON document; never raises on content."""
        try:
            doc = json.loads(html[:MAX_JSON])
        except (ValueError, RecursionError):
            return PageExtract(listings=())
        items = _get(doc, self._item)
        if not isinstance(items, list):
            return PageExtract(listings=())
        ctx = Context(
            source=self.source.name,
            page_url=page_url,
            base=page_url,
            has_id="id" in self._paths,
            id_pattern=self._id_pattern,
            now=now,
            tz=self._tz,
            parse=self._parse,
            skip_sticky=self.source.skip_sticky,
        )
        seen: set[str] = set()
        listings: list[Listing] = []
        for item in items[:MAX_ITEMS]:
            raw = {key: _text(_get(item, path), key) for key, path in self._paths.items()}
            usable = resolve_url(raw.get("url", ""), page_url) is not None
            if self._template and not usable and raw.get("id"):
                raw["url"] = self._template.replace("{id}", quote(raw["id"], safe=""))
            listing = self._rows.build(raw, ctx)  # an unchanged item: one lookup
            if listing is not None and listing.external_id not in seen:
                seen.add(listing.external_id)
                listings.append(listing)
        return PageExtract(listings=tuple(listings), next_url=self._next_url(doc, page_url))

    def _next_url(self, doc: Any, page_url: str) -> str | None:
        if self._next is None:
            return None
        url = resolve_url(_text(_get(doc, self._next), "next"), page_url)
        if url is None or not same_host(url, page_url) or url == resolve_url(page_url, page_url):
            return None
        return url


def _split(path: str) -> tuple[str, ...]:
    path = path.strip()
    return () if path in ("", "*") else tuple(path.split("."))


def _get(value: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` in `value`, else None."""
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _text(value: Any, key: str) -> str:
    """A scalar as text ("" for containers and null); booleans read as "1"/""."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int | float):
        if key == "posted" and value > 1e11:
            value = int(value / 1000)  # epoch milliseconds
        return str(int(value)) if float(value).is_integer() else str(value)
    return value if isinstance(value, str) else ""
