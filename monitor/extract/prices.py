"""Asking prices in listing text: "10 BTC", "$200,000", "200k$", "USDT 500", "5万元",
"500-1000$", "Start 400$ Step 100$ Blitz 1500$", "Старт - 100$, шаг - 20$",
"договорная", "面议". Pure; regexes compiled once.

A price is an amount written next to a currency symbol, code or word; a bare
number never is, so record counts are not mistaken for prices. Auctions: the start
price is the primary price (else the first plain amount, else the buy-now price; a
step is never the primary price). Every other amount is kept with its kind: start,
step, blitz, or alternative ("10 bitcoin or $200,000": 10 BTC is the ask, $200,000
an alternative). A range ("500-1000$") gives its lower bound as the amount and keeps
the upper bound as an alternative. `raw` of the primary price is the run of price
text around it (the whole auction line, both alternatives). `usd`: the amount for
USD-pegged currencies (USD, USDT, USDC); else amount × `rates[currency]` (USD per
unit, from the config's offline [rates] table); else a USD-pegged figure the seller
wrote next to it ("10 BTC (~$200k)"). ¥ is read as CNY.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from monitor.extract.numbers import (
    NUMBER,
    alternation,
    first_digit,
    labelled_sentences,
    normalize,
    number_value,
)
from monitor.models import Price

_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "₽": "RUB", "₿": "BTC",
            "¥": "CNY", "￥": "CNY", "₴": "UAH"}  # fmt: skip
_CODES = {
    "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD", "долларов": "USD",
    "доллара": "USD", "доллар": "USD", "баксов": "USD", "бакса": "USD", "бакс": "USD",
    "美元": "USD", "美金": "USD", "刀": "USD", "usdt": "USDT", "tether": "USDT",
    "usdc": "USDC", "eur": "EUR", "euro": "EUR", "euros": "EUR", "евро": "EUR",
    "欧元": "EUR", "btc": "BTC", "xbt": "BTC", "bitcoin": "BTC", "bitcoins": "BTC",
    "биткоин": "BTC", "биткоина": "BTC", "биткоинов": "BTC", "биток": "BTC",
    "битка": "BTC", "比特币": "BTC", "xmr": "XMR", "monero": "XMR", "монеро": "XMR",
    "门罗币": "XMR", "eth": "ETH", "ether": "ETH", "ethereum": "ETH", "以太坊": "ETH",
    "ltc": "LTC", "litecoin": "LTC", "trx": "TRX", "sol": "SOL", "doge": "DOGE",
    "zec": "ZEC", "bnb": "BNB", "rub": "RUB", "руб": "RUB", "рублей": "RUB",
    "рубля": "RUB", "рубль": "RUB", "р": "RUB", "gbp": "GBP", "cny": "CNY",
    "rmb": "CNY", "元": "CNY", "人民币": "CNY", "块": "CNY", "uah": "UAH", "грн": "UAH",
}  # fmt: skip
CURRENCIES = frozenset(_SYMBOLS.values()) | frozenset(_CODES.values())
_USD_PEGGED = frozenset({"USD", "USDT", "USDC"})
_CRYPTO = frozenset({"BTC", "XMR", "ETH", "LTC", "TRX", "SOL", "DOGE", "ZEC", "BNB"})
_MAGNITUDES = {
    "k": 1e3, "к": 1e3, "thousand": 1e3, "тыс": 1e3, "kk": 1e6, "кк": 1e6, "m": 1e6,
    "mil": 1e6, "mln": 1e6, "million": 1e6, "млн": 1e6, "лям": 1e6, "ляма": 1e6,
    "лямов": 1e6, "т": 1e3, "千": 1e3, "万": 1e4,
}  # fmt: skip
_L = r"a-z\u00c0-\u024f\u0400-\u04ff"  # Latin and Cyrillic letters (text is lower-cased)
_CODE = rf"({alternation(_CODES)})(?![{_L}])"
# Every number, with an optional magnitude and currency after it; a currency before
# it is looked up separately. All matching runs on lower-cased text.
_AMOUNT = re.compile(
    rf"({NUMBER})(?![.,]?\d)(?: ?({alternation(_MAGNITUDES)})(?![{_L}])\.?)?"
    rf"(?: ?(?:([$€£₽₿¥￥₴])(?! ?\d)|{_CODE}))?"
)
# A currency before the amount; "XMR only 3" only where such a word occurs (the
# variant costs more and is rarely needed).
_CURRENCY_BEFORE, _CURRENCY_ONLY_BEFORE = (
    re.compile(rf"(?:(us\$|[$€£₽₿¥￥₴])|(?<![{_L}]){_CODE} ?[:\-]?({filler})) ?$")
    for filler in ("", " ?(?:only|just|всего|только)|")
)
_ONLY_WORDS = ("only", "just", "всего", "только")
# A labelled amount without a currency ("price: 2k", "Цена: 2к", "价格 5000") is a
# price whose currency is not stated.
_PRICE_LABEL = re.compile(
    r"(?:\b(?:price|asking|цена|стоимость)(?: is)?|价格|售价|总价|单价|报价|价钱)\s?[:\-–—=]?\s?$"
)
# Money that is no price: a company's revenue on an access sale ("Revenue $50M"), an
# account's balance ("accounts with balance $1k+").
_REVENUE_BEFORE = re.compile(
    r"(?:\b(?:revenue|rev|turnover|annual sales|balances?|оборот\w*|выручк\w*|доход\w*"
    r"|ревень?ю|баланс\w*)|营收|营业额|余额)"
    r"[\s:=~≈\-–—]*(?:of |около |более )?$"
)
_PRICE_WORDS = ("price", "asking", "цена", "стоимость", "价")
_REVENUE_WORDS = ("rev", "turnover", "annual sales", "balance", "оборот", "выручк", "доход",
                  "ревен", "баланс", "营收", "营业额", "余额")  # fmt: skip
# A fiat amount this big is a company's size on an access sale ("USA | $50M | DA"),
# not an asking price, unless a price or ransom word stands next to it.
_BIG_FIAT = 5e6
_FIAT = frozenset({"USD", "USDT", "USDC", "EUR", "GBP"})
_PRICE_NEAR = re.compile(r"price|ransom|asking|цена|стоимость|выкуп|价|赎金")
_REVENUE_AFTER = re.compile(r" ?(?:revenue|rev\b|turnover|оборот|выручк|ревен|营收)")
_WORD_AFTER = re.compile(rf" ?[{_L}]")
_RANGE_BEFORE = re.compile(
    rf"(?<![\d.,])({NUMBER})(?: ?({alternation(_MAGNITUDES)}))? ?(?:-|–|—|~|до|to) ?$"
)
_RANGE_AFTER = re.compile(r" ?(?:-|–|—|~|до|to) ?$")
_GLUED = re.compile(rf"[{_L}\d.,]")  # before an amount: "v2 btc", "x10$"
_LETTER = re.compile(rf"[{_L}]")  # after an amount: "$3080ti"
_CJK = re.compile(r"[\u3400-\u9fff]")
_LABEL = re.compile(
    r"\b(?:(start(?:ing)?(?: price| bid)?|старт(?:овая)?(?: цена)?|min(?:imum)? bid|起拍价?)"
    r"|(step|шаг|increment|加价)"
    r"|(blitz|блиц|buy ?now|buyout|bin|instant|выкуп|автовыкуп|一口价)"
    r"|(was|(?:original|old|regular) price(?: was)?|старая цена|было|原价))[^\w$€£₽₿¥]*$"
)
_NEGOTIABLE = re.compile(
    r"\b(?:(?<!not )(?<!non-)negotiable|obo|(?:or )?best offer|open to offers"
    r"|make (?:me )?(?:an )?offers?"
    r"|(?:dm|pm|message|msg|contact|ask|write|tg|telegram|jabber|xmpp|tox)"
    r"(?: me)? for (?:the )?(?:price|details|pricing)|(?:dm|pm) me"
    r"|price ?[:\-]? ?(?:dm|pm|ask|on request|negotiable|(?:in|via) (?:pm|dm))"
    r"|договорн\w*|торг(?![а-яё])"
    r"|по договор[её]нности|(?:цена )?по запросу"
    r"|(?:цена )?в (?:лс|пм|личку|личных сообщениях)|цена в пм|пм|лс)\b"
    r"|(?<!不)议价|面议|私聊|(?<!不)可议|价格另议|详谈"
)
# Every _NEGOTIABLE match holds one of these: looking for them first is cheaper than
# the regex, and most texts hold none.
_DEAL_WORDS = ("negotiable", "obo", "offer", "pric", "details", "m me", "договор", "торг",
               "по запросу", "лс", "пм", "лич", "议", "私聊", "详谈")  # fmt: skip
_FREE = re.compile(
    r"\b(?:free(?! (?:fire|shipping|trial|delivery|vpn|space|text))|for free|gratis)\b"
    r"|бесплатн\w*|халяв\w*|даром|免费|白嫖"
)
_FREE_WORDS = ("free", "gratis", "бесплатн", "халяв", "даром", "免费", "白嫖")  # as _DEAL_WORDS
_JOIN_GAP = 40  # price texts closer than this belong to one offer ("10 BTC or $200k")
_MAX_AMOUNT = 1e12
_START, _PLAIN, _STEP, _BLITZ, _OLD = "start", "plain", "step", "blitz", "old"
_KINDS = {_START: "start", _STEP: "step", _BLITZ: "blitz", _PLAIN: "alternative",
          _OLD: "alternative"}  # fmt: skip


class _Offer(NamedTuple):
    start: int  # including its label ("Start 400$")
    end: int
    amount: float
    currency: str | None  # None: a labelled amount without a currency ("price: 2k")
    label: str


def parse_price(text: str, rates: Mapping[str, float] | None = None) -> Price | None:
    """The primary asking price stated in `text` (a price field or a title): the first
    of `parse_prices`, else a negotiable-only price, else None."""
    prices = parse_prices(text, rates)
    return prices[0] if prices else parse_negotiable(text)


# A price a seller labels in the body of a post ("Price: $500", "Цена - 0.5 BTC",
# "价格：5000U", "Start: 400$ Step: 50$ Blitz: 2000$"). Only the sentence right after
# such a label is read, so a post's other amounts (revenue, samples, past sales)
# are never taken for its price.
_POST_LABEL = re.compile(
    r"(?<!\w)(?:(?:asking |selling |sale )?price|asking|cost|start(?:ing)?(?: price| bid)?"
    r"|цена|стоимость|старт(?:овая цена)?)\s?[:=\-–—]|(?:价格|售价|报价|起拍价)\s?[:=\-–—]?",
    re.IGNORECASE,
)


def post_price(text: str, rates: Mapping[str, float] | None = None) -> Price | None:
    """The price a post's text labels ("Price: ...", `_POST_LABEL`): the first label
    whose sentence states a price (or says it is negotiable); None when none does."""
    for sentence, _ in labelled_sentences(normalize(text[:4000]), _POST_LABEL):
        price = parse_price(sentence, rates)
        if price is not None:
            return price
    return None


def parse_negotiable(text: str) -> Price | None:
    """A price without an amount when `text` says it is negotiable or on request."""
    return negotiable_in(normalize(text[:2000]))


def negotiable_in(text: str) -> Price | None:
    """`parse_negotiable` of a text already normalised by `normalize`."""
    text, low = _cased(text)
    deals = _deals(low)
    if not deals:
        return None
    start, end = _cluster(deals, deals[0])
    return Price(amount=None, currency=None, raw=text[start:end], negotiable=True)


def parse_prices(text: str, rates: Mapping[str, float] | None = None) -> tuple[Price, ...]:
    """Every price in `text`: the primary one first (kind ask, start or blitz), then
    the others in text order (start, step, blitz, alternative)."""
    return prices_in(normalize(text[:2000]), rates)


def prices_in(text: str, rates: Mapping[str, float] | None = None) -> tuple[Price, ...]:
    """`parse_prices` of a text already normalised by `normalize`."""
    text, low = _cased(text)
    offers = _offers(low)
    chosen = _choose(offers)
    if chosen is None:
        return ()
    deals = _deals(low)
    start, end = _cluster(sorted([(o.start, o.end) for o in offers] + deals), chosen[:2])
    if text.count("(", start, end) > text.count(")", start, end) and text[end : end + 1] == ")":
        end += 1  # "10 BTC (~$200k)"
    seller_usd = next(
        (
            o.amount
            for o in offers
            if o.currency in _USD_PEGGED and o.label == chosen.label
            and start <= o.start and o.end <= end
        ),
        None,
    )  # fmt: skip
    negotiable = bool(deals)
    kind = "ask" if chosen.label in (_PLAIN, _OLD) else chosen.label
    primary = Price(
        amount=chosen.amount,
        currency=chosen.currency,
        raw=text[start:end],
        usd=usd_estimate(chosen.amount, chosen.currency, rates) or seller_usd,
        negotiable=negotiable,
        kind=kind,
    )
    others = tuple(
        Price(
            amount=o.amount,
            currency=o.currency,
            raw=text[o.start : o.end],
            usd=usd_estimate(o.amount, o.currency, rates),
            negotiable=negotiable,
            kind=_KINDS[o.label],
        )
        for o in offers
        if o is not chosen
    )
    return (primary, *others)


def is_free(text: str) -> bool:
    """True when `text` offers something for free ("Free 272 M DB", "бесплатно", "免费")."""
    return free_in(normalize(text[:2000]))


def free_in(text: str) -> bool:
    """`is_free` of a text already normalised by `normalize`."""
    low = text.lower()
    return _mentions(low, _FREE_WORDS) and _FREE.search(low) is not None


def is_negotiable(text: str) -> bool:
    """True when `text` says the price is negotiable or given on request."""
    return _NEGOTIABLE.search(normalize(text[:2000]).lower()) is not None


def usd_estimate(
    amount: float | None, currency: str | None, rates: Mapping[str, float] | None
) -> float | None:
    """`amount` in USD: itself for USD-pegged currencies, else by `rates` (USD per
    unit, keys case-insensitive); None when unknown."""
    if amount is None or currency is None:
        return None
    if currency in _USD_PEGGED:
        return amount
    if not rates:
        return None
    rate = rates.get(currency)
    if rate is None:
        rate = next((v for k, v in rates.items() if k.upper() == currency), None)
    if rate is None or not 0 < rate < 1e9:
        return None
    return round(amount * rate, 2)


def _cased(text: str) -> tuple[str, str]:
    """A normalised text and its lower case, with matching offsets (the lower case
    twice in the rare case that lower-casing changes the length)."""
    low = text.lower()
    return (text if len(text) == len(low) else low), low


def _offers(low: str) -> list[_Offer]:
    """Every amount with a currency in `low`, in order, with its auction label."""
    offers: list[_Offer] = []
    previous_end = 0
    cjk = not low.isascii() and _CJK.search(low) is not None
    only = labelled = revenue = None  # whether `low` has such words; looked up once needed
    for match in _AMOUNT.finditer(low, first_digit(low)):
        number, magnitude, symbol, code = match.groups()
        start, end = match.span()
        lower: _Offer | None = None
        upper_of: _Offer | None = None
        currency: str | None
        if symbol or code:
            currency = _SYMBOLS[symbol] if symbol else _CODES[code]
            if start and _GLUED.match(low, start - 1):
                continue  # "v2 btc", "x10$"
        elif cjk and low.startswith("u", end) and not _LETTER.match(low, end + 1):
            currency, end = "USDT", end + 1  # Chinese markets: "500U"
        else:
            if only is None:
                only = _mentions(low, _ONLY_WORDS)
            currency_before = _CURRENCY_ONLY_BEFORE if only else _CURRENCY_BEFORE
            before = currency_before.search(low, max(previous_end, start - 14), start)
            if (
                before is not None
                and not _LETTER.match(low, end)
                and not (before[3] and _WORD_AFTER.match(low, end))  # "BTC only 3 days"
            ):
                currency = _SYMBOLS[before[1]] if before[1] else _CODES[before[2]]
                start = before.start()
            elif offers and _RANGE_AFTER.match(low[offers[-1].end : start]) is not None:
                upper_of = offers[-1]
                currency = upper_of.currency  # "$500-1000": the upper bound
                if _LETTER.match(low, end) or start - upper_of.end > 4:
                    continue
            else:
                if labelled is None:
                    labelled = _mentions(low, _PRICE_WORDS)
                if not (
                    labelled
                    and _PRICE_LABEL.search(low, max(previous_end, start - 16), start)
                    and not _LETTER.match(low, end)
                    and not (start and _GLUED.match(low, start - 1))
                ):
                    continue
                currency = None
        value = _value(number, magnitude, currency)
        if not 0 < value < _MAX_AMOUNT or (upper_of is not None and value <= upper_of.amount):
            continue
        if revenue is None:
            revenue = _mentions(low, _REVENUE_WORDS)
        if revenue and (
            _REVENUE_BEFORE.search(low, max(0, start - 24), start) or _REVENUE_AFTER.match(low, end)
        ):
            continue
        if (
            value >= _BIG_FIAT
            and currency in _FIAT
            and not _PRICE_NEAR.search(low, max(0, start - 24), end + 16)
        ):
            continue  # revenue without the word
        if symbol or code:
            lower = _range_lower(low, max(previous_end, start - 40), start, currency)
            if lower is not None and magnitude and lower.amount < value / _MAGNITUDES[magnitude]:
                # "1.2-1.5k$": the lower bound shares the upper one's magnitude
                lower = lower._replace(amount=lower.amount * _MAGNITUDES[magnitude])
            if lower is not None and lower.amount >= value:
                lower = None  # "480k - 0.5 ETH", "2018-2020 — 2 BTC": no range
        label = _LABEL.search(low, max(previous_end, start - 24), (lower or (start,))[0])
        kind = _PLAIN
        if label:
            kind = _START if label[1] else _STEP if label[2] else _BLITZ if label[3] else _OLD
        if lower is not None:
            offers.append(lower._replace(label=kind, start=label.start() if label else lower[0]))
            kind = _PLAIN  # the upper bound is an alternative
        elif label:
            start = label.start()
        offers.append(_Offer(start, end, value, currency, kind))
        previous_end = end
    return offers


def _deals(low: str) -> list[tuple[int, int]]:
    """The spans of the negotiable markers in `low`."""
    if not _mentions(low, _DEAL_WORDS):
        return []
    return [m.span() for m in _NEGOTIABLE.finditer(low)]


def _mentions(low: str, words: tuple[str, ...]) -> bool:
    """Whether any of `words` occurs in `low` (cheaper than a regex search)."""
    return any(word in low for word in words)


def _range_lower(low: str, lo: int, start: int, currency: str | None) -> _Offer | None:
    """The lower bound written just before an amount ("500-" of "500-1000$")."""
    match = _RANGE_BEFORE.search(low, lo, start)
    if match is None or (match.start() and _GLUED.match(low, match.start() - 1)):
        return None
    value = _value(match[1], match[2], currency)
    if not 0 < value < _MAX_AMOUNT:
        return None
    return _Offer(match.start(), match.end(1) + (len(match[2]) if match[2] else 0),
                  value, currency, _PLAIN)  # fmt: skip


def _value(number: str, magnitude: str | None, currency: str | None) -> float:
    value = number_value(number, prefer_decimal=bool(magnitude) or currency in _CRYPTO)
    return value * _MAGNITUDES[magnitude] if magnitude else value


def _choose(offers: list[_Offer]) -> _Offer | None:
    """The asking price: the start price, else the first plain amount, else buy-now,
    else a struck-out old price; an amount with a currency before one without."""
    for stated in (True, False):
        for kind in (_START, _PLAIN, _BLITZ, _OLD):
            for offer in offers:
                if offer.label == kind and (offer.currency is not None or not stated):
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
