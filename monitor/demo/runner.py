"""`leakmon demo`: the whole product on the embedded demo world.

Starts the fixture forum and shop on loopback and a SOCKS5 relay that stands in
for Tor, then runs one crawl cycle per story step through the real pipeline,
printing the alerts as the console target delivers them, and finally the
listings table and the ChinaDan listing's timeline.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path

from monitor import report
from monitor.config import load_config
from monitor.demo.server import DemoServer
from monitor.demo.socks import SocksRelay
from monitor.demo.world import World
from monitor.extract import ENGINES
from monitor.models import Config, TorSettings
from monitor.notify import AppriseSender
from monitor.pipeline import CrawlReport
from monitor.runtime import build_engines, crawl_cycle
from monitor.store import Store

STAR_SELLER = "ChinaDan"


def demo_config(config_path: Path | None = None) -> Config:
    """The demo's own config shipped with the package (or the one given)."""
    if config_path is not None:
        return load_config(config_path, engines=ENGINES)
    ref = resources.files("monitor.demo").joinpath("sources.toml")
    with resources.as_file(ref) as path:
        return load_config(Path(path), engines=ENGINES)


def demo_db_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "leakmon" / "demo.db"


def fresh(path: Path) -> Path:
    """Start the demo from an empty database each run."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


async def run_demo(
    db_path: Path | None,
    *,
    config_path: Path | None = None,
    cycles: int | None = None,
    interval: float = 1.0,
    echo: Callable[[str], None] = print,
) -> Path:
    """Run the story; returns the database path it wrote."""
    world = World()
    path = fresh(db_path or demo_db_path())
    async with DemoServer(world) as server, SocksRelay(world.routes(server.port)) as relay:
        config = demo_config(config_path)
        config = replace(config, tor=TorSettings(socks=f"socks5h://127.0.0.1:{relay.port}"))
        engines = build_engines(config.sources, config.rates)
        sender = AppriseSender()
        echo(
            f"leakmon demo: forum and shop on 127.0.0.1:{server.port}, "
            f"SOCKS5 relay (standing in for Tor) on 127.0.0.1:{relay.port}"
        )
        echo(f"database: {path}\n")
        with Store.open(path) as store:
            store.sync_sources(config.sources)
            steps = world.steps if cycles is None else min(cycles, world.steps)
            for step in range(steps):
                echo(f"── cycle {step + 1}/{steps}: {world.narration}")
                reports, _ = await crawl_cycle(config, store, config.sources, engines, sender)
                for result in reports:
                    if isinstance(result, CrawlReport):
                        echo(f"   crawl {result.summary()}")
                    else:
                        echo(f"   crawl failed: {report.clean(str(result))}")
                if step + 1 < steps:
                    world.advance()
                    await asyncio.sleep(interval)
            echo("\nlistings:")
            echo(report.listings_table(store.listings()))
            star = next((r for r in store.listings() if r.get("seller") == STAR_SELLER), None)
            if star is not None:
                echo(f"\ntimeline of {star['id']} ({report.clean(star['title'], 80)}):")
                echo(report.timeline(store.events(listing_id=star["id"])))
    echo(f"\nThe demo database is {path}")
    echo(
        f"Explore it: leakmon listings --db {path}   |   sqlite-utils tables {path}"
        f"   |   datasette {path}"
    )
    return path
