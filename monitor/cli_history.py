"""History commands: `listings`, `show`, `events`, `sellers`, `seller`, `stats`, `prune`.

Click command objects for `cli.main.add_command` (all in `COMMANDS`). Read commands
open the store only; `prune` reads `[storage] keep_events`/`keep_crawls` from the
config unless given on the command line.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from monitor import report, report_history
from monitor.clikit import (
    common_options,
    echo_json,
    guarded,
    open_store,
    parse_since,
    read_config,
    store_only,
)
from monitor.models import Config, PriceFloor
from monitor.store import history

STATES = click.Choice(["active", "missing", "aged_out", "deleted"])
KINDS = click.Choice(
    [
        "new",
        "changed",
        "deleted",
        "restored",
        "reposted",
        "source_down",
        "source_recovered",
        "layout_changed",
        "layout_settled",
        "superseded",
    ]
)


def output_options(func: Any) -> Any:
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(func)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def emit(rows: list[dict[str, Any]], as_json: bool, as_csv: bool, text: Any, empty: str) -> None:
    if as_json and as_csv:
        raise click.UsageError("give at most one of --json and --csv")
    if as_json:
        echo_json(rows)
    elif as_csv:
        click.echo(report_history.to_csv(rows), nl=False)
    else:
        click.echo(text(rows) if rows else empty)


TABLE_ROWS = 100  # rows the listings table shows by default


def price_floor(text: str) -> PriceFloor:
    """`--min-price`: a bare number is US dollars; otherwise one price as leakmon reads
    prices in titles ("$1,000", "5BTC", "0.5 XMR"); its `usd` is left for the caller
    to set from the config's [rates] (`in_usd`)."""
    from monitor.extract.prices import parse_price

    bare = text.strip().replace(",", "").replace("_", "")
    try:
        amount = float(bare)
    except ValueError:
        price = parse_price(text)
        if price is None or price.amount is None or price.currency is None:
            raise click.BadParameter(
                f"{text!r} is not an amount: give 1000, $1000 or 5BTC", param_hint="--min-price"
            ) from None
        if price.raw.strip().casefold() != text.strip().casefold():
            raise click.BadParameter(
                f"{text!r}: give one amount (read {price.raw!r} of it)", param_hint="--min-price"
            ) from None
        amount, currency = price.amount, price.currency
    else:
        if amount < 0 or amount != amount:  # negative or NaN
            raise click.BadParameter(f"{text!r} is not an amount", param_hint="--min-price")
        currency = "USD"
    return PriceFloor(amount, currency, amount if currency == "USD" else None)


def in_usd(floor: PriceFloor, config: Config | None) -> PriceFloor:
    """`floor` with its USD bound from the config's [rates], when they name its currency."""
    rate = config.rates.get(floor.currency) if config is not None else None
    return floor if rate is None else replace(floor, usd=floor.amount * rate)


