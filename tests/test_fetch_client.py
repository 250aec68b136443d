"""Unit tests of the HTTP layer with respx: caps, decoding, redirects, refusals."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from dataclasses import replace

import pytest
import respx
import stamina

from monitor.errors import ConfigError
from monitor.fetch import Fetcher, block_reason, decode_body, proxy_url
from monitor.models import Page, PageOutcome, Source, TorSettings

ONION = "http://" + "a" * 56 + ".onion"
TOR = TorSettings(socks="socks5h://127.0.0.1:9050")
SOURCE = Source(
    name="forum", url=ONION + "/", engine="css", every=60, max_bytes=100_000, min_delay=0
)
PAGE = "<html><body>" + "<p>a real forum page with enough visible text</p>" * 5 + "</body></html>"


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    """Retries keep their count but do not wait."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


def get_with(router: respx.MockRouter, url: str, source: Source = SOURCE) -> Page:
    async def go() -> Page:
        async with Fetcher(TOR, source) as f:
            return await f.get(url)

    with router:
        return asyncio.run(go())


def test_proxy_url_is_socks5h_with_a_username_per_source() -> None:
    assert proxy_url(TOR, "forum") == "socks5h://leakmon-forum:x@127.0.0.1:9050"
    assert proxy_url(TOR, "shop") != proxy_url(TOR, "forum")


@pytest.mark.parametrize(
    "socks", ["socks5://127.0.0.1:9050", "http://127.0.0.1:8080", "", "socks5h://"]
)
def test_no_socks5h_proxy_means_no_client(socks: str) -> None:
    with pytest.raises(ConfigError):
        Fetcher(TorSettings(socks=socks), SOURCE)


def test_ok_page() -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(200, html=PAGE)
    page = get_with(router, ONION + "/")
    assert page.outcome is PageOutcome.OK
    assert page.status == 200
    assert "real forum page" in page.text


def test_clearnet_refused_without_allow_clearnet() -> None:
    router = respx.mock(assert_all_called=False)
    route = router.get("http://example.com/").respond(200, html=PAGE)
    page = get_with(router, "http://example.com/")
    assert page.outcome is PageOutcome.FAILED
    assert page.reason == "refused"
    assert not route.called


def test_clearnet_allowed_when_source_says_so() -> None:
    router = respx.mock(assert_all_called=False)
    router.get("http://example.com/").respond(200, html=PAGE)
    source = replace(SOURCE, url="http://example.com/", allow_clearnet=True)
    page = get_with(router, "http://example.com/", source)
    assert page.outcome is PageOutcome.OK


def test_other_host_refused() -> None:
    other = "http://" + "b" * 56 + ".onion/"
    router = respx.mock(assert_all_called=False)
    route = router.get(other).respond(200, html=PAGE)
    page = get_with(router, other)
    assert (page.outcome, page.reason) == (PageOutcome.FAILED, "refused")
    assert "another host" in (page.error or "")
    assert not route.called


def test_redirect_to_clearnet_refused() -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(302, headers={"Location": "http://evil.example/"})
    evil = router.get("http://evil.example/").respond(200, html=PAGE)
    page = get_with(router, ONION + "/")
    assert page.reason == "refused"
    assert not evil.called


def test_redirect_same_host_followed_and_loop_stopped() -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/a").respond(301, headers={"Location": "/b"})
    router.get(ONION + "/b").respond(200, html=PAGE)
    assert get_with(router, ONION + "/a").outcome is PageOutcome.OK
    loop = respx.mock(assert_all_called=False)
    loop.get(ONION + "/x").respond(302, headers={"Location": "/y"})
    loop.get(ONION + "/y").respond(302, headers={"Location": "/x"})
    page = get_with(loop, ONION + "/x")
    assert page.reason == "refused"
    assert "redirects" in (page.error or "")


def test_http_error_is_classified() -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(503, html="busy")
    page = get_with(router, ONION + "/")
    assert (page.outcome, page.reason, page.status) == (PageOutcome.FAILED, "http_error", 503)


def test_attachment_content_type_refused() -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/dump.zip").respond(
        200, content=b"PK\x03\x04", headers={"Content-Type": "application/zip"}
    )
    assert get_with(router, ONION + "/dump.zip").reason == "refused"


def test_wire_cap() -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(200, html="x" * 200_000)
    page = get_with(router, ONION + "/")
    assert page.reason == "too_large"


