"""The pydantic schema of ``sources.toml``: field types, validators and messages.

`monitor.config` validates each table against these models and converts the result
into `monitor.models` dataclasses; nothing here reads files or the environment.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
)

from monitor.engines import PROFILE_ENGINES
from monitor.models import EventKind
from monitor.units import parse_delay, parse_duration, parse_size

TABLES = ("tor", "storage", "defaults", "rates", "ops")
ARRAYS = ("source", "rule", "watch", "notify")
SEVERITIES = ("low", "medium", "high", "critical")
FORMATS = ("text", "markdown", "html", "slack")
EVENTS = tuple(kind.value for kind in EventKind)
ABSENCE = ("auto", "verify", "count")
CSS_REQUIRED = ("item", "title", "url")

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ONION_V3 = re.compile(r"[a-z2-7]{56}")
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_APPRISE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CURRENCY = re.compile(r"[A-Za-z][A-Za-z0-9]{1,9}")

MESSAGES = {
    "missing": "required",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must not be empty",
}


# ------------------------------------------------------------------ validators


def suggest(value: str, known: Sequence[str]) -> str:
    """' (did you mean 'css'?)' for a close match, else the known names (when few)."""
    close = difflib.get_close_matches(value, known, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if not known:
        return "; none is defined"
    return f"; known: {', '.join(known)}" if len(known) <= 12 else ""


def _choice(what: str, known: Sequence[str]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in known:
            raise ValueError(f"unknown {what} {value!r}{suggest(value, known)}")
        return value

    return AfterValidator(check)


def _check(ok: Callable[[str], object], message: str) -> AfterValidator:
    """A validator that raises `message` unless `ok(value)` is truthy."""

    def check(value: str) -> str:
        if not ok(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _regex(value: str) -> str:
    try:
        groups = re.compile(value).groups
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if groups < 1:
        raise ValueError(r"needs a capturing group for the id, e.g. 'tid=(\d+)'")
    return value


def _source_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host or re.search(r"\s", value):
        raise ValueError("must be an http:// or https:// URL with a host")
    if host.endswith(".onion") and not _ONION_V3.fullmatch(host[:-6].rsplit(".", 1)[-1]):
        raise ValueError("not a v3 onion address (56 characters a-z, 2-7 before '.onion')")
    return value


def _socks(value: str) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError("not a valid proxy URL") from None
    if parts.scheme == "socks5":
        raise ValueError(
            "use socks5h://, not socks5:// (socks5 resolves host names locally: "
            "it leaks DNS and cannot reach .onion addresses)"
        )
    if parts.scheme != "socks5h" or not parts.hostname or port is None:
        raise ValueError("must look like socks5h://127.0.0.1:9050")
    if parts.username is not None or parts.path not in ("", "/"):
        raise ValueError("must be socks5h://host:port (leakmon sets a SOCKS user per source)")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name like 'Europe/Moscow' or 'UTC'"
        ) from None
    return value


def _rate(value: float) -> float:
    if not 0 < value < float("inf"):
        raise ValueError("must be a positive number of US dollars per unit")
    return value


def _control(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be host:port, e.g. 127.0.0.1:9051")
    return value


_NAME_RULE = "must be lowercase letters, digits, '_' or '-' (at most 64, first a letter or digit)"
Name = Annotated[str, _check(_NAME.fullmatch, _NAME_RULE)]
Text = Annotated[str, _check(str.strip, "must not be empty")]
Token = Annotated[str, _check(_TOKEN.fullmatch, "not a valid header or cookie name")]
Safe = Annotated[str, _check(lambda v: not _CTL.search(v), "must not contain control characters")]
CookieValue = Annotated[Safe, _check(lambda v: ";" not in v, "must not contain ';'")]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Delay = Annotated[float, BeforeValidator(parse_delay)]  # a duration that may be zero
TimeZone = Annotated[str, AfterValidator(_timezone)]
MAX_RESTORE_WINDOW = 365 * 86400.0  # a year: re-checks of a deleted listing stay bounded
RestoreWindow = Annotated[
    float,
    BeforeValidator(parse_delay),
    _check(lambda v: v <= MAX_RESTORE_WINDOW, "must be at most 365d (0 turns re-checks off)"),
]

RereadEvery = Annotated[
    float,
    BeforeValidator(parse_delay),
    _check(lambda v: v == 0 or v >= 3600, "must be 0 (off) or at least 1h"),
    _check(lambda v: v <= MAX_RESTORE_WINDOW, "must be at most 365d (0 turns re-reads off)"),
]


def _hours(value: object) -> tuple[int, int]:
    if not isinstance(value, str):
        raise ValueError('must be a string like "08:00-20:00"')
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    if not match:
        raise ValueError('must look like "08:00-20:00" (UTC; may wrap past midnight)')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or h1 * 60 + m1 > 1440 or h2 * 60 + m2 > 1440:
        raise ValueError("hours are 00:00 to 24:00")
    if h1 * 60 + m1 == h2 * 60 + m2:
        raise ValueError("an empty window: start and end are equal")
    return h1 * 60 + m1, h2 * 60 + m2


ActiveHours = Annotated[tuple[int, int], BeforeValidator(_hours)]
Currency = Annotated[
    str, _check(_CURRENCY.fullmatch, "not a currency code: use e.g. BTC, XMR, EUR, USDT")
]
Rate = Annotated[float, AfterValidator(_rate)]
Size = Annotated[int, BeforeValidator(parse_size)]
AppriseUrl = Annotated[str, _check(_APPRISE.match, "must be an apprise URL like slack://...")]


# ---------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TorModel(_Model):
    socks: Annotated[str, AfterValidator(_socks)] = "socks5h://127.0.0.1:9050"
    control: Annotated[str, AfterValidator(_control)] | None = None
    control_password: str | None = None
    newnym_after: Annotated[int, Field(ge=1)] = 3
    max_concurrency: Annotated[int, Field(ge=1, le=256)] = 8


class StorageModel(_Model):
    path: Text | None = None
    keep_html: bool = False
    keep_events: Duration | None = None
    keep_crawls: Duration | None = None


class DefaultsModel(_Model):
    """Settings that [defaults] gives to every source that does not set them."""

    every: Duration | None = None
    max_pages: Annotated[int, Field(ge=1, le=1000)] | None = None
    missing_after: Annotated[int, Field(ge=1)] | None = None
    timeout: Duration | None = None
    max_bytes: Size | None = None
    baseline_alerts: bool | None = None
    min_delay: Delay | None = None
    retries: Annotated[int, Field(ge=0, le=10)] | None = None
    absence: Annotated[str, _choice("absence", ABSENCE)] | None = None
    revisit_every: Duration | None = None
    revisit_max: Duration | None = None
    page_budget: Annotated[int, Field(ge=1, le=1000)] | None = None
    revisit_budget: Annotated[int, Field(ge=1, le=1000)] | None = None
    restore_window: RestoreWindow | None = None
    reread_every: RereadEvery | None = None
    skip_sticky: bool | None = None
    timezone: TimeZone | None = None
    active_hours: ActiveHours | None = None
    headers: dict[Token, Safe] = Field(default_factory=dict)


class SelectorsModel(_Model):
    """Every key is optional here: the css engine's required ones (CSS_REQUIRED) are
    checked across keys, since other engines take any subset as overrides."""

    item: Text | None = None
    title: Text | None = None
    url: Text | None = None
    id: Text | None = None
    id_pattern: Annotated[str, AfterValidator(_regex)] | None = None
    seller: Text | None = None
    price: Text | None = None
    records: Text | None = None
    posted: Text | None = None
    next: Text | None = None
    # beyond `Selectors`: engine profiles and css sources (carried as overrides)
    replies: Text | None = None
    views: Text | None = None
    sticky: Text | None = None
    text: Text | None = None
    url_template: Text | None = None  # json only
    thread_title: Text | None = None
    thread_post: Text | None = None
    thread_body: Text | None = None
    thread_author: Text | None = None
    thread_posted: Text | None = None
    thread_gone: Text | None = None


# The css engine's `Selectors`; a css source may set every other key but
# `url_template` too (list-page extras and thread-page keys, kept as overrides).
CSS_KEYS = frozenset(
    ("item", "title", "url", "id", "id_pattern", "seller", "price", "records", "posted", "next")
)
CSS_NOT_TAKEN = frozenset({"url_template"})


class SourceModel(DefaultsModel):
    name: Name
    url: Annotated[str, AfterValidator(_source_url)]
    engine: str
    # profiles tried in order on a listing page the engine reads nothing from (the
    # forum profiles among them on a thread page it finds no post on too)
    fallback_engines: list[str] = Field(default_factory=list)
    selectors: SelectorsModel | None = None
    allow_clearnet: bool = False
    onion_redirects: bool = False
    enabled: bool = True
    cookies: dict[Token, CookieValue] = Field(default_factory=dict)
    block_markers: list[Text] = Field(default_factory=list)

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str, info: ValidationInfo) -> str:
        engines = sorted(info.context["engines"]) if info.context else []
        if value not in engines:
            raise ValueError(f"unknown engine {value!r}{suggest(value, engines)}")
        return value

    @field_validator("fallback_engines")
    @classmethod
    def _known_profiles(cls, value: list[str], info: ValidationInfo) -> list[str]:
        engines = sorted(info.context["engines"]) if info.context else []
        profiles = [e for e in engines if e in PROFILE_ENGINES]
        for name in value:
            if name not in profiles:
                raise ValueError(f"{name!r} is not an engine profile{suggest(name, profiles)}")
        if len(set(value)) != len(value) or info.data.get("engine") in value:
            raise ValueError("each engine at most once, and not the source's own engine")
        return value


def _any_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2}", value):
        raise ValueError("must be a two-letter ISO 3166 country code such as CN")
    return value.upper()


Events = Annotated[list[Annotated[str, _choice("event", EVENTS)]], Field(min_length=1)] | None


class RuleModel(_Model):
    name: Name
    any: list[Text] = Field(default_factory=list)
    all: list[Text] = Field(default_factory=list)
    exclude: list[Text] = Field(default_factory=list)
    regex: list[Annotated[str, AfterValidator(_any_regex)]] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    sellers: list[Text] = Field(default_factory=list)
    min_records: Annotated[int, Field(ge=0)] | None = None
    min_price_usd: Annotated[float, Field(ge=0)] | None = None
    data_types: list[Text] = Field(default_factory=list)
    countries: list[Annotated[str, AfterValidator(_country)]] = Field(default_factory=list)
    first_post: bool = False
    events: Events = None
    severity: Annotated[str, _choice("severity", SEVERITIES)] = "medium"
    targets: list[str] = Field(default_factory=list)


class WatchModel(_Model):
    """[[watch]]: an organisation's names, aliases and domains, matched in titles and
    first posts; becomes the rule `watch-NAME`."""

    name: Name
    names: list[Text] = Field(default_factory=list)
    aliases: list[Text] = Field(default_factory=list)
    domains: list[Text] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    events: Events = None
    severity: Annotated[str, _choice("severity", SEVERITIES)] = "high"
    targets: list[str] = Field(default_factory=list)


class OpsModel(_Model):
    """[ops]: the [[notify]] target of source-health notices."""

    target: str | None = None
    down_after: Annotated[int, Field(ge=1, le=1000)] = 3


class NotifyModel(_Model):
    name: Name
    url: AppriseUrl
    format: Annotated[str, _choice("format", FORMATS)] = "text"
    defang: bool = True
    proxy: Annotated[str, AfterValidator(_socks)] | None = None
    digest: Duration | None = None
    rate_limit: Annotated[int, Field(ge=1)] | None = None
    min_severity: Annotated[str, _choice("severity", SEVERITIES)] = "low"


class RatesModel(RootModel[dict[Currency, Rate]]):
    """[rates]: currency code -> US dollars per unit, e.g. BTC = 60000."""

    model_config = ConfigDict(strict=True)
