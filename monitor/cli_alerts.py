"""CLI commands of the outbox and the rules: `alerts`, `alerts retry`, `notify test`,
`rules test` (retro-hunt over stored history, sending nothing)."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor import report
from monitor.clikit import (
    common_options,
    echo_json,
    guarded,
    load,
    open_store,
    parse_since,
    store_only,
)
from monitor.errors import ConfigError, NotifyError
from monitor.models import Alert, AlertStatus, Event, EventKind, Listing

# ------------------------------------------------------------------ alerts


@click.group(invoke_without_command=True)
@click.option("--pending", "status", flag_value="pending", help="Only alerts not yet sent.")
@click.option("--failed", "status", flag_value="failed", help="Only alerts given up on.")
@click.option("--sent", "status", flag_value="sent", help="Only delivered alerts.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@common_options
@click.pass_context
@guarded
def alerts(
    ctx: click.Context,
    config_path: Path | None,
    db_path: Path | None,
    status: str | None,
    as_json: bool,
) -> None:
    """The outbox: every alert with its delivery state."""
    if ctx.invoked_subcommand is not None:
        return
    with store_only(config_path, db_path) as store:
        rows = store.alerts(AlertStatus(status) if status else None)
    if as_json:
        echo_json(rows)
        return
    body = [
        [
            report.clean(r["id"], 20),
            report.clean(r["status"]),
            str(r["attempts"]),
            report.clean(r["target"], 20),
            report.clean(r["created"])[:19],
            report.clean(r.get("last_error") or "", 40),
            report.clean(r["title"], 70),
        ]
        for r in rows
    ]
    headers = ["id", "status", "tries", "target", "created", "last error", "title"]
    click.echo(report.table(body, headers) if rows else "no alerts")


@alerts.command("retry")
@click.argument("ids", nargs=-1)
@common_options
@guarded
def alerts_retry(config_path: Path | None, db_path: Path | None, ids: tuple[str, ...]) -> None:
    """Queue failed alerts (all, or IDS) for delivery again, then deliver them."""
    from monitor.notify import AppriseSender, dispatch

    config = load(config_path)
    with open_store(db_path, config) as store:
        count = store.retry_alerts(list(ids) or None)
        click.echo(f"{count} alerts queued again")
        sent = dispatch(
            store, AppriseSender(), {t.name: t for t in config.targets}, datetime.now(UTC)
        )
    click.echo(f"sent {sent.sent}, will retry {sent.retried}, failed {sent.failed}")
    if sent.retried or sent.failed:
        sys.exit(1)


# ------------------------------------------------------------------ notify


@click.group("notify")
def notify_group() -> None:
    """Notification targets."""


@notify_group.command("test")
@click.argument("names", nargs=-1)
@common_options
@guarded
def notify_test(config_path: Path | None, db_path: Path | None, names: tuple[str, ...]) -> None:
    """Send a test message to every target (or NAMES); exit 1 if one fails."""
    from monitor.notify import AppriseSender

    config = load(config_path)
    known = {t.name: t for t in config.targets}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown notify target {', '.join(unknown)}")
    now = datetime.now(UTC)
    probe = Alert(
        id="test-" + uuid.uuid4().hex[:8],
        event_id="test",
        rule="notify-test",
        target="",
        severity="low",
        title="[low] leakmon test message",
        body=f"Detected: {now:%Y-%m-%d %H:%M UTC}\nRule: notify-test",
        created=now,
    )
    sender, failed = AppriseSender(), 0
    for name in names or tuple(known):
        try:
            sender.send(known[name], probe)
            click.echo(f"{name}: sent")
        except NotifyError as exc:
            failed += 1
            click.echo(f"{name}: FAILED {report.clean(str(exc), 300)}")
    if failed:
        sys.exit(1)


# ------------------------------------------------------------------- rules


@click.group("rules")
def rules_group() -> None:
    """Alert rules."""


@rules_group.command("test")
@click.argument("rule_name", required=False)
@click.option("--since", default="90d", show_default=True, help="How far back: 7d, 90d or a date.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@common_options
@guarded
def rules_test(
    config_path: Path | None,
    db_path: Path | None,
    rule_name: str | None,
    since: str,
    as_json: bool,
) -> None:
    """Retro-hunt: run the rules (or RULE) over stored events; sends nothing."""
    from monitor.rules import alerts_for

    config = load(config_path)
    rules = [r for r in config.rules if rule_name in (None, r.name)]
    if rule_name and not rules:
        raise ConfigError(f"unknown rule {rule_name}")
    with open_store(db_path, config) as store:
        rows = store.events(since=parse_since(since))
        listings = stored_listings(store, {r["source"] for r in rows})
    events = [event_of(r) for r in rows if r.get("listing_id") in listings]
    found = alerts_for(events, listings, rules, config.targets, datetime.now(UTC))
    matches = {(a.event_id, a.rule): a for a in found}  # one line per event and rule
    by_id = {e.id: e for e in events}
    out = [
        {
            "event_id": eid,
            "rule": rule,
            "kind": by_id[eid].kind.value,
            "at": by_id[eid].at.isoformat(),
            "listing_id": by_id[eid].listing_id,
            "title": alert.title,
        }
        for (eid, rule), alert in sorted(matches.items(), key=lambda kv: by_id[kv[0][0]].at)
    ]
    if as_json:
        echo_json(out)
        return
    body = [
        [
            report.clean(o["at"])[:19],
            report.clean(o["rule"]),
            report.clean(o["kind"]),
            report.clean(o["listing_id"], 30),
            report.clean(o["title"], 80),
        ]
        for o in out
    ]
    click.echo(
        report.table(body, ["at", "rule", "kind", "listing", "alert"]) if out else "no matches"
    )
    click.echo(f"{len(out)} matches over {len(events)} events (nothing sent)")


def stored_listings(store: Any, sources: set[str]) -> dict[str, Listing]:
    """Current field values of every stored listing of `sources`."""
    listings: dict[str, Listing] = {}
    for source in sources:
        listings.update({k: v.listing for k, v in store.known_listings(source).items()})
    return listings


def event_of(row: dict[str, Any]) -> Event:
    return Event(
        id=row["id"],
        kind=EventKind(row["kind"]),
        source=row["source"],
        crawl_id=row.get("crawl_id") or "",
        at=datetime.fromisoformat(row["at"]),
        listing_id=row.get("listing_id"),
        details=row.get("details") or {},
    )
