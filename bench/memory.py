"""Memory: RSS over 1,000 crawl cycles of the demo world, two ways.

1. daemon: `python -m monitor run --config X --db Y` as a subprocess against the
   demo world (fixture forum and shop behind the SOCKS relay, served by this
   process), every source on `every = "0.1s"` so 1,000 cycles take minutes, not
   hours; VmRSS sampled from /proc/PID/status, cycles counted as crawl rows per
   source in its database.
2. in-process: `crawl_cycle` called in a loop (one TorRuntime, one Store), this
   process's own RSS read after every cycle (no scheduler, no daemon plumbing, no
   apprise: alerts are dropped; the demo server and relay share this process; the
   relay remembers only its last 1,024 requests).

The world moves one story step every `--story-every` cycles and wraps around, so
listings are created, edited, deleted, restored and reposted throughout.
Targets: steady-state RSS (peak after cycle N/10) < 80 MB; growth from cycle N/10
to cycle N < 5%.

    .venv/bin/python bench/memory.py [--cycles 1000] [--every 0.1] [--mode both]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path

from common import PYTHON, Result, emit, machine, rss_mb

from monitor.demo.runner import demo_config
from monitor.demo.server import DemoServer
from monitor.demo.socks import SocksRelay
from monitor.demo.world import STORY, World
from monitor.models import Alert, NotifyTarget, TorSettings
from monitor.runtime import TorRuntime, build_engines, crawl_cycle
from monitor.store import Store


class NullSender:
    """In-process mode only: alerts are dropped (the daemon delivers to console://)."""

    def send(self, target: NotifyTarget, alert: Alert) -> None:
        del target, alert


def set_step(server: DemoServer, cycle: int, story_every: int) -> None:
    step = (cycle // story_every) % len(STORY)
    if server.world.step != step:
        server.world = World(step)


def config_text(port: int, every: float) -> str:
    text = resources.files("monitor.demo").joinpath("sources.toml").read_text()
    text = re.sub(r"socks5h://127\.0\.0\.1:\d+", f"socks5h://127.0.0.1:{port}", text)
    return re.sub(r'every = "[^"]+"', f'every = "{every:g}s"', text)


def cycles_done(db: Path) -> int:
    """Completed crawls of the least-crawled source (0 before the schema exists)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM crawls GROUP BY source").fetchall()
    except sqlite3.Error:
        return 0
    return min((r[0] for r in rows), default=0)


async def daemon(cycles: int, every: float, story_every: int, tmp: Path) -> list[tuple[int, float]]:
    """(cycle, RSS MB) samples of `leakmon run` until `cycles` cycles are done."""
    samples: list[tuple[int, float]] = []
    async with DemoServer(World()) as server, SocksRelay(World().routes(server.port)) as relay:
        cfg, db = tmp / "daemon.toml", tmp / "daemon.db"
        cfg.write_text(config_text(relay.port, every))
        proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "monitor", "run", "--config", str(cfg), "--db", str(db),
            "--log-level", "warning",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + max(600.0, cycles * every * 20)
        try:
            done = 0
            while done < cycles and time.monotonic() < deadline and proc.returncode is None:
                await asyncio.sleep(0.5)
                done = await asyncio.to_thread(cycles_done, db)
                set_step(server, done, story_every)
                rss = rss_mb(proc.pid)
                if rss is not None:
                    samples.append((done, rss))
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await proc.wait()
    if not samples or samples[-1][0] < cycles:
        raise SystemExit(f"daemon stopped after {samples[-1][0] if samples else 0} cycles")
    return samples


async def in_process(cycles: int, story_every: int, tmp: Path) -> list[tuple[int, float]]:
    """(cycle, RSS MB of this process) after each of `cycles` crawl cycles."""
    samples: list[tuple[int, float]] = []
    async with DemoServer(World()) as server, SocksRelay(World().routes(server.port)) as relay:
        config = demo_config()
        config = replace(config, tor=TorSettings(socks=f"socks5h://127.0.0.1:{relay.port}"))
        engines = build_engines(config.sources, config.rates)
        tor, sender = TorRuntime(config.tor), NullSender()
        with Store.open(tmp / "inproc.db") as store:
            store.sync_sources(config.sources)
            for cycle in range(1, cycles + 1):
                set_step(server, cycle, story_every)
                await crawl_cycle(config, store, config.sources, engines, sender, tor=tor)
                samples.append((cycle, rss_mb() or 0.0))
        tor.close()
    return samples


def summarise(label: str, samples: list[tuple[int, float]], cycles: int) -> None:
    early = cycles // 10
    start = next(rss for done, rss in samples if done >= 1)
    first = next(rss for done, rss in samples if done >= early)
    last = samples[-1][1]
    peak = max(rss for done, rss in samples if done >= early)
    growth = 100 * (last - first) / first
    print(
        f"\n{label}: RSS after cycle 1 {start:.1f} MB, at cycle {early} {first:.1f} MB,"
        f" at cycle {samples[-1][0]} {last:.1f} MB"
    )
    emit(Result("memory", f"{label}: steady-state RSS (peak after cycle {early})", peak, "MB", 80))
    emit(Result("memory", f"{label}: RSS growth cycle {early}->{cycles}", growth, "%", 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--every", type=float, default=0.1, help="daemon: seconds per source")
    parser.add_argument("--story-every", type=int, default=50, help="cycles per story step")
    parser.add_argument("--mode", choices=["both", "daemon", "in-process"], default="both")
    parser.add_argument("--quiet", action="store_true", help="no header lines")
    args = parser.parse_args()
    if not args.quiet:
        print(f"memory bench: {machine()}")
        print(f"{args.cycles} cycles; story step every {args.story_every} cycles")
    if args.mode in ("both", "daemon"):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            samples = asyncio.run(daemon(args.cycles, args.every, args.story_every, Path(tmp)))
            print(f"daemon (every={args.every:g}s): {time.perf_counter() - t0:.0f}s")
            summarise("leakmon run", samples, args.cycles)
    if args.mode == "both":  # in a fresh interpreter
        argv = [PYTHON, __file__, "--mode", "in-process", "--cycles", str(args.cycles)]
        argv += ["--story-every", str(args.story_every), "--quiet"]
        subprocess.run(argv, check=True)
    if args.mode == "in-process":
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            samples = asyncio.run(in_process(args.cycles, args.story_every, Path(tmp)))
        label = "crawl_cycle loop"
        print(f"{label}: {time.perf_counter() - t0:.0f}s")
        summarise(label, samples, args.cycles)


if __name__ == "__main__":
    main()
