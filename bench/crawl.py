"""Crawl overlap: one cycle over 200 simulated onion sources vs its lower bound.

A simulated Tor on loopback: a fixture forum server answers 200 onion host names
(3 MyBB list pages each) behind monitor.demo's SOCKS5 relay. Every request gets a
latency drawn from 0.5-3 s (times --scale), 5% are transport failures (the server
drops the connection after its latency) and 2% are captcha pages; the draws come
from a seeded RNG keyed by (host, path, attempt), so every run sees the same world.

A warm-up crawl_cycle (the baseline: no latency, no faults, no first-sight fetches
of thread pages) fills a real Store in a temp dir; the measured cycle is the next
one, the steady state (3 list pages per source, nothing new), with one shared
TorRuntime(max_concurrency=64) and min_delay 0.
Lower bound = max(longest source chain, total latency / 64), where a chain is the
sum of its requests' latencies (retried attempts included) plus the retry backoff
sleeps stamina actually made for it (measured with an on-retry hook). Backoff (2 s
initial, 2 s jitter) is scaled by --scale too.
Politeness admits waiting requests by when their page was first asked for (a retry
keeps its place; first come, first served until 2026-12-02: 1.36-1.43x the bound
against 1.27-1.33x now). (A gate that let the requests of crawls that started
first go ahead was slower: 26.8 s against 20.8 s, as the first 64 sources then
hold every slot until their chains end and late chains start late.)
bench/crawl_sim.py replays this world without overhead under each policy.
Also reported: the CPU spent per page in extraction, lifecycle and store (thread
CPU time around those calls) and the most concurrent requests one host saw.

    .venv/bin/python bench/crawl.py            # latencies x0.1 (quick, ~40 s)
    .venv/bin/python bench/crawl.py --full     # real latencies (~3.5 min)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import Result, Stopwatch, Timed, emit, machine
from fixture import BLOCK, FAIL, PAGES, SOURCES, host_of, serve_world
from stamina.instrumentation import RetryDetails, set_on_retry_hooks

import monitor.fetch.client as client
import monitor.pipeline as pipeline
import monitor.runtime as runtime
from monitor.demo.runner import demo_config
from monitor.models import Config, TorSettings
from monitor.notify import AppriseSender
from monitor.runtime import TorRuntime, build_engines, crawl_cycle
from monitor.store import Store

CONCURRENCY = 64
STAGES = (  # (stage, module, callable) timed in the crawl
    ("lifecycle", pipeline, "diff_crawl"),
    ("lifecycle", pipeline, "plan_verifications"),
    ("lifecycle", pipeline, "alerts_for"),
)


async def crawl(port: int, db: Path, warmup: bool) -> dict[str, Any]:
    """One crawl cycle through the relay at `port`.
    `warmup`: the baseline cycle, without the first-sight fetches of thread pages."""
    template = next(s for s in demo_config().sources if s.name == "darkforum")
    sources = [
        replace(
            template,
            name=f"s{i:03d}",
            url=f"http://{host_of(i)}/forumdisplay.php?fid=2",
            max_pages=5,
            min_delay=0,
        )
        for i in range(SOURCES)
    ]
    backoff: defaultdict[str, float] = defaultdict(float)

    def on_retry(details: RetryDetails) -> None:
        backoff[urlsplit(str(details.args[0])).hostname or ""] += details.wait_for

    watch = Stopwatch()
    set_on_retry_hooks([on_retry])
    for stage, module, name in STAGES:
        setattr(module, name, watch.wrap(stage, getattr(module, name)))
    if warmup:
        runtime.thread_reader = lambda source, rates=None: None
    tor = TorSettings(socks=f"socks5h://127.0.0.1:{port}", max_concurrency=CONCURRENCY)
    config = Config(tor=tor, db_path=db, sources=tuple(sources))
    engines = {n: Timed(e, "extract", watch) for n, e in build_engines(config.sources).items()}
    with Store.open(db) as real:
        real.sync_sources(config.sources)
        store: Any = Timed(real, "store", watch)
        shared = TorRuntime(config.tor)
        cpu0, t0 = time.process_time(), time.perf_counter()
        reports, _ = await crawl_cycle(
            config, store, config.sources, engines, AppriseSender(), tor=shared
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        shared.close()
    outcomes = Counter(
        r.crawl.outcome.value if isinstance(r, pipeline.CrawlReport) else "raised" for r in reports
    )
    pages_ok = sum(r.crawl.pages for r in reports if isinstance(r, pipeline.CrawlReport))
    return {
        "wall": wall,
        "cpu": cpu,
        "stages": dict(watch.cpu),
        "pages_ok": pages_ok,
        "outcomes": dict(outcomes),
        "backoff": dict(backoff),
    }


def one_cycle(scale: float, seed: int, db: Path) -> dict[str, Any]:
    """Start the world in its own process (so its CPU is not the crawler's), crawl once
    in a fresh child too (patches stay there), and combine the two sides' records."""
    ctx = multiprocessing.get_context("fork")
    world, here = ctx.Pipe()
    proc = ctx.Process(target=serve_world, args=(world, scale, seed), daemon=True)
    proc.start()
    port = here.recv()
    for warmup in (True, False):  # each in a fresh child: its patches die with it
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            r = pool.submit(run_crawl, port, db, scale, warmup).result()
        if warmup:
            here.send("live")
    here.send("stop")
    latency, kinds, max_inflight = here.recv()
    proc.join(10)
    chains = {
        f"s{i:03d}": latency.get(host_of(i), 0.0) + r["backoff"].get(host_of(i), 0.0)
        for i in range(SOURCES)
    }
    longest = max(chains, key=lambda n: chains[n])
    total = sum(latency.values())
    lat = latency.get(host_of(int(longest[1:])), 0.0)
    r.update(
        requests=sum(kinds.values()),
        kinds=kinds,
        total_latency=total,
        backoff=sum(r["backoff"].values()),
        longest=(longest, chains[longest], lat),
        bound=max(chains[longest], total / CONCURRENCY),
        max_inflight=max_inflight,
    )
    return r


def run_crawl(port: int, db: Path, scale: float, warmup: bool) -> dict[str, Any]:
    client.BACKOFF_INITIAL, client.BACKOFF_JITTER = 2.0 * scale, 2.0 * scale
    return asyncio.run(crawl(port, db, warmup))


def report(label: str, r: dict[str, Any], note: str) -> None:
    name, chain, lat = r["longest"]
    print(f"\n{label} ({note})")
    print(f"  requests {r['requests']} {r['kinds']}; crawls {r['outcomes']}")
    print(
        f"  total latency {r['total_latency']:.2f}s / {CONCURRENCY} = "
        f"{r['total_latency'] / CONCURRENCY:.2f}s; longest chain {name} {chain:.2f}s "
        f"(latency {lat:.2f}s + backoff {chain - lat:.2f}s); backoff slept in all "
        f"{r['backoff']:.2f}s"
    )
    print(
        f"  lower bound {r['bound']:.2f}s; wall {r['wall']:.2f}s = {r['wall'] / r['bound']:.2f}x"
        f" bound; crawler CPU {r['cpu']:.2f}s"
    )
    emit(Result("crawl", label, r["wall"], "s", round(1.15 * r["bound"], 3), note=note))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="latency/backoff factor")
    parser.add_argument("--full", action="store_true", help="real latencies (--scale 1)")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    scale = 1.0 if args.full else args.scale
    print(f"crawl bench: {machine()}")
    print(
        f"{SOURCES} sources x {PAGES} pages, latency 0.5-3 s x{scale:g}, {FAIL:.0%} transport "
        f"failures, {BLOCK:.0%} captcha pages, [tor] max_concurrency={CONCURRENCY}, "
        f"min_delay=0, retry backoff x{scale:g}, seed {args.seed}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        product = one_cycle(scale, args.seed, Path(tmp) / "a.db")
    report(f"cycle wall (x{scale:g})", product, "every source starts; Politeness limits requests")
    emit(
        Result(
            "crawl",
            "max concurrent requests to one host",
            product["max_inflight"],
            "req",
            1,
            note="counted at the server",
        )
    )
    stages, pages = product["stages"], max(product["pages_ok"], 1)
    parts = ", ".join(f"{k} {1000 * v / pages:.2f}" for k, v in sorted(stages.items()))
    print(f"  CPU per OK page ({pages} pages, ~6 KB each), ms: {parts}")
    print(
        f"  crawler process CPU per OK page (incl. httpx, SOCKS client, asyncio): "
        f"{1000 * product['cpu'] / pages:.2f} ms"
    )
    emit(
        Result(
            "crawl",
            "CPU per page: extract+lifecycle+store (in the crawl)",
            1000 * sum(stages.values()) / pages,
            "ms",
            5.0,
            note="small demo-forum pages; the 200 KB page is bench/cpu.py",
        )
    )


if __name__ == "__main__":
    main()
