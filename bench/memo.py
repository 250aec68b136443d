"""Memory an engine's memos keep when a source's view counts change at every crawl.

One mybb source of `--pages` listing pages (50 threads each, ~200 KB) is crawled
`--crawls` times through `pipeline.fetch_listings`, as the daemon crawls it; at every
crawl every thread's view count is different, so every row is a new memo key. After
the last crawl it prints the entries each memo holds and the bytes still allocated
(tracemalloc, after the pages and listings are dropped: what the engine keeps), and
the most of both seen after any crawl.
A daemon keeps one such engine per source.
Run: .venv/bin/python bench/memo.py [--crawls 40] [--pages 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from extract import URL, make_page

from monitor.extract import get_engine
from monitor.models import Page, PageOutcome, Source
from monitor.pipeline import fetch_listings


class Forum:
    """Serves page n of crawl c: threads 4000 + 50n.., view counts raised by c."""

    def __init__(self, pages: int) -> None:
        self.pages, self.crawl = pages, 0

    async def get(self, url: str) -> Page:
        number = int(url.rsplit("page=", 1)[1]) if "page=" in url else 1
        html = make_page(first=4000 + 50 * number, views=self.crawl, target=0)
        if number < self.pages:
            html = html.replace("page=2", f"page={number + 1}")
        else:
            html = html.replace("pagination_next", "pagination_last")
        return Page(url, PageOutcome.OK, 200, html, len(html))


def entries(engine: Any) -> dict[str, int]:
    """Entries per memo (old layout: dicts; new: two generations each)."""
    found: dict[str, int] = {}
    for owner, names in ((engine._rows, ("_rows", "_absolute")),
                         (engine._parse, ("_memo", "_prices", "_urls"))):  # fmt: skip
        for name in names:
            memo = getattr(owner, name)
            found[name] = len(memo)
    return found


async def run(crawls: int, pages: int) -> dict[str, Any]:
    source = Source(name="bench", url=URL, engine="mybb", every=600, max_pages=pages)
    forum = Forum(pages)
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    gc.collect()
    tracemalloc.start()
    engine = get_engine(source)
    base = tracemalloc.get_traced_memory()[0]
    rows, most, most_rows = 0, 0, 0
    for crawl in range(crawls):
        forum.crawl = crawl
        _, listings, _ = await fetch_listings(source, forum, engine, now + timedelta(hours=crawl))
        rows = len(listings)
        del listings
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
        most = max(most, kept)
        most_rows = max(most_rows, entries(engine)["_rows"])
    tracemalloc.stop()
    return {"crawls": crawls, "rows_per_crawl": rows, "entries": entries(engine),
            "kept_bytes": kept, "max_kept_bytes": most, "max_row_entries": most_rows}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawls", type=int, default=40)
    parser.add_argument("--pages", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(run(args.crawls, args.pages))
    memos = result["entries"]
    print(f"{result['crawls']} crawls of {result['rows_per_crawl']} rows, views changing:")
    print("  memo entries: " + ", ".join(f"{k} {v:,}" for k, v in memos.items()))
    print(f"  bytes kept by the engine (tracemalloc): {result['kept_bytes'] / 1e6:.2f} MB")
    print(f"  most over the crawls: {result['max_row_entries']:,} row entries, "
          f"{result['max_kept_bytes'] / 1e6:.2f} MB")  # fmt: skip
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
