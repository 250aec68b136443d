"""The field parsers one by one: contracts that tables cannot show (USD estimates,
time zones, JSON shape) and hypothesis runs over arbitrary text and bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.extract import parse_text, urls
from monitor.extract.country import parse_country
from monitor.extract.datatypes import TYPES, parse_data_types
from monitor.extract.dates import parse_posted
from monitor.extract.numbers import parse_count, parse_records
from monitor.extract.parse import TextParser
from monitor.extract.prices import CURRENCIES, parse_price, parse_prices, usd_estimate
from monitor.extract.relative import parse_relative
from monitor.extract.size import parse_size
from monitor.extract.span import parse_span
from monitor.extract.text import _INVISIBLE, clean_text, strip_escapes
from monitor.extract.urls import resolve_url, thread_url

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
KEYS = ["records", "records_text", "size_bytes", "span", "price", "prices", "negotiable",
        "free", "data_types", "country"]  # fmt: skip


def test_parse_json_shape() -> None:
    text = "Shanghai police DB 1 billion people 1995-2019 23TB | 10 BTC or $200,000"
    parsed = parse_text(text, {"BTC": 60_000}).as_json()
    assert list(parsed) == KEYS
    assert parsed == {
        "records": 1_000_000_000,
        "records_text": "1 billion people",
        "size_bytes": 23 * 1024**4,
        "span": {"from": 1995, "to": 2019},
        "price": {"amount": 10.0, "currency": "BTC", "usd": 600_000.0},
        "prices": [
            {"kind": "ask", "amount": 10.0, "currency": "BTC", "usd": 600_000.0},
            {"kind": "alternative", "amount": 200_000.0, "currency": "USD", "usd": 200_000.0},
        ],
        "negotiable": False,
        "free": False,
        "data_types": [],
        "country": "CN",
    }


def test_nothing_parsed() -> None:
    parsed = parse_text("hello").as_json()
    assert parsed == dict.fromkeys(KEYS) | {"prices": [], "negotiable": False, "free": False,
                                            "data_types": []}  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "currency", "rates", "usd"),
    [
        (10.0, "BTC", {"BTC": 60_000}, 600_000.0),
        (10.0, "BTC", {"btc": 60_000}, 600_000.0),  # keys are case-insensitive
        (10.0, "BTC", {}, None),
        (500.0, "USDT", {}, 500.0),
        (500.0, "USDC", {"USDC": 0.5}, 500.0),  # pegged: never converted
        (2.0, "XMR", {"BTC": 60_000}, None),
        (1.0, "BTC", {"BTC": -1}, None),
        (None, "BTC", {"BTC": 1}, None),
    ],
)
def test_usd_estimate(
    amount: float | None, currency: str, rates: dict[str, float], usd: float | None
) -> None:
    assert usd_estimate(amount, currency, rates) == usd


def test_rates_beat_the_sellers_own_usd_figure() -> None:
    (btc, dollars) = parse_prices("10 BTC (~$200k)", {"BTC": 50_000})
    assert (btc.usd, dollars.kind) == (500_000.0, "alternative")
    (btc_alone, _) = parse_prices("10 BTC (~$200k)")
    assert btc_alone.usd == 200_000.0


def test_relative_dates_in_the_site_timezone() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    assert parse_posted("Вчера в 22:15", now=NOW, tz=moscow) == datetime(2026, 6, 30, 19, 15,
                                                                        tzinfo=UTC)  # fmt: skip
    assert parse_posted("2 hours ago", now=NOW, tz=moscow) == datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert parse_posted("30.06.2026 14:02", tz=moscow) == datetime(2026, 6, 30, 11, 2, tzinfo=UTC)
    assert parse_posted("2026-06-30T14:02:00Z", tz=moscow) == datetime(2026, 6, 30, 14, 2,
                                                                      tzinfo=UTC)  # fmt: skip


def test_relative_never_in_the_future_and_needs_aware_now() -> None:
    assert parse_posted("Today, 11:59 PM", now=NOW) == NOW
    assert parse_relative("2 hours ago", datetime(2026, 7, 1, 12)) is None


@pytest.mark.parametrize(
    ("text", "count"),
    [("1,204", 1204), ("12K", 12_000), ("1.2M", 1_200_000), ("1,2 тыс.", 1200), ("0", 0),
     ("17 Replies", 17), ("-", None), ("", None), ("n/a", None)],
)  # fmt: skip
def test_parse_count(text: str, count: int | None) -> None:
    assert parse_count(text) == count


def test_text_parser_memo_is_bounded_and_equivalent() -> None:
    parser = TextParser({"BTC": 1.0}, size=2)
    for text in ("a 5M", "b 10 BTC", "c", "a 5M", "d 1 BTC", "e", "b 10 BTC"):
        assert parser(text) == parse_text(text, {"BTC": 1.0})
        assert parser.price(text) == parse_price(text, {"BTC": 1.0})
        url = resolve_url(text, "http://x.onion/")
        assert parser.url(text, "http://x.onion/") == (thread_url(url) if url else None)
    assert len(parser._memo.current) <= 2 and len(parser._memo) <= 4
    assert len(parser._prices) <= 4 and len(parser._urls) <= 4


def test_text_parser_keeps_the_texts_of_the_last_two_crawls() -> None:
    parser = TextParser()
    kept = parser("Acme 5M users")
    gone = parser("Acme 6M users")
    parser.new_crawl()
    assert parser("Acme 5M users") is kept
    parser.new_crawl()
    assert parser("Acme 5M users") is kept  # used every crawl
    assert "Acme 6M users" not in parser._memo  # unused for a whole crawl
    assert parser("Acme 6M users") == gone


def test_text_parser_remembers_texts_without_a_price(monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.extract.parse as parse

    calls: list[str] = []

    def counted(text: str, rates: object = None) -> object:
        calls.append(text)
        return parse_price(text)

    monkeypatch.setattr(parse, "parse_price", counted)
    parser = TextParser()
    for _ in range(2):
        parser.new_crawl()
        assert (
            parser.price("n/a") is None and parser.url("javascript:x()", "http://x.onion/") is None
        )
    assert calls == ["n/a"]


ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=400),
    st.binary(max_size=400).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.lists(
        st.sampled_from(["1", "2019", "-", "1995", "по", "至", "GB", "ГБ", "k", "万", "亿", "$",
                         "¥", "元", "BTC", "or", "Start", "блиц", "names", "ФИО", "姓名", "🇺",
                         "🇸", "US", "[", "]", "ago", "назад", "前", "вчера", " ", ".", ","]),
        max_size=40,
    ).map("".join),
)  # fmt: skip


@given(ANY_TEXT)
def test_parsers_never_raise(text: str) -> None:
    size = parse_size(text)
    assert size is None or 0 < size <= 2**50
    span = parse_span(text)
    assert span is None or 1900 <= span[0] <= span[1] <= 2099
    assert set(parse_data_types(text)) <= set(TYPES)
    country = parse_country(text)
    assert country is None or (len(country) == 2 and country.isupper())
    count = parse_count(text)
    assert count is None or count >= 0
    when = parse_posted(text, now=NOW)
    assert when is None or when.tzinfo is UTC
    parsed = parse_text(text, {"BTC": 60_000})
    for price in parsed.prices:
        assert price.currency is None or price.currency in CURRENCIES
        assert price.amount is not None and price.amount > 0
        assert price.kind in {"ask", "start", "step", "blitz", "alternative"}
    assert parsed.prices[:1] == () or parsed.prices[0].kind in {"ask", "start", "blitz"}
    assert not (parsed.free and parsed.prices)
    # parse_text normalises once; on texts this short it reads what each parser reads
    assert (parsed.records, parsed.size_bytes, parsed.span) == (parse_records(text), size, span)
    assert (parsed.data_types, parsed.country) == (parse_data_types(text), country)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)) | st.text(), st.integers(0, 40))
def test_clean_text_ascii_shortcut_removes_what_the_full_cleaning_removes(
    value: str, limit: int
) -> None:
    """An ASCII text left printable by collapsing whitespace skips the regexes."""
    full = " ".join(_INVISIBLE.sub("", strip_escapes(value)).split())
    assert clean_text(value, limit) == full[:limit].rstrip()


@given(
    st.lists(st.sampled_from(["/threads/", "foo.1", "/", "unread", "ſ"])),
    st.sampled_from(["/threads/", "/THREADS/", "/threadſ/", "/Threads/", "/x/"]),
    st.sampled_from(["unread", "Latest/", "page-2", "POST-3", "x"]),
    st.lists(st.sampled_from(["action=newpost", "VIEW=GetLastPost", "x=1", "view=K", ""])),
)
def test_thread_url_word_check_skips_only_what_the_patterns_would_not_match(
    head: list[str], threads: str, tail: str, query: list[str]
) -> None:
    url = "http://x.onion" + "".join(head) + threads + "foo.1/" + tail
    url += "?" + "&".join(query) if query else ""
    path, _, params = url.partition("?")
    if params and urls._READ_PARAM.search(params):
        params = "&".join(p for p in params.split("&") if not urls._READ_PARAM.fullmatch(p))
    path = urls._READ_SUFFIX.sub(r"\1", path)
    assert thread_url(url) == path + ("?" + params if params else "")


BASES = ["http://Forum.onion/forumdisplay.php?fid=7", "http://forum.onion", "https://f.onion/",
         "http://f.onion/a/b/", "http://f.onion/a/../b/./c.php", "http://f.onion//a//b.php",
         "http://f.onion/a;p/b.php;q?x#y", "http://User@F.onion:8080/d/", "http://[::1]/d/",
         "http://f.onion:bad/", "ftp://f.onion/d/", "mailto:x@y", "", "f.onion/d/",
         "http://f.onion/%7Ea/B.PHP"]  # fmt: skip


@given(
    st.sampled_from(BASES),
    st.from_regex(urls._FILE_LINK, fullmatch=True)
    | st.sampled_from(["t.php?sid=0123456789abcdef0123", "a.php?", "..", "a..b", "x"]),
)
def test_a_file_link_resolves_as_the_general_case_resolves_it(base: str, href: str) -> None:
    assert resolve_url(href, base) == urls._resolve(href, base)
