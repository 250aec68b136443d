from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.models import (
    Event,
    EventKind,
    Listing,
    NotifyTarget,
    Price,
    Records,
    Rule,
)
from monitor.rules import FIELD_LIMIT, alert_id, alerts_for, clean, compile_rule, normalize

NOW = datetime(2022, 6, 30, 12, 0, tzinfo=UTC)
BILLION = Records(1_000_000_000, "1 billion")
TEN_BTC = Price(10.0, "BTC", "10 BTC")
TARGETS = (NotifyTarget("slack", "slack://a/b/c", "slack"), NotifyTarget("mail", "mailto://x"))


def listing(
    title: str = "Shanghai police database - 1 billion records",
    *,
    seller: str | None = "ChinaDan",
    source: str = "darkforum",
    records: Records | None = BILLION,
    price: Price | None = TEN_BTC,
    ext: str = "1",
) -> Listing:
    return Listing(
        source=source,
        external_id=ext,
        url=f"http://forum.onion/thread-{ext}",
        title=title,
        seller=seller,
        price=price,
        records=records,
    )


def event(
    lst: Listing | None,
    kind: EventKind = EventKind.NEW,
    details: dict[str, Any] | None = None,
    eid: str = "ev1",
) -> Event:
    return Event(
        id=eid,
        kind=kind,
        source=lst.source if lst else "darkforum",
        crawl_id="crawl1",
        at=NOW,
        listing_id=lst.id if lst else None,
        details=details or {},
    )


def matches(rule: Rule, lst: Listing) -> bool:
    return compile_rule(rule).matches_listing(lst)


# ------------------------------------------------------------------ keywords

KEYWORD_CASES = [
    # keyword, title, seller, expected
    ("china", "China police DB", None, True),
    ("china", "CHINA's citizens", None, True),
    ("china", "Chinatown restaurant customers", None, False),
    ("china", "Made-in-China vendors", None, True),
    ("police database", "Shanghai Police   Database 2022", None, True),
    ("police database", "Shanghai police\tdatabase", None, True),
    ("police database", "police databases for sale", None, False),
    ("police database", "police-database dump", None, False),
    ("мвд", "Продаю базу МВД России", None, True),
    ("база", "Продаю базу МВД", None, False),  # inflected form is another word
    ("мвд", "Продаю базу МВДшников", None, False),
    ("ФСБ", "слив фсб 2023", None, True),
    ("上海", "出售上海警察数据库", None, True),
    ("警察数据", "出售上海警察数据库10亿", None, True),
    ("上海", "Shanghai police", None, False),
    ("データ", "顧客データベース販売", None, True),
    ("shanghai", "Sh\u200banghai police", None, True),
    ("shanghai", "Shang\u2060hai police", None, True),
    ("shanghai", "Shang\u00adhai police", None, True),
    ("shanghai", "\ufeffShanghai police", None, True),
    ("shanghai", "Ｓｈａｎｇｈａｉ police", None, True),
    ("shanghai", "SHANGHAI", None, True),
    ("Ｓｈａｎ\u200bｇｈａｉ", "shanghai", None, True),  # the keyword is normalised too
    ("straße", "STRASSE customer list", None, True),  # casefold
    ("chinadan", "1B records", "ChinaDan", True),  # seller is part of the text
    ("c++", "C++ devs leak", None, True),
]


@pytest.mark.parametrize(("keyword", "title", "seller", "expected"), KEYWORD_CASES)
def test_keyword_matching(keyword: str, title: str, seller: str | None, expected: bool) -> None:
    assert matches(Rule("r", any=(keyword,)), listing(title, seller=seller)) is expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (Rule("r"), True),  # no keywords: every listing
        (Rule("r", any=("police", "hospital")), True),
        (Rule("r", any=("hospital", "bank")), False),
        (Rule("r", all=("shanghai", "police")), True),
        (Rule("r", all=("shanghai", "hospital")), False),
        (Rule("r", any=("police",), exclude=("fake",)), True),
        (Rule("r", any=("police",), exclude=("records",)), False),
        (Rule("r", all=("police",), any=("bank",)), False),
        (Rule("r", exclude=("chinadan",)), False),  # exclude sees the seller too
    ],
)
def test_any_all_exclude(rule: Rule, expected: bool) -> None:
    assert matches(rule, listing()) is expected


