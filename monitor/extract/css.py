"""The `css` engine: a source's CSS selectors turn a listing page into listings.

Selector language (``Selectors`` in monitor.models): `item` selects the item nodes
(a CSS selector list; every match is an item, in document order). Every other
selector is evaluated inside one item, except `next`, which is evaluated on the
whole page. Those selectors may be comma-separated alternatives, tried in order;
the first alternative whose first matching node has a non-empty value wins. An
alternative ending in ``@attr`` reads that attribute (``a.subject@href``; a bare
``@href`` reads the item node itself), otherwise the node's text. `url` and `next`
read ``href`` when no attribute is named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.errors import ExtractError
from monitor.extract.dom import parse_html
from monitor.extract.listing import FIELDS, Context, ListingCache
from monitor.extract.parse import TextParser
from monitor.extract.urls import resolve_url, same_host
from monitor.models import Listing, PageExtract, Selectors, Source

PRESENCE = "*"  # pseudo attribute: "1" for any matching node (the sticky key)
MAX_ITEMS = 1000  # listing pages show 20-100; more is a hostile page

_ATTR_SUFFIX = re.compile(r"@([A-Za-z_:][-\w:.]*)\s*$")


@dataclass(frozen=True)
class _Alternative:
    css: str | None  # None: the item node itself
    attr: str | None  # None: the node's text


@dataclass(frozen=True)
class _Field:
    alternatives: tuple[_Alternative, ...]


class _Page:
    """One parsed page: its item nodes, and each field's raw value per item.

    Each alternative is one query over the node that holds every item (lexbor parses
    a selector on every call, so per-item queries cost far more); every match is
    credited to the nearest enclosing item. An item takes the first match of an
    alternative inside it; an empty value there falls through to the next alternative.
    """

    def __init__(self, tree: LexborHTMLParser, item_css: str) -> None:
        self.items = _unique(tree.css(item_css))[:MAX_ITEMS]
        self._owner = {node.mem_id: i for i, node in enumerate(self.items)}
        self._firsts: dict[str, dict[int, LexborNode]] = {}
        self._scope = _container(self.items)

    def values(self, field: _Field | None) -> list[str]:
        """Raw value of `field` for each item ("" where none; all "" when unset).
        Later alternatives are not queried once every item has a value."""
        values = [""] * len(self.items)
        if field is None:
            return values
        for alt in field.alternatives:
            if alt.css is None:
                for i, node in enumerate(self.items):
                    values[i] = values[i] or _read(node, alt.attr)
            else:
                for i, node in self.firsts(alt.css).items():
                    values[i] = values[i] or _read(node, alt.attr)
            if all(values):
                break
        return values

    def firsts(self, css: str) -> dict[int, LexborNode]:
        """The first node `css` selects inside each item, by item index (memoised:
        fields often share a selector, as title and url do)."""
        found = self._firsts.get(css)
        if found is None:
            found = {}
            if self._scope is None:
                return found
            for node in self._scope.css(css):
                i = self.owner(node)
                if i >= 0 and i not in found:
                    found[i] = node
            self._firsts[css] = found
        return found

    def owner(self, node: LexborNode) -> int:
        """Index of the nearest item that is or contains `node`, else -1 (memoised)."""
        path = []
        current: LexborNode | None = node
        found = -1
        while current is not None:
            key = current.mem_id
            hit = self._owner.get(key)
            if hit is not None:
                found = hit
                break
            path.append(key)
            current = current.parent
        for key in path:
            self._owner[key] = found
        return found


def _container(items: list[LexborNode]) -> LexborNode | None:
    """A node that holds every item: the parent of the first and last item's nearest
    common ancestor (items come in document order, so that ancestor holds those between
    too). Queries run there skip the page's header, sidebars and footer."""
    if not items:
        return None
    first = _ancestors(items[0])
    ids = {node.mem_id for node in first}
    common = next((n for n in _ancestors(items[-1]) if n.mem_id in ids), first[-1])
    return common.parent or common


def _ancestors(node: LexborNode) -> list[LexborNode]:
    """`node` and its ancestors, nearest first."""
    chain = []
    current: LexborNode | None = node
    while current is not None:
        chain.append(current)
        current = current.parent
    return chain


def _base_url(tree: LexborHTMLParser, page_url: str) -> str:
    """The page's ``<base href>`` when it stays on the page's host, else `page_url`."""
    node = tree.css_first("base[href]")
    base = resolve_url(node.attrs.sget("href", ""), page_url) if node is not None else None
    return base if base is not None and same_host(base, page_url) else page_url


def _read(node: LexborNode, attr: str | None) -> str:
    """The attribute `attr` of `node`, or its text; "" when blank."""
    if attr == PRESENCE:
        return "1"
    value = node.attrs.sget(attr, "") if attr else node.text()
    return value if value.strip() else ""


def spec_of(selectors: Selectors) -> dict[str, str]:
    """A `Selectors` table as the engine's spec: key -> selector (unset keys absent)."""
    return {k: v for k, v in vars(selectors).items() if v is not None}


