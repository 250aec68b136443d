"""A process that applies a deterministic series of crawls to an SQLite file; the
kill -9 test (tests/test_store.py) SIGKILLs it at random points and restarts it.

On start it redoes the last crawl it finds stored (as a restarted daemon would
crawl again) and continues with the next ones up to `total`.
Usage: python -m tests.crash_worker DB TOTAL
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.lifecycle import diff_crawl, fingerprint
from monitor.models import Crawl, CrawlOutcome, Listing, Price, Records, Source
from monitor.store import Store

SOURCE = Source(name="shop", url="http://shop.onion/", engine="shop", every=60)
T0 = datetime(2024, 6, 1, tzinfo=UTC)
LISTINGS = 100


def listings_at(n: int) -> tuple[Listing, ...]:
    """What the shop lists at crawl `n`: some items come and go, prices move."""
    return tuple(
        Listing(
            "shop",
            str(i),
            f"http://shop.onion/p/{i}",
            f"Dataset {i} of company {i * 7919 % 1000}",
            seller=f"seller{i % 13}",
            price=Price(float(100 + (n // 4) * (i % 3)), "USD", f"${100 + (n // 4) * (i % 3)}"),
            records=Records(1000 + i, str(1000 + i)),
        )
        for i in range(LISTINGS)
        if (i * 7 + n) % 11 != 0
    )


def apply_crawl(store: Store, n: int, crawl_id: str) -> None:
    at = T0 + timedelta(hours=n)
    crawl = Crawl(crawl_id, "shop", at, at, CrawlOutcome.COMPLETE, 1, 1000, listings_at(n))
    known = store.known_listings("shop")
    new = [li for li in crawl.listings if li.id not in known]
    diff = diff_crawl(
        crawl,
        known,
        SOURCE,
        previous_complete=store.recent_complete_counts("shop"),
        repost_candidates=store.repost_candidates(new, fingerprints=map(fingerprint, new)),
        first_complete=not store.has_complete_crawl("shop"),
    )
    store.apply(diff, ())


def last_crawl(store: Store) -> int | None:
    row = store.db.execute("SELECT max(CAST(substr(id, 2, 4) AS INTEGER)) FROM crawls").fetchone()
    return None if row[0] is None else int(row[0])


def run(path: Path, total: int, tag: str) -> None:
    with Store.open(path) as store:
        store.sync_sources([SOURCE])
        last = last_crawl(store)
        if last is not None:
            apply_crawl(store, last, f"c{last:04d}r{tag}")  # the redo
        for n in range(0 if last is None else last + 1, total):
            apply_crawl(store, n, f"c{n:04d}")


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "x")