@click.command("listings")
@click.option("--state", type=STATES, help="Only listings in this state.")
@click.option("--source", "source_name", help="Only this source.")
@click.option("--seller", help="Only this seller (any case).")
@click.option("--min-records", type=click.IntRange(0), help="At least this many records.")
@click.option(
    "--min-price",
    metavar="AMOUNT",
    help="Asking at least AMOUNT: 1000 or $1,000 (USD estimate), 5BTC or 0.5 XMR "
    "(priced in that currency, or worth it at the config's [rates]).",
)
@click.option("--data-type", help="Offering this data type (emails, phones, national_ids, …).")
@click.option("--search", help="Full-text search in title, seller and first post.")
@click.option("--since", help="First seen within: 2h, 7d, or since an ISO date.")
@click.option(
    "--limit",
    type=click.IntRange(1),
    help=f"At most this many, newest first (the table shows {TABLE_ROWS} unless told).",
)
@click.option("--all", "show_all", is_flag=True, help="Every matching listing in the table.")
@output_options
@common_options
@guarded
def listings(
    config_path: Path | None,
    db_path: Path | None,
    state: str | None,
    source_name: str | None,
    seller: str | None,
    min_records: int | None,
    min_price: str | None,
    data_type: str | None,
    search: str | None,
    since: str | None,
    limit: int | None,
    show_all: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List stored listings, newest first. JSON and CSV export every match; the
    table shows the newest 100 unless --limit or --all says otherwise."""
    table_default = limit is None and not (show_all or as_json or as_csv)
    if table_default:
        limit = TABLE_ROWS
    floor = None if min_price is None else price_floor(min_price)
    rated = floor is not None and floor.usd is None  # another currency: [rates] may convert it
    # The config is read once: for [storage] without --db, and for [rates].
    config = read_config(config_path, db_path) if db_path is None or rated else None
    if floor is not None and rated:
        floor = in_usd(floor, config)
    with open_store(db_path, config) as store:
        rows = store.read(
            "read listings",
            history.listings,
            state=state,
            source=source_name,
            seller=seller,
            min_records=min_records,
            min_price=floor,
            data_type=data_type,
            search=search,
            since=parse_since(since),
            limit=limit,
        )
    emit(rows, as_json, as_csv, report.listings_table, "no listings")
    if table_default and len(rows) == TABLE_ROWS:
        click.echo(f"(the newest {TABLE_ROWS} shown; --limit N or --all for more)")


@click.command("show")
@click.argument("listing_id")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@common_options
@guarded
def show(config_path: Path | None, db_path: Path | None, listing_id: str, as_json: bool) -> None:
    """One listing: its fields and its timeline (changes, verifications, deletion and
    how long it was up, restores, the same dataset elsewhere, alerts)."""
    with store_only(config_path, db_path) as store:
        row = store.listing(listing_id)
        if row is None:
            click.echo(f"error: no listing {report.clean(listing_id)!r}", err=True)
            sys.exit(1)
        lid = row["id"]
        parts = {
            "events": store.read("read events", history.events, listing_id=lid),
            "observations": store.observations(lid),
            "verifications": store.read("read verifications", history.verifications, lid),
            "alerts": store.read("read alerts", history.listing_alerts, lid),
            "cluster": store.read("read the cluster", history.cluster, lid),
            "pages": store.read("read pages", history.pages, lid),
        }
    up = report_history.seconds_between(row["first_seen"], row["deleted_at"] or row["last_seen"])
    items = report_history.timeline(
        row,
        parts["events"],
        parts["observations"],
        parts["verifications"],
        parts["alerts"],
        parts["cluster"],
    )
    if as_json:
        echo_json({**row, **parts, "up_seconds": up, "timeline": items})
        return
    click.echo(report.listing_detail(row))
    evidence = report_history.evidence_text(row)
    if evidence:
        click.echo(evidence)
    if up is not None:
        state = "was up for" if row["state"] == "deleted" else "seen for"
        click.echo(f"{'':>11}  ({state} {report_history.duration(up)})")
    click.echo("timeline:")
    click.echo(report_history.timeline_text(items))


@click.command("events")
@click.option("--since", help="Only events newer than this: 2h, 7d, or an ISO date.")
@click.option("--kind", type=KINDS, help="Only events of this kind.")
@click.option("--source", "source_name", help="Only this source.")
@output_options
@common_options
@guarded
def events(
    config_path: Path | None,
    db_path: Path | None,
    since: str | None,
    kind: str | None,
    source_name: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List lifecycle and source events, oldest first."""
    with store_only(config_path, db_path) as store:
        rows = store.read(
            "read events", history.events, since=parse_since(since), kind=kind, source=source_name
        )
    emit(rows, as_json, as_csv, report.events_table, "no events")


@click.command("sellers")
@output_options
@common_options
@guarded
def sellers(config_path: Path | None, db_path: Path | None, as_json: bool, as_csv: bool) -> None:
    """Seller handles across sources: listings, records offered, first and last seen."""
    with store_only(config_path, db_path) as store:
        rows = store.read("read sellers", history.sellers)
    emit(rows, as_json, as_csv, report_history.sellers_table, "no sellers")


@click.command("seller")
@click.argument("handle")
@output_options
@common_options
@guarded
def seller(
    config_path: Path | None, db_path: Path | None, handle: str, as_json: bool, as_csv: bool
) -> None:
    """One seller (any case): summary and every listing, newest first."""
    with store_only(config_path, db_path) as store:
        summary = store.read("read sellers", history.sellers, handle)
        rows = store.read("read listings", history.listings, seller=handle)
    if not summary:
        click.echo(f"error: no seller {report.clean(handle)!r}", err=True)
        sys.exit(1)
    if as_json:
        echo_json({**summary[0], "listings_detail": rows})
        return
    if as_csv:
        emit(rows, False, True, None, "")
        return
    click.echo(report_history.sellers_table(summary))
    click.echo()
    click.echo(report_history.seller_listings_table(rows))


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@common_options
@guarded
def stats(config_path: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Counts: listings by state and source, events, crawls, verifications, alerts."""
    with store_only(config_path, db_path) as store:
        numbers = store.read("read stats", history.stats)
    if as_json:
        echo_json(numbers)
    else:
        click.echo(report_history.stats_text(numbers))


@click.command("prune")
@click.option("--keep-events", help="Drop events older than this (default: [storage] keep_events).")
@click.option("--keep-crawls", help="Drop crawl rows older than this (default: keep_crawls).")
@common_options
@guarded
def prune(
    config_path: Path | None,
    db_path: Path | None,
    keep_events: str | None,
    keep_crawls: str | None,
) -> None:
    """Apply retention, then VACUUM. Never deletes listings or observations; keeps
    events with undelivered alerts and crawl rows anything refers to."""
    config = read_config(config_path, db_path)
    storage = config.storage if config is not None else None
    events_before = parse_since(keep_events) or _ago(storage.keep_events if storage else None)
    crawls_before = parse_since(keep_crawls) or _ago(storage.keep_crawls if storage else None)
    if events_before is None and crawls_before is None:
        click.echo("nothing to prune: set [storage] keep_events / keep_crawls, or --keep-*")
        return
    with open_store(db_path, config) as store:
        counts = store.prune(events_before=events_before, crawls_before=crawls_before)
    click.echo(
        f"pruned {counts['events']} events, {counts['alerts']} alerts, "
        f"{counts['crawls']} crawls; vacuumed"
    )


def _ago(seconds: float | None) -> Any:
    return None if seconds is None else parse_since(f"{int(seconds)}s")


COMMANDS = (listings, show, events, sellers, seller, stats, prune)
