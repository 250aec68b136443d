"""Asking prices in listing text: amounts, currencies, auctions, negotiable offers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.extract import prices
from monitor.extract.prices import CURRENCIES, parse_price, parse_prices, post_price
from monitor.models import Price

N = None  # no amount / no currency / no usd
PRICES = [
    # text, amount, currency, usd, negotiable
    ("10 BTC", 10.0, "BTC", N, False),
    ("0.5 XMR", 0.5, "XMR", N, False),
    ("10 bitcoin", 10.0, "BTC", N, False),
    ("$200,000", 200_000.0, "USD", 200_000.0, False),
    ("200k$", 200_000.0, "USD", 200_000.0, False),
    ("$1.5k", 1_500.0, "USD", 1_500.0, False),
    ("1 500 USD", 1_500.0, "USD", 1_500.0, False),
    ("€300", 300.0, "EUR", N, False),
    ("300 €", 300.0, "EUR", N, False),
    ("0.05 BTC", 0.05, "BTC", N, False),
    ("0.500 BTC", 0.5, "BTC", N, False),
    ("USDT 500", 500.0, "USDT", 500.0, False),
    ("500 usdt", 500.0, "USDT", 500.0, False),
    ("2 ETH", 2.0, "ETH", N, False),
    ("3 LTC", 3.0, "LTC", N, False),
    ("₿0.25", 0.25, "BTC", N, False),
    ("US$ 750", 750.0, "USD", 750.0, False),
    ("$5,000.00", 5_000.0, "USD", 5_000.0, False),
    ("5.000,00 €", 5_000.0, "EUR", N, False),
    ("1000 руб", 1_000.0, "RUB", N, False),
    ("bitcoin: 0.5", 0.5, "BTC", N, False),
    ("Price: 2k usd", 2_000.0, "USD", 2_000.0, False),
    # auctions: the start price is the amount
    ("Start 400$ Step 100$ Blitz 1500$", 400.0, "USD", 400.0, False),
    ("Старт - 100$, шаг - 20$, блиц - 200$", 100.0, "USD", 100.0, False),
    ("Blitz 1500$ Start 400$", 400.0, "USD", 400.0, False),
    ("Blitz 1500$", 1_500.0, "USD", 1_500.0, False),
    ("cabin 30$ restart 50$", 30.0, "USD", 30.0, False),  # no labels inside words
    # alternatives: the first is the asking price; a USD equivalent fills usd
    ("10 bitcoin or $200,000", 10.0, "BTC", 200_000.0, False),
    ("10 BTC (~$200k)", 10.0, "BTC", 200_000.0, False),
    # negotiable
    ("negotiable", N, N, N, True),
    ("DM for price", N, N, N, True),
    ("PM me", N, N, N, True),
    ("Price on request", N, N, N, True),
    ("договорная", N, N, N, True),
    ("торг", N, N, N, True),
    ("цена в лс", N, N, N, True),
    ("价格私聊", N, N, N, True),
    ("500$ (negotiable)", 500.0, "USD", 500.0, True),
    ("Acme 2.3M rows $5k obo", 5_000.0, "USD", 5_000.0, True),
    ("$900, торг уместен", 900.0, "USD", 900.0, True),
    # titles carry prices too
    ("[SELLING] Shanghai National Police DB 1B people | 10 BTC", 10.0, "BTC", N, False),
]

NO_PRICE = [
    "1 billion records",
    "Shanghai police database - 1 billion records",
    "Fiction Airlines PNR 480k",
    "5M users",
    "Step 100$",  # a bid step is never the asking price
    "торговля базами",
    "0 USD",
    "12:30 PM",
    "v2 btc",
    "",
]


@pytest.mark.parametrize(("text", "amount", "currency", "usd", "negotiable"), PRICES)
def test_prices(
    text: str, amount: float | None, currency: str | None, usd: float | None, negotiable: bool
) -> None:
    price = parse_price(text)
    assert price is not None, text
    assert (price.amount, price.currency, price.usd, price.negotiable) == (
        amount,
        currency,
        usd,
        negotiable,
    )


@pytest.mark.parametrize("text", NO_PRICE)
def test_no_price(text: str) -> None:
    assert parse_price(text) is None


def test_table_is_large_enough() -> None:
    assert len(PRICES) >= 25


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("Start 400$ Step 100$ Blitz 1500$", "Start 400$ Step 100$ Blitz 1500$"),
        ("10 bitcoin or $200,000", "10 bitcoin or $200,000"),
        ("Shanghai police DB 1B people | 10 BTC", "10 BTC"),
        ("500$ (negotiable)", "500$ (negotiable)"),
        ("Qatar 13k - DM for price", "DM for price"),
    ],
)
def test_raw_is_the_price_text(text: str, raw: str) -> None:
    price = parse_price(text)
    assert price is not None
    assert price.raw == raw


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("price: 2k", [(2000.0, None, "ask")]),  # labelled, currency not stated
        ("Price: 2k (0.05 BTC)", [(0.05, "BTC", "ask"), (2000.0, None, "alternative")]),
        ("Was $500, now $300", [(300.0, "USD", "ask"), (500.0, "USD", "alternative")]),
        ("起拍 1000U 加价 100U", [(1000.0, "USDT", "start"), (100.0, "USDT", "step")]),
        ("Revenue $50M | Blitz 5000$", [(5000.0, "USD", "blitz")]),
        ("Acme 480k - 0.5 ETH", [(0.5, "ETH", "ask")]),  # no range: lower > upper
    ],
)
def test_price_rules(text: str, amounts: list[tuple[float, str | None, str]]) -> None:
    assert [(p.amount, p.currency, p.kind) for p in parse_prices(text)] == amounts


def test_price_is_a_model_price() -> None:
    assert parse_price("10 BTC") == Price(amount=10.0, currency="BTC", raw="10 BTC")


TOKENS = st.sampled_from(
    ["1", "0", "10", "1,000", "0.5", ".", ",", " ", "-", "$", "€", "₿", "k", "kk", "btc",
     "USDT", "usd", "start", "step", "blitz", "старт", "шаг", "блиц", "or", "(", ")", "~",
     "negotiable", "торг", "DM for price", "price:", "цена", "only", "xmr", "u", "元", "价格",
     "起拍", "was", "revenue", "пм", "\u200b", "\x00", "\ud800", "İ", "9" * 40, ",000" * 7]
)  # fmt: skip
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)


@given(st.one_of(ANY_TEXT, st.lists(TOKENS | ANY_TEXT, max_size=40).map("".join)))
def test_never_raises(text: str) -> None:
    price = parse_price(text)
    if price is not None:
        assert price.negotiable or price.amount is not None
        assert price.amount is None or 0 < price.amount < 1e12
        assert price.currency is None or price.currency in CURRENCIES


@settings(max_examples=500)
@given(st.data())
def test_every_negotiable_or_free_marker_holds_one_of_the_words_looked_for_first(
    data: st.DataObject,
) -> None:
    """_DEAL_WORDS and _FREE_WORDS let the parsers skip their regexes on a text that
    holds none of the words: every match must hold one."""
    for pattern, words in ((prices._NEGOTIABLE, prices._DEAL_WORDS),
                           (prices._FREE, prices._FREE_WORDS)):  # fmt: skip
        text = data.draw(st.from_regex(pattern)).lower()
        for match in pattern.finditer(text):
            assert any(word in match[0] for word in words), match[0]


@pytest.mark.parametrize(
    ("post", "expected"),
    [
        (
            "Acme DB, 1.2M rows, revenue $50M. Price: $500. Sample: 100 lines for $10",
            (500.0, "USD"),
        ),
        ("Продаю базу. Цена - 0.5 BTC, гарант", (0.5, "BTC")),
        ("数据库出售 价格：5000 USDT 私聊", (5000.0, "USDT")),
        ("Auction. Start: 400$ Step: 50$ Blitz: 2000$", (400.0, "USD")),
        ("Price: DM me. Sample 100 lines for $10", (None, None)),  # negotiable, not $10
        ("Fresh dump of 2M users, sold last week for $300", None),  # no label: no price
        ("Company revenue: $80M, 2,000 employees", None),
        ("", None),
    ],
)
def test_a_post_price_is_only_a_labelled_one(post: str, expected: tuple[Any, ...] | None) -> None:
    price = post_price(post)
    assert (None if price is None else (price.amount, price.currency)) == expected
    if expected == (None, None):
        assert price is not None and price.negotiable
