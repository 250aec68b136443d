"""`leakmon extract` and `leakmon parse`: what leakmon reads in a saved page or in one
title, offline — the way to tune a new source's selectors. Registered in cli.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor import report
from monitor.clikit import common_options, default_config_path, echo_json, guarded, load
from monitor.errors import ConfigError, ExtractError
from monitor.models import Config, Selectors, Source


def _pairs(values: Sequence[str], what: str) -> dict[str, str]:
    """KEY=VALUE options as a mapping; a UsageError for anything else."""
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"{what} takes KEY=VALUE, not {value!r}")
        pairs[key.strip()] = rest.strip()
    return pairs


def _rates(values: Sequence[str]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for key, value in _pairs(values, "--rate").items():
        try:
            rates[key.upper()] = float(value)
        except ValueError:
            raise click.UsageError(f"--rate {key}: {value!r} is not a number") from None
    return rates


def _config_or_none(config_path: Path | None) -> Config | None:
    """The named config (its errors are errors); else the default one if it loads."""
    if config_path is not None:
        return load(config_path)
    if not default_config_path().exists():
        return None
    try:
        return load(None)
    except ConfigError:
        return None  # parse needs only [rates]; a config for crawling may lack secrets


def _with_sets(source: Source, sets: Mapping[str, str]) -> Source:
    """`source` with --set KEY=SELECTOR applied (css: its selectors; else overrides)."""
    if not sets:
        return source
    if source.engine != "css":
        return dataclasses.replace(source, overrides={**source.overrides, **sets})
    fields = {f.name for f in dataclasses.fields(Selectors)}
    unknown = sorted(set(sets) - fields)
    if unknown:
        raise click.UsageError(f"unknown selector key {', '.join(unknown)} for engine css")
    base = dataclasses.asdict(source.selectors) if source.selectors else {}
    merged = {**base, **sets}
    missing = [k for k in ("item", "title", "url") if not merged.get(k)]
    if missing:
        raise click.UsageError(f"engine css needs --set {'=… --set '.join(missing)}=…")
    return dataclasses.replace(source, selectors=Selectors(**merged))


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "source_name", help="Use this configured source's engine and selectors.")
@click.option("--engine", "engine_name", help="Use this engine's built-in profile (or css/json).")
@click.option("--url", "page_url", help="The page's URL, to resolve relative links.")
@click.option("--set", "sets", multiple=True, metavar="KEY=SELECTOR", help="Override a selector.")
@click.option("--timezone", help="IANA zone for dates shown without one (default: the source's).")
@click.option("--now", "now_text", help="Crawl time for relative dates (ISO; default: now).")
@click.option("--rate", "rate_values", multiple=True, metavar="CUR=USD", help="USD per unit.")
@click.option("--include-sticky", is_flag=True, help="Also show sticky threads/announcements.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@common_options
@guarded
def extract(
    config_path: Path | None,
    db_path: Path | None,
    file: Path,
    source_name: str | None,
    engine_name: str | None,
    page_url: str | None,
    sets: tuple[str, ...],
    timezone: str | None,
    now_text: str | None,
    rate_values: tuple[str, ...],
    include_sticky: bool,
    as_json: bool,
) -> None:
    """Run an extractor on a saved page (offline) and print every field it reads."""
    from monitor.extract import get_engine
    from monitor.extract.listing import listing_dict
    from monitor.fetch import decode_body

    if bool(source_name) == bool(engine_name):
        raise click.UsageError("give exactly one of --source NAME or --engine NAME")
    rates: dict[str, float] = {}
    if source_name:
        config = load(config_path)
        try:
            source = config.source(source_name)
        except KeyError:
            raise ConfigError(f"unknown source {source_name!r}") from None
        rates = dict(config.rates)
    else:
        source = Source(
            name="extract", url=page_url or "http://localhost/", engine=str(engine_name), every=3600
        )
    source = _with_sets(source, _pairs(sets, "--set"))
    source = dataclasses.replace(
        source,
        timezone=timezone or source.timezone,
        skip_sticky=source.skip_sticky and not include_sticky,
    )
    now = _now(now_text)
    try:
        engine = get_engine(source, rates={**rates, **_rates(rate_values)})
    except ExtractError as exc:
        raise ConfigError(str(exc)) from None
    text = decode_body(file.read_bytes(), "")
    result = engine.extract(text, page_url or source.url, now=now)
    rows = [listing_dict(li) for li in result.listings]
    if as_json:
        echo_json({"listings": rows, "next_url": result.next_url})
        return
    for row in rows:
        click.echo(_listing_text(row))
    click.echo(f"{len(rows)} listings; next page: {report.clean(result.next_url or '-')}")


@click.command()
@click.argument("text")
@click.option("--rate", "rate_values", multiple=True, metavar="CUR=USD", help="USD per unit.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@common_options
@guarded
def parse(
    config_path: Path | None,
    db_path: Path | None,
    text: str,
    rate_values: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show what leakmon reads in TEXT (a title or post): records, size, span,
    prices, data types, country. USD estimates use the config's [rates]."""
    from monitor.extract import parse_text

    config = _config_or_none(config_path)
    rates = {**(config.rates if config else {}), **_rates(rate_values)}
    parsed = parse_text(text, rates).as_json()
    if as_json:
        echo_json(parsed)
        return
    click.echo(_parsed_text(parsed))


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use an ISO date/time", param_hint="--now") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _money(price: Mapping[str, Any]) -> str:
    amount = price.get("amount")
    text = "-" if amount is None else f"{amount:,.8g} {price.get('currency') or ''}".strip()
    if price.get("usd") is not None and price.get("currency") not in ("USD", None):
        text += f" (~${price['usd']:,.0f})"
    return text


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if value < 1024 or unit == "PB":
            break
        value /= 1024
    return f"{value:,.1f} {unit} ({size:,} bytes)"