@pytest.mark.parametrize(
    ("rule", "lst", "expected"),
    [
        (Rule("r", sources=("darkforum",)), listing(), True),
        (Rule("r", sources=("leakshop",)), listing(), False),
        (Rule("r", sellers=("chinadan",)), listing(), True),
        (Rule("r", sellers=("CHINADAN",)), listing(seller="ChinaDan"), True),
        (Rule("r", sellers=("chinadan",)), listing(seller="Ｃｈｉｎａ\u200bＤａｎ"), True),
        (Rule("r", sellers=("china",)), listing(seller="ChinaDan"), False),  # exact, not part
        (Rule("r", sellers=("chinadan",)), listing(seller=None), False),
        (Rule("r", min_records=1_000_000), listing(), True),
        (Rule("r", min_records=1_000_000_000), listing(), True),
        (Rule("r", min_records=1_000_000_001), listing(), False),
        (Rule("r", min_records=1), listing(records=None), False),
        (Rule("r"), listing(records=None, seller=None, price=None), True),
    ],
)
def test_sources_sellers_min_records(rule: Rule, lst: Listing, expected: bool) -> None:
    assert matches(rule, lst) is expected


def test_normalize() -> None:
    assert normalize("  Ｓｈａｎ\u200bｇｈａｉ \n\t POLICE\u202e ") == "shanghai police"


# ------------------------------------------------------------------ events


def test_event_kind_filter() -> None:
    lst = listing()
    rule = Rule("new-only", events=(EventKind.NEW,))
    evs = [event(lst, EventKind.NEW, eid="a"), event(lst, EventKind.DELETED, eid="b")]
    alerts = alerts_for(evs, {lst.id: lst}, [rule], TARGETS[:1], NOW)
    assert [a.event_id for a in alerts] == ["a"]


def test_price_drop_matches_only_changed_events_flagged_as_drops() -> None:
    lst = listing()
    rule = Rule("drops", events=(EventKind.PRICE_DROP,))
    drop = {"changes": [{"field": "price", "before": "10 BTC", "after": "8 BTC"}]}
    evs = [
        event(lst, EventKind.CHANGED, {**drop, "price_drop": True}, eid="drop"),
        event(lst, EventKind.CHANGED, {**drop, "price_drop": False}, eid="rise"),
        event(lst, EventKind.CHANGED, {}, eid="plain"),
        event(lst, EventKind.NEW, {"price_drop": True}, eid="new"),
    ]
    alerts = alerts_for(evs, {lst.id: lst}, [rule], TARGETS[:1], NOW)
    assert [a.event_id for a in alerts] == ["drop"]


def test_changed_and_price_drop_in_one_rule_give_one_alert() -> None:
    lst = listing()
    rule = Rule("both", events=(EventKind.CHANGED, EventKind.PRICE_DROP))
    ev = event(lst, EventKind.CHANGED, {"price_drop": True})
    assert len(alerts_for([ev], {lst.id: lst}, [rule], TARGETS[:1], NOW)) == 1


def test_source_events_and_unknown_listings_raise_no_rule_alerts() -> None:
    lst = listing()
    evs = [
        event(None, EventKind.LAYOUT_CHANGED, eid="layout"),
        event(None, EventKind.SOURCE_DOWN, eid="down"),
        event(listing(ext="999"), EventKind.NEW, eid="unknown"),
    ]
    assert alerts_for(evs, {lst.id: lst}, [Rule("all")], TARGETS, NOW) == ()


# ------------------------------------------------------------------ fan-out and ids


def test_targets_fan_out() -> None:
    lst = listing()
    rules = [Rule("everywhere"), Rule("slack-only", targets=("slack",))]
    alerts = alerts_for([event(lst)], {lst.id: lst}, rules, TARGETS, NOW)
    assert [(a.rule, a.target) for a in alerts] == [
        ("everywhere", "slack"),
        ("everywhere", "mail"),
        ("slack-only", "slack"),
    ]
    assert len({a.id for a in alerts}) == 3
    assert all(a.created == NOW and a.attempts == 0 and a.next_attempt is None for a in alerts)


def test_rule_naming_an_unconfigured_target_still_gets_its_alert() -> None:
    lst = listing()
    rule = Rule("r", targets=("pager", "pager"))
    alerts = alerts_for([event(lst)], {lst.id: lst}, [rule], TARGETS, NOW)
    assert [a.target for a in alerts] == ["pager"]


