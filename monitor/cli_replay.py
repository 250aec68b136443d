"""`leakmon replay`: feed saved captures of one source (a directory, or a WARC
file) through the real crawl (block-page detection, extractor, lifecycle, rules,
store). Registered in cli.py; the capture layout is described in
`monitor.captures`, WARC reading in `monitor.warc`."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from monitor import report
from monitor.clikit import common_options, echo_json, guarded, load, open_store
from monitor.engines import PROFILE_ENGINES
from monitor.errors import ConfigError, ExtractError
from monitor.models import Config, Source

UNBOUNDED = 100_000  # --page-budget default: every planned listing page
HELD = "replayed from saved captures: not sent (`leakmon alerts retry` sends it)"


def _source(
    config: Config | None, name: str | None, engine: str | None, url: str | None, label: str
) -> Source:
    """The configured source NAME, or an ad-hoc one from --engine and --url."""
    if bool(name) == bool(engine):
        raise click.UsageError("give exactly one of --source NAME or --engine ENGINE --url URL")
    if name:
        assert config is not None
        try:
            return config.source(name)
        except KeyError:
            known = ", ".join(sorted(s.name for s in config.sources)) or "none"
            raise ConfigError(f"unknown source {name!r} (known: {known})") from None
    if not url:
        raise click.UsageError("--engine needs --url (the listing page the captures show)")
    return Source(name=label, url=url, engine=str(engine), every=3600)


def _event_dict(event: Any, capture: str) -> dict[str, Any]:
    return {
        "capture": capture,
        "id": event.id,
        "kind": event.kind.value,
        "source": event.source,
        "listing_id": event.listing_id,
        "crawl_id": event.crawl_id,
        "at": event.at.isoformat(),
        "details": dict(event.details),
    }


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--source", "source_name", help="A configured [[source]]: engine, selectors, …")
@click.option("--engine", "engine_name", help="Without a config: this engine's profile.")
@click.option("--url", help="With --engine: the URL of the listing page the captures show.")
@click.option("--name", "label", help="With --engine: the source name (default: DIRECTORY's).")
@click.option(
    "--absence",
    type=click.Choice(["auto", "verify", "count"]),
    help="Override how absence is judged (count: for forum histories without thread pages).",
)
@click.option(
    "--missing-after", type=click.IntRange(1), help="Override: complete crawls absent → deleted."
)
@click.option("--timezone", help="IANA zone for dates the pages show without one.")
@click.option(
    "--fallback-engine",
    "fallbacks",
    multiple=True,
    type=click.Choice(PROFILE_ENGINES),
    help="Override: an engine profile to read a page the engine reads nothing from "
    "(repeat for more, in order; a site that moved to another engine).",
)
@click.option(
    "--alerts/--no-alerts",
    "alerts",
    default=None,
    help="--alerts: also deliver the alerts; --no-alerts: record none (default: record "
    "them in the outbox as not sent; `leakmon alerts retry` would send them).",
)
@click.option(
    "--page-budget",
    type=click.IntRange(0),
    default=UNBOUNDED,
    show_default=True,
    help="Listing pages (verifications, evidence) read per crawl. A saved page costs no "
    "Tor request, so every planned check is made; 20 reproduces a live crawl's bound.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the events in order as JSON.")
@common_options
@guarded
def replay(
    config_path: Path | None,
    db_path: Path | None,
    directory: Path,
    source_name: str | None,
    engine_name: str | None,
    url: str | None,
    label: str | None,
    absence: str | None,
    missing_after: int | None,
    timezone: str | None,
    fallbacks: tuple[str, ...],
    alerts: bool | None,
    page_budget: int,
    as_json: bool,
) -> None:
    """Replay DIRECTORY's saved captures of one source, oldest first, as crawls at
    the capture times. Captures not newer than the source's last stored crawl are
    skipped. Layout: DIRECTORY/<time>/page1.html, page2.html, threads/<id>.html, or
    flat DIRECTORY/<time>.html, <time>-p2.html; or DIRECTORY is a WARC file
    (.warc, .warc.gz) or a WACZ, where each response for the source URL starts a capture
    (see docs/lifecycle.md)."""
    from monitor.captures import is_warc, scan, scan_warc
    from monitor.extract import get_engine
    from monitor.pipeline import NO_OPS
    from monitor.replay import ReplayedCrawl, replay_captures

    config = load(config_path) if (source_name or config_path) else None
    warc = is_warc(directory)
    stem = directory.resolve().name
    name = label or (re.sub(r"(?i)\.(warc(\.gz)?|wacz)$", "", stem) if warc else stem) or "replay"
    source = _source(config, source_name, engine_name, url, name)
    overrides: dict[str, Any] = {
        "absence": absence,
        "missing_after": missing_after,
        "timezone": timezone,
        "fallback_engines": tuple(dict.fromkeys(e for e in fallbacks if e != source.engine))
        or None,
    }
    source = dataclasses.replace(source, **{k: v for k, v in overrides.items() if v is not None})
    # every naming or reading problem, before anything is written
    captures = scan_warc(directory, source.url, source.max_bytes) if warc else scan(directory)
    rates = dict(config.rates) if config else {}
    try:
        engine = get_engine(source, rates)
    except ExtractError as exc:
        raise ConfigError(str(exc)) from None
    record = alerts is not False and config is not None

    def show(crawl: ReplayedCrawl) -> None:
        if not as_json:
            click.echo(f"{report.clean(crawl.capture, 60)}: {crawl.summary}")

    with open_store(db_path, config) as store:
        result = asyncio.run(
            replay_captures(
                source,
                captures,
                engine,
                store,
                rules=config.rules if record and config else (),
                targets=config.targets if record and config else (),
                rates=rates,
                keep_html=bool(config and config.storage.keep_html),
                ops=config.ops if record and config else NO_OPS,
                page_budget=page_budget,
                on_crawl=show,
            )
        )
        ids = [i for c in result.crawls for i in c.alerts]
        sent = _deliver(store, config, len(ids)) if alerts and config is not None else None
        if alerts is None:  # recorded, and kept from any later dispatcher
            for alert_id in ids:
                store.mark_attempt_failed(alert_id, HELD, None)
    outcomes = Counter(c.outcome for c in result.crawls)
    kinds = Counter(e.kind.value for c in result.crawls for e in c.events)
    if as_json:
        echo_json(
            {
                "source": source.name,
                "captures": len(captures),
                "replayed": len(result.crawls),
                "skipped": result.skipped,
                "outcomes": dict(sorted(outcomes.items())),
                "alerts": len(ids),
                "unverified": list(result.unverified),
                "crawls": [
                    {"capture": c.capture, "at": c.at.isoformat(), "outcome": c.outcome}
                    | {"error": c.error, "events": len(c.events)}
                    for c in result.crawls
                ],
                "events": [_event_dict(e, c.capture) for c in result.crawls for e in c.events],
            }
        )
        return
    click.echo(
        f"{source.name}: replayed {len(result.crawls)} of {len(captures)} captures"
        f" ({result.skipped} skipped: not newer than the last stored crawl); "
        + " ".join(f"{k}={v}" for k, v in sorted(outcomes.items()))
        + "; events: "
        + (" ".join(f"{k}={v}" for k, v in sorted(kinds.items())) or "none")
        + f"; alerts recorded: {len(ids)}"
        + ("" if sent is None else f", sent: {sent}")
    )
    if result.unverified:
        click.echo(_unverified_hint(source, len(result.unverified)))


def _unverified_hint(source: Source, count: int) -> str:
    """Why listings that vanished were not deleted, and what to do about it."""
    hint = (
        f"note: {count} listing(s) had to be checked on their own page, which no capture"
        " holds: the verdict is unknown, so none of them was deleted or restored"
    )
    if source.absence != "count":
        hint += (
            "; save the thread pages with the captures (<time>/threads/<id>.html, or in"
            " the WARC), or count absences instead: --absence count --missing-after 2"
        )
    return hint


def _deliver(store: Any, config: Config, count: int) -> int:
    """Send the `count` recorded alerts (and any others due) now, however old their
    capture time; digests and rate limits of the targets apply."""
    from monitor.notify import AppriseSender, dispatch

    now = datetime.now(UTC)
    targets = {t.name: t for t in config.targets}
    limit = max(1000, count)
    return dispatch(
        store, AppriseSender(), targets, now, max_age=timedelta(days=36500), limit=limit
    ).sent
