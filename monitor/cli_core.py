"""The core CLI commands: config check, crawl, demo, run, status."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict
from pathlib import Path

import click

from monitor import report
from monitor.clikit import (
    common_options,
    echo_json,
    engines_for,
    guarded,
    load,
    open_store,
    select_sources,
)
from monitor.models import RestoreBacklog, RevisitBacklog
from monitor.report_history import duration

# ------------------------------------------------------------------ commands


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@common_options
@guarded
def config_check(config_path: Path | None, db_path: Path | None) -> None:
    """Validate sources.toml; list every problem with its path (exit 2)."""
    config = load(config_path)
    engines_for(config.sources, config)
    click.echo(
        f"{config.path}: ok ({len(config.sources)} sources, {len(config.rules)} rules, "
        f"{len(config.targets)} notify targets)"
    )


@click.command()
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
    engines = engines_for(sources, config)
    with open_store(db_path, config) as store:
        failed = asyncio.run(run_crawls(config, store, sources, engines, once=once))
    if failed:
        sys.exit(1)


@click.command()
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


@click.command()
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


def backlog_text(backlog: RevisitBacklog | RestoreBacklog | None) -> str:
    """`status`'s cell: "-" (the source makes no such checks), "0 of 12" (overdue of
    aged-out, or of deleted ones inside their restore window), "3 of 12, 1d 2h late"."""
    if backlog is None:
        return "-"
    of = backlog.aged_out if isinstance(backlog, RevisitBacklog) else backlog.watched
    text = f"{backlog.overdue} of {of}"
    if backlog.overdue:
        text += f", {duration(backlog.worst_late)} late"
    return text


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@common_options
@guarded
def status(config_path: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Health per source and of the outbox. Exit 0 healthy, 1 degraded, 2 down.

    "overdue revisits": aged-out listings whose check is late by more than two crawl
    intervals, of all aged-out ones still checked (not those a redesign superseded),
    and how late the oldest is. "overdue restore
    checks": the same for deleted listings' re-checks, of those inside their
    restore_window."""
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
                        "revisits": None if s.revisits is None else asdict(s.revisits),
                        "restore_checks": None if s.restores is None else asdict(s.restores),
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
                backlog_text(s.revisits),
                backlog_text(s.restores),
            ]
            for s in health.sources
        ]
        headers = [
            "source",
            "state",
            "last ok",
            "failures",
            "next run",
            "overdue revisits",
            "overdue restore checks",
        ]
        click.echo(report.table(rows, headers))
        click.echo(
            f"outbox: {health.pending_alerts} pending, {health.failed_alerts} failed; "
            f"database {health.db_bytes / 1e6:.1f} MB; health: {health.name}"
        )
    sys.exit(health.level)