class CssEngine:
    """Selector-driven extractor for one source; built once, used for every page.

    `spec` maps the keys of ``Selectors`` plus `replies`, `views`, `sticky` (any
    match marks the item sticky) and `text` (a description parsed for fields) to
    selectors; engine profiles pass theirs, a css source its [selectors] table.
    """

    def __init__(
        self,
        source: Source,
        spec: Mapping[str, str] | None = None,
        rates: Mapping[str, float] | None = None,
    ) -> None:
        """Compile and validate the selectors; raises ExtractError."""
        if spec is None:
            if source.selectors is None:
                raise ExtractError(f"source {source.name!r}: engine 'css' needs [selectors]")
            spec = spec_of(source.selectors)
        self.source = source
        self._parse = TextParser(rates)
        self._rows = ListingCache()
        where = f"source {source.name!r}: selectors"
        item = spec.get("item", "")
        if _ATTR_SUFFIX.search(item) or not item.strip():
            raise ExtractError(f"{where}.item must be a plain CSS selector: {item!r}")
        _check_css(where + ".item", item)
        self._item = item
        for key in ("title", "url"):
            if not spec.get(key, "").strip():
                raise ExtractError(f"{where}.{key} is required")
        self._fields: dict[str, _Field] = {}
        for key in FIELDS:
            if key in spec:
                default = "href" if key == "url" else PRESENCE if key == "sticky" else None
                self._fields[key] = _presence_as_one(
                    _field(where, key, spec[key], default_attr=default)
                )
        self._next = (
            _field(where, "next", spec["next"], default_attr="href") if spec.get("next") else None
        )
        self._tz = zone(source)
        pattern = spec.get("id_pattern")
        try:
            self._id_pattern = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ExtractError(f"{where}.id_pattern is not a valid regex: {exc}") from None

    def new_crawl(self) -> None:
        """A crawl of the source starts: memoised rows and texts the last crawl did
        not use are forgotten (the memos keep two crawls, see memo.py)."""
        self._rows.new_crawl()
        self._parse.new_crawl()

    def extract(self, html: str, page_url: str, *, now: datetime | None = None) -> PageExtract:
        """The listings on one page and the link to the next; never raises on content.
        `now` (the crawl time) resolves relative dates; without it they stay None."""
        tree = parse_html(html)
        page = _Page(tree, self._item)
        columns = {key: page.values(spec) for key, spec in self._fields.items()}
        base = _base_url(tree, page_url)
        ctx = Context(
            source=self.source.name,
            page_url=page_url,
            base=base,
            has_id="id" in self._fields,
            id_pattern=self._id_pattern,
            now=now,
            tz=self._tz,
            parse=self._parse,
            skip_sticky=self.source.skip_sticky,
            page_fallback=self.source.engine == "css",
        )
        seen: set[str] = set()
        listings: list[Listing] = []
        for i in range(len(page.items)):
            listing = self._rows.build({k: v[i] for k, v in columns.items()}, ctx)
            if listing is not None and listing.external_id not in seen:
                seen.add(listing.external_id)
                listings.append(listing)
        next_url = self._next_url(tree, page_url, base)
        return PageExtract(listings=tuple(listings), next_url=next_url)

    def _next_url(self, tree: LexborHTMLParser, page_url: str, base: str) -> str | None:
        """The next page's absolute URL on the same host, never the page itself."""
        if self._next is None:
            return None
        href = ""
        for alt in self._next.alternatives:
            node = tree.css_first(alt.css) if alt.css else None
            href = _read(node, alt.attr) if node is not None else ""
            if href:
                break
        url = resolve_url(href, base)
        if url is None or not same_host(url, page_url) or url == resolve_url(page_url, page_url):
            return None
        return url


def zone(source: Source) -> tzinfo | None:
    """The source's timezone for naive dates; None (UTC) when unset or unknown."""
    if not source.timezone:
        return None
    try:
        return ZoneInfo(source.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _field(where: str, name: str, spec: str, *, default_attr: str | None = None) -> _Field:
    """Compile one field selector (alternatives, @attr); raises ExtractError."""
    alternatives = []
    for part in _split_list(spec):
        part = part.strip()
        attr = default_attr
        if match := _ATTR_SUFFIX.search(part):
            attr, part = match[1], part[: match.start()].strip()
        if not part:
            if attr is None or match is None:
                raise ExtractError(f"{where}.{name} has an empty selector: {spec!r}")
            alternatives.append(_Alternative(None, attr))
            continue
        _check_css(f"{where}.{name}", part)
        alternatives.append(_Alternative(part, attr))
    return _Field(tuple(alternatives))


def _presence_as_one(field: _Field) -> _Field:
    """`field` as one query when every alternative only asks whether a node matches
    (`PRESENCE`, as `sticky` does): any alternative's match in an item reads "1", so
    one walk over the items' container gives what one walk per alternative gives."""
    alts = field.alternatives
    if len(alts) < 2 or any(a.css is None or a.attr != PRESENCE for a in alts):
        return field
    return _Field((_Alternative(", ".join(a.css for a in alts if a.css), PRESENCE),))


def _check_css(where: str, css: str) -> None:
    """Raise ExtractError unless lexbor compiles `css`."""
    try:
        LexborHTMLParser("<html></html>").css(css)
    except (SelectolaxError, ValueError, TypeError) as exc:
        raise ExtractError(f"{where} is not a valid CSS selector {css!r}: {exc}") from None


def _split_list(selector: str) -> list[str]:
    """Split a selector list at top-level commas (not inside (), [] or quotes)."""
    parts: list[str] = []
    depth, quote, escaped, start = 0, "", False, 0
    for i, char in enumerate(selector):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    parts.append(selector[start:])
    return parts


def _unique(nodes: list[LexborNode]) -> list[LexborNode]:
    """`nodes` without repeats (lexbor lists a node once per matching selector)."""
    seen: set[int] = set()
    unique = []
    for node in nodes:
        if node.mem_id not in seen:
            seen.add(node.mem_id)
            unique.append(node)
    return unique
