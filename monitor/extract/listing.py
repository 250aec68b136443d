"""One item's raw field texts turned into a `Listing`. Shared by every engine. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import Any

from monitor.extract.datatypes import TYPES
from monitor.extract.dates import parse_posted, parse_relative_posted
from monitor.extract.memo import Memo
from monitor.extract.numbers import parse_count, parse_records
from monitor.extract.parse import TextParser
from monitor.extract.text import clean_text
from monitor.extract.urls import MAX_URL, resolve_url
from monitor.models import Listing, Price

TITLE_LIMIT = 500
SELLER_LIMIT = 100
POSTED_LIMIT = 100
FIELD_TEXT_LIMIT = 200  # price, record-count and counter fields
TEXT_LIMIT = 4000  # a description or first post
FIELDS = ("title", "url", "id", "seller", "price", "records", "posted", "replies", "views",
          "sticky", "text")  # fmt: skip
_STICKY_WORDS = re.compile(
    r"(?i)^\s*(?:sticky|announcement|important|важно|объявление|置顶|公告)\s*:"
)


@dataclass(frozen=True)
class Context:
    """What turning raw texts into listings needs beside the texts."""

    source: str
    page_url: str
    base: str
    has_id: bool  # the id comes from its own field (else from the url)
    id_pattern: re.Pattern[str] | None
    now: datetime | None
    tz: tzinfo | None
    parse: TextParser  # parse_text with the source's rates, memoised
    skip_sticky: bool
    page_fallback: bool = False  # an item with an id but no usable link points at the page


def build_listing(raw: Mapping[str, str], ctx: Context) -> Listing | None:
    """The listing one item's raw field texts describe; None without title, id or url,
    and for sticky items when the source skips them."""
    title = clean_text(raw.get("title", ""), TITLE_LIMIT)
    if not title:
        return None
    sticky = bool(raw.get("sticky", "").strip()) or bool(_STICKY_WORDS.match(title))
    if sticky and ctx.skip_sticky:
        return None
    url = ctx.parse.url(raw.get("url", ""), ctx.base)
    raw_id = clean_text(raw.get("id", ""), MAX_URL) if ctx.has_id else url or ""
    external_id = external_id_of(raw_id, ctx.id_pattern)
    if not external_id:
        return None
    if url is None and ctx.page_fallback:  # the css engine's rule for link-less items
        url = resolve_url(ctx.page_url, ctx.page_url)
    if url is None:
        return None
    price_text = clean_text(raw.get("price", ""), FIELD_TEXT_LIMIT)
    count_text = clean_text(raw.get("records", ""), FIELD_TEXT_LIMIT)
    posted_raw = clean_text(raw.get("posted", ""), POSTED_LIMIT)
    body = clean_text(raw.get("text", ""), TEXT_LIMIT)
    parsed = ctx.parse(title)
    extra = ctx.parse(body) if body else None
    price = _priced(ctx.parse.price(price_text) if price_text else None, parsed.price)
    records = (parse_records(count_text) if count_text else None) or parsed.records
    if extra is not None:
        price = _priced(price, extra.price)
        records = records or extra.records
    return Listing(
        source=ctx.source,
        external_id=external_id,
        url=url,
        title=title,
        seller=clean_text(raw.get("seller", ""), SELLER_LIMIT) or None,
        price=price,
        records=records,
        posted_at=parse_posted(posted_raw, now=ctx.now, tz=ctx.tz) if posted_raw else None,
        posted_raw=posted_raw or None,
        data_types=_merge(parsed.data_types, extra.data_types if extra else ()),
        size_bytes=parsed.size_bytes or (extra.size_bytes if extra else None),
        span=parsed.span or (extra.span if extra else None),
        country=parsed.country or (extra.country if extra else None),
        replies=_count(raw.get("replies", "")),
        views=_count(raw.get("views", "")),
        sticky=sticky,
        first_post=body or None,
    )


class ListingCache:
    """`build_listing` memoised per item for one engine: an unchanged row of an
    unchanged page (most rows of most crawls) costs a dictionary lookup, plus reading
    its posting date again when that date is relative ("2 hours ago"; the entry then
    keeps the listing as of this crawl time). The key is every raw field text and the
    page's URL and base. The memo keeps the rows of this crawl and the one before
    (`new_crawl`, see memo.py), at most `size` entries per crawl; listings are
    immutable, so sharing them is safe."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._rows: Memo[tuple[object, ...], tuple[Listing | None, datetime | None]] = Memo(size)
        self._absolute: Memo[str, bool] = Memo(size)

    def new_crawl(self) -> None:
        """A crawl starts: rows not seen in the last crawl are forgotten."""
        self._rows.new_crawl()
        self._absolute.new_crawl()

    def build(self, raw: Mapping[str, str], ctx: Context) -> Listing | None:
        """`build_listing(raw, ctx)`, from the memo when the same item was built."""
        key = (*raw.items(), ctx.page_url, ctx.base)
        rows = self._rows
        found = rows.current.get(key)  # the hit of an unchanged row: one lookup
        if found is None:
            found = rows.promote(key, None)  # a row of the previous crawl
        if found is None:
            listing = build_listing(raw, ctx)
            rows.put(key, (listing, ctx.now))
            return listing
        listing, built_at = found
        if listing is None or listing.posted_raw is None or built_at == ctx.now:
            return listing
        if self._is_absolute(listing.posted_raw, ctx.tz):
            return listing
        raw_date = listing.posted_raw
        posted_at = parse_relative_posted(raw_date, ctx.now, ctx.tz) if ctx.now else None
        if posted_at != listing.posted_at:  # "Yesterday, 10:15 PM" stays put for a day
            listing = replace(listing, posted_at=posted_at)
        rows.current[key] = (listing, ctx.now)  # the key is in the current generation now
        return listing

    def _is_absolute(self, posted: str, tz: tzinfo | None) -> bool:
        """Whether the posting date `posted` reads without the crawl time."""
        found = self._absolute.get(posted, None)
        if found is None:
            found = parse_posted(posted, now=None, tz=tz) is not None
            self._absolute.put(posted, found)
        return found


