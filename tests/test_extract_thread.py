"""Thread pages: the first post (capped) with its own parsed fields, and "gone"
pages that say the thread was deleted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ExtractError
from monitor.extract import ThreadPage, extract_thread
from monitor.extract.thread import FIRST_POST_LIMIT
from monitor.models import Source

THREADS = Path(__file__).parent / "fixtures" / "threads"
NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


def read(name: str, engine: str, rates: dict[str, float] | None = None) -> ThreadPage:
    source = Source(name="s", url="http://forum.onion/", engine=engine, every=60)
    html = (THREADS / f"{name}.html").read_text(encoding="utf-8")
    return extract_thread(html, "http://forum.onion/t/1", source, now=NOW, rates=rates)


def test_mybb_first_post() -> None:
    page = read("mybb_showthread", "mybb", rates={"BTC": 60_000})
    assert not page.gone
    assert page.seller == "ChinaDan"
    assert page.posted_at == datetime(2026, 6, 30, 14, 2, tzinfo=UTC)
    text = page.first_post
    assert text.startswith("Selling the Shanghai") and "alert" not in text and "buyer1" not in text
    parsed = page.parsed.as_json()
    assert parsed["records"] == 1_000_000_000
    assert parsed["span"] == {"from": 1995, "to": 2019}
    assert parsed["size_bytes"] == 23 * 1024**4
    assert parsed["price"] == {"amount": 10.0, "currency": "BTC", "usd": 600_000.0}
    assert parsed["data_types"] == ["names", "phones", "addresses", "national_ids",
                                    "criminal_records"]  # fmt: skip
    assert parsed["negotiable"] is False  # "DM for samples" is no price marker


def test_xenforo_first_post_in_russian() -> None:
    page = read("xenforo_thread", "xenforo")
    assert page.seller == "krot"
    assert page.posted_at == datetime(2026, 6, 29, 5, 15, tzinfo=UTC)
    parsed = page.parsed.as_json()
    assert (parsed["records"], parsed["span"]) == (1_200_000, {"from": 2018, "to": 2021})
    assert parsed["price"] == {"amount": 1500.0, "currency": "USD", "usd": 1500.0}
    assert parsed["negotiable"] is True  # "торг"
    assert "+1" not in page.first_post


def test_phpbb_first_post_in_chinese() -> None:
    page = read("phpbb_viewtopic", "phpbb")
    assert page.title == "上海公安数据库 10亿条"
    parsed = page.parsed.as_json()
    assert parsed["records"] == 1_000_000_000 and parsed["country"] == "CN"
    assert parsed["negotiable"] is True  # 可议


@pytest.mark.parametrize(("name", "engine"), [("mybb_gone", "mybb"), ("xenforo_gone", "xenforo")])
def test_gone_pages(name: str, engine: str) -> None:
    page = read(name, engine)
    assert page.gone and page.first_post is None


def test_first_post_is_capped_and_present_page_is_not_gone() -> None:
    source = Source(name="s", url="http://forum.onion/", engine="mybb", every=60)
    body = "The specified thread does not exist. " + "x" * 10_000
    html = f"<div class='post'><div class='post_body'>{body}</div></div>"
    page = extract_thread(html, "http://forum.onion/t/1", source)
    assert not page.gone
    assert page.first_post is not None and len(page.first_post) == FIRST_POST_LIMIT


SHOP_PRODUCT = """<html><body><div class="product">
<h1 class="product_title">Acme Telecom subscribers 2.3M records</h1>
<p class="price"><span>$4,500</span></p>
<div class="short"><p>2.3M subscriber rows: name, msisdn, plan.</p></div>
<div class="blurb">Seller notes: fresh 2026 dump, 2.3M rows, escrow ok.</div>
</div></body></html>"""


def test_generic_thread_body_skips_a_shops_price_line() -> None:
    source = Source(name="s", url="http://shop.onion/", engine="css", every=60)
    page = extract_thread(SHOP_PRODUCT, "http://shop.onion/p/1", source)
    assert page.first_post == "2.3M subscriber rows: name, msisdn, plan."


def test_a_css_source_chooses_its_thread_selectors() -> None:
    source = Source(
        name="s",
        url="http://shop.onion/",
        engine="css",
        every=60,
        overrides={
            "thread_post": "div.product",
            "thread_body": "div.blurb",
            "thread_gone": "(?i)sold out",
        },
    )
    page = extract_thread(SHOP_PRODUCT, "http://shop.onion/p/1", source)
    assert page.first_post == "Seller notes: fresh 2026 dump, 2.3M rows, escrow ok."
    assert page.parsed.records is not None and page.parsed.records.count == 2_300_000
    gone = extract_thread("<html><body><h1>Sold out</h1></body></html>", "u", source)
    assert gone.gone and gone.first_post is None


def test_json_sources_have_no_thread_pages() -> None:
    source = Source(name="s", url="http://f.onion/", engine="json", every=60)
    with pytest.raises(ExtractError, match="json"):
        extract_thread("{}", "http://f.onion/t", source)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["mybb", "xenforo", "phpbb", "shop", "blog", "css"]),
    st.one_of(
        st.text(st.characters(exclude_categories=()), max_size=1500),
        st.binary(max_size=1500).map(lambda b: b.decode("utf-8", errors="replace")),
    ),
)
def test_thread_never_raises(engine: str, html: str) -> None:
    source = Source(name="s", url="http://forum.onion/", engine=engine, every=60)
    page = extract_thread(html, "http://forum.onion/t/1", source, now=NOW)
    assert page.first_post is None or len(page.first_post) <= FIRST_POST_LIMIT


@pytest.mark.parametrize(
    ("name", "engine"), [("xenforo_thread", "xenforo"), ("xenforo_gone", "xenforo")]
)
def test_a_fallback_engine_reads_a_thread_page_its_engine_cannot(name: str, engine: str) -> None:
    """A forum that moved from MyBB to XenForo: `fallback_engines` read its thread
    pages too (the first post, or the "gone" notice), as its listing pages."""
    source = Source(
        name="s", url="http://forum.onion/", engine="mybb", every=60, fallback_engines=(engine,)
    )
    html = (THREADS / f"{name}.html").read_text(encoding="utf-8")
    page = extract_thread(html, "http://forum.onion/t/1", source, now=NOW)
    assert page == read(name, engine)
    mybb_only = extract_thread(html, "http://forum.onion/t/1", replace(source, fallback_engines=()))
    assert (mybb_only.first_post, mybb_only.gone) != (page.first_post, page.gone)


def test_a_post_found_by_a_fallback_beats_a_gone_match_and_shops_are_not_thread_readers() -> None:
    """A XenForo post that says "has been deleted" is a post, not a gone thread,
    whichever profile comes first; a shop or blog profile (whose post is the page
    body) never reads a MyBB source's "no permission" page as a first post."""
    html = (THREADS / "xenforo_thread.html").read_text(encoding="utf-8")
    at = html.find(">", html.find("bbWrapper")) + 1
    quoting = (
        html[:at] + "Backup of the CRM (the original has been deleted by the admins). " + html[at:]
    )
    for fallbacks in (("xenforo",), ("mybb", "xenforo"), ("phpbb", "xenforo")):
        engine = "mybb" if fallbacks[0] != "mybb" else "phpbb"
        source = Source(name="s", url="http://forum.onion/", engine=engine, every=60,
                        fallback_engines=fallbacks)  # fmt: skip
        page = extract_thread(quoting, "http://forum.onion/threads/x.1/", source)
        assert not page.gone and (page.first_post or "").startswith("Backup of the CRM")
    denied = (
        "<html><head><title>Forum</title></head><body><div class='error'>You do not have "
        "permission to access this page.</div></body></html>"
    )
    for fallback in ("shop", "blog"):
        source = Source(name="s", url="http://forum.onion/", engine="mybb", every=60,
                        fallback_engines=(fallback,))  # fmt: skip
        assert extract_thread(denied, "http://forum.onion/t/1", source).first_post is None
