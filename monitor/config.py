"""Load and validate ``sources.toml`` into :class:`monitor.models.Config`.

Every problem is collected and raised at once as ``ConfigError(problems)``, one line
each, prefixed with its path in the file's own terms: ``tor.socks``,
``defaults.every``, ``source[2].every``, ``rule[0].targets``, ``notify[1].url``.
Indexes count the ``[[source]]`` / ``[[rule]]`` / ``[[notify]]`` tables in file
order from 0. ``${VAR}`` in any string value is replaced from the environment
(``$${`` writes a literal ``${``); substituted values never appear in a message.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from monitor.config_schema import (
    ARRAYS,
    CSS_KEYS,
    CSS_NOT_TAKEN,
    CSS_REQUIRED,
    MESSAGES,
    TABLES,
    DefaultsModel,
    NotifyModel,
    OpsModel,
    RatesModel,
    RuleModel,
    SelectorsModel,
    SourceModel,
    StorageModel,
    TorModel,
    WatchModel,
    suggest,
)
from monitor.engines import COUNT_ENGINES
from monitor.errors import ConfigError
from monitor.models import (
    Config,
    EventKind,
    NotifyTarget,
    OpsSettings,
    Rule,
    Selectors,
    Source,
    StorageSettings,
    TorSettings,
)
from monitor.units import parse_delay, parse_duration

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
M = TypeVar("M", bound=BaseModel)

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")
_MIN_SECRET = 4  # substituted values at least this long are scrubbed from messages


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
    watches = _validate(WatchModel, _entries(doc, "watch"), problems)
    targets = _validate(NotifyModel, _entries(doc, "notify"), problems)
    rates = _validate(RatesModel, _entries(doc, "rates"), problems)
    ops = _validate(OpsModel, _entries(doc, "ops"), problems)
    problems += _cross_checks(doc)
    bad = [loc for loc, _ in env_.problems]  # no second message where a variable is missing
    problems = env_.problems + [p for p in problems if not any(p[0][: len(b)] == b for b in bad)]
    if problems:
        problems.sort(key=_rank)
        raise ConfigError([f"{_path(loc)}: {env_.scrub(message)}" for loc, message in problems])
    config_path = path.resolve()
    (tor_model,), (db,), (default,), (rate_model,), (ops_model,) = (
        tor,
        storage,
        defaults,
        rates,
        ops,
    )
    return Config(
        tor=TorSettings(
            socks=tor_model.socks,
            control=tor_model.control,
            control_password=tor_model.control_password or None,
            newnym_after=tor_model.newnym_after,
            max_concurrency=tor_model.max_concurrency,
        ),
        db_path=config_path.parent / Path(db.path).expanduser() if db.path else None,
        sources=tuple(_source(model, default) for model in sources),
        rules=tuple(_rule(model) for model in rules) + tuple(_watch(w) for w in watches),
        targets=tuple(_target(model) for model in targets),
        path=config_path,
        storage=StorageSettings(db.keep_html, db.keep_events, db.keep_crawls),
        rates={code.upper(): rate for code, rate in rate_model.root.items()},
        ops=OpsSettings(ops_model.target, ops_model.down_after),
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
            problems.append(((key,), f"unknown key{suggest(key, (*TABLES, *ARRAYS))}"))
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
        return f"unknown key{suggest(str(key), list(known))}"
    if kind == "value_error":
        return str(ctx["error"])
    if kind in MESSAGES:
        return MESSAGES[kind].format(**ctx)
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
        selectors = source.get("selectors")
        if source.get("engine") == "css" and selectors is None:
            message = "required by the css engine: give item, title and url"
            problems.append(((*loc, "selectors"), message))
        elif source.get("engine") == "css" and isinstance(selectors, dict):
            problems += [
                ((*loc, "selectors", key), "required by the css engine")
                for key in CSS_REQUIRED
                if key not in selectors
            ]
            problems += [
                ((*loc, "selectors", key), "only the json engine takes it")
                for key in selectors
                if key in CSS_NOT_TAKEN
            ]
    problems += _revisit_checks(doc)
    for loc, ops in _entries(doc, "ops"):
        target = ops.get("target")
        if isinstance(target, str) and target not in names["notify"]:
            message = f"unknown notify target {target!r}{suggest(target, names['notify'])}"
            problems.append(((*loc, "target"), message))
    for loc, rule in [*_entries(doc, "rule"), *_entries(doc, "watch")]:
        if loc[0] == "watch":
            if not any(rule.get(key) for key in ("names", "aliases", "domains")):
                problems.append((loc, "watches nothing: give names, aliases or domains"))
        elif not any(rule.get(key) for key in _SELECTIVE) and not any(
            key in rule for key in ("min_records", "min_price_usd")
        ):
            message = "matches everything: give any, all, regex, sellers or min_records"
            problems.append((loc, message))
        for key, what, known in (
            ("sources", "source", names["source"]),
            ("targets", "notify target", names["notify"]),
        ):
            values = rule.get(key)
            problems += [
                ((*loc, key), f"unknown {what} {value!r}{suggest(value, known)}")
                for value in (values if isinstance(values, list) else [])
                if isinstance(value, str) and value not in known
            ]
    return problems


# (key, the key it is bounded by, that key's default, message): `key` must not
# exceed / fall below the other one's value where a source takes both.
_REVISIT_BOUNDS: tuple[tuple[str, str, Any, str], ...] = (
    ("revisit_budget", "page_budget", 20, "must be at most page_budget ({})"),
    ("revisit_max", "revisit_every", "6h", "must be at least revisit_every ({})"),
    (  # the first re-check of a deleted listing is due revisit_every after its deletion
        "restore_window",
        "revisit_every",
        "6h",
        "must be 0 (off) or at least revisit_every ({}), when the first re-check is due",
    ),
)


def _revisit_checks(doc: Mapping[str, Any]) -> list[Problem]:
    """revisit_budget <= page_budget, revisit_max >= revisit_every and restore_window
    0 or >= revisit_every, for the values
    each source ends up with ([defaults] under its own), at the table that sets one
    of the two (a source that sets neither is [defaults]' problem, reported once).
    Values of the wrong type are left to the schema."""
    problems: list[Problem] = []
    ((dloc, defaults),) = _entries(doc, "defaults") or [(("defaults",), {})]
    for key, other, default, message in _REVISIT_BOUNDS:
        for loc, table in [(dloc, defaults), *_entries(doc, "source")]:
            if key not in table and (loc == dloc or other not in table):
                continue  # nothing new to compare at this table
            value = table.get(key, defaults.get(key))
            bound = table.get(other, defaults.get(other, default))
            if value is None:
                continue
            try:
                if key == "revisit_max":
                    too_far = parse_duration(value) < parse_duration(bound)
                elif key == "restore_window":
                    window = parse_delay(value)
                    too_far = 0 < window < parse_duration(bound)
                else:
                    too_far = isinstance(value, int) and isinstance(bound, int) and value > bound
            except ValueError:
                continue
            if too_far:
                problem = ((*loc, key), message.format(bound))
                if problem not in problems:
                    problems.append(problem)
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
    own = model.model_dump(
        exclude={"selectors", "headers", "block_markers", "fallback_engines"}, exclude_none=True
    )
    chosen = model.selectors.model_dump(exclude_none=True) if model.selectors else {}
    css = model.engine == "css" and bool(chosen)
    selectors = Selectors(**{k: v for k, v in chosen.items() if k in CSS_KEYS}) if css else None
    own_names = {name.lower() for name in model.headers}  # header names ignore case
    merged = {**defaults.model_dump(exclude={"headers"}, exclude_none=True), **own}
    if "missing_after" not in merged and (
        merged.get("absence") == "count" or model.engine in COUNT_ENGINES
    ):
        merged["missing_after"] = 2  # shops and blogs: gone after 2 complete crawls
    return Source(
        **merged,
        selectors=selectors,
        overrides={k: v for k, v in chosen.items() if k not in CSS_KEYS} if css else chosen,
        headers={
            **{k: v for k, v in defaults.headers.items() if k.lower() not in own_names},
            **model.headers,
        },
        block_markers=tuple(model.block_markers),
        fallback_engines=tuple(model.fallback_engines),
    )


_SELECTIVE = ("any", "all", "regex", "sellers", "data_types", "countries")


def _target(model: NotifyModel) -> NotifyTarget:
    return NotifyTarget(
        model.name,
        model.url,
        model.format,
        defang=model.defang,
        proxy=model.proxy,
        digest=model.digest,
        rate_limit=model.rate_limit,
        min_severity=model.min_severity,
    )


def _watch(model: WatchModel) -> Rule:
    """A [[watch]] is a keyword rule over titles and first posts."""
    rule = Rule(
        name=f"watch-{model.name}",
        any=(*model.names, *model.aliases, *model.domains),
        sources=tuple(model.sources),
        first_post=True,
        severity=model.severity,
        targets=tuple(model.targets),
    )
    if model.events is None:
        return rule
    return replace(rule, events=tuple(EventKind(event) for event in model.events))


def _rule(model: RuleModel) -> Rule:
    fields = model.model_dump(exclude={"events"}).items()
    args: dict[str, Any] = {key: tuple(v) if isinstance(v, list) else v for key, v in fields}
    rule = Rule(**args)
    if model.events is None:
        return rule
    return replace(rule, events=tuple(EventKind(event) for event in model.events))
