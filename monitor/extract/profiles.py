"""Engine profiles: named selector sets for the forum engines and site kinds leakmon
knows, each overridable per source through ``Source.overrides`` (keys as in
``Selectors`` plus replies, views, sticky, text and the thread_* keys below).

Listing-page keys: item, title, url, id, id_pattern, seller, price, records, posted,
next, replies, views, sticky (any match marks the item sticky), text (a description
parsed for fields and kept as first_post). Thread-page keys (`extract_thread`):
thread_title, thread_post (the first post's node), thread_body, thread_author,
thread_posted, thread_gone (a regex over the page text saying the thread is gone).
"""

from __future__ import annotations

from collections.abc import Mapping

from monitor.errors import ExtractError

_MYBB = {
    "item": "tr.inline_row, div.inline_row, div.thread-row",
    "title": "span[id^='tid_'] > a, a.subject_new, a.subject_old, .thread-title a",
    "url": "span[id^='tid_'] > a, a.subject_new, a.subject_old, .thread-title a",
    "id": "span[id^='tid_']@id, a[href*='tid=']@href, .thread-title a@href",
    "id_pattern": r"(?:tid[_=]|thread-)(\d+)",
    "seller": "div.author a, .author a, .thread-author a, a[href*='action=profile']",
    "price": "span.thread_price, .thread-price",
    "posted": "span.thread_start_datetime span[title]@title, span.thread_start_datetime@title,"
    " span.thread_start_datetime, .thread-date span[title]@title, .thread-date",
    "replies": "a[href*='whoPosted'], .thread-replies, td.replies",
    "views": ".thread-views, td.views, td:has(> a[href*='whoPosted']) + td,"
    " td.forumdisplay_regular:nth-last-child(2), td.forumdisplay_sticky:nth-last-child(2)",
    "sticky": "td.forumdisplay_sticky, .thread-sticky, .sticky, img[alt='Sticky']",
    "next": "a.pagination_next@href, .pagination a[rel='next']@href",
    "thread_title": "td.thead h1, .thread-title h1, h1, title",
    "thread_post": "div.post, div.post-container",
    "thread_body": "div.post_body, .post-content, .post_content",
    "thread_author": ".post_author .largetext a, .author_information a, .post-author a",
    "thread_posted": "span.post_date span[title]@title, span.post_date, .post-date",
    "thread_gone": r"(?i)the specified thread does not exist|invalid thread|thread not found"
    r"|has been deleted|тема не существует",
}
_XF_TITLE = "div.structItem-title a[data-tp-primary='on'], div.structItem-title > a:not(.labelLink)"
_XENFORO = {
    "item": "div.structItem--thread",
    "title": _XF_TITLE,
    "url": _XF_TITLE,
    "id_pattern": r"/threads/(?:[^/?#]*\.)?(\d+)",
    "seller": "@data-author, .structItem-parts a.username, a.username",
    "price": ".structItem-price, .label--price",
    "posted": ".structItem-startDate time@datetime, .structItem-startDate time@data-time,"
    " .structItem-startDate time, time@datetime",
    "replies": ".structItem-cell--meta dl:first-child dd, .structItem-cell--meta dd",
    "views": ".structItem-cell--meta dl.structItem-minor dd",
    "sticky": ".structItem-status--sticky, .structItem-status--announcement",
    "next": "a.pageNav-jump--next@href, link[rel='next']@href",
    "thread_title": "h1.p-title-value, h1",
    "thread_post": "article.message--post, article.message",
    "thread_body": ".message-body .bbWrapper, .bbWrapper",
    "thread_author": "@data-author, .message-name a.username, a.username",
    "thread_posted": ".message-attribution-main time@datetime, time@datetime",
    "thread_gone": r"(?i)requested thread could not be found|thread not found|oops! we ran into"
    r" some problems|запрашиваемая тема не найдена",
}
_PHPBB = {
    "item": "ul.topiclist.topics > li.row, ul.topics > li.row, tr:has(> td > a.topictitle)",
    "title": "a.topictitle",
    "url": "a.topictitle@href",
    "id_pattern": r"[?&;]t=(\d+)",
    "seller": ".topic-poster a.username, .topic-poster a.username-coloured,"
    " a.username-coloured, a.username",
    "price": ".topic-price",
    "posted": ".topic-poster time@datetime, .topic-poster time, .topic-poster",
    "replies": "dd.posts, td.posts",
    "views": "dd.views, td.views",
    "sticky": "dl.sticky_read, dl.sticky_unread, dl.announce_read, dl.announce_unread,"
    " dl.global_read, dl.global_unread, .sticky, .announce, .global-announce",
    "next": "li.arrow.next a@href, a[rel='next']@href",
    "thread_title": "h2.topic-title a, h2.topic-title, h2, title",
    "thread_post": "div.post",
    "thread_body": "div.content",
    "thread_author": ".author a.username, .author a.username-coloured, .author strong",
    "thread_posted": ".author time@datetime, .author time, p.author",
    "thread_gone": r"(?i)requested topic does not exist|topic does not exist"
    r"|запрошенной темы не существует",
}
_SHOP = {
    "item": "li.product, div.product, div.product-card, article.product",
    "title": "h2.woocommerce-loop-product__title, .product-title, h2, h3",
    "url": "a.woocommerce-LoopProduct-link@href, a.product-link@href, a@href",
    "id": "@data-product_id, @data-id, @class, a.add_to_cart_button@data-product_id",
    "id_pattern": r"(?:^|\bpost-)(\d+)\b",
    "price": "span.price ins .amount, span.price, .price",
    "records": ".product-records, .records",
    "text": ".product-description, .short-description,"
    " .woocommerce-product-details__short-description",
    "next": "a.next.page-numbers@href, a[rel='next']@href",
    "thread_title": "h1.product_title, h1",
    "thread_post": "div.product, main, body",
    "thread_body": ".woocommerce-product-details__short-description, #tab-description,"
    " .product-description, .description",
    "thread_author": ".vendor a, .seller a, .product-seller",
    "thread_posted": "time@datetime, .date",
    "thread_gone": r"(?i)product not found|no longer available|page not found",
}
_BLOG = {
    "item": "article, div.post, div.card, div.leak, div.victim, a.post-block, div.post-block",
    "title": "h2, h3, .title, .card-title, .post-title",
    "url": "a.read-more@href, h2 a@href, h3 a@href, .title a@href, a[href]@href, @href",
    "seller": ".group, .author, .actor",
    "price": ".price, .ransom",
    "records": ".records, .size",
    "posted": "time@datetime, time, .date, .post-date, .published, .updated-post-date",
    "text": ".description, .excerpt, .card-text, .post-block-text, p",
    "sticky": ".pinned",
    "next": "a.next@href, a[rel='next']@href, .pagination a.next@href",
    "thread_title": "h1, .post-title, title",
    "thread_post": "article, .post, main, body",
    "thread_body": ".post-content, .content, .description, .entry-content",
    "thread_author": ".group, .author",
    "thread_posted": "time@datetime, .date, .post-date",
    "thread_gone": r"(?i)post not found|page not found|404",
}
_GENERIC_THREAD = {
    "thread_title": "h1, title",
    "thread_post": "article, .post, .message, main, body",
    # the first paragraph last, and never a shop's price line (`<p class="price">`)
    "thread_body": ".post-content, .content, .message-body, .post_body, .description,"
    " .entry-content, p:not(.price)",
    "thread_author": ".author, .username",
    "thread_posted": "time@datetime, .date",
    "thread_gone": r"(?i)not found|does not exist|no longer available",
}
PROFILES: Mapping[str, Mapping[str, str]] = {
    "mybb": _MYBB,
    "xenforo": _XENFORO,
    "phpbb": _PHPBB,
    "shop": _SHOP,
    "blog": _BLOG,
}
LISTING_KEYS = frozenset(
    [
        "item",
        "title",
        "url",
        "id",
        "id_pattern",
        "seller",
        "price",
        "records",
        "posted",
        "next",
        "replies",
        "views",
        "sticky",
        "text",
    ]
)
THREAD_KEYS = frozenset(
    ["thread_title", "thread_post", "thread_body", "thread_author", "thread_posted", "thread_gone"]
)


def check_keys(overrides: Mapping[str, str], where: str) -> None:
    """Raise ExtractError naming the keys of `overrides` no engine knows."""
    unknown = sorted(set(overrides) - LISTING_KEYS - THREAD_KEYS)
    if unknown:
        known = ", ".join(sorted(LISTING_KEYS | THREAD_KEYS))
        raise ExtractError(f"{where}: unknown override {', '.join(unknown)} (known: {known})")


def profile_spec(engine: str, overrides: Mapping[str, str], where: str) -> dict[str, str]:
    """The profile `engine` names with `overrides` applied (an empty value removes a
    key); raises ExtractError for an unknown key."""
    check_keys(overrides, where)
    spec = {**_GENERIC_THREAD, **PROFILES.get(engine, {}), **overrides}
    return {k: v for k, v in spec.items() if v.strip()}
