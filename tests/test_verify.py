"""verify.verify_page: a listing's own page → gone / present / unknown, as a value table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitor.demo.sites import mybb_error
from monitor.models import Listing, Page, PageOutcome, Verdict
from monitor.verify import title_shown, verify_page, visible

AT = datetime(2024, 6, 1, tzinfo=UTC)
URL = "http://forum.onion/showthread.php?tid=1042"
LISTING = Listing("forum", "1042", URL, "[SELLING] Shanghai police database - 1 billion records")


def page(text: str = "", status: int | None = 200, outcome: PageOutcome = PageOutcome.OK) -> Page:
    reason = {PageOutcome.BLOCKED: "blocked:login_wall", PageOutcome.FAILED: "timeout"}
    return Page(URL, outcome, status, text, reason=reason.get(outcome))


def html(body: str) -> str:
    return f"<html><head><title>Forum</title></head><body><div>{body}</div></body></html>"


THREAD = html(
    "<h1>[SELLING] Shanghai police database - 1 billion records</h1>"
    "<div class='post'>Names, ID numbers, phones. 10 BTC. The sample does not exist yet.</div>"
)
CASES: list[tuple[str, Page, Verdict, str]] = [
    ("http 404", page(status=404, outcome=PageOutcome.FAILED), Verdict.GONE, "http 404"),
    ("http 410", page(status=410, outcome=PageOutcome.FAILED), Verdict.GONE, "http 410"),
    ("http 503", page(status=503, outcome=PageOutcome.FAILED), Verdict.UNKNOWN, "timeout"),
    ("no answer", page(status=None, outcome=PageOutcome.FAILED), Verdict.UNKNOWN, "timeout"),
    (
        "captcha",
        page(html("Please solve the captcha"), outcome=PageOutcome.BLOCKED),
        Verdict.UNKNOWN,
        "blocked:login_wall",
    ),
    (
        "mybb",
        page(mybb_error("The specified thread does not exist.")),
        Verdict.GONE,
        "engine message: the specified thread does not exist",
    ),
    (
        "xenforo",
        page(html("Oops! We ran into some problems. The requested thread could not be found.")),
        Verdict.GONE,
        "engine message: the requested thread could not be found",
    ),
    (
        "phpbb",
        page(html("Information<br>The requested topic does not exist.")),
        Verdict.GONE,
        "engine message: the requested topic does not exist",
    ),
    (
        "mybb ru",
        page(html("Указанная тема не существует.")),
        Verdict.GONE,
        "engine message: указанная тема не существует",
    ),
    (
        "generic ru",
        page(html("Ошибка: тема удалена модератором")),
        Verdict.GONE,
        "phrase: тема удалена",
    ),
    ("generic en", page(html("Thread not found")), Verdict.GONE, "phrase: thread not found"),
    ("present", page(THREAD), Verdict.PRESENT, "title shown"),
    ("unclear", page(html("Welcome to the forum index. Latest posts below.")), Verdict.UNKNOWN, ""),
]


@pytest.mark.parametrize(
    ("page_", "verdict", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_verdicts(page_: Page, verdict: Verdict, reason: str) -> None:
    check = verify_page(page_, LISTING, AT)
    assert (check.verdict, check.listing_id, check.at, check.url) == (
        verdict,
        "forum:1042",
        AT,
        URL,
    )
    if reason:
        assert check.reason == reason
    assert check.status == page_.status


def test_a_long_page_quoting_an_engine_message_is_not_gone() -> None:
    text = html("Some thread about errors. " * 200 + "The specified thread does not exist.")
    assert verify_page(page(text), LISTING, AT).verdict is Verdict.UNKNOWN
    assert verify_page(page(text + THREAD), LISTING, AT).verdict is Verdict.PRESENT


def test_the_title_wins_over_a_generic_phrase_in_the_post() -> None:
    assert verify_page(page(THREAD), LISTING, AT).verdict is Verdict.PRESENT


def test_no_permission_is_gone_only_after_the_page_was_visible() -> None:
    denied = page(
        html("You do not have permission to access this page."), outcome=PageOutcome.BLOCKED
    )
    assert verify_page(denied, LISTING, AT).verdict is Verdict.UNKNOWN
    check = verify_page(denied, LISTING, AT, seen_before=True)
    assert (check.verdict, check.reason) == (
        Verdict.GONE,
        "no permission: you do not have permission",
    )
    ok_denied = page(html("Sorry, you don't have permission to view this thread."))
    assert verify_page(ok_denied, LISTING, AT).verdict is Verdict.UNKNOWN
    assert verify_page(ok_denied, LISTING, AT, seen_before=True).verdict is Verdict.GONE


def test_a_no_permission_page_with_the_title_in_its_breadcrumbs_is_not_present() -> None:
    crumbs = page(html(f"Forum » Databases » {LISTING.title}<p>You do not have permission"
                       " to view this thread.</p>"))  # fmt: skip
    check = verify_page(crumbs, LISTING, AT)
    assert (check.verdict, check.reason) == (
        Verdict.UNKNOWN,
        "no permission page: you do not have permission",
    )
    assert verify_page(crumbs, LISTING, AT, seen_before=True).verdict is Verdict.GONE
    # a real, short thread whose post quotes the phrase is still there
    parsed = Listing("forum", "1042", URL, LISTING.title, first_post="you do not have permission?")
    assert verify_page(crumbs, LISTING, AT, parsed=parsed, seen_before=True).verdict is (
        Verdict.PRESENT
    )


def test_a_parsed_page_is_present_with_its_fields() -> None:
    parsed = Listing("forum", "1042", URL, LISTING.title, first_post="Names, ID numbers")
    check = verify_page(page(html("x" * 50)), LISTING, AT, parsed=parsed)
    assert (check.verdict, check.reason, check.listing) == (Verdict.PRESENT, "parsed", parsed)
    edited = replace(parsed, title=LISTING.title + " - now 8 BTC")
    assert verify_page(page(html("x" * 50)), LISTING, AT, parsed=edited).listing == edited
    # a generic reader's idea of a title on some other page proves nothing
    other = replace(parsed, title="DarkForum")
    assert verify_page(page(html("x" * 50)), LISTING, AT, parsed=other).verdict is Verdict.UNKNOWN


def test_title_matching_is_normalised_and_tolerates_cut_titles() -> None:
    text = "shanghai police database 1 billion records and more"
    assert title_shown("SHANGHAI  Police database", text)
    assert title_shown("Shanghai police database - 1 billion records, 10 BTC…", text + " 10")
    assert not title_shown("Beijing hospital patients", text)
    assert not title_shown("", text)
    assert title_shown("Ｓｈａｎｇｈａｉ police", visible("<p>ｓｈａｎｇｈａｉ &amp; police</p>"))
