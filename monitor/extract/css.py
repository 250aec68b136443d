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
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.errors import ExtractError
from monitor.extract.dates import parse_posted
from monitor.extract.dom import parse_html
from monitor.extract.numbers import parse_records
from monitor.extract.prices import parse_price
from monitor.extract.text import clean_text
from monitor.extract.urls import MAX_URL, resolve_url, same_host
from monitor.models import Listing, PageExtract, Source

MAX_ITEMS = 1000  # listing pages show 20-100; more is a hostile page
TITLE_LIMIT = 500
SELLER_LIMIT = 100
POSTED_LIMIT = 100
FIELD_TEXT_LIMIT = 200  # price and record-count fields

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

    Each alternative is one query over the whole document (lexbor parses a selector
    on every call, so per-item queries cost far more); every match is credited to
    the nearest enclosing item. An item takes the first match of an alternative
    inside it; an empty value there falls through to the next alternative.
    """

    def __init__(self, tree: LexborHTMLParser, item_css: str) -> None:
        self.tree = tree
        self.items = _unique(tree.css(item_css))[:MAX_ITEMS]
        self._owner = {node.mem_id: i for i, node in enumerate(self.items)}

    def values(self, field: _Field | None) -> list[str]:
        """Raw value of `field` for each item ("" where none; all "" when unset)."""
        values = [""] * len(self.items)
        if field is None:
            return values
        for alt in field.alternatives:
            if alt.css is None:
                for i, node in enumerate(self.items):
                    values[i] = values[i] or _read(node, alt.attr)
                continue
            tried: set[int] = set()
            for node in self.tree.css(alt.css):
                i = self.owner(node)
                if i >= 0 and i not in tried:
                    tried.add(i)
                    values[i] = values[i] or _read(node, alt.attr)
        return values

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


def _base_url(tree: LexborHTMLParser, page_url: str) -> str:
    """The page's ``<base href>`` when it stays on the page's host, else `page_url`."""
    node = tree.css_first("base[href]")
    base = resolve_url(node.attrs.sget("href", ""), page_url) if node is not None else None
    return base if base is not None and same_host(base, page_url) else page_url


def _read(node: LexborNode, attr: str | None) -> str:
    """The attribute `attr` of `node`, or its text; "" when blank."""
    value = node.attrs.sget(attr, "") if attr else node.text()
    return value if value.strip() else ""


class CssEngine:
    """Selector-driven extractor for one source; built once, used for every page."""

    def __init__(self, source: Source) -> None:
        """Compile and validate the source's selectors; raises ExtractError."""
        sel = source.selectors
        if sel is None:
            raise ExtractError(f"source {source.name!r}: engine 'css' needs [selectors]")
        self.source = source.name
        where = f"source {source.name!r}: selectors"
        if _ATTR_SUFFIX.search(sel.item) or not sel.item.strip():
            raise ExtractError(f"{where}.item must be a plain CSS selector: {sel.item!r}")
        _check_css(where + ".item", sel.item)
        self._item = sel.item
        self._title = _field(where, "title", sel.title)
        self._url = _field(where, "url", sel.url, default_attr="href")
        self._id = _field(where, "id", sel.id) if sel.id else None
        self._seller = _field(where, "seller", sel.seller) if sel.seller else None
        self._price = _field(where, "price", sel.price) if sel.price else None
        self._records = _field(where, "records", sel.records) if sel.records else None
        self._posted = _field(where, "posted", sel.posted) if sel.posted else None
        self._next = _field(where, "next", sel.next, default_attr="href") if sel.next else None
        try:
            self._id_pattern = re.compile(sel.id_pattern) if sel.id_pattern else None
        except re.error as exc:
            raise ExtractError(f"{where}.id_pattern is not a valid regex: {exc}") from None

    def extract(self, html: str, page_url: str) -> PageExtract:
        """The listings on one page and the link to the next; never raises on content."""
        tree = parse_html(html)
        page = _Page(tree, self._item)
        columns = zip(
            page.values(self._title),
            page.values(self._url),
            page.values(self._id),
            page.values(self._seller),
            page.values(self._price),
            page.values(self._records),
            page.values(self._posted),
            strict=True,
        )
        base = _base_url(tree, page_url)
        seen: set[str] = set()
        listings: list[Listing] = []
        for row in columns:
            listing = self._listing(*row, page_url=page_url, base=base)
            if listing is not None and listing.external_id not in seen:
                seen.add(listing.external_id)
                listings.append(listing)
        next_url = self._next_url(tree, page_url, base)
        return PageExtract(listings=tuple(listings), next_url=next_url)

    def _listing(
        self,
        title: str,
        href: str,
        id_text: str,
        seller: str,
        price_text: str,
        count_text: str,
        posted_text: str,
        *,
        page_url: str,
        base: str,
    ) -> Listing | None:
        """One item's raw field values as a Listing; None without title or id."""
        title = clean_text(title, TITLE_LIMIT)
        if not title:
            return None
        url = resolve_url(href, base)
        raw_id = clean_text(id_text, MAX_URL) if self._id else url or ""
        external_id = self._external_id(raw_id)
        if not external_id:
            return None
        if url is None:  # an explicit id without a usable link: point at the page
            url = resolve_url(page_url, page_url) or page_url
        price_text = clean_text(price_text, FIELD_TEXT_LIMIT)
        count_text = clean_text(count_text, FIELD_TEXT_LIMIT)
        posted_raw = clean_text(posted_text, POSTED_LIMIT)
        return Listing(
            source=self.source,
            external_id=external_id,
            url=url,
            title=title,
            seller=clean_text(seller, SELLER_LIMIT) or None,
            price=(parse_price(price_text) if price_text else None) or parse_price(title),
            records=(parse_records(count_text) if count_text else None) or parse_records(title),
            posted_at=parse_posted(posted_raw) if posted_raw else None,
            posted_raw=posted_raw or None,
        )

    def _external_id(self, raw_id: str) -> str:
        """The site's own id: id_pattern's first group (or match) in `raw_id`, else
        `raw_id` itself; "" when there is none."""
        if self._id_pattern is None or not raw_id:
            return raw_id
        match = self._id_pattern.search(raw_id)
        if match is None:
            return ""
        return clean_text(match.group(1 if self._id_pattern.groups else 0) or "", MAX_URL)

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
