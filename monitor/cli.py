"""The `leakmon` command line. The only place that maps errors to exit codes:
0 ok, 1 runtime failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from monitor import report
from monitor.clikit import (
    common_options,
    echo_json,
    engines_for,
    guarded,
    load,
    open_store,
    parse_since,
    select_sources,
    store_only,
)
from monitor.models import Source

# ------------------------------------------------------------------ commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leakmon")
def main() -> None:
    """leakmon: watch dark-web leak markets through Tor and track every listing's life."""


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@common_options
@guarded
def config_check(config_path: Path | None, db_path: Path | None) -> None:
    """Validate sources.toml; list every problem with its path (exit 2)."""
    config = load(config_path)
    engines_for(config.sources)
    click.echo(
        f"{config.path}: ok ({len(config.sources)} sources, {len(config.rules)} rules, "
        f"{len(config.targets)} notify targets)"
    )


@main.command()
@click.argument("names", nargs=-1)
@click.option("--once", is_flag=True, help="Crawl each source once and exit.")
@common_options
@guarded
def crawl(
    config_path: Path | None, db_path: Path | None, names: tuple[str, ...], once: bool
) -> None:
    """Crawl the sources (all enabled ones, or NAMES) and deliver alerts.

    Without --once, keeps crawling each source every `every` until interrupted.
    """
    from monitor.runtime import run_crawls

    config = load(config_path)
    sources = select_sources(config, names)
    engines = engines_for(sources)
    with open_store(db_path, config) as store:
        failed = asyncio.run(run_crawls(config, store, sources, engines, once=once))
    if failed:
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "source_name", help="Use this configured source's engine and selectors.")
@click.option("--engine", "engine_name", help="Use this engine's built-in profile.")
@click.option("--url", "page_url", help="The page's URL, to resolve relative links.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@common_options
@guarded
def extract(
    config_path: Path | None,
    db_path: Path | None,
    file: Path,
    source_name: str | None,
    engine_name: str | None,
    page_url: str | None,
    as_json: bool,
) -> None:
    """Run an extractor on a saved page (offline), to tune selectors."""
    from monitor.fetch import decode_body

    if bool(source_name) == bool(engine_name):
        raise click.UsageError("give exactly one of --source NAME or --engine NAME")
    if source_name:
        source = select_sources(load(config_path), [source_name])[0]
    else:
        source = Source(
            name="extract", url=page_url or "http://localhost/", engine=str(engine_name), every=3600
        )
    engine = engines_for([source])[source.name]
    html = decode_body(file.read_bytes(), "")
    result = engine.extract(html, page_url or source.url)
    rows = [listing_dict(li) for li in result.listings]
    if as_json:
        echo_json(rows)
        return
    body = [
        [
            report.clean(r["external_id"], 30),
            report.clean(r["seller"] or "-", 20),
            report.fmt_records(r["records"]),
            report.clean(r["price_raw"] or "-", 30),
            report.clean(r["title"], 60),
        ]
        for r in rows
    ]
    click.echo(report.table(body, ["id", "seller", "records", "price", "title"]))
    click.echo(f"{len(rows)} listings; next page: {report.clean(result.next_url or '-')}")


def listing_dict(listing: Any) -> dict[str, Any]:
    return {
        "external_id": listing.external_id,
        "url": listing.url,
        "title": listing.title,
        "seller": listing.seller,
        "records": listing.records.count if listing.records else None,
        "price_raw": listing.price.raw if listing.price else None,
        "price_amount": listing.price.amount if listing.price else None,
        "price_currency": listing.price.currency if listing.price else None,
        "posted_at": listing.posted_at.isoformat() if listing.posted_at else None,
    }


@main.command()
@click.option("--source", "source_name", help="Only this source.")
@click.option("--state", type=click.Choice(["active", "missing", "aged_out", "deleted"]))
@click.option("--search", help="Full-text search in title and seller.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@common_options
@guarded
def listings(
    config_path: Path | None,
    db_path: Path | None,
    source_name: str | None,
    state: str | None,
    search: str | None,
    as_json: bool,
) -> None:
    """List stored listings, newest first."""
    with store_only(config_path, db_path) as store:
        rows = store.listings(source=source_name, state=state, search=search)
    if as_json:
        echo_json(rows)
    else:
        click.echo(report.listings_table(rows) if rows else "no listings")


@main.command()
@click.argument("listing_id")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@common_options
@guarded
def show(config_path: Path | None, db_path: Path | None, listing_id: str, as_json: bool) -> None:
    """Show one listing: its fields, every change and its timeline."""
    with store_only(config_path, db_path) as store:
        row = store.listing(listing_id)
        if row is None:
            click.echo(f"error: no listing {report.clean(listing_id)!r}", err=True)
            sys.exit(1)
        events = store.events(listing_id=row["id"])
        observations = store.observations(row["id"])
    if as_json:
        echo_json({**row, "events": events, "observations": observations})
        return
    click.echo(report.listing_detail(row))
    click.echo("timeline:")
    click.echo(report.timeline(events))


@main.command()
@click.option("--since", help="Only events newer than this: 2h, 7d, or an ISO date.")
@click.option("--source", "source_name", help="Only this source.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@common_options
@guarded
def events(
    config_path: Path | None,
    db_path: Path | None,
    since: str | None,
    source_name: str | None,
    as_json: bool,
) -> None:
    """List lifecycle and source events, oldest first."""
    with store_only(config_path, db_path) as store:
        rows = store.events(since=parse_since(since), source=source_name)
    if as_json:
        echo_json(rows)
    else:
        click.echo(report.events_table(rows) if rows else "no events")


@main.command()
@click.option("--cycles", type=click.IntRange(1, 100), default=None, help="Story steps to run.")
@click.option(
    "--interval", type=float, default=1.0, show_default=True, help="Seconds between cycles."
)
@common_options
@guarded
def demo(
    config_path: Path | None, db_path: Path | None, cycles: int | None, interval: float
) -> None:
    """Run the embedded demo world: a fixture forum and shop behind a local SOCKS relay.

    Uses the demo's own config unless --config names another (whose [tor] socks is
    replaced by the demo relay). Starts from an empty database every run.
    """
    from monitor.demo.runner import run_demo

    asyncio.run(
        run_demo(
            db_path, config_path=config_path, cycles=cycles, interval=interval, echo=click.echo
        )
    )


@main.command()
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a Prometheus textfile (node_exporter textfile collector) after each crawl.",
)
@click.option(
    "--grace",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds in-flight crawls may take to finish at shutdown.",
)
@common_options
@guarded
def run(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str,
    log_format: str,
    metrics_file: Path | None,
    grace: float,
) -> None:
    """Run as a service: crawl every source on its schedule until SIGTERM.

    SIGHUP reloads the config (an invalid one is rejected and the old one kept).
    Under systemd it reports READY, STATUS and WATCHDOG through sd_notify.
    """
    from monitor.clikit import default_config_path, default_db_path
    from monitor.daemon import Daemon
    from monitor.logs import setup_logging

    setup_logging(log_level, log_format)
    daemon = Daemon(
        config_path or default_config_path(), db_path, grace=grace, metrics_file=metrics_file
    )
    if daemon.db_path is None and daemon.config.db_path is None:
        daemon.db_path = default_db_path()
    sys.exit(asyncio.run(daemon.run()))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@common_options
@guarded
def status(config_path: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Health per source and of the outbox. Exit 0 healthy, 1 degraded, 2 down."""
    from monitor.daemon import health_of

    config = load(config_path)
    with open_store(db_path, config) as store:
        health = health_of(config, store)
    if as_json:
        echo_json(
            {
                "health": health.name,
                "pending_alerts": health.pending_alerts,
                "failed_alerts": health.failed_alerts,
                "db_bytes": health.db_bytes,
                "sources": [
                    {
                        "name": s.name,
                        "state": s.state,
                        "last_ok": s.last_ok,
                        "failure_streak": s.failure_streak,
                        "next_run": s.next_run.isoformat() if s.next_run else None,
                    }
                    for s in health.sources
                ],
            }
        )
    else:
        rows = [
            [
                s.name,
                s.state,
                report.clean(s.last_ok or "-")[:19],
                str(s.failure_streak),
                s.next_run.isoformat()[:19] if s.next_run else "-",
            ]
            for s in health.sources
        ]
        click.echo(report.table(rows, ["source", "state", "last ok", "failures", "next run"]))
        click.echo(
            f"outbox: {health.pending_alerts} pending, {health.failed_alerts} failed; "
            f"database {health.db_bytes / 1e6:.1f} MB; health: {health.name}"
        )
    sys.exit(health.level)
