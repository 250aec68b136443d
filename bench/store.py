"""Store benchmark: a generated database of 1M listings and 5M observations (at
--scale 1), then the timings issue 5 asks for.

    .venv/bin/python bench/store.py [--scale 0.1] [--db PATH] [--keep]

Measures (median of several runs where it makes sense):
- apply of an unchanged crawl of 1,000 listings (store.apply; and the whole
  known_listings → diff_crawl → apply path)       target <= 20 ms
- ingest of new listings (repost lookup + diff_crawl + apply of 10,000 new ones, as
  `leakmon run` writes them; the background WAL checkpoint after it apart, and the
  one-shot commands' inline checkpoint too)                           >= 20k/s
  and, interleaved with it, the schema's floor on this machine: the same rows,
  built beforehand, inserted in one transaction with nothing else (no lookup, no
  lifecycle, no conversion, no existence check) -- what no Python work can beat
- `show` (listing, events, observations, verifications, alerts, cluster)  <= 10 ms
- full-text search                                  <= 50 ms
- `leakmon seller HANDLE` (summary row, and the handle's listings)
- growth over 1,000 unchanged crawls: rows added per table, bytes on disk
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.lifecycle import diff_crawl, fingerprint
from monitor.models import Crawl, CrawlOutcome, Listing, Price, Records, Source
from monitor.store import Store, history
from monitor.store import sql as statements
from monitor.store.checkpoint import Checkpointer
from monitor.store.convert import crawl_row, event_row, listing_row, ts
from monitor.store.db import CACHE_KIB, CACHE_KIB_PER_LISTING

T0 = datetime(2022, 1, 1, tzinfo=UTC)
BIG = "big-forum"  # the source whose 1,000 listings are crawled unchanged
WORDS = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "stark",
    "wayne",
    "hooli",
    "vandelay",
    "soylent",
    "tyrell",
    "cyberdyne",
    "telecom",
    "airline",
    "insurance",
    "bank",
    "hospital",
    "pharma",
    "retail",
    "logistics",
    "police",
    "government",
    "customers",
    "patients",
    "members",
    "employees",
    "citizens",
    "subscribers",
    "voters",
    "students",
]
BATCH = 50_000


def title(rng: random.Random, i: int) -> str:
    words = rng.sample(WORDS, 3)
    if i % 1000 == 0:
        words[0] = "shanghai"
    return f"{' '.join(words).title()} {rng.randint(1, 999)}k records #{i}"


def listing_rows(n: int, sources: list[str], rng: random.Random) -> Iterator[dict[str, Any]]:
    for i in range(n):
        source = BIG if i < 1000 else sources[i % len(sources)]
        seen = T0 + timedelta(minutes=i)
        yield {
            "id": f"{source}:{i}",
            "source": source,
            "external_id": str(i),
            "url": f"http://{source}.onion/t/{i}",
            "title": title(rng, i),
            "seller": f"seller{i % 20_000}",
            "records": rng.randint(1_000, 1_000_000_000),
            "records_raw": "x",
            "price_amount": float(rng.randint(100, 50_000)),
            "price_currency": "USD",
            "price_usd": None,
            "price_raw": "$x",
            "price_negotiable": 0,
            "posted_at": None,
            "posted_raw": None,
            "first_seen": ts(seen),
            "last_seen": ts(seen),
            "state": "active" if i < 1000 or i % 7 else "deleted",
            "missing_streak": 0,
            "deleted_at": None,
            "fingerprint": f"{i:016x}",
            "cluster": f"{source}:{i}",
            "data_types": json.dumps(rng.sample(["emails", "phones", "names", "passwords"], 2)),
            "first_post": None,
        }


def generate(store: Store, scale: float, seed: int = 1) -> dict[str, int]:
    """Fill an empty store; big transactions of executemany."""
    rng = random.Random(seed)
    n_listings, n_obs = int(1_000_000 * scale), int(5_000_000 * scale)
    sources = [f"source{k}" for k in range(20)]
    conn = store.db.conn
    with store.db.atomic():
        conn.executemany(
            "INSERT INTO sources (name, url, engine) VALUES (?, ?, 'css')",
            [(s, f"http://{s}.onion/") for s in [BIG, *sources]],
        )
        conn.execute(
            "INSERT INTO crawls VALUES ('gen', ?, ?, ?, 'complete', 1, 0, 1000, NULL)",
            (BIG, ts(T0), ts(T0)),
        )
    rows = listing_rows(n_listings, sources, rng)
    columns: list[str] = []
    while True:
        chunk = [r for _, r in zip(range(BATCH), rows, strict=False)]
        if not chunk:
            break
        columns = list(chunk[0])
        sql = (
            f"INSERT INTO listings ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)})"
        )
        with store.db.atomic():
            conn.executemany(sql, chunk)
    obs_sql = (
        'INSERT INTO observations (listing_id, crawl_id, at, field, "before", "after") '
        "VALUES (?, 'gen', ?, 'price', ?, ?)"
    )
    for start in range(0, n_obs, BATCH):
        chunk_obs = []
        for k in range(start, min(start + BATCH, n_obs)):
            i = k % n_listings
            source = BIG if i < 1000 else sources[i % len(sources)]
            chunk_obs.append((f"{source}:{i}", ts(T0 + timedelta(seconds=k)), "$1", "$2"))
        with store.db.atomic():
            conn.executemany(obs_sql, chunk_obs)
    ev_sql = (
        "INSERT INTO events (id, kind, source, listing_id, crawl_id, at, details) "
        "VALUES (?, 'new', ?, ?, 'gen', ?, '{}')"
    )
    for start in range(0, n_listings, BATCH):
        chunk_ev = []
        for i in range(start, min(start + BATCH, n_listings)):
            source = BIG if i < 1000 else sources[i % len(sources)]
            chunk_ev.append((f"gen{i}", source, f"{source}:{i}", ts(T0 + timedelta(minutes=i))))
        with store.db.atomic():
            conn.executemany(ev_sql, chunk_ev)
    with store.db.atomic():
        conn.execute("INSERT INTO listings_fts (listings_fts) VALUES ('rebuild')")
    store.db.execute("ANALYZE")
    return {"listings": n_listings, "observations": n_obs, "events": n_listings}


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median milliseconds of `runs` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


class Crawler:
    """Unchanged crawls of the big source, each one hour after the previous."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.source = Source(name=BIG, url=f"http://{BIG}.onion/", engine="shop", every=3600)
        known = store.known_listings(BIG)
        self.listings = tuple(s.listing for s in known.values())
        self.n = 0

    def crawl(self) -> Crawl:
        self.n += 1
        at = T0 + timedelta(days=800, hours=self.n)
        cid = f"bench{self.n}"
        return Crawl(cid, BIG, at, at, CrawlOutcome.COMPLETE, 10, 1, self.listings)

    def full(self) -> int:
        crawl = self.crawl()
        known = self.store.known_listings(BIG)
        diff = diff_crawl(
            crawl,
            known,
            self.source,
            previous_complete=self.store.recent_complete_counts(BIG),
            repost_candidates=(),
            first_complete=False,
        )
        self.store.apply(diff, ())
        return len(diff.touched)


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def table_counts(store: Store) -> dict[str, int]:
    names = ("crawls", "listings", "observations", "events", "verifications", "alerts")
    return {n: store.db.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def new_listings(batch: int) -> tuple[Listing, ...]:
    """10,000 listings of source0 that the generated database does not hold."""
    rng = random.Random(7 + batch)
    return tuple(
        Listing(
            "source0",
            f"new{batch}-{i}",
            f"http://source0.onion/t/new{batch}-{i}",
            title(rng, 10_000_000 + batch * 10_000 + i),
            seller=f"seller{i}",
            price=Price(100.0, "USD", "$100"),
            records=Records(rng.randint(1, 10**9), "x"),
        )
        for i in range(10_000)
    )


def ingest_crawl(batch: int) -> Crawl:
    at = T0 + timedelta(days=900, hours=batch)
    return Crawl(
        f"ingest{batch}", "source0", at, at, CrawlOutcome.PARTIAL, 1, 1, new_listings(batch)
    )


def ingest(
    store: Store, source: Source, batch: int, checkpointer: Checkpointer | None = None
) -> dict[str, float]:
    """Ingest 10,000 new listings of source0 (batch `batch`); milliseconds per step.
    With `checkpointer`, also the background checkpoint that follows the commit."""
    crawl = ingest_crawl(batch)
    new = crawl.listings
    done = checkpointer.done if checkpointer else 0
    t = time.perf_counter()
    candidates = store.repost_candidates(new, fingerprints=map(fingerprint, new))
    t_lookup = time.perf_counter()
    diff = diff_crawl(
        crawl, {}, source, previous_complete=[], repost_candidates=candidates, first_complete=False
    )
    t_diff = time.perf_counter()
    store.apply(diff, ())
    t_apply = time.perf_counter()
    if checkpointer is not None:
        assert checkpointer.wait_for(done + 1, timeout=120), "no background checkpoint"
    t_checkpoint = time.perf_counter()
    return {
        "per_s": len(new) / (t_apply - t),
        "lookup": (t_lookup - t) * 1000,
        "diff": (t_diff - t_lookup) * 1000,
        "apply": (t_apply - t_diff) * 1000,
        "background_checkpoint": (t_checkpoint - t_apply) * 1000,
    }


def sqlite_floor(
    store: Store, source: Source, batch: int, checkpointer: Checkpointer
) -> dict[str, float]:
    """The SQLite work of an ingest alone: the crawl row, 10,000 listings at the next
    rowids, their search entries and their events, from tuples built before the
    clock starts, in one transaction (as `Store.apply` with the page cache it grows);
    then the background checkpoint, as after an ingest."""
    crawl = ingest_crawl(batch)
    diff = diff_crawl(
        crawl, {}, source, previous_complete=[], repost_candidates=(), first_complete=False
    )
    conn = store.db.conn
    (top,) = conn.execute(statements.MAX_LISTING_ROWID).fetchone()
    fresh = list(enumerate(diff.writes, start=top + 1))
    rows = [(n, *listing_row(s)) for n, s in fresh]
    fts = [(n, s.listing.title, s.listing.seller, s.listing.first_post) for n, s in fresh]
    events = [event_row(e) for e in diff.events]
    conn.execute(f"PRAGMA cache_size = -{len(rows) * CACHE_KIB_PER_LISTING}")
    done = checkpointer.done
    t = time.perf_counter()
    with store.db.atomic():
        conn.execute(statements.INSERT_CRAWL, crawl_row(crawl))
        conn.executemany(statements.INSERT_LISTING_AT, rows)
        conn.executemany(statements.FTS_ADD, fts)
        conn.executemany(statements.INSERT_EVENT, events)
    seconds = time.perf_counter() - t
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    checkpointer.committed(big=True)
    assert checkpointer.wait_for(done + 1, timeout=120), "no background checkpoint"
    return {"per_s": len(rows) / seconds, "ms": seconds * 1000}


def bench(store: Store, path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    crawler = Crawler(store)
    known = store.known_listings(BIG)
    assert len(known) == 1000, len(known)
    crawler.full()  # warm-up
    # 1. unchanged crawl: store.apply alone, and the whole path
    diffs = []
    for _ in range(21):
        crawl = crawler.crawl()
        diffs.append(
            diff_crawl(
                crawl,
                known,
                crawler.source,
                previous_complete=[1000],
                repost_candidates=(),
                first_complete=False,
            )
        )
    it = iter(diffs)
    out["unchanged_apply_ms"], _ = timed(lambda: store.apply(next(it), ()), 21)
    out["unchanged_full_path_ms"], touched = timed(crawler.full, 21)
    assert touched == 1000
    # 2. ingest of new listings (lookup of repost candidates + diff + apply), three
    # batches of 10,000 as `leakmon run` writes them (WAL checkpoints on the
    # background thread; its time is reported apart), then three as a one-shot
    # command writes them (SQLite's checkpoint inside the commit).
    # Each batch is followed by a floor batch, so both see the same load and WAL.
    daemon, floor = [], []
    with store.background_checkpoints(every=3600) as checkpointer:
        for b in range(3):
            daemon.append(ingest(store, crawler.source, b, checkpointer))
            floor.append(sqlite_floor(store, crawler.source, 100 + b, checkpointer))
    oneshot = [ingest(store, crawler.source, b) for b in range(3, 6)]
    out["ingest_per_s"] = round(statistics.median(r["per_s"] for r in daemon))
    out["ingest_split_ms"] = {
        k: round(statistics.median(r[k] for r in daemon))
        for k in ("lookup", "diff", "apply", "background_checkpoint")
    }
    out["ingest_with_checkpoint_per_s"] = round(
        statistics.median(
            10_000 * 1000 / (r["lookup"] + r["diff"] + r["apply"] + r["background_checkpoint"])
            for r in daemon
        )
    )
    out["ingest_oneshot_per_s"] = round(statistics.median(r["per_s"] for r in oneshot))
    out["ingest_sqlite_floor_per_s"] = round(statistics.median(r["per_s"] for r in floor))
    out["ingest_floor_ms"] = round(statistics.median(r["ms"] for r in floor))
    out["ingest_vs_floor"] = round(out["ingest_sqlite_floor_per_s"] / out["ingest_per_s"], 2)
    # 3. show
    ids = [f"source{k % 20}:{k}" for k in range(5_000, 5_000_000, 99_991)]
    ids = [i for i in ids if store.listing(i) is not None] or ["big-forum:1"]
    pick = iter(ids * 50)

    def show() -> int:
        lid = next(pick)
        parts = [
            store.listing(lid),
            store.read("e", history.events, listing_id=lid),
            store.observations(lid),
            store.read("v", history.verifications, lid),
            store.read("a", history.listing_alerts, lid),
            store.read("c", history.cluster, lid),
        ]
        return len(parts)

    out["show_ms"], _ = timed(show, 50)
    # 4. full-text search
    out["fts_rare_ms"], hits = timed(
        lambda: store.read("s", history.listings, search="shanghai police"), 11
    )
    out["fts_rare_hits"] = len(hits)
    out["fts_common_limit100_ms"], hits = timed(
        lambda: store.read("s", history.listings, search="acme", limit=100), 5
    )
    newest = [r["id"] for r in hits]
    # Before/after in one run: the query as shipped before, which sorts every hit.
    sort_every_hit = (
        "SELECT listings.* FROM listings JOIN listings_fts ON listings_fts.rowid = "
        "listings.rowid WHERE listings_fts MATCH ? "
        "ORDER BY listings.first_seen DESC, listings.id LIMIT 100"
    )
    out["fts_common_limit100_sort_every_hit_ms"], rows = timed(
        lambda: store.db.execute(sort_every_hit, ['"acme"*']).fetchall(), 3
    )
    assert [r[0] for r in rows] == newest
    out["fts_common_all_ms"], hits = timed(
        lambda: store.read("s", history.listings, search="acme"), 3
    )
    out["fts_common_hits"] = len(hits)
    # 5. `leakmon seller HANDLE`: the summary row, and the same row through the view
    # (the query as shipped before, which groups every listing before filtering)
    out["seller_ms"], row = timed(lambda: store.read("s", history.sellers, "SELLER4242"), 11)
    out["seller_via_view_ms"], view_row = timed(
        lambda: list(
            store.db.query("SELECT * FROM sellers WHERE handle = ? COLLATE NOCASE", ["SELLER4242"])
        ),
        3,
    )
    assert row == view_row and row, (row, view_row)
    out["seller_listings_ms"], _ = timed(
        lambda: store.read("s", history.listings, seller="SELLER4242"), 11
    )
    # 6. growth over 1,000 unchanged crawls
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before_rows, before_bytes = table_counts(store), disk_bytes(path)
    t = time.perf_counter()
    for _ in range(1000):
        crawler.full()
    out["growth_1000_crawls_s"] = round(time.perf_counter() - t, 2)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after_rows = table_counts(store)
    out["growth_rows"] = {k: after_rows[k] - before_rows[k] for k in after_rows}
    out["growth_bytes"] = disk_bytes(path) - before_bytes
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1M listings, 5M obs")
    parser.add_argument("--db", type=Path, help="Database file (default: a temp dir).")
    parser.add_argument("--keep", action="store_true", help="Reuse an existing --db.")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp()) / "bench.db"
    fresh = not (args.keep and path.exists())
    if fresh and path.exists():
        raise SystemExit(f"{path} exists; use --keep to reuse it")
    with Store.open(path) as store:
        if fresh:
            t = time.perf_counter()
            sizes = generate(store, args.scale)
            seconds = time.perf_counter() - t
            rate = round(sizes["listings"] / seconds)
            print(f"generated {sizes} in {seconds:.1f}s ({rate} listings/s incl. obs)")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"database: {disk_bytes(path) / 1e6:.0f} MB at {path}")
        for key, value in bench(store, path).items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
