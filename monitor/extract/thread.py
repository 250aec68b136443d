"""A fetched thread (or product/post) page: its first post and whether it is gone.

`extract_thread(html, page_url, source)` uses the thread_* selectors of the
source's engine profile (profiles.py; a `css` source gets generic ones). The first
post's text is capped at FIRST_POST_LIMIT characters and parsed like a title.
Pure; never raises on content (ExtractError only for an unusable configuration).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.engines import FORUM_PROFILES
from monitor.errors import ExtractError
from monitor.extract.css import _Field, _field, _read, zone
from monitor.extract.dates import parse_posted
from monitor.extract.dom import parse_html
from monitor.extract.parse import ParsedText, parse_text
from monitor.extract.profiles import profile_spec
from monitor.extract.text import clean_text
from monitor.models import Source

FIRST_POST_LIMIT = 4000
_GONE_SCAN = 20_000  # characters of page text searched for a "thread is gone" notice


@dataclass(frozen=True)
class ThreadPage:
    """What a thread page shows. `gone`: the site says the thread does not exist
    (no first post then). `parsed`: the first post's own fields."""

    url: str
    gone: bool
    title: str | None = None
    first_post: str | None = None
    seller: str | None = None
    posted_at: datetime | None = None
    posted_raw: str | None = None
    parsed: ParsedText = field(default_factory=ParsedText)


def extract_thread(
    html: str,
    page_url: str,
    source: Source,
    *,
    now: datetime | None = None,
    rates: Mapping[str, float] | None = None,
) -> ThreadPage:
    """Read one thread page of `source`; raises ExtractError only for a bad config.
    A page its own engine finds no first post on is read by the first forum profile
    among its `fallback_engines` (built-in selectors) that finds one; failing that,
    by the first that finds a "gone" notice (its own engine first); else it is what
    its own engine read. A post one profile finds beats another's "gone" match (the
    text of a post can say "deleted")."""
    page = _extract_thread(html, page_url, source, now=now, rates=rates)
    if page.first_post:
        return page
    gone = page if page.gone else None
    for engine in (e for e in source.fallback_engines if e in FORUM_PROFILES):
        other = replace(source, engine=engine, overrides={}, fallback_engines=())
        found = _extract_thread(html, page_url, other, now=now, rates=rates)
        if found.first_post:
            return found
        gone = gone or (found if found.gone else None)
    return gone or page


def _extract_thread(
    html: str,
    page_url: str,
    source: Source,
    *,
    now: datetime | None,
    rates: Mapping[str, float] | None,
) -> ThreadPage:
    if source.engine == "json":
        raise ExtractError(f"source {source.name!r}: engine 'json' has no thread pages")
    where = f"source {source.name!r}: overrides"
    spec = profile_spec(source.engine, source.overrides, where)
    fields = {k: _field(where, k, v) for k, v in spec.items() if k.startswith("thread_")
              and k != "thread_gone"}  # fmt: skip
    try:
        gone_pattern = re.compile(spec.get("thread_gone", r"(?!)"))
    except re.error as exc:
        raise ExtractError(f"{where}.thread_gone is not a valid regex: {exc}") from None
    tree = parse_html(html)
    scope = _first_node(tree, fields.get("thread_post"))
    body = clean_text(_first(tree, scope, fields.get("thread_body")), FIRST_POST_LIMIT)
    title = clean_text(_first(tree, None, fields.get("thread_title")), 500)
    if not body and scope is not None:
        body = clean_text(scope.text(separator=" "), FIRST_POST_LIMIT)
    page_text = tree.body.text(separator=" ")[:_GONE_SCAN] if tree.body is not None else ""
    gone = not body and bool(gone_pattern.search(page_text))
    posted_raw = clean_text(_first(tree, scope, fields.get("thread_posted")), 100)
    return ThreadPage(
        url=page_url,
        gone=gone,
        title=title or None,
        first_post=body or None,
        seller=clean_text(_first(tree, scope, fields.get("thread_author")), 100) or None,
        posted_at=parse_posted(posted_raw, now=now, tz=zone(source)) if posted_raw else None,
        posted_raw=posted_raw or None,
        parsed=parse_text(body, rates) if body else ParsedText(),
    )


def _first_node(tree: LexborHTMLParser, spec: _Field | None) -> LexborNode | None:
    """The first node an alternative of `spec` selects on the page."""
    for alt in spec.alternatives if spec else ():
        if alt.css is not None and (found := tree.css_first(alt.css)) is not None:
            return found
    return None


def _first(tree: LexborHTMLParser, scope: LexborNode | None, spec: _Field | None) -> str:
    """The first non-empty value of `spec` inside `scope` (else on the page); "" if none."""
    for alt in spec.alternatives if spec else ():
        if alt.css is None:
            value = _read(scope, alt.attr) if scope is not None else ""
        else:
            found = (scope if scope is not None else tree).css_first(alt.css)
            value = _read(found, alt.attr) if found is not None else ""
        if value:
            return value
    return ""