def test_no_targets_no_alerts() -> None:
    lst = listing()
    assert alerts_for([event(lst)], {lst.id: lst}, [Rule("r")], (), NOW) == ()


def test_ids_are_deterministic_and_unique_per_event_rule_target() -> None:
    lst = listing()
    evs = [event(lst, eid="e1"), event(lst, EventKind.DELETED, eid="e2")]
    rules = [Rule("a"), Rule("b")]
    first = alerts_for(evs, {lst.id: lst}, rules, TARGETS, NOW)
    again = alerts_for(evs, {lst.id: lst}, rules, TARGETS, NOW)
    assert first == again
    assert len({a.id for a in first}) == len(first) == 8
    expected = hashlib.sha256(b"e1|a|slack").hexdigest()[:20]
    assert first[0].id == expected == alert_id("e1", "a", "slack")
    assert re.fullmatch(r"[0-9a-f]{20}", expected)


# ------------------------------------------------------------------ alert text


def single(ev: Event, lst: Listing, rule: Rule | None = None) -> tuple[str, list[str]]:
    rule = rule or Rule("shanghai-police", severity="high")
    (alert,) = alerts_for([ev], {lst.id: lst}, [rule], TARGETS[:1], NOW)
    return alert.title, alert.body.split("\n")


def test_new_alert_text() -> None:
    lst = listing()
    title, body = single(event(lst), lst)
    assert title == "[high] new: Shanghai police database - 1 billion records (darkforum)"
    assert body == [
        "Seller: ChinaDan",
        "Records: 1,000,000,000 (1 billion)",
        "Price: 10 BTC",
        "Source: darkforum",
        "URL: http://forum.onion/thread-1",
        "Rule: shanghai-police",
        "Detected: 2022-06-30 12:00 UTC",
    ]


def test_unknown_fields_and_usd_estimate() -> None:
    lst = listing(seller=None, records=None, price=Price(10.0, "BTC", "10 BTC", usd=200_000.0))
    _, body = single(event(lst), lst)
    assert body[:3] == ["Seller: unknown", "Records: unknown", "Price: 10 BTC (≈ $200,000)"]


def test_changed_alert_text() -> None:
    lst = listing()
    changes = [{"field": "price", "before": "10 BTC", "after": "8 BTC"}]
    ev = event(lst, EventKind.CHANGED, {"changes": changes, "price_drop": True})
    title, body = single(ev, lst)
    assert title == (
        "[high] changed: Shanghai police database - 1 billion records (darkforum): "
        "price 10 BTC → 8 BTC"
    )
    assert body[-2:] == ["Changed price: 10 BTC → 8 BTC", "Price drop: yes"]


def test_changed_records_and_title() -> None:
    lst = listing()
    changes = [
        {"field": "records", "before": 1_000_000, "after": 2_000_000},
        {"field": "title", "before": "old title", "after": lst.title},
        {"field": "seller", "before": None, "after": "ChinaDan"},
    ]
    title, body = single(event(lst, EventKind.CHANGED, {"changes": changes}), lst)
    assert title.endswith(": records 1,000,000 → 2,000,000; title changed; seller none → ChinaDan")
    assert body[-3:] == [
        "Changed records: 1,000,000 → 2,000,000",
        f"Changed title: old title → {lst.title}",
        "Changed seller: none → ChinaDan",
    ]


def test_deleted_alert_text() -> None:
    lst = listing()
    details = {"first_seen": "2022-06-20T08:00:00+00:00", "last_seen": "2022-06-27T11:30:00+02:00"}
    title, body = single(event(lst, EventKind.DELETED, details), lst)
    assert title == (
        "[high] deleted: Shanghai police database - 1 billion records (darkforum), "
        "seen 2022-06-20 to 2022-06-27"
    )
    assert body[-4:] == [
        "First seen: 2022-06-20 08:00 UTC",
        "Last seen: 2022-06-27 09:30 UTC",
        "Up for: 7 days 1 hours",
        "Evidence: leakmon show darkforum:1",
    ]