def test_gzip_bomb_stopped_at_decoded_cap() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)  # ~20 KB on the wire, 20 MB decoded
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(
        200, content=bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    page = get_with(router, ONION + "/")
    assert page.reason == "too_large"
    assert "decoded" in (page.error or "")


def test_gzip_body_decoded() -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(
        200,
        content=gzip.compress(PAGE.encode()),
        headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
    )
    page = get_with(router, ONION + "/")
    assert page.outcome is PageOutcome.OK
    assert "real forum page" in page.text


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        (
            "<html><body><h1>Please solve the CAPTCHA to continue to the forum</h1></body></html>",
            "blocked:captcha",
        ),
        (
            "<html><body>You are in a queue. Your estimated wait time is 2 minutes.</body></html>",
            "blocked:ddos_queue",
        ),
        (
            "<body>You must be logged in to view this forum. Login or register.</body>",
            "blocked:login_wall",
        ),
        (
            "<body>The site is under maintenance. We will be back soon, friends.</body>",
            "blocked:maintenance",
        ),
        ("<html><body></body></html>", "blocked:empty"),
    ],
)
def test_block_pages(html: str, reason: str) -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(200, html=html)
    page = get_with(router, ONION + "/")
    assert page.outcome is PageOutcome.BLOCKED
    assert page.reason == reason


FORUM_DOC = (
    "<!DOCTYPE html><html><head><title>Databases</title></head><body><table>"
    + "<tr class='inline_row'><td><a href='showthread.php?tid=1'>A thread title</a></td></tr>" * 20
    + "</table></body></html>"
)


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        "</h1></center><hr><center>nginx/1.24.0 (Ubuntu) on this host</center></body></html>",
        "<html><body><h1>MyBB SQL Error</h1><p>MyBB has experienced an internal SQL error "
        "and cannot continue.</p></body></html>",
        "<!DOCTYPE html><html><body><h1>Error establishing a database connection</h1></body>"
        "</html>",
        "<html><body><h1>Service Unavailable</h1><p>The server is temporarily unable to "
        "service your request.</p></body></html>",
    ],
)
def test_server_error_pages_are_block_pages(html: str) -> None:
    """Error pages served with 200 are not an empty listing page (which would look like
    every listing vanished)."""
    assert block_reason(html) == "error_page"


def test_a_document_cut_off_before_its_end_is_truncated() -> None:
    cut = FORUM_DOC[: len(FORUM_DOC) // 2]
    assert block_reason(cut) == "truncated"
    assert block_reason(FORUM_DOC[: FORUM_DOC.index("</table>")]) == "truncated"  # ends on a tag
    assert block_reason(FORUM_DOC) is None
    # documents that legitimately leave out </html> (or are fragments) are content
    assert block_reason(FORUM_DOC.replace("</html>", "")) is None
    assert block_reason(FORUM_DOC.replace("<!DOCTYPE html><html>", "")[:500]) is None
    # a long page that merely mentions an error phrase is content
    long_page = FORUM_DOC.replace(
        "</table>", "<tr><td>" + "more text " * 400 + "</td></tr></table>"
    )
    assert block_reason(long_page.replace("A thread title", "Bad Gateway logs dump")) is None


def test_source_block_marker() -> None:
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(200, html=PAGE + "<p>Access code required (forum gate)</p>")
    source = replace(SOURCE, block_markers=("forum gate",))
    assert get_with(router, ONION + "/", source).reason == "blocked:marker"


def test_decode_windows_1251_and_gb18030() -> None:
    ru = "<html><head><meta charset='windows-1251'></head><body>База 1.1кк строк</body></html>"
    assert "База 1.1кк строк" in decode_body(ru.encode("cp1251"), "text/html")
    zh = "<html><body>10亿条 公安 数据 上海</body></html>"
    assert "10亿条 公安 数据" in decode_body(zh.encode("gb18030"), "text/html; charset=gb18030")
    assert decode_body("héllo".encode(), "text/html") == "héllo"


def test_redirect_to_another_onion_only_when_the_source_allows_it() -> None:
    mirror = "http://" + "b" * 56 + ".onion"
    router = respx.mock(assert_all_called=False)
    router.get(ONION + "/").respond(302, headers={"Location": mirror + "/forum"})
    router.get(mirror + "/forum").respond(200, html=PAGE)
    assert get_with(router, ONION + "/").reason == "refused"
    allowed = replace(SOURCE, onion_redirects=True)
    assert get_with(router, ONION + "/", allowed).outcome is PageOutcome.OK
    router.get(ONION + "/out").respond(302, headers={"Location": "http://clear.example/"})
    assert get_with(router, ONION + "/out", allowed).reason == "refused"  # never clearnet
