"""Memory an engine's memos keep when a source's view counts change at every crawl.

One mybb source of `--pages` listing pages (50 threads each, ~200 KB) is crawled
`--crawls` times through `pipeline.fetch_listings`, as the daemon crawls it; at every
crawl the view counts of `--busy` threads per page (default all 50) are different,
so their rows are new memo keys. After the last crawl it prints the entries each
memo holds and the bytes still allocated (tracemalloc, after the pages and listings
are dropped: what the engine keeps), the most of both seen after any crawl, and
the rows built (memo misses) per crawl after the first: the fewest and the most.
A daemon keeps one such engine per source.
Run: .venv/bin/python bench/memo.py [--crawls 40] [--pages 5] [--busy 50]
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

from monitor.extract import get_engine, listing
from monitor.models import Page, PageOutcome, Source
from monitor.pipeline import fetch_listings


class Forum:
    """Serves page n of crawl c: threads 4000 + 50n.., view counts raised by c."""

    def __init__(self, pages: int, busy: int) -> None:
        self.pages, self.busy, self.crawl = pages, busy, 0

    async def get(self, url: str) -> Page:
        number = int(url.rsplit("page=", 1)[1]) if "page=" in url else 1
        html = make_page(first=4000 + 50 * number, views=self.crawl, busy=self.busy, target=0)
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


async def run(crawls: int, pages: int, busy: int) -> dict[str, Any]:
    source = Source(name="bench", url=URL, engine="mybb", every=600, max_pages=pages)
    forum = Forum(pages, busy)
    built = [0]
    real_build = listing.build_listing

    def counted(raw: Any, ctx: Any) -> Any:
        built[0] += 1
        return real_build(raw, ctx)

    listing.build_listing = counted  # what ListingCache calls on a miss
    misses: list[int] = []
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    gc.collect()
    tracemalloc.start()
    engine = get_engine(source)
    base = tracemalloc.get_traced_memory()[0]
    rows, most, most_rows = 0, 0, 0
    for crawl in range(crawls):
        forum.crawl = crawl
        built[0] = 0
        _, listings, _ = await fetch_listings(source, forum, engine, now + timedelta(hours=crawl))
        misses.append(built[0])
        rows = len(listings)
        del listings
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
        most = max(most, kept)
        most_rows = max(most_rows, entries(engine)["_rows"])
    tracemalloc.stop()
    listing.build_listing = real_build
    later = misses[1:] or [0]
    return {"crawls": crawls, "rows_per_crawl": rows, "entries": entries(engine),
            "kept_bytes": kept, "max_kept_bytes": most, "max_row_entries": most_rows,
            "min_built": min(later), "max_built": max(later)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawls", type=int, default=40)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--busy", type=int, default=50, help="threads per page whose views change")
    args = parser.parse_args()
    result = asyncio.run(run(args.crawls, args.pages, args.busy))
    memos = result["entries"]
    busy = args.busy * args.pages
    print(f"{result['crawls']} crawls of {result['rows_per_crawl']} rows, {busy} changing views:")
    print("  memo entries: " + ", ".join(f"{k} {v:,}" for k, v in memos.items()))
    print(f"  bytes kept by the engine (tracemalloc): {result['kept_bytes'] / 1e6:.2f} MB")
    print(f"  most over the crawls: {result['max_row_entries']:,} row entries, "
          f"{result['max_kept_bytes'] / 1e6:.2f} MB")  # fmt: skip
    print(f"  rows built per crawl after the first: {result['min_built']}-{result['max_built']}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
