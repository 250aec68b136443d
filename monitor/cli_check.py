"""`leakmon check`: Tor preflight, then page 1 of every source through Tor.

Exit 0 when everything works; 1 when Tor or a source fails (or finds no listings);
2 for a configuration problem (including control-port credentials).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from monitor import report
from monitor.clikit import common_options, engines_for, guarded, load, select_sources
from monitor.errors import ExtractError
from monitor.fetch import Fetcher, Politeness
from monitor.fetch.preflight import Check, check_control, check_socks
from monitor.models import Config, PageOutcome, Source


@dataclass(frozen=True)
class SourceCheck:
    """Page 1 of one source: its class (ok / blocked:… / failed:…) and what was found."""

    source: str
    verdict: str
    ok: bool
    listings: int = 0
    titles: tuple[str, ...] = ()
    detail: str = ""


async def check_source(fetcher: Fetcher, engine: Any) -> SourceCheck:
    """Fetch the source's first page and run its engine on it."""
    source = fetcher.source
    page = await fetcher.get(source.url)
    if page.outcome is not PageOutcome.OK:
        prefix = "" if page.outcome is PageOutcome.BLOCKED else "failed:"
        return SourceCheck(source.name, f"{prefix}{page.reason}", False, detail=page.error or "")
    try:
        found = engine.extract(page.text, page.url).listings
    except ExtractError as exc:
        return SourceCheck(source.name, "failed:extract", False, detail=str(exc))
    titles = tuple(listing.title for listing in found[:3])
    if not found:
        detail = "the page loaded but the engine found no listings (selectors?)"
        return SourceCheck(source.name, "no_listings", False, detail=detail)
    return SourceCheck(source.name, "ok", True, len(found), titles, f"HTTP {page.status}")


async def run_checks(
    config: Config, sources: Sequence[Source], engines: Mapping[str, Any]
) -> tuple[list[Check], list[SourceCheck]]:
    """The preflight checks, then (if the SOCKS port answers) every source's page 1."""
    socks, tor = await check_socks(config.tor)
    control = await check_control(config.tor)
    checks = [socks, tor, control]
    if not socks.ok:
        skipped = [SourceCheck(s.name, "skipped", False, detail="Tor unavailable") for s in sources]
        return checks, skipped
    politeness = Politeness(config.tor.max_concurrency)

    async def one(source: Source) -> SourceCheck:
        async with Fetcher(config.tor, source, politeness) as fetcher:
            return await check_source(fetcher, engines[source.name])

    return checks, list(await asyncio.gather(*(one(s) for s in sources)))


def render(checks: Sequence[Check], results: Sequence[SourceCheck]) -> list[str]:
    """Human lines: one per preflight check, one (plus titles) per source."""
    lines = [
        f"{c.name:<8} {'ok' if c.ok else 'FAILED'}: {report.clean(c.detail, 300)}" for c in checks
    ]
    for r in results:
        verdict = r.verdict if r.ok else f"FAILED {r.verdict}"
        counted = f", {r.listings} listings" if r.listings else ""
        detail = f" ({report.clean(r.detail, 240)})" if r.detail else ""
        lines.append(f"source   {report.clean(r.source, 64)}: {verdict}{counted}{detail}")
        lines += [f"           - {report.clean(title, 100)}" for title in r.titles]
    return lines


@click.command("check")
@click.argument("names", nargs=-1)
@common_options
@guarded
def check(config_path: Path | None, db_path: Path | None, names: tuple[str, ...]) -> None:
    """Check Tor (SOCKS port, is it Tor, control port) and page 1 of each source.

    Prints each source's verdict (ok / blocked:REASON / failed:REASON), how many
    listings its engine finds and the first three titles. Exit 1 when anything
    fails, 2 for a configuration problem.
    """
    config = load(config_path)
    sources = select_sources(config, names)
    engines = engines_for(sources, config)
    checks, results = asyncio.run(run_checks(config, sources, engines))
    for line in render(checks, results):
        click.echo(line)
    if any(c.config and not c.ok for c in checks):
        sys.exit(2)
    if not all(c.ok for c in checks) or not all(r.ok for r in results):
        sys.exit(1)
