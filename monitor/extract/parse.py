"""Everything leakmon reads in one title or post: `parse_text`. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitor.extract.country import country_in
from monitor.extract.datatypes import data_types_in
from monitor.extract.memo import MISSING, Memo
from monitor.extract.numbers import normalize, post_records, records_in
from monitor.extract.prices import free_in, negotiable_in, parse_price, post_price, prices_in
from monitor.extract.size import size_in
from monitor.extract.span import span_in
from monitor.extract.urls import resolve_url, thread_url
from monitor.models import Price, Records


@dataclass(frozen=True)
class ParsedText:
    """The fields of one text; `prices` holds the primary price first."""

    records: Records | None = None
    size_bytes: int | None = None
    span: tuple[int, int] | None = None
    prices: tuple[Price, ...] = ()
    negotiable: bool = False
    negotiable_raw: str | None = None  # the marker text when no amount is given
    free: bool = False
    data_types: tuple[str, ...] = ()
    country: str | None = None

    @property
    def price(self) -> Price | None:
        """The primary price; a negotiable-only or free offer when no amount is given."""
        if self.prices:
            return self.prices[0]
        if self.free:
            return Price(amount=0.0, currency=None, raw="free", usd=0.0)
        if self.negotiable:
            raw = self.negotiable_raw or "negotiable"
            return Price(amount=None, currency=None, raw=raw, negotiable=True)
        return None

    def as_json(self) -> dict[str, Any]:
        """The `leakmon parse --json` object."""
        primary = self.prices[0] if self.prices else None
        return {
            "records": self.records.count if self.records else None,
            "records_text": self.records.raw if self.records else None,
            "size_bytes": self.size_bytes,
            "span": {"from": self.span[0], "to": self.span[1]} if self.span else None,
            "price": _price_json(primary, kind=False) if primary else None,
            "prices": [_price_json(p, kind=True) for p in self.prices],
            "negotiable": self.negotiable,
            "free": self.free,
            "data_types": list(self.data_types),
            "country": self.country,
        }


def parse_text(text: str, rates: Mapping[str, float] | None = None) -> ParsedText:
    """Parse every field leakmon knows out of `text` (any string; never raises). The
    text is normalised once; data types read its first 4,000 characters, the other
    fields its first 2,000."""
    full = normalize(text[:4000])
    head = full[:2000]
    prices = prices_in(head, rates)
    deal = None if prices else negotiable_in(head)
    return ParsedText(
        records=records_in(head),
        size_bytes=size_in(head),
        span=span_in(head),
        prices=prices,
        negotiable=any(p.negotiable for p in prices) or deal is not None,
        negotiable_raw=deal.raw if deal else None,
        free=not prices and free_in(head),
        data_types=data_types_in(full),
        country=country_in(head),
    )


@dataclass(frozen=True)
class PostFields:
    """What a listing's first post states that its row on a list page may not."""

    data_types: tuple[str, ...]
    price: Price | None  # a labelled one (`post_price`), without rates: usd when pegged
    records: Records | None  # a labelled count (`post_records`)


@lru_cache(maxsize=4096)  # asked for each crawl of each listing with a stored post
def post_fields(post: str) -> PostFields:
    """The data types named in `post`, and the price and record count it labels."""
    return PostFields(data_types_in(normalize(post[:4000])), post_price(post), post_records(post))


def _price_json(price: Price, *, kind: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"amount": price.amount, "currency": price.currency, "usd": price.usd}
    if kind:
        row = {"kind": price.kind, **row}
    return row


class TextParser:
    """`parse_text` with the engine's rates, memoised per engine: forums show the same
    titles crawl after crawl, so most of a page's titles were parsed before. Each memo
    keeps the texts of this crawl and the one before (`new_crawl`, see memo.py), at
    most `size` entries per crawl; results are immutable."""

    def __init__(self, rates: Mapping[str, float] | None = None, size: int = 4096) -> None:
        self.rates = dict(rates or {})
        self.size = size
        self._memo: Memo[str, ParsedText] = Memo(size)
        self._prices: Memo[str, Price | None] = Memo(size)
        self._urls: Memo[tuple[str, str], str | None] = Memo(size)

    def new_crawl(self) -> None:
        """A crawl starts: texts not parsed in the last crawl are forgotten."""
        self._memo.new_crawl()
        self._prices.new_crawl()
        self._urls.new_crawl()

    def __call__(self, text: str) -> ParsedText:
        found = self._memo.get(text, None)
        if found is None:
            found = parse_text(text, self.rates)
            self._memo.put(text, found)
        return found

    def price(self, text: str) -> Price | None:
        """`parse_price(text, rates)` of a price field, memoised like titles."""
        found = self._prices.get(text, MISSING)
        if found is MISSING:
            found = parse_price(text, self.rates)
            self._prices.put(text, found)
        return found

    def url(self, href: str, base: str) -> str | None:
        """`thread_url(resolve_url(href, base))`, memoised: links repeat across crawls."""
        key = (href, base)
        found = self._urls.get(key, MISSING)
        if found is MISSING:
            url = resolve_url(href, base)
            found = thread_url(url) if url else None
            self._urls.put(key, found)
        return found