def test_reposted_alert_text() -> None:
    lst = listing(source="leakshop")
    details = {
        "original_id": "darkforum:77",
        "original_title": "SH police DB 1B",
        "original_source": "darkforum",
        "original_seller": "ChinaDan",
    }
    title, body = single(event(lst, EventKind.REPOSTED, details), lst)
    assert title == (
        "[high] reposted: Shanghai police database - 1 billion records (leakshop) "
        "(first seen as SH police DB 1B on darkforum)"
    )
    assert body[-4:] == [
        "Original: SH police DB 1B",
        "Original source: darkforum",
        "Original seller: ChinaDan",
        "Original listing: darkforum:77",
    ]


def test_restored_alert_text() -> None:
    lst = listing()
    ev = event(lst, EventKind.RESTORED, {"deleted_at": "2022-07-01T00:00:00+00:00"})
    title, body = single(ev, lst)
    assert title == "[high] restored: Shanghai police database - 1 billion records (darkforum)"
    assert body[-1] == "Deleted at: 2022-07-01 00:00 UTC"


def test_page_text_is_sanitised_in_title_and_body() -> None:
    hostile = "Shanghai\r\nBcc: evil@example.com\x1b[2J\u202edb\u200b\x85 " + "x" * 1000
    lst = listing(hostile, seller="Dan\nSeller: fake\u2066")
    title, body = single(event(lst), lst)
    for text in [title, *body]:
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069]", text)
        assert len(text) <= FIELD_LIMIT + len("Seller: ")
    assert title.startswith("[high] new: Shanghai Bcc: evil@example.com [2Jdb ")
    assert body[0] == "Seller: Dan Seller: fake"
    assert len(body) == 7  # no injected line


@given(st.text())
def test_clean_is_one_safe_line(text: str) -> None:
    out = clean(text, 50)
    assert len(out) <= 50
    assert "\n" not in out and "\r" not in out
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", out)


# --------------------------------------------------------- richer rule fields


def test_regex_price_datatypes_countries_and_first_post() -> None:
    from dataclasses import replace

    base = listing()
    rich = replace(
        base,
        price=Price(200_000.0, "USD", "$200,000", usd=200_000.0),
        data_types=("national_ids", "phones"),
        country="CN",
        first_post="Full dump of the Shanghai National Police, contact via tox",
        title="Big government DB",
    )
    assert matches(Rule("r", regex=(r"\bgov\w+\b",)), rich)
    assert not matches(Rule("r", regex=(r"^police",)), rich)
    assert matches(Rule("r", any=("db",), min_price_usd=100_000), rich)
    assert not matches(Rule("r", any=("db",), min_price_usd=300_000), rich)
    assert not matches(Rule("r", any=("police",), min_price_usd=1), base)  # no USD estimate
    assert matches(Rule("r", any=("db",), data_types=("phones", "emails")), rich)
    assert not matches(Rule("r", any=("db",), data_types=("emails",)), rich)
    assert matches(Rule("r", any=("db",), countries=("CN", "HK")), rich)
    assert not matches(Rule("r", any=("db",), countries=("RU",)), rich)
    assert not matches(Rule("r", any=("tox",)), rich)
    assert matches(Rule("r", any=("tox",), first_post=True), rich)
    assert matches(Rule("r", any=("national police",), first_post=True), rich)


def test_target_min_severity_filters_alerts() -> None:
    targets = (
        NotifyTarget("pager", "json://x", min_severity="high"),
        NotifyTarget("log", "json://y"),
    )
    lst = listing()
    low = Rule("low", any=("police",), severity="medium")
    high = Rule("high", any=("police",), severity="critical")
    got = alerts_for([event(lst)], {lst.id: lst}, [low, high], targets, NOW)
    assert sorted((a.rule, a.target) for a in got) == [
        ("high", "log"),
        ("high", "pager"),
        ("low", "log"),
    ]


def test_deleted_alert_says_how_long_it_was_up_and_where_the_evidence_is() -> None:
    from dataclasses import replace

    lst = replace(listing(), data_types=("national_ids", "phones"), country="CN")
    ev = event(
        lst,
        EventKind.DELETED,
        {"first_seen": "2022-06-30T08:00:00+00:00", "last_seen": "2022-07-03T11:00:00+00:00"},
    )
    (alert,) = alerts_for([ev], {lst.id: lst}, [Rule("r", any=("police",))], TARGETS[:1], NOW)
    assert "Up for: 3 days 3 hours" in alert.body
    assert f"Evidence: leakmon show {lst.id}" in alert.body
    assert "Data types: national_ids, phones" in alert.body
    assert "Country: CN" in alert.body