def _listing_text(row: Mapping[str, Any]) -> str:
    """One listing, every field on its own line, all page text made safe."""
    price = row["price"]
    price_text = "-"
    if price:
        price_text = f"{_money(price)} [{price['kind']}] {report.clean(price['raw'], 60)!r}"
        price_text += " negotiable" if price["negotiable"] else ""
    records = row["records"]
    lines = [
        f"[{report.clean(row['external_id'], 60)}] {report.clean(row['title'], 120)}",
        f"  url:      {report.clean(row['url'], 200)}",
        f"  seller:   {report.clean(row['seller'] or '-', 60)}",
        f"  price:    {price_text}",
        f"  records:  {report.fmt_records(records)}"
        + (f" {report.clean(row['records_text'], 60)!r}" if records is not None else ""),
        f"  posted:   {row['posted_at'] or '-'}"
        + (f" {report.clean(row['posted_raw'], 60)!r}" if row["posted_raw"] else ""),
        f"  types:    {', '.join(row['data_types']) or '-'}",
        f"  size:     {_size(row['size_bytes'])}",
        f"  span:     {'-'.join(map(str, row['span'])) if row['span'] else '-'}",
        f"  country:  {row['country'] or '-'}",
        f"  replies:  {row['replies'] if row['replies'] is not None else '-'}"
        f"  views: {row['views'] if row['views'] is not None else '-'}"
        f"  sticky: {'yes' if row['sticky'] else 'no'}",
    ]
    if row["first_post"]:
        lines.append(f"  text:     {report.clean(row['first_post'], 200)}")
    return "\n".join(lines)


def _parsed_text(parsed: Mapping[str, Any]) -> str:
    span = parsed["span"]
    prices = parsed["prices"]
    records = parsed["records"]
    span_text = f"{span['from']}-{span['to']}" if span else "-"
    lines = [
        f"records:    {report.fmt_records(records)}"
        + (f" {report.clean(parsed['records_text'], 60)!r}" if records is not None else ""),
        f"size:       {_size(parsed['size_bytes'])}",
        f"span:       {span_text}",
        f"price:      {_money(parsed['price']) if parsed['price'] else '-'}",
    ]
    lines += [f"  {p['kind']:<11} {_money(p)}" for p in prices[1:]]
    lines += [
        f"negotiable: {'yes' if parsed['negotiable'] else 'no'}",
        f"free:       {'yes' if parsed['free'] else 'no'}",
        f"data types: {', '.join(parsed['data_types']) or '-'}",
        f"country:    {parsed['country'] or '-'}",
    ]
    return "\n".join(lines)
