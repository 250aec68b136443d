"""Block-page detection: a 200 page that is not the content it claims to be.

Pure: text in, a reason out. A crawl that met a block page is never complete, so
a captcha or a DDoS queue can never make listings look deleted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# (reason, marker) pairs; markers are matched case-insensitively in the page text.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("captcha", "captcha"),
    ("captcha", "are you human"),
    ("captcha", "verify you are human"),
    ("ddos_queue", "you are in a queue"),
    ("ddos_queue", "you are in queue"),
    ("ddos_queue", "ddos protection"),
    ("ddos_queue", "ddos-guard"),
    ("ddos_queue", "endgame"),
    ("ddos_queue", "checking your browser"),
    ("ddos_queue", "please wait while we"),
    ("login_wall", "you must be logged in"),
    ("login_wall", "you are not logged in"),
    ("login_wall", "please log in to"),
    ("login_wall", "login required"),
    ("login_wall", "your session has expired"),
    ("login_wall", "you do not have permission to access this page"),
    ("maintenance", "under maintenance"),
    ("maintenance", "temporarily unavailable"),
    ("maintenance", "be back soon"),
    ("error_page", "internal server error"),
    ("error_page", "bad gateway"),
    ("error_page", "gateway timeout"),
    ("error_page", "gateway time-out"),
    ("error_page", "service unavailable"),
    ("error_page", "experienced an internal sql error"),  # MyBB
    ("error_page", "error establishing a database connection"),  # WordPress
)

_DOCUMENT = re.compile(r"\s*(?:<!doctype\s+html|<html)", re.IGNORECASE)
_CLOSED = re.compile(r"</html\s*>", re.IGNORECASE)
_BODY_CLOSED = re.compile(r"</body\s*>", re.IGNORECASE)
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_MIN_TEXT = 40  # visible characters below which a page counts as empty
_SCAN = 20_000  # only the first characters of visible text are scanned


def visible_text(html: str) -> str:
    """Rough visible text of a page: tags, scripts and styles removed, spaces collapsed."""
    return _SPACE.sub(" ", _TAGS.sub(" ", html)).strip()


def truncated(html: str) -> bool:
    """An HTML document cut off before its end: it has no ``</html>``, and no
    ``</body>`` either or it stops in the middle of a tag or of text. (A server that
    dies mid-render, a capture saved half-way.) Its missing part would make listings
    look absent and fields look emptied."""
    if not _DOCUMENT.match(html[:512]) or _CLOSED.search(html):
        return False
    return not _BODY_CLOSED.search(html) or not html.rstrip().endswith(">")


def block_reason(html: str, extra_markers: Iterable[str] = ()) -> str | None:
    """Why `html` is a block page (``captcha``, ``ddos_queue``, ``login_wall``,
    ``maintenance``, ``error_page``, ``empty``, ``truncated`` or ``marker`` for a
    source's own marker), or None.

    Only short pages are judged by the built-in markers: a long forum page that
    merely mentions "captcha" in a thread title is content, not a block page.
    """
    if truncated(html):
        return "truncated"
    text = visible_text(html)
    if len(text) < _MIN_TEXT:
        return "empty"
    head = text[:_SCAN].casefold()
    for marker in extra_markers:
        if marker.casefold() in head:
            return "marker"
    if len(text) > 3000:
        return None
    for reason, marker in _MARKERS:
        if marker in head:
            return reason
    return None
