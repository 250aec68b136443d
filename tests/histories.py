"""Seeded, pure generators of synthetic capture histories -- a MyBB forum
(`tests.history_forum`) and a WooCommerce leak shop (`tests.history_shop`) over
simulated weeks -- together with the truth of what happened on them. Every name,
seller and number is invented. This module holds what both share.

A `History` is the captures (file paths relative to the capture directory → text)
in the layout `leakmon replay` reads, and a `Truth`: price and record-count edits,
removals and returns, reposts, the redesign, and which captures are unreadable
(blocked/failed) or incomplete. `write_history` puts a history on disk.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

from monitor.demo.sites import (
    FORUM_HOST,
    SHOP_HOST,
)

FORUM_URL = f"http://{FORUM_HOST}/forumdisplay.php?fid=2"
SHOP_URL = f"http://{SHOP_HOST}/shop/"
T0 = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)
MAX_PAGES = 3  # the forum source's max_pages: a capture saves what a crawl would fetch
PRODUCTS_PER_PAGE = 6
REPOST_NAME = "Velmora"  # the dataset posted on the forum, deleted, then sold on the shop

_SYLLABLES = (
    "ka",
    "lo",
    "ve",
    "mor",
    "tan",
    "dri",
    "sel",
    "qua",
    "zen",
    "fio",
    "rax",
    "nol",
    "bri",
    "vash",
    "tul",
    "em",
    "or",
    "ix",
)
KINDS = ("citizens", "patients", "clients", "voters", "employees", "students", "drivers")
SELLERS = ("n0body", "skyhigh", "ledgerlord", "m4rv", "medic", "k0ala", "cargo_cult", "zer0")

# Pages that are not the content they claim to be (block pages, error pages).
CAPTCHA = (
    "<html><head><title>Security check</title></head><body><form><p>Please complete "
    "the captcha to continue.</p><img src='/captcha.php'><input name='c'></form></body></html>"
)
DDOS = (
    "<html><body><h1>DDoS protection</h1><p>You are in a queue, please wait while we "
    "check your browser. This may take a few seconds.</p></body></html>"
)
MAINTENANCE = (
    "<html><body><h2>Under maintenance</h2><p>We are upgrading our servers and will "
    "be back soon. Thank you for your patience.</p></body></html>"
)
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
MYBB_SQL_ERROR = (
    "<!DOCTYPE html><html><head><title>MyBB Internal Error</title></head><body><div "
    "id='container'><h1>MyBB SQL Error</h1><p>MyBB has experienced an internal SQL error "
    "and cannot continue.</p><dl><dt>SQL Error:</dt><dd>1040 - Too many connections</dd>"
    "</dl></div></body></html>"
)
WP_DB_ERROR = (
    "<!DOCTYPE html><html><head><title>Database Error</title></head><body id='error-page'>"
    "<div class='wp-die-message'><h1>Error establishing a database connection</h1></div>"
    "</body></html>"
)


@dataclass(frozen=True)
class Edit:
    external_id: str
    at: datetime  # the first capture that shows the new value
    field: str  # "price" (raw text) or "records" (count)
    before: str | int
    after: str | int
    drop: bool  # a lower price


@dataclass
class Removal:
    external_id: str
    at: datetime  # the first capture without it
    returned: datetime | None = None  # the first capture showing it again


@dataclass
class Truth:
    edits: list[Edit] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    reposts: list[str] = field(default_factory=list)  # external ids of reposted datasets
    redesign: datetime | None = None  # the first capture in the new theme
    outcomes: dict[str, str] = field(default_factory=dict)  # capture name -> crawl outcome
    listed: set[str] = field(default_factory=set)  # ids shown on some readable page


@dataclass(frozen=True)
class Capture:
    name: str  # as `leakmon replay` names it (the directory, or the flat files' time)
    at: datetime
    files: dict[str, str]  # path relative to the history's directory -> text


@dataclass(frozen=True)
class History:
    captures: tuple[Capture, ...]
    truth: Truth


def write_history(history: History, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for capture in history.captures:
        for relative, text in capture.files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return root


_HREF = re.compile(r'(href=")([^"]*)(")')
_BASE = re.compile(r'<base href="([^"]*)"')


def wayback(html: str, url: str, at: datetime) -> str:
    """`html` (served at `url`) as the Wayback Machine serves its capture at `at`:
    every http(s) link made absolute (against `<base href>` if there is one) and
    rewritten to `/web/<time>/<link>`, every other one to
    `https://web.archive.org/web/<time>id_/<link>`; its toolbar at the top of the
    body and its comment after the end."""
    stamp = at.strftime("%Y%m%d%H%M%S")
    count = iter(range(10**9))
    base_tag = _BASE.search(html)
    base = urljoin(url, base_tag[1]) if base_tag else url

    def rewrite(m: re.Match[str]) -> str:
        href = m[2]
        if href.startswith(("javascript:", "mailto:", "#")):
            return m[0]
        link = urljoin(base, href.replace("&amp;", "&")).replace("&", "&amp;")
        if next(count) % 2:
            return f"{m[1]}https://web.archive.org/web/{stamp}id_/{link}{m[3]}"
        return f"{m[1]}/web/{stamp}/{link}{m[3]}"

    toolbar = (  # its text alone would make an empty page look like content
        f'<!-- BEGIN WAYBACK TOOLBAR INSERT --><div id="wm-ipp-base"><a href="/web/{stamp}*/'
        f'{url}">1,204 captures</a> {at:%d %b %Y} - 30 Jun 2024. About this capture: '
        "collected by the Internet Archive's crawlers.</div><!-- END WAYBACK TOOLBAR INSERT -->"
    )
    saved = _HREF.sub(rewrite, html).replace("<body>", "<body>" + toolbar, 1)
    return (
        saved + f"\n<!--\n     FILE ARCHIVED ON {at:%H:%M:%S %b %d, %Y} AND RETRIEVED FROM THE\n-->"
    )


def saved_by_wayback(history: History, url: str) -> History:
    """`history` with every saved HTML page as `wayback` serves it, each with its own
    capture's time in its links. (A listing page past the first and a thread page are
    rewritten against `url` too: their links are absolute or relative to the same
    directory.)"""
    captures = tuple(
        replace(c, files={
            path: wayback(text, url, c.at) if path.endswith(".html") else text
            for path, text in c.files.items()
        })
        for c in history.captures
    )  # fmt: skip
    return replace(history, captures=captures)


def invented_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(3)).capitalize()
        if word != REPOST_NAME:
            names.add(word)
    return sorted(names, key=lambda _: rng.random())


def defect_of(rng: random.Random, step: int) -> str | None:
    """What is wrong with this capture, if anything (never the first two)."""
    if step < 2:
        return None
    roll = rng.random()
    table = (
        (0.02, "captcha"),
        (0.035, "ddos"),
        (0.05, "maintenance"),
        (0.06, "error502"),
        (0.07, "sql_error"),
        (0.08, "empty"),
        (0.095, "truncated"),
        (0.105, "status503"),
        (0.125, "page2_missing"),
        (0.14, "page2_captcha"),
        (0.15, "page2_truncated"),
    )
    return next((name for limit, name in table if roll < limit), None)


def truncate(rng: random.Random, html: str) -> str:
    return html[: int(len(html) * rng.uniform(0.3, 0.8))]


def block_page(defect: str, rng: random.Random, html: str, shop: bool) -> str:
    pages = {
        "captcha": CAPTCHA,
        "ddos": DDOS,
        "maintenance": MAINTENANCE,
        "error502": NGINX_502,
        "sql_error": WP_DB_ERROR if shop else MYBB_SQL_ERROR,
        "empty": "<html><body></body></html>" if shop else "",
    }
    return truncate(rng, html) if defect == "truncated" else pages[defect]


def outcome_of(defect: str | None, pages: int) -> tuple[str, str | None]:
    """The crawl outcome a defect should give, and the defect as applied (a page-2
    defect of a one-page capture is no defect)."""
    if defect is None:
        return "complete", None
    if defect == "status503":
        return "failed", defect
    if defect.startswith("page2"):
        return ("partial", defect) if pages >= 2 else ("complete", None)
    return "blocked", defect


def apply_defect(
    files: dict[str, str],
    defect: str | None,
    rng: random.Random,
    shop: bool,
    page: Callable[[int, str], str],
) -> dict[str, str]:
    """`files` (named by `page(number, status suffix)`) with the defect applied."""
    if defect is None:
        return files
    out = dict(files)
    first, second = page(1, ""), page(2, "")
    if defect == "status503":
        out[page(1, ".503")] = out.pop(first)
    elif defect == "page2_missing":
        out.pop(second)
    elif defect == "page2_captcha":
        out[second] = CAPTCHA
    elif defect == "page2_truncated":
        out[second] = truncate(rng, out[second])
    else:
        out[first] = block_page(defect, rng, out[first], shop)
    return out