def external_id_of(raw_id: str, pattern: re.Pattern[str] | None) -> str:
    """The site's own id: `pattern`'s first group (or match) in `raw_id`, else `raw_id`
    itself; "" when there is none."""
    if pattern is None or not raw_id:
        return raw_id
    match = pattern.search(raw_id)
    if match is None:
        return ""
    return clean_text(match.group(1 if pattern.groups else 0) or "", MAX_URL)


def _priced(first: Price | None, second: Price | None) -> Price | None:
    """`first` (the more specific source: price field, then title, then post) unless
    it names no currency and `second` does ("Price: 1500" beside "… 1500$")."""
    if first is None or (first.currency is None and second is not None and second.currency):
        return second or first
    return first


def _count(text: str) -> int | None:
    text = clean_text(text, FIELD_TEXT_LIMIT)
    return parse_count(text) if text and not text.startswith("-") else None


def _merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """Both data-type tuples as one, in canonical order (parse_text's already are)."""
    if not second:
        return first
    found = set(first) | set(second)
    return tuple(t for t in TYPES if t in found)


def listing_dict(listing: Listing) -> dict[str, Any]:
    """Every field of `listing` as JSON-ready values (datetimes in ISO 8601)."""
    price = listing.price
    return {
        "external_id": listing.external_id,
        "url": listing.url,
        "title": listing.title,
        "seller": listing.seller,
        "price": None
        if price is None
        else {
            "amount": price.amount,
            "currency": price.currency,
            "usd": price.usd,
            "raw": price.raw,
            "negotiable": price.negotiable,
            "kind": price.kind,
        },
        "records": listing.records.count if listing.records else None,
        "records_text": listing.records.raw if listing.records else None,
        "posted_at": listing.posted_at.isoformat() if listing.posted_at else None,
        "posted_raw": listing.posted_raw,
        "data_types": list(listing.data_types),
        "size_bytes": listing.size_bytes,
        "span": list(listing.span) if listing.span else None,
        "country": listing.country,
        "replies": listing.replies,
        "views": listing.views,
        "sticky": listing.sticky,
        "first_post": listing.first_post,
    }
