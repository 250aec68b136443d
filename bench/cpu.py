"""CPU per page on a 200 KB forum page: extraction + lifecycle + store, in ms.

The page is bench/extract.py's generated ~200 KB MyBB page (50 threads), crawled
through the real `pipeline.crawl_source` with a fetcher that answers instantly from
memory, into a real Store in a temp dir; so every millisecond is CPU in leakmon's
own stages. The first crawl is the baseline (50 new listings written); the figure
is the median of the following unchanged crawls (the steady state of a daemon),
split into extraction (engine.extract), lifecycle (plan + diff + rules) and store.

    .venv/bin/python bench/cpu.py [--crawls 30] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import Result, Stopwatch, Timed, emit, machine
from crawl import STAGES
from extract import URL, make_page

import monitor.pipeline as pipeline
from monitor.extract import get_engine
from monitor.models import Page, PageOutcome, Source
from monitor.store import Store


class MemoryFetcher:
    """Answers every URL with the same page, at once. Its size is counted once here:
    the real fetcher counts the bytes it received, it never encodes the page again."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.size = len(html.encode())

    async def get(self, url: str) -> Page:
        return Page(url, PageOutcome.OK, 200, self.html, self.size)


async def crawls(n: int, profile: bool) -> tuple[list[Counter[str]], int, int]:
    """`n` crawls of the page; per crawl the CPU seconds per stage."""
    html = make_page().replace("pagination_next", "pagination_last")  # one page: complete
    source = Source(name="bench", url=URL, engine="mybb", every=600, min_delay=0)
    engine_watch = Stopwatch()
    per_crawl: list[Counter[str]] = []
    saved = {name: getattr(module, name) for _, module, name in STAGES}
    found = 0
    fetcher = MemoryFetcher(html)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "cpu.db") as real:
        real.sync_sources([source])
        engine: Any = Timed(get_engine(source), "extract", engine_watch)
        profiler = cProfile.Profile() if profile else None
        try:
            for i in range(n + 1):
                watch = Stopwatch()
                engine._watch = watch
                for stage, module, name in STAGES:
                    setattr(module, name, watch.wrap(stage, saved[name]))
                store: Any = Timed(real, "store", watch)
                if profiler is not None and i:
                    profiler.enable()
                t0 = time.thread_time()
                report = await pipeline.crawl_source(source, fetcher, engine, store, (), ())
                watch.cpu["total"] = time.thread_time() - t0
                if profiler is not None:
                    profiler.disable()
                found = len(report.crawl.listings)
                if i:
                    per_crawl.append(watch.cpu)
        finally:
            for _, module, name in STAGES:
                setattr(module, name, saved[name])
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)
    return per_crawl, found, len(html.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawls", type=int, default=30, help="unchanged crawls to time")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries")
    args = parser.parse_args()
    print(f"cpu bench: {machine()}")
    per_crawl, found, size = asyncio.run(crawls(args.crawls, args.profile))
    print(f"page: {size:,} bytes, {found} listings; median of {len(per_crawl)} unchanged crawls")
    median = {k: 1000 * statistics.median(c[k] for c in per_crawl) for k in per_crawl[0]}
    for stage in ("extract", "lifecycle", "store", "total"):
        print(f"  {stage:>9}: {median.get(stage, 0.0):7.2f} ms")
    other = median["total"] - sum(median.get(s, 0.0) for s in ("extract", "lifecycle", "store"))
    print(f"  {'other':>9}: {other:7.2f} ms (judge, Crawl, fetcher, uuid, logging)")
    emit(
        Result(
            "cpu",
            "CPU per 200 KB page: extract+lifecycle+store",
            median["total"],
            "ms",
            5.0,
            note=f"extract {median.get('extract', 0):.1f} ms of it",
        )
    )


if __name__ == "__main__":
    main()
