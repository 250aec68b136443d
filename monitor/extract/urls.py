"""Links from hostile pages made absolute, canonical and safe. Pure functions."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urljoin, urlsplit, urlunsplit

MAX_URL = 2048

# Browsers drop ASCII tab/newline anywhere in a URL and C0/space at its ends.
_URL_JUNK = re.compile(r"[\t\n\r]")
_URL_EDGE = "".join(map(chr, range(0x21)))
# Session ids that engines put into links when cookies are off (phpBB `sid`,
# vBulletin `s`, PHP `PHPSESSID`): they change per visit and would make ids unstable.
_SESSION_PARAM = re.compile(r"(?i)(?:sid|s|phpsessid|sessionid|session_id)=[0-9a-f]{16,64}")
# Web archives (the Wayback Machine, pywb and Webrecorder, ArchiveBox's replay) save
# a page with each link rewritten to `/<collection>/<time><modifier>/<original URL>`
# (`/web/20240601080000/http://forum.onion/t/1`, `.../20240601080000id_/...`,
# sometimes `http:/` with one slash). The time differs per capture.
_ARCHIVED = re.compile(r"(?:/[^/?#]+)*?/\d{8,14}(?:[a-z]{2}_)?/(https?):/{1,2}([^/?#].*)", re.I)


def unarchived(url: str) -> str:
    """The original URL that the absolute, archive-rewritten `url` stands for
    (`_ARCHIVED`); `url` itself when it is not one."""
    _, _, rest = url.partition("://")
    start = rest.find("/")
    found = _ARCHIVED.fullmatch(rest, start) if start >= 0 else None
    return f"{found[1].lower()}://{found[2]}" if found else url


# A link to a file beside the page ("showthread.php?tid=5"): no "/", ":", "#", ";",
# no dot segment, nothing to clean. urljoin puts it after the base's folder.
_FILE_LINK = re.compile(r"[\w\-]+(?:\.[\w\-]+)*(?:\?[\w\-=&.%+]*)?", re.ASCII)


def resolve_url(href: str, base: str) -> str | None:
    """Absolute http(s) form of `href` relative to `base`: host lower-cased, fragment
    and session parameters dropped; None for other schemes, unparsable or overlong
    links. A web archive's rewritten link (`unarchived`) becomes the original one when
    that names the host of `base` (or of the original page `base` stands for): a saved
    capture then gives the links, and so the ids, a live crawl would, and a link can
    never be turned into one to another host."""
    if len(href) <= MAX_URL and _FILE_LINK.fullmatch(href):
        folder = _folder(base)
        if folder is not None:  # what the general case gives, without urljoin
            path, _, query = href.partition("?")
            query = _without_sessions(query)
            url = folder + path + ("?" + query if query else "")
            return url if len(url) <= MAX_URL else None
    return _resolve(href, base)


@lru_cache(maxsize=64)  # a page's links share its base
def _folder(base: str) -> str | None:
    """`_resolve` of a file name beside `base`, less the name ("http://host/dir/"),
    else None."""
    url = _resolve("x", base)
    return url[:-1] if url is not None and url.endswith("/x") else None


def _resolve(href: str, base: str) -> str | None:
    """`resolve_url`, the general case."""
    href = _URL_JUNK.sub("", href).strip(_URL_EDGE)
    if not href or len(href) > MAX_URL:
        return None
    try:
        parts = urlsplit(urljoin(base, href))
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    query = _without_sessions(parts.query)
    netloc = parts.netloc if "@" in parts.netloc else parts.netloc.lower()
    url = urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))
    if len(url) > MAX_URL:
        return None
    inner = unarchived(url)
    if inner is not url and same_host(inner, unarchived(base)):
        return resolve_url(inner, base)  # strictly shorter: the recursion ends
    return url


def _without_sessions(query: str) -> str:
    """`query` without session-id parameters."""
    if query and _SESSION_PARAM.search(query):
        query = "&".join(p for p in query.split("&") if not _SESSION_PARAM.fullmatch(p))
    return query


def same_host(url: str, other: str) -> bool:
    """True when both URLs name the same host (case-insensitive; port ignored)."""
    try:
        host, other_host = urlsplit(url).hostname, urlsplit(other).hostname
    except ValueError:
        return False
    return host is not None and host == other_host


# Forum links that only say where to start reading ("&action=newpost", ".../unread")
# name the same thread as the plain link; dropping them keeps a listing's url stable.
_READ_PARAM = re.compile(r"(?i)(?:action|view)=(?:newpost|lastpost|unread|getnewpost|getlastpost)")
_READ_SUFFIX = re.compile(r"(?i)(/threads/[^/?#]+/)(?:unread|latest|page-\d+|post-\d+)/?$")


def thread_url(url: str) -> str:
    """`url` (absolute, canonical) without read-position parts."""
    path, _, query = url.partition("?")
    if query and _may_hold(query, ("action=", "view=")) and _READ_PARAM.search(query):
        query = "&".join(p for p in query.split("&") if not _READ_PARAM.fullmatch(p))
    if _may_hold(path, ("/threads/",)):
        path = _READ_SUFFIX.sub(r"\1", path)
    return path + ("?" + query if query else "")


def _may_hold(text: str, words: tuple[str, ...]) -> bool:
    """False when `text` is ASCII and holds none of `words` (lower case) in any case:
    then no case-insensitive pattern needing one of them can match (cheaper than
    the search; outside ASCII, IGNORECASE knows more equivalents than lower())."""
    if not text.isascii():
        return True
    low = text.lower()
    return any(word in low for word in words)
