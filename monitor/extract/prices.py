"""Asking prices in listing text: "10 BTC", "$200,000", "200k$", "USDT 500",
"Start 400$ Step 100$ Blitz 1500$", "договорная". Pure; regexes compiled once.

A price is an amount written next to a currency symbol, code or word; a bare
number never is, so record counts are not mistaken for prices. Auctions: the start
price is the amount (else the first plain amount, else the buy-now price; a step is
never the price). Of "10 bitcoin or $200,000" the first is the amount. `raw` is the
run of price text around the chosen amount (the whole auction line, both
alternatives). `usd` is set for USD-pegged amounts (USD, USDT, USDC) or, for another
currency, from a USD-pegged alternative the seller wrote next to it; never from
exchange rates (no network).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from monitor.extract.numbers import NUMBER, alternation, normalize, number_value
from monitor.models import Price

_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "₽": "RUB", "₿": "BTC"}
_CODES = {
    "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD", "долларов": "USD",
    "доллара": "USD", "доллар": "USD", "баксов": "USD", "бакса": "USD", "бакс": "USD",
    "usdt": "USDT", "tether": "USDT", "usdc": "USDC", "eur": "EUR", "euro": "EUR",
    "euros": "EUR", "евро": "EUR", "btc": "BTC", "xbt": "BTC", "bitcoin": "BTC",
    "bitcoins": "BTC", "биткоин": "BTC", "биткоина": "BTC", "биткоинов": "BTC",
    "биток": "BTC", "битка": "BTC", "xmr": "XMR", "monero": "XMR", "eth": "ETH",
    "ether": "ETH", "ethereum": "ETH", "ltc": "LTC", "litecoin": "LTC", "rub": "RUB",
    "руб": "RUB", "рублей": "RUB", "рубля": "RUB", "рубль": "RUB", "gbp": "GBP",
}  # fmt: skip
_USD_PEGGED = frozenset({"USD", "USDT", "USDC"})
_CRYPTO = frozenset({"BTC", "XMR", "ETH", "LTC"})
_MAGNITUDES = {
    "k": 1e3, "к": 1e3, "thousand": 1e3, "тыс": 1e3, "kk": 1e6, "кк": 1e6, "m": 1e6,
    "mil": 1e6, "mln": 1e6, "million": 1e6, "млн": 1e6,
}  # fmt: skip
_L = r"a-z\u00c0-\u024f\u0400-\u04ff"  # Latin and Cyrillic letters (text is lower-cased)
_CODE = rf"({alternation(_CODES)})(?![{_L}])"
# Every number, with an optional magnitude and currency after it; a currency before
# it is looked up separately. All matching runs on lower-cased text.
_AMOUNT = re.compile(
    rf"({NUMBER})(?![.,]?\d)(?: ?({alternation(_MAGNITUDES)})(?![{_L}]))?"
    rf"(?: ?(?:([$€£₽₿])|{_CODE}))?"
)
_CURRENCY_BEFORE = re.compile(rf"(?:(us\$|[$€£₽₿])|(?<![{_L}]){_CODE} ?[:\-]?) ?$")
_GLUED = re.compile(rf"[{_L}\d.,]")  # before an amount: "v2 btc", "x10$"
_LETTER = re.compile(rf"[{_L}]")  # after an amount: "$3080ti"
_LABEL = re.compile(
    r"\b(?:(start(?:ing)?(?: price| bid)?|старт(?:овая)?(?: цена)?|min(?:imum)? bid)"
    r"|(step|шаг|increment)"
    r"|(blitz|блиц|buy ?now|buyout|bin|instant|выкуп|автовыкуп))[^\w$€£₽₿]*$"
)
_NEGOTIABLE = re.compile(
    r"\b(?:negotiable|obo|(?:or )?best offer|make (?:me )?(?:an )?offer|price on request"
    r"|(?:dm|pm|message|msg|contact|ask|write)(?: me)? for (?:the )?price|(?:dm|pm) me"
    r"|price ?[:\-]? ?(?:dm|pm|ask)|договорн\w*|торг(?![а-яё])"
    r"|(?:цена )?в (?:лс|пм|личку|личных сообщениях))\b|议价|面议|私聊|可议"
)
_JOIN_GAP = 40  # price texts closer than this belong to one offer ("10 BTC or $200k")
_MAX_AMOUNT = 1e12
_START, _PLAIN, _STEP, _BLITZ = "start", "plain", "step", "blitz"


class _Offer(NamedTuple):
    start: int  # including its label ("Start 400$")
    end: int
    amount: float
    currency: str
    label: str


def parse_price(text: str) -> Price | None:
    """The asking price stated in `text` (a price field or a title), else None."""
    text = normalize(text[:2000])
    low = text.lower()
    if len(low) != len(text):  # rare letters whose lower case is longer
        text = low
    offers = _offers(low)
    deals = [m.span() for m in _NEGOTIABLE.finditer(low)]
    chosen = _choose(offers)
    if chosen is None:
        if not deals:
            return None
        start, end = _cluster(deals, deals[0])
        return Price(amount=None, currency=None, raw=text[start:end], negotiable=True)
    start, end = _cluster(sorted([(o.start, o.end) for o in offers] + deals), chosen[:2])
    if text.count("(", start, end) > text.count(")", start, end) and text[end : end + 1] == ")":
        end += 1  # "10 BTC (~$200k)"
    usd = chosen.amount if chosen.currency in _USD_PEGGED else None
    if usd is None:  # a USD figure the seller gave alongside: "10 BTC (~$200k)"
        usd = next(
            (
                o.amount
                for o in offers
                if o.currency in _USD_PEGGED and o.label == chosen.label
                and start <= o.start and o.end <= end
            ),
            None,
        )  # fmt: skip
    return Price(
        amount=chosen.amount,
        currency=chosen.currency,
        raw=text[start:end],
        usd=usd,
        negotiable=bool(deals),
    )


def _offers(low: str) -> list[_Offer]:
    """Every amount with a currency in `low`, in order, with its auction label."""
    offers: list[_Offer] = []
    previous_end = 0
    for match in _AMOUNT.finditer(low):
        number, magnitude, symbol, code = match.groups()
        start, end = match.span()
        if symbol or code:
            currency = _SYMBOLS[symbol] if symbol else _CODES[code]
            if start and _GLUED.match(low, start - 1):
                continue  # "v2 btc", "x10$"
        else:
            before = _CURRENCY_BEFORE.search(low, max(previous_end, start - 14), start)
            if before is None or _LETTER.match(low, end):
                continue
            currency = _SYMBOLS[before[1]] if before[1] else _CODES[before[2]]
            start = before.start()
        value = number_value(number, prefer_decimal=bool(magnitude) or currency in _CRYPTO)
        if magnitude:
            value *= _MAGNITUDES[magnitude]
        if not 0 < value < _MAX_AMOUNT:
            continue
        label = _LABEL.search(low, max(previous_end, start - 24), start)
        kind = _PLAIN
        if label:
            kind = _START if label[1] else _STEP if label[2] else _BLITZ
            start = label.start()
        offers.append(_Offer(start, end, value, currency, kind))
        previous_end = end
    return offers


def _choose(offers: list[_Offer]) -> _Offer | None:
    """The asking price: the start price, else the first plain amount, else buy-now."""
    for kind in (_START, _PLAIN, _BLITZ):
        for offer in offers:
            if offer.label == kind:
                return offer
    return None


def _cluster(spans: list[tuple[int, int]], seed: tuple[int, int]) -> tuple[int, int]:
    """The run of `spans` (sorted) around `seed` whose gaps are below _JOIN_GAP."""
    start, end = seed
    for s, e in spans:  # grow right
        if s >= end and s - end <= _JOIN_GAP:
            end = max(end, e)
    for s, e in reversed(spans):  # grow left
        if e <= start and start - e <= _JOIN_GAP:
            start = min(start, s)
    return start, end
