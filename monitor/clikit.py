"""Shared plumbing of the CLI commands: common options, error-to-exit-code mapping,
config and store loading. Only the CLI modules import this.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from monitor import report
from monitor.errors import ConfigError, LeakmonError
from monitor.logs import setup_logging
from monitor.models import Config, Source

F = TypeVar("F", bound=Callable[..., Any])


def default_config_path() -> Path:
    """--config, else $LEAKMON_CONFIG, else ./sources.toml, else /etc/leakmon/sources.toml."""
    env = os.environ.get("LEAKMON_CONFIG")
    if env:
        return Path(env)
    local = Path("sources.toml")
    return local if local.exists() else Path("/etc/leakmon/sources.toml")


def default_db_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "leakmon" / "leakmon.db"


def common_options(func: F) -> F:
    """--config, --db and --debug on every command."""
    func = click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")(func)
    func = click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="SQLite database (default: [storage] path, else $XDG_STATE_HOME/leakmon/leakmon.db).",
    )(func)
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="sources.toml (default: $LEAKMON_CONFIG, ./sources.toml, /etc/leakmon/sources.toml).",
    )(func)
    return func


def guarded(func: F) -> F:
    """Turn leakmon errors into one clear line and the right exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, debug: bool = False, **kwargs: Any) -> Any:
        setup_logging("debug" if debug else "warning")
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            if debug:
                raise
            for problem in exc.problems:
                click.echo(f"config error: {report.clean(problem, 500)}", err=True)
            sys.exit(2)
        except LeakmonError as exc:
            if debug:
                raise
            click.echo(f"error: {report.clean(str(exc), 500)}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def load(config_path: Path | None) -> Config:
    from monitor.config import load_config
    from monitor.extract import ENGINES

    return load_config(config_path or default_config_path(), engines=ENGINES)


def engines_for(sources: Sequence[Source], config: Config | None = None) -> dict[str, Any]:
    """Build every source's extractor up front (with the config's rates); a bad
    selector is a config error."""
    from monitor.runtime import build_engines

    return dict(build_engines(sources, config.rates if config else None))


def open_store(db_path: Path | None, config: Config | None) -> Any:
    from monitor.store import Store

    path = db_path or (config.db_path if config else None) or default_db_path()
    return Store.open(path)


def read_config(config_path: Path | None, db_path: Path | None) -> Config | None:
    """The config a read command reads: the one --config names, else (without --db)
    the default one if it exists; None otherwise."""
    if config_path is not None:
        return load(config_path)
    path = default_config_path()
    return load(path) if db_path is None and path.exists() else None


def store_only(config_path: Path | None, db_path: Path | None) -> Any:
    """Open the store for a read command; the config only matters for its [storage]."""
    return open_store(db_path, None if db_path else read_config(config_path, None))


def parse_since(text: str | None) -> datetime | None:
    """'90m', '2h', '7d', '1w' ago, or an ISO date/time."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text[:-1].isdigit() and text[-1] in units:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use a duration like 2h or 7d, or an ISO date") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def echo_json(rows: Any) -> None:
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))


def select_sources(config: Config, names: Sequence[str]) -> tuple[Source, ...]:
    if not names:
        return tuple(s for s in config.sources if s.enabled)
    known = {s.name for s in config.sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"unknown source {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return tuple(config.source(n) for n in names)
