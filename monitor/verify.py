"""Pure: a listing's own page (fetched after it vanished from a complete crawl) → verdict.

Rules, in order (first match wins):

1. HTTP 404 or 410 → GONE.
2. A page that failed otherwise (timeout, 5xx, refused) → UNKNOWN.
3. A block page → UNKNOWN, except a "no permission" page of a listing whose page
   was visible before (`seen_before`): the thread was hidden → GONE.
4. A short page carrying a forum engine's exact "does not exist" message (MyBB,
   XenForo, phpBB, vBulletin, SMF, Invision, Discourse; English and Russian) → GONE.
5. A short "no permission" page with no thread post on it → GONE when the page was
   visible before (the thread was hidden), else UNKNOWN, even when it shows the
   title (themes put the thread's title in the breadcrumbs of that page too).
6. The page shows the listing's title → PRESENT; with the fields the engine parsed
   from it when its parsed title is (mostly) the listing's title too (edits).
7. A short page with a generic "not found / removed / deleted" phrase → GONE.
8. Anything else → UNKNOWN: never delete on an unclear page; retry next crawl.

A listing already DELETED (its page is re-checked for a restore, `deleted=True`)
is PRESENT only on stronger evidence, since a false `restored` tells an analyst a
dead offer is live again: the page came back 200, the engine read a thread post on
it (`parsed` with a first post), and a short page says nothing like "no
permission" or "not found / removed". Otherwise the PRESENT is UNKNOWN ("restore
unconfirmed: ..."): the listing stays deleted and is checked again later.

"Short" is at most `SHORT_PAGE` visible characters: a long page is content that may
merely quote such a phrase.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime

from monitor.models import Listing, Page, PageOutcome, Verdict, Verification

SHORT_PAGE = 3000  # visible characters; longer pages are content, not error pages
TITLE_COVERAGE = 0.8  # share of a title's words the page must show for PRESENT

# Exact messages of common forum engines (casefolded, trailing dot dropped).
ENGINE_MESSAGES: tuple[str, ...] = (
    "the specified thread does not exist",  # MyBB error_invalidthread
    "the requested thread could not be found",  # XenForo
    "the requested topic does not exist",  # phpBB NO_TOPIC
    "invalid thread specified",  # vBulletin
    "the topic or board you are looking for appears to be either missing or off limits",  # SMF
    "sorry, we could not find that",  # Invision
    "oops! that page doesn't exist or is private",  # Discourse
    "указанная тема не существует",  # MyBB ru
    "запрошенная тема не найдена",  # XenForo ru
    "запрошенной темы не существует",  # phpBB ru
)
GENERIC_GONE: tuple[str, ...] = (
    "thread not found",
    "topic not found",
    "post not found",
    "product not found",
    "page not found",
    "invalid thread",
    "invalid topic",
    "does not exist",
    "no longer exists",
    "no longer available",
    "has been deleted",
    "has been removed",
    "was deleted",
    "was removed",
    "тема не найдена",
    "тема не существует",
    "такой темы не существует",
    "тема удалена",
    "сообщение удалено",
    "страница не найдена",
    "не существует",
    "была удалена",
)
NO_PERMISSION: tuple[str, ...] = (
    "you do not have permission",
    "you don't have permission",
    "no permission to view",
    "у вас нет прав",
    "у вас нет доступа",
    "нет доступа к",
)

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_WORDS = re.compile(r"\w+")


def _norm(text: str) -> str:
    text = html.unescape(text)
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def visible(html_text: str) -> str:
    """The page's visible text, normalised (NFKC, casefold, single spaces)."""
    return _norm(_TAGS.sub(" ", html_text))


def _has(text: str, phrases: tuple[str, ...]) -> str | None:
    return next((p for p in phrases if p in text), None)


def title_shown(title: str, text: str) -> bool:
    """The page text contains the title, or at least `TITLE_COVERAGE` of its words
    (titles are often cut with "…" in lists)."""
    wanted = _WORDS.findall(_norm(title))
    if not wanted:
        return False
    if " ".join(wanted) in " ".join(_WORDS.findall(text)):
        return True
    words = set(_WORDS.findall(text))
    return sum(w in words for w in wanted) >= TITLE_COVERAGE * len(wanted) and len(wanted) >= 3


def verify_page(
    page: Page,
    listing: Listing,
    at: datetime,
    *,
    parsed: Listing | None = None,
    seen_before: bool = False,
    deleted: bool = False,
) -> Verification:
    """The verdict on `listing` from its own `page`, fetched at `at`.

    `parsed`: the listing as the engine read it from the page, if it can; it counts
    only when its title shares most words with the listing's title.
    `seen_before`: this listing's page was found present before.
    `deleted`: the listing is DELETED: a PRESENT needs `restore_doubt` to be None.
    """

    def result(verdict: Verdict, reason: str, fields: Listing | None = None) -> Verification:
        return Verification(listing.id, page.url, at, verdict, reason, page.status, fields)

    if page.status in (404, 410):
        return result(Verdict.GONE, f"http {page.status}")
    if page.outcome is PageOutcome.FAILED:
        return result(Verdict.UNKNOWN, page.reason or "failed")
    text = visible(page.text)
    short = len(text) <= SHORT_PAGE
    denied = _has(text, NO_PERMISSION) if short else None
    if page.outcome is PageOutcome.BLOCKED:
        if denied and seen_before:
            return result(Verdict.GONE, f"no permission: {denied}")
        return result(Verdict.UNKNOWN, page.reason or "blocked")
    if short and (phrase := _has(text, ENGINE_MESSAGES)):
        return result(Verdict.GONE, f"engine message: {phrase}")
    if denied and (parsed is None or not parsed.first_post):  # a title in the breadcrumbs
        if seen_before:
            return result(Verdict.GONE, f"no permission: {denied}")
        return result(Verdict.UNKNOWN, f"no permission page: {denied}")
    shown = title_shown(listing.title, text)
    if shown or (parsed is not None and title_shown(listing.title, visible(parsed.title))):
        doubt = restore_doubt(page, text, parsed) if deleted else None
        if doubt is not None:
            return result(Verdict.UNKNOWN, f"restore unconfirmed: {doubt}")
        if parsed is not None:
            return result(Verdict.PRESENT, "parsed", parsed)
        return result(Verdict.PRESENT, "title shown")
    if short and (phrase := _has(text, GENERIC_GONE)):
        return result(Verdict.GONE, f"phrase: {phrase}")
    return result(Verdict.UNKNOWN, "unclear page")


def restore_doubt(page: Page, text: str, parsed: Listing | None) -> str | None:
    """Why a page that shows a DELETED listing's title does not prove it is back
    (None: it does). `text` is the page's `visible` text."""
    if page.outcome is not PageOutcome.OK or page.status != 200:
        return f"http {page.status}"
    if parsed is None or not parsed.first_post:
        return "no thread post on the page"
    if len(text) <= SHORT_PAGE and (phrase := _has(text, NO_PERMISSION + GENERIC_GONE)):
        return f"page says {phrase!r}"
    return None
