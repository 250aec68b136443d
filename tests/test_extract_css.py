"""The css engine on hand-written pages shaped like MyBB, WooCommerce and phpBB, and
on hostile ones; engine construction errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from monitor.errors import ExtractError
from monitor.extract import ENGINES, Engine, get_engine
from monitor.extract.dom import MAX_DEPTH, parse_html
from monitor.extract.urls import resolve_url
from monitor.models import Listing, PageExtract, Price, Records, Selectors, Source

FIXTURES = Path(__file__).parent / "fixtures"

MYBB_URL = "http://leakbasexyz.onion/forumdisplay.php?fid=7"
MYBB = Selectors(
    item="tr.inline_row",
    title="span[id^='tid_'] > a",
    url="span[id^='tid_'] > a",
    id="span[id^='tid_']@id",
    id_pattern=r"tid_(\d+)",
    seller="div.author a",
    price="span.thread_price",
    posted="span.thread_start_datetime",
    next="a.pagination_next@href",
)
SHOP_URL = "http://datamartshop.onion/shop/"
SHOP = Selectors(
    item="li.product",
    title="h2.woocommerce-loop-product__title",
    url="a.woocommerce-LoopProduct-link@href",
    id="@class",  # the item's own class list: "product type-product post-101 ..."
    id_pattern=r"\bpost-(\d+)\b",
    price="span.price ins .amount, span.price",
    next="a.next.page-numbers",
)
PHPBB_URL = "http://breachboard.onion/viewforum.php?f=4"
PHPBB = Selectors(
    item="ul.topics > li.row",
    title="a.topictitle",
    url="a.topictitle@href",
    seller=".topic-poster a.username, .topic-poster a.username-coloured",
    posted=".topic-poster time@datetime",
    next="li.arrow.next a",
)
HOSTILE_URL = "http://dumpzone.onion/list"
PAGE = "http://forum.onion/forumdisplay.php?fid=2"
ARCHIVED_PAGE = "https://web.archive.org/web/20240601080000/" + PAGE
HOSTILE = Selectors(item="div.thread", title="a.title", url="a.title", seller=".by", next="a.next")


def source(selectors: Selectors | None, url: str = MYBB_URL, engine: str = "css") -> Source:
    return Source(name="src", url=url, engine=engine, every=600, selectors=selectors)


def extract(name: str, selectors: Selectors, url: str, html: str | None = None) -> PageExtract:
    page = (FIXTURES / name).read_text(encoding="utf-8") if html is None else html
    return get_engine(source(selectors, url)).extract(page, url)


def by_id(result: PageExtract) -> dict[str, Listing]:
    return {listing.external_id: listing for listing in result.listings}


# ----------------------------------------------------------------------- MyBB


def test_mybb_forumdisplay() -> None:
    result = extract("mybb_forumdisplay.html", MYBB, MYBB_URL)
    assert [x.external_id for x in result.listings] == [
        "12", "4521", "4519", "4502", "4490", "4477", "4470"
    ]  # fmt: skip
    china = by_id(result)["4521"]
    assert china == Listing(
        source="src",
        external_id="4521",
        url="http://leakbasexyz.onion/showthread.php?tid=4521",
        title="Shanghai police database - 1 billion records",
        seller="ChinaDan",  # inside the group's colour/rank spans, not "VIP Seller"
        price=Price(amount=10.0, currency="BTC", raw="10 BTC"),
        records=Records(count=1_000_000_000, raw="1 billion records"),
        posted_at=datetime(2026, 6, 30, 14, 2, tzinfo=UTC),
        posted_raw="06-30-2026, 02:02 PM",
        country="CN",
    )
    assert china.id == "src:4521"
    assert result.next_url == "http://leakbasexyz.onion/forumdisplay.php?fid=7&page=2"


def test_mybb_fields_from_title_and_price_field() -> None:
    listings = by_id(extract("mybb_forumdisplay.html", MYBB, MYBB_URL))
    assert listings["4519"].url == "http://leakbasexyz.onion/showthread.php?tid=4519"  # no #pid
    assert listings["4519"].records == Records(480_000, "480k")
    assert listings["4519"].price is None
    acme = listings["4502"]
    assert acme.records == Records(2_300_000, "2.3M rows")
    assert acme.price is not None and (acme.price.amount, acme.price.currency) == (400.0, "USD")
    assert acme.price.raw == "Start 400$ Step 100$ Blitz 1500$"
    qatar = listings["4490"].price
    assert qatar == Price(amount=None, currency=None, raw="DM for price", negotiable=True)
    assert listings["4477"].records is None  # "GeForce 800M ... (v2.1)"
    baza = listings["4470"]
    assert baza.records is not None and baza.records.count == 1_200_000
    assert baza.posted_at == datetime(2026, 6, 30, tzinfo=UTC)  # "30.06.2026"
    assert listings["12"].seller == "admin"


def test_id_falls_back_to_url_and_id_pattern_applies_to_it() -> None:
    selectors = replace(MYBB, id=None, id_pattern=r"tid=(\d+)")
    ids = [x.external_id for x in extract("mybb_forumdisplay.html", selectors, MYBB_URL).listings]
    assert ids == ["12", "4521", "4519", "4502", "4490", "4477", "4470"]
    selectors = replace(MYBB, id=None, id_pattern=None)
    listings = extract("mybb_forumdisplay.html", selectors, MYBB_URL).listings
    assert listings[1].external_id == "http://leakbasexyz.onion/showthread.php?tid=4521"
    assert listings[2].external_id == "http://leakbasexyz.onion/showthread.php?tid=4519"


def test_items_whose_id_pattern_does_not_match_are_skipped() -> None:
    selectors = replace(MYBB, id_pattern=r"tid_(4\d+)")
    ids = [x.external_id for x in extract("mybb_forumdisplay.html", selectors, MYBB_URL).listings]
    assert "12" not in ids and len(ids) == 6


def test_records_selector_wins_over_title() -> None:
    html = """<div class="t"><a href="/t/1">Acme 5M users</a><i>Rows: 120k</i></div>
              <div class="t"><a href="/t/2">Acme 5M users</a><i>unknown</i></div>"""
    selectors = Selectors(item="div.t", title="a", url="a", records="i")
    listings = extract("", selectors, MYBB_URL, html).listings
    assert listings[0].records == Records(120_000, "Rows: 120k")
    assert listings[1].records == Records(5_000_000, "5M users")  # field unparsable: title


def test_text_is_cleaned_and_line_breaks_read_as_spaces() -> None:
    slug = "x" * 600
    html = f"""<div class="t"><a href="/t/{slug}">  Acme<br>2.3M\n\t rows<BR/>dump </a></div>"""
    selectors = Selectors(item="div.t", title="a", url="a")
    (listing,) = extract("", selectors, MYBB_URL, html).listings
    assert listing.title == "Acme 2.3M rows dump"
    assert listing.records == Records(2_300_000, "2.3M rows")
    assert listing.external_id == f"http://leakbasexyz.onion/t/{slug}"  # long ids are kept


# ---------------------------------------------------------------- WooCommerce


def test_woocommerce_grid() -> None:
    result = extract("woocommerce_products.html", SHOP, SHOP_URL)
    listings = by_id(result)
    assert list(listings) == ["101", "102", "103", "104", "105"]
    assert listings["101"].url == "http://datamartshop.onion/product/acme-telecom-customers/"
    # root-relative and path-relative links, fragment dropped
    assert listings["102"].url == "http://datamartshop.onion/product/fiction-airlines-pnr/"
    assert listings["103"].url == "http://datamartshop.onion/shop/product/shanghai-police-db/"
    assert listings["101"].price == Price(5000.0, "USD", "$5,000.00", usd=5000.0)
    assert listings["102"].price == Price(6500.0, "USD", "$6,500.00", usd=6500.0)  # sale price
    assert listings["103"].price == Price(10.0, "BTC", "10.00 BTC")
    assert listings["103"].records == Records(1_000_000_000, "10亿条")
    assert listings["104"].price == Price(300.0, "EUR", "€300.00")
    assert listings["105"].price == Price(None, None, "Price on request", negotiable=True)
    assert listings["105"].records == Records(5_000_000, "5 million users")
    assert all(x.seller is None and x.posted_at is None for x in result.listings)
    assert result.next_url == "http://datamartshop.onion/shop/page/2/"


def test_missing_explicit_id_skips_the_item() -> None:
    # only purchasable products have an add-to-cart button with data-product_id
    selectors = replace(SHOP, id="a.add_to_cart_button@data-product_id", id_pattern=None)
    result = extract("woocommerce_products.html", selectors, SHOP_URL)
    assert [x.external_id for x in result.listings] == ["101", "102", "103"]


# ---------------------------------------------------------------------- phpBB


def test_phpbb_session_ids_do_not_leak_into_ids_or_urls() -> None:
    page = (FIXTURES / "phpbb_viewforum.html").read_text(encoding="utf-8")
    first = extract("", PHPBB, PHPBB_URL, page)
    again = extract("", PHPBB, PHPBB_URL, page.replace("4f2a9c0d1e8b", "99aa77bb66cc"))
    assert [x.external_id for x in first.listings] == [x.external_id for x in again.listings]
    assert [x.url for x in first.listings] == [
        "http://breachboard.onion/viewtopic.php?t=77",
        "http://breachboard.onion/viewtopic.php?t=76",
    ]
    assert first.next_url == "http://breachboard.onion/viewforum.php?f=4&start=25"


def test_phpbb_fields() -> None:
    listings = extract("phpbb_viewforum.html", PHPBB, PHPBB_URL).listings
    china, krot = listings
    assert (china.seller, krot.seller) == ("ChinaDan", "krot")  # alternatives in order
    assert china.records == Records(1_000_000_000, "1 billion people")  # not "1995-2019"
    assert china.posted_at == datetime(2026, 6, 30, 14, 2, tzinfo=UTC)
    assert krot.posted_at == datetime(2026, 6, 29, 5, 15, tzinfo=UTC)  # +03:00 to UTC
    assert krot.posted_raw == "2026-06-29T08:15:00+03:00"
    assert krot.records == Records(12_000, "12 000 аккаунтов")


# -------------------------------------------------------------------- hostile


def test_hostile_listing_page() -> None:
    result = extract("hostile_listing.html", HOSTILE, HOSTILE_URL)
    listings = by_id(result)
    assert list(listings) == [
        "http://dumpzone.onion/t/501",  # sid dropped; the later "#latest" duplicate dropped
        "http://dumpzone.onion/t/505",
        "http://dumpzone.onion/t/506",
    ]  # no title (502), javascript:/data: links, broken host: skipped
    acme = listings["http://dumpzone.onion/t/501"]
    assert acme.title == "Acme Bank clients 1.2M rows"  # no script text, no zero-width space
    assert acme.seller == "ChinaDan"  # bidi override, zero-width and the ANSI escape removed
    assert acme.records == Records(1_200_000, "1.2M rows")
    assert len(listings["http://dumpzone.onion/t/505"].title) == 500
    assert "\x00" not in listings["http://dumpzone.onion/t/506"].title
    assert "Injected" not in repr(result)
    assert result.next_url is None  # other host


def test_explicit_id_without_a_usable_link_points_at_the_page() -> None:
    result = extract("hostile_listing.html", replace(HOSTILE, id="@data-id"), HOSTILE_URL)
    listings = by_id(result)
    assert list(listings) == ["501", "504", "505", "506"]
    assert listings["501"].title == "Acme Bank clients 1.2M rows"  # first of the duplicates
    assert listings["504"].url == HOSTILE_URL


def test_urls_are_canonical() -> None:
    html = """<div class="t"><a href="HTTP://Forum.ONION/t/1?s=0123456789abcdef0123456789abcdef&x=1#p">
              Acme 5M</a></div>
              <div class="t"><a href="http://forum.onion/t/1?x=1">Acme again</a></div>
              <div class="t"><a href="ftp://forum.onion/t/2">Acme ftp</a></div>"""
    selectors = Selectors(item="div.t", title="a", url="a")
    listings = extract("", selectors, "http://forum.onion/", html).listings
    assert [(x.url, x.title) for x in listings] == [("http://forum.onion/t/1?x=1", "Acme 5M")]


@pytest.mark.parametrize(
    ("href", "base", "url"),
    [
        ("/web/20240601080000/http://forum.onion/showthread.php?tid=5", PAGE,
         "http://forum.onion/showthread.php?tid=5"),
        ("https://web.archive.org/web/20240601080000id_/http://forum.onion/t/1", PAGE,
         "http://forum.onion/t/1"),
        ("/web/20240601080000/http:/forum.onion/t/1", PAGE, "http://forum.onion/t/1"),
        ("/coll/20240601080000mp_/https://Forum.ONION/t/2?sid=" + "0a" * 16 + "&x=1", PAGE,
         "https://forum.onion/t/2?x=1"),
        ("/web/20240601080000/http://forum.onion/t/9", ARCHIVED_PAGE, "http://forum.onion/t/9"),
        ("showthread.php?tid=5", ARCHIVED_PAGE, "http://forum.onion/showthread.php?tid=5"),
        # another host inside stays where the link points: never a new host
        ("/web/20240601080000/http://evil.onion/t/1", PAGE,
         "http://forum.onion/web/20240601080000/http://evil.onion/t/1"),
        ("https://web.archive.org/web/20240601080000/http://evil.onion/t/1", PAGE,
         "https://web.archive.org/web/20240601080000/http://evil.onion/t/1"),
        # digits that are not an archive's capture time, or no URL after them
        ("/t/20240601/http-guide", PAGE, "http://forum.onion/t/20240601/http-guide"),
        ("/web/2024/http://forum.onion/t/1", PAGE, "http://forum.onion/web/2024/http://forum.onion/t/1"),
    ],
)  # fmt: skip
def test_web_archive_links_resolve_to_the_original_on_the_same_host(
    href: str, base: str, url: str
) -> None:
    assert resolve_url(href, base) == url


HOSTS = st.sampled_from(["forum.onion", "evil.onion", "web.archive.org", "Forum.ONION"])


@settings(max_examples=1000)
@given(
    outer=st.sampled_from(
        ["", "https://web.archive.org", "http://forum.onion", "http://evil.onion"]
    ),
    collection=st.sampled_from(["/web", "/coll/sub", ""]),
    stamp=st.sampled_from(["20240601080000", "20240601080000id_", "2024", "12345678"]),
    scheme=st.sampled_from(["http://", "https://", "http:/"]),
    inner=HOSTS,
    path=st.sampled_from(
        ["/t/1", "/showthread.php?tid=5", "/", "/web/20240101000000/http://evil.onion/x"]
    ),
    base=st.sampled_from([PAGE, ARCHIVED_PAGE, "http://evil.onion/list"]),
)
def test_unwrapping_archive_links_never_moves_a_link_to_another_host(
    outer: str, collection: str, stamp: str, scheme: str, inner: str, path: str, base: str
) -> None:
    """Whatever the archive form, the result is the link taken literally, or a link on
    the host of the page (or of the page the archived base stands for)."""
    href = f"{outer}{collection}/{stamp}/{scheme}{inner}{path}"
    got = resolve_url(href, base)
    literal = urlsplit(urljoin(base, href)).hostname
    page_hosts = {urlsplit(base).hostname, "forum.onion" if base == ARCHIVED_PAGE else None}
    assert got is not None
    assert urlsplit(got).hostname in {literal, *page_hosts}


def test_base_href_is_honoured_on_the_same_host_only() -> None:
    items = '<div class="t"><a href="threads/acme.1/">Acme 5M</a></div><a class="n" href="?p=2">'
    selectors = Selectors(item="div.t", title="a", url="a", next="a.n")
    url = "http://forum.onion/community/forums/dbs.7/"
    same = extract("", selectors, url, '<base href="/community/">' + items)
    assert same.listings[0].url == "http://forum.onion/community/threads/acme.1/"
    assert same.next_url == "http://forum.onion/community/?p=2"
    other = extract("", selectors, url, '<base href="http://evil.onion/">' + items)
    assert other.listings[0].url == "http://forum.onion/community/forums/dbs.7/threads/acme.1/"


def test_next_link_to_the_page_itself_is_ignored() -> None:
    html = '<a class="next" href="?page=2#top">next</a>'
    url = "http://forum.onion/list?page=2"
    selectors = Selectors(item="div", title="a", url="a", next="a.next")
    assert extract("", selectors, url, html).next_url is None
    assert extract("", selectors, "http://forum.onion/list?page=1", html).next_url == url


@pytest.mark.parametrize(
    "html",
    [
        "",
        "\x00" * 1000,
        "".join(chr(i) for i in range(0, 0x3000, 7)),
        "<div class='thread'>" * 50_000 + "<a class='title' href='/t/1'>deep 5M rows</a>",
        "<div class='thread'></span>" * 20_000,
        "<select>" + "<option>x</option>" * 20_000,
        "<p>no items here</p>" * 20_000,
        "<div class='thread'><a class='title' href='/t/1'>t</a></div>" * 5_000,
    ],
)
def test_hostile_shapes_never_raise(html: str) -> None:
    result = get_engine(source(HOSTILE, HOSTILE_URL)).extract(html, HOSTILE_URL)
    assert isinstance(result, PageExtract)
    assert len(result.listings) <= 1000


def test_deep_nesting_is_flattened_but_text_kept() -> None:
    tree = parse_html("<div>" * 50_000 + "<b>needle</b>" + "</div>" * 50_000 + "<i>after</i>")
    assert len(tree.css("div")) <= MAX_DEPTH
    assert tree.css_first("b") is None  # too deep: the tag goes, its text stays
    assert tree.body is not None and tree.body.text().split() == ["needle", "after"]
    assert tree.css_first("i") is not None  # markup after the deep part is intact
    # end tags without a matching open element do not hide the nesting
    assert len(parse_html("<div></span>" * 5_000).css("div")) <= MAX_DEPTH


def test_real_pages_are_parsed_unchanged() -> None:
    big_script = "<script>" + "for (i = 0; i<n; i++) { a<b; }\n" * 2_000 + "</script>"
    for name in ("mybb_forumdisplay.html", "woocommerce_products.html", "phpbb_viewforum.html"):
        page = (FIXTURES / name).read_text(encoding="utf-8")
        page = page.replace("</head>", big_script + "</head>")
        plain = LexborHTMLParser(page)
        plain.strip_tags(["script", "style"])
        assert len(parse_html(page).css("*")) == len(plain.css("*")), name


TAG_SOUP = st.sampled_from(
    ["<div class='thread'>", "</div>", "<a class='title' href='", "/t/1", "http://x.onion/t/2",
     "javascript:x", "'>", "</a>", "<span class='by'>", "</span>", "<script>", "</script>",
     "<!--", "-->", "<a class='next' href='?p=2'>", "1.2M rows", "10 BTC", "\x00", "\u202e",
     "\ud800", "<", ">", "&amp;", "&#0;", "<table>", "<tr><td>", "<select><option>"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(st.characters(exclude_categories=()), max_size=2000),
        st.lists(TAG_SOUP | st.text(max_size=5), max_size=200).map("".join),
    )
)
def test_extract_never_raises(html: str) -> None:
    engine = get_engine(source(replace(HOSTILE, id_pattern=r"(\d+)"), HOSTILE_URL))
    result = engine.extract(html, HOSTILE_URL)
    ids = [x.external_id for x in result.listings]
    assert len(ids) == len(set(ids))
    for listing in result.listings:
        assert listing.title and len(listing.title) <= 500
        assert listing.url.startswith("http://dumpzone.onion/")


# ------------------------------------------------------------------- engines


def test_registry() -> None:
    assert "css" in ENGINES
    engine: Engine = get_engine(source(MYBB))
    assert isinstance(engine.extract("", MYBB_URL), PageExtract)


def test_unknown_engine() -> None:
    with pytest.raises(ExtractError, match=r"unknown engine 'vbulletin'.*css"):
        get_engine(source(MYBB, engine="vbulletin"))


def test_css_engine_needs_selectors() -> None:
    with pytest.raises(ExtractError, match="needs"):
        get_engine(source(None))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": "a["}, "title"),
        ({"item": "tr..row"}, "item"),
        ({"url": "a:::href@href"}, "url"),
        ({"seller": "div.author a, "}, "seller"),
        ({"price": ",span"}, "price"),
        ({"next": "a.next:nth-child(x)"}, "next"),
        ({"posted": "   "}, "posted"),
        ({"item": "tr.row@id"}, "item"),
        ({"title": "@"}, "title"),
        ({"id_pattern": "tid=(\\d+"}, "id_pattern"),
    ],
)
def test_bad_selectors_fail_at_get_engine(change: dict[str, str], message: str) -> None:
    with pytest.raises(ExtractError, match=message):
        get_engine(source(replace(MYBB, **change)))


def test_selector_lists_and_attributes_compile() -> None:
    selectors = replace(
        MYBB,
        title="span.subject_new > a, span.subject_old > a, a[title*='@']",
        id="@data-tid, span[id^='tid_']@id",
        posted="time@datetime, span.thread_start_datetime",
    )
    listings = extract("mybb_forumdisplay.html", selectors, MYBB_URL).listings
    assert len(listings) == 7
    assert listings[1].posted_raw == "06-30-2026, 02:02 PM"


def test_each_sticky_alternative_marks_its_own_items() -> None:
    from monitor.extract.css import CssEngine

    spec = {"item": "li", "title": "a", "url": "a", "sticky": ".pin, img[alt='Sticky'], b.top"}
    rows = [
        "<li><a href='/t/1'>Acme 1M</a><span class='pin'></span></li>",
        "<li><a href='/t/2'>Acme 2M</a></li>",
        "<li><a href='/t/3'>Acme 3M</a><img alt='Sticky'></li>",
        "<li><a href='/t/4'>Acme 4M</a><b class='top'>x</b><i class='pin'></i></li>",
        "<li><a href='/t/5'>Acme 5M</a><b>x</b></li>",
    ]
    html = "<ul>" + "".join(rows) + "</ul>"
    engine = CssEngine(replace(source(None), skip_sticky=False), spec)
    found = engine.extract(html, MYBB_URL).listings
    assert [li.sticky for li in found] == [True, False, True, True, False]
