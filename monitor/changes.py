"""Pure: field-level comparison of two versions of one listing.

Tracked fields (title, seller, price, record count, data types) make `changed`
events; evidence fields (first post, size, span, country) are kept quietly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from monitor.extract.parse import post_fields
from monitor.models import FieldChange, Listing, Price, Records


def _price_key(price: Price | None) -> tuple[Any, ...] | None:
    if price is None:
        return None
    if price.amount is None:
        return ("raw", price.raw)
    return (price.amount, price.currency)


def price_text(price: Price | None) -> str | None:
    return None if price is None else price.raw


def record_count(records: Records | None) -> int | None:
    return None if records is None else records.count


def _types(types: Sequence[str]) -> str | None:
    return ", ".join(sorted(set(types))) or None


def _span(span: tuple[int, int] | None) -> str | None:
    return None if span is None else f"{span[0]}-{span[1]}"


def field_changes(old: Listing, new: Listing) -> tuple[FieldChange, ...]:
    """Title, seller, price, record-count and data-type changes as display values:
    strings, the price's raw text, the record count as an int, data types joined.
    Data types that merely appear (none known before) are no change, nor is a price
    or record count unknown before that `new` read in a post never read before (the
    page was not fetched at first sight: a first reading, not an edit)."""
    changes = []
    first_read = old.first_post is None and new.first_post is not None
    if old.title != new.title:
        changes.append(FieldChange("title", old.title, new.title))
    if old.seller != new.seller:
        changes.append(FieldChange("seller", old.seller, new.seller))
    if _price_key(old.price) != _price_key(new.price) and not (first_read and old.price is None):
        changes.append(FieldChange("price", price_text(old.price), price_text(new.price)))
    if record_count(old.records) != record_count(new.records) and not (
        first_read and old.records is None
    ):
        changes.append(FieldChange("records", record_count(old.records), record_count(new.records)))
    before, after = _types(old.data_types), _types(new.data_types)
    if before is not None and before != after:
        changes.append(FieldChange("data_types", before, after))
    return tuple(changes)


def evidence(li: Listing) -> dict[str, Any]:
    return {
        "first_post": li.first_post,
        "size_bytes": li.size_bytes,
        "span": _span(li.span),
        "country": li.country,
        "data_types": _types(li.data_types),
    }


def adds_evidence(old: Listing, new: Listing) -> bool:
    """`new` shows an evidence field `old` lacks or has otherwise (data types as sets)."""
    return bool(
        (new.first_post and new.first_post != old.first_post)
        or (new.size_bytes is not None and new.size_bytes != old.size_bytes)
        or (new.span and new.span != old.span)
        or (new.country and new.country != old.country)
        or (new.data_types and set(new.data_types) != set(old.data_types))
    )


def evidence_changes(old: Listing, new: Listing) -> tuple[FieldChange, ...]:
    """Evidence fields (first post, size, span, country) that changed from one known
    value to another: kept as observations, never announced."""
    before, after = evidence(old), evidence(new)
    return tuple(
        FieldChange(name, before[name], after[name])
        for name in ("first_post", "size_bytes", "span", "country")
        if before[name] is not None and after[name] is not None and before[name] != after[name]
    )


def keep_evidence(old: Listing, new: Listing) -> Listing:
    """`new` with the evidence fields it lacks (a list page shows no first post)
    taken from `old`. A `new` without a first post keeps `old`'s, and what that post
    states: its data types join `new`'s, and its labelled price and record count
    stand when `new` shows none (`post_fields`), so a listing priced in its post is
    not "changed" by every crawl of a list page that shows no price."""
    post = new.first_post or old.first_post
    types, price, records = new.data_types or old.data_types, new.price, new.records
    if post and not new.first_post:
        said = post_fields(post)
        types = tuple(dict.fromkeys(new.data_types + said.data_types)) or old.data_types
        if price is None and said.price is not None:
            same = _price_key(said.price) == _price_key(old.price)
            price = old.price if same else said.price  # old's keeps its rate
        if records is None and said.records is not None:
            same = record_count(said.records) == record_count(old.records)
            records = old.records if same else said.records
    return replace(
        new,
        first_post=post,
        size_bytes=new.size_bytes if new.size_bytes is not None else old.size_bytes,
        span=new.span or old.span,
        country=new.country or old.country,
        data_types=types,
        price=price,
        records=records,
    )


def overlay(old: Listing, parsed: Listing) -> Listing:
    """`old` with every field the parsed own page knows (a thread page may show no
    price or record count: those stay as they were)."""
    return replace(
        keep_evidence(old, parsed),
        source=old.source,
        external_id=old.external_id,
        url=old.url,
        title=parsed.title or old.title,
        seller=parsed.seller or old.seller,
        price=parsed.price or old.price,
        records=parsed.records or old.records,
        posted_at=parsed.posted_at or old.posted_at,
        posted_raw=parsed.posted_raw or old.posted_raw,
        replies=parsed.replies if parsed.replies is not None else old.replies,
        views=parsed.views if parsed.views is not None else old.views,
    )


def is_price_drop(old: Price | None, new: Price | None) -> bool:
    """The amount went down in the same currency."""
    return (
        old is not None
        and new is not None
        and old.amount is not None
        and new.amount is not None
        and old.currency == new.currency
        and new.amount < old.amount
    )
