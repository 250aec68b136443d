"""Load and validate ``sources.toml`` into :class:`monitor.models.Config`.

Every problem is collected and raised at once as ``ConfigError(problems)``, one line
each, prefixed with its path in the file's own terms: ``tor.socks``,
``defaults.every``, ``source[2].every``, ``rule[0].targets``, ``notify[1].url``.
Indexes count the ``[[source]]`` / ``[[rule]]`` / ``[[notify]]`` tables in file
order from 0. ``${VAR}`` in any string value is replaced from the environment
(``$${`` writes a literal ``${``); substituted values never appear in a message.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from monitor.errors import ConfigError
from monitor.models import Config, EventKind, NotifyTarget, Rule, Selectors, Source, TorSettings
from monitor.units import parse_duration, parse_size

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
M = TypeVar("M", bound=BaseModel)

TABLES = ("tor", "storage", "defaults")
ARRAYS = ("source", "rule", "notify")
SEVERITIES = ("low", "medium", "high", "critical")
FORMATS = ("text", "markdown", "html", "slack")
EVENTS = tuple(kind.value for kind in EventKind)

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ONION_V3 = re.compile(r"[a-z2-7]{56}")
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_APPRISE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")
_MIN_SECRET = 4  # substituted values at least this long are scrubbed from messages

_MESSAGES = {
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


def _suggest(value: str, known: Sequence[str]) -> str:
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
            raise ValueError(f"unknown {what} {value!r}{_suggest(value, known)}")
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
Size = Annotated[int, BeforeValidator(parse_size)]
AppriseUrl = Annotated[str, _check(_APPRISE.match, "must be an apprise URL like slack://...")]


# ---------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TorModel(_Model):
    socks: Annotated[str, AfterValidator(_socks)] = "socks5h://127.0.0.1:9050"
    control: Annotated[str, AfterValidator(_control)] | None = None
    control_password: str | None = None


class StorageModel(_Model):
    path: Text | None = None


class DefaultsModel(_Model):
    """Settings that [defaults] gives to every source that does not set them."""

    every: Duration | None = None
    max_pages: Annotated[int, Field(ge=1, le=1000)] | None = None
    missing_after: Annotated[int, Field(ge=1)] | None = None
    timeout: Duration | None = None
    max_bytes: Size | None = None
    baseline_alerts: bool | None = None
    headers: dict[Token, Safe] = Field(default_factory=dict)


class SelectorsModel(_Model):
    item: Text
    title: Text
    url: Text
    id: Text | None = None
    id_pattern: Annotated[str, AfterValidator(_regex)] | None = None
    seller: Text | None = None
    price: Text | None = None
    records: Text | None = None
    posted: Text | None = None
    next: Text | None = None


class SourceModel(DefaultsModel):
    name: Name
    url: Annotated[str, AfterValidator(_source_url)]
    engine: str
    selectors: SelectorsModel | None = None
    allow_clearnet: bool = False
    enabled: bool = True
    cookies: dict[Token, CookieValue] = Field(default_factory=dict)
    block_markers: list[Text] = Field(default_factory=list)

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str, info: ValidationInfo) -> str:
        engines = sorted(info.context["engines"]) if info.context else []
        if value not in engines:
            raise ValueError(f"unknown engine {value!r}{_suggest(value, engines)}")
        return value


class RuleModel(_Model):
    name: Name
    any: list[Text] = Field(default_factory=list)
    all: list[Text] = Field(default_factory=list)
    exclude: list[Text] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    sellers: list[Text] = Field(default_factory=list)
    min_records: Annotated[int, Field(ge=0)] | None = None
    events: (
        Annotated[list[Annotated[str, _choice("event", EVENTS)]], Field(min_length=1)] | None
    ) = None
    severity: Annotated[str, _choice("severity", SEVERITIES)] = "medium"
    targets: list[str] = Field(default_factory=list)


class NotifyModel(_Model):
    name: Name
    url: AppriseUrl
    format: Annotated[str, _choice("format", FORMATS)] = "text"


# --------------------------------------------------------------------- loading


def load_config(
    path: Path, env: Mapping[str, str] | None = None, engines: Collection[str] = ("css",)
) -> Config:
    """Read, substitute, validate and convert `path`; raise ConfigError with every problem.

    `env` (default: os.environ) supplies ``${VAR}``; `engines` are the extractor names a
    source may use. A relative ``[storage] path`` is taken relative to the file's directory.
    """
    env_ = _Env(os.environ if env is None else env)
    doc: dict[str, Any] = env_.substitute(_read(path), ())
    problems = _shape(doc)
    tor = _validate(TorModel, _entries(doc, "tor"), problems)
    storage = _validate(StorageModel, _entries(doc, "storage"), problems)
    defaults = _validate(DefaultsModel, _entries(doc, "defaults"), problems)
    sources = _validate(SourceModel, _entries(doc, "source"), problems, {"engines": engines})
    rules = _validate(RuleModel, _entries(doc, "rule"), problems)
    targets = _validate(NotifyModel, _entries(doc, "notify"), problems)
    problems += _cross_checks(doc)
    bad = [loc for loc, _ in env_.problems]  # no second message where a variable is missing
    problems = env_.problems + [p for p in problems if not any(p[0][: len(b)] == b for b in bad)]
    if problems:
        problems.sort(key=_rank)
        raise ConfigError([f"{_path(loc)}: {env_.scrub(message)}" for loc, message in problems])
    config_path = path.resolve()
    (tor_settings,), (db,), (default,) = tor, storage, defaults
    return Config(
        tor=TorSettings(
            tor_settings.socks, tor_settings.control, tor_settings.control_password or None
        ),
        db_path=config_path.parent / Path(db.path).expanduser() if db.path else None,
        sources=tuple(_source(model, default) for model in sources),
        rules=tuple(_rule(model) for model in rules),
        targets=tuple(NotifyTarget(model.name, model.url, model.format) for model in targets),
        path=config_path,
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


class _Env:
    """Replaces ``${VAR}`` in every string of a document; records what went wrong."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[Problem] = []
        self.used: dict[str, str] = {}  # substituted value -> variable name

    def substitute(self, value: Any, loc: Loc) -> Any:
        if isinstance(value, dict):
            return {key: self.substitute(item, (*loc, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.substitute(item, (*loc, index)) for index, item in enumerate(value)]
        if isinstance(value, str):
            return _REF.sub(lambda match: self._replace(match, loc), value)
        return value

    def _replace(self, match: re.Match[str], loc: Loc) -> str:
        name = match[1]
        if match[0] == "$${":
            return "${"
        if name is None:
            self.problems.append((loc, "malformed ${...}: write ${NAME}, or $${ for a literal ${"))
        elif name not in self.env:
            self.problems.append((loc, f"environment variable {name} is not set"))
        else:
            self.used[self.env[name]] = name
            return self.env[name]
        return ""

    def scrub(self, message: str) -> str:
        """`message` with every substituted value replaced by its ``${VAR}``."""
        for value in sorted(self.used, key=len, reverse=True):
            if len(value) >= _MIN_SECRET:
                message = message.replace(value, "${" + self.used[value] + "}")
        return message


def _entries(doc: Mapping[str, Any], key: str) -> list[tuple[Loc, dict[str, Any]]]:
    """The table `key` (empty if absent), or each table of the array `key`, with its loc."""
    value = doc.get(key, {} if key in TABLES else [])
    if key in TABLES:
        return [((key,), value)] if isinstance(value, dict) else []
    items = enumerate(value) if isinstance(value, list) else enumerate([])
    return [((key, i), entry) for i, entry in items if isinstance(entry, dict)]


def _shape(doc: Mapping[str, Any]) -> list[Problem]:
    """Problems with the top level: unknown sections, tables vs arrays of tables."""
    problems: list[Problem] = []
    for key, value in doc.items():
        if key in TABLES and not isinstance(value, dict):
            problems.append(((key,), f"must be a table: write [{key}]"))
        elif key in ARRAYS and not isinstance(value, list):
            problems.append(((key,), f"must be an array of tables: write [[{key}]]"))
        elif key in ARRAYS:
            problems += [
                ((key, i), "must be a table")
                for i, e in enumerate(value)
                if not isinstance(e, dict)
            ]
        elif key not in TABLES:
            problems.append(((key,), f"unknown key{_suggest(key, (*TABLES, *ARRAYS))}"))
    if doc.get("source", []) == []:
        problems.append((("source",), "no sources: add at least one [[source]] table"))
    return problems


def _validate(
    model: type[M],
    entries: list[tuple[Loc, dict[str, Any]]],
    problems: list[Problem],
    context: Any = None,
) -> list[M]:
    """The entries that validate; the others' errors are added to `problems`."""
    valid: list[M] = []
    for loc, data in entries:
        try:
            valid.append(model.model_validate(data, context=context))
        except ValidationError as exc:
            problems += [((*loc, *err["loc"]), _message(model, err)) for err in exc.errors()]
    return valid


def _message(model: type[BaseModel], error: ErrorDetails) -> str:
    """A short human message for one pydantic error."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "extra_forbidden":
        *parent, key = error["loc"]
        known = (SelectorsModel if parent[-1:] == ["selectors"] else model).model_fields
        return f"unknown key{_suggest(str(key), list(known))}"
    if kind == "value_error":
        return str(ctx["error"])
    if kind in _MESSAGES:
        return _MESSAGES[kind].format(**ctx)
    return error["msg"].replace("Input should be", "should be")


def _cross_checks(doc: Mapping[str, Any]) -> list[Problem]:
    """Checks across keys and entries: names, references, clearnet, css selectors."""
    problems: list[Problem] = []
    names = {key: _unique_names(_entries(doc, key), problems) for key in ARRAYS}
    has_every = any("every" in defaults for _, defaults in _entries(doc, "defaults"))
    for loc, source in _entries(doc, "source"):
        if "every" not in source and not has_every:
            problems.append(((*loc, "every"), "required: set it here or in [defaults]"))
        if source.get("allow_clearnet") is not True and _clearnet(source.get("url")):
            message = "not a .onion address: set allow_clearnet = true to crawl a clearnet site"
            problems.append(((*loc, "url"), message))
        if source.get("engine") == "css" and "selectors" not in source:
            message = "required by the css engine: give item, title and url"
            problems.append(((*loc, "selectors"), message))
    for loc, rule in _entries(doc, "rule"):
        if (
            not any(rule.get(key) for key in ("any", "all", "sellers"))
            and "min_records" not in rule
        ):
            problems.append((loc, "matches everything: give any, all, sellers or min_records"))
        for key, what, known in (
            ("sources", "source", names["source"]),
            ("targets", "notify target", names["notify"]),
        ):
            values = rule.get(key)
            problems += [
                ((*loc, key), f"unknown {what} {value!r}{_suggest(value, known)}")
                for value in (values if isinstance(values, list) else [])
                if isinstance(value, str) and value not in known
            ]
    return problems


def _unique_names(entries: list[tuple[Loc, dict[str, Any]]], problems: list[Problem]) -> list[str]:
    first: dict[str, Loc] = {}
    for loc, entry in entries:
        name = entry.get("name")
        if isinstance(name, str) and name in first:
            message = f"duplicate name {name!r}, first used by {_path(first[name])}"
            problems.append(((*loc, "name"), message))
        elif isinstance(name, str):
            first[name] = loc
    return list(first)


def _clearnet(url: Any) -> bool:
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.hostname if parts and parts.scheme in ("http", "https") else None
    except ValueError:
        return False
    return bool(host) and not str(host).endswith(".onion")


def _rank(problem: Problem) -> tuple[int, int]:
    """Sort key: file sections in order, entries by index; stable within an entry."""
    loc = problem[0]
    order = (*TABLES, *ARRAYS)
    section = order.index(str(loc[0])) if loc and loc[0] in order else -1
    return section, loc[1] if len(loc) > 1 and isinstance(loc[1], int) else -1


def _path(loc: Loc) -> str:
    """``('source', 2, 'headers', 'X Y')`` -> ``source[2].headers."X Y"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":  # pydantic marks a dict key's own error with "[key]"
            key = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            text += f".{key}" if text else key
    return text


def _source(model: SourceModel, defaults: DefaultsModel) -> Source:
    """The source's own settings over [defaults] over the Source dataclass defaults."""
    own = model.model_dump(exclude={"selectors", "headers", "block_markers"}, exclude_none=True)
    selectors = Selectors(**model.selectors.model_dump()) if model.selectors else None
    own_names = {name.lower() for name in model.headers}  # header names ignore case
    return Source(
        **{**defaults.model_dump(exclude={"headers"}, exclude_none=True), **own},
        selectors=selectors,
        headers={
            **{k: v for k, v in defaults.headers.items() if k.lower() not in own_names},
            **model.headers,
        },
        block_markers=tuple(model.block_markers),
    )


def _rule(model: RuleModel) -> Rule:
    fields = model.model_dump(exclude={"events"}).items()
    args: dict[str, Any] = {key: tuple(v) if isinstance(v, list) else v for key, v in fields}
    rule = Rule(**args)
    if model.events is None:
        return rule
    return replace(rule, events=tuple(EventKind(event) for event in model.events))
