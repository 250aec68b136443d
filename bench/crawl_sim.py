"""bench/crawl.py's world as a discrete-event simulation: how close can a gate get?

The same 200 sources x 3 pages, the same seeded draws (latency 0.5-3 s, 5% transport
failures, 2% captchas, keyed by host, path and attempt) and the same retry policy
(2 attempts more; backoff 2 s doubling, plus 0-2 s jitter), 64 slots, no overhead at
all. Only the order in which waiting requests get a free slot differs:

  fifo   first come, first served (a retry queues anew after its backoff): the
         asyncio.Semaphore Politeness used until 2026-12-02
  since  by when the page was first asked for (a retry keeps its place): Politeness now
  depth  crawls that already started first (the priority gate tried on 2026-12-02)
  oracle longest remaining chain first, knowing every future draw: not buildable,
         it shows how tight crawl.py's lower bound is

Each policy runs with `--runs` different jitter seeds; printed: wall, and wall over
crawl.py's lower bound (max(longest chain, total latency / 64)) of the same run.

    .venv/bin/python bench/crawl_sim.py
    .venv/bin/python bench/crawl_sim.py --backoff 0.5   # initial backoff and jitter
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections.abc import Callable

from fixture import BLOCK, FAIL, PAGES, SOURCES, host_of

SLOTS, ATTEMPTS, SEED = 64, 3, 8
Key = Callable[[int, float], tuple[float, ...]]


def target(page: int) -> str:
    return "/forumdisplay.php?fid=2" + ("" if page == 1 else f"&page={page}")


def draw(source: int, page: int, attempt: int) -> tuple[float, float]:
    """The fixture's (latency, roll) for one attempt (bench/fixture.py)."""
    rng = random.Random(f"{SEED}|{host_of(source)}|{target(page)}|{attempt}")
    return rng.uniform(0.5, 3.0), rng.random()


def chain(source: int, backoff: float) -> float:
    """A source's whole chain (latencies + mean backoff), for the oracle."""
    total = 0.0
    for page in range(1, PAGES + 1):
        for attempt in range(ATTEMPTS):
            latency, roll = draw(source, page, attempt)
            total += latency
            if roll >= FAIL:
                break
            if attempt == ATTEMPTS - 1:
                return total
            total += backoff * 2**attempt + backoff / 2
        if FAIL <= roll < FAIL + BLOCK:
            return total
    return total


def simulate(policy: str, jitter_seed: int, backoff: float) -> tuple[float, float]:
    """One cycle under `policy`; returns (wall, lower bound)."""
    jitter = random.Random(jitter_seed)
    page, tries, done = [1] * SOURCES, [0] * SOURCES, [0] * SOURCES
    asked, spent, finish = [0.0] * SOURCES, [0.0] * SOURCES, [0.0] * SOURCES
    whole = [chain(s, backoff) for s in range(SOURCES)] if policy == "oracle" else []
    keys: dict[str, Key] = {
        "fifo": lambda s, now: (now,),
        "since": lambda s, now: (asked[s],),
        "depth": lambda s, now: (0.0 if done[s] or tries[s] else 1.0, now),
        "oracle": lambda s, now: (spent[s] - whole[s], now),
    }
    key = keys[policy]
    queue: list[tuple[tuple[float, ...], int, int]] = []
    events: list[tuple[float, int, str, int, float]] = []
    order, free, total = 0, SLOTS, 0.0

    def push_event(at: float, kind: str, s: int, roll: float = 0.0) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, s, roll))

    def enqueue(s: int, now: float) -> None:
        nonlocal order
        order += 1
        heapq.heappush(queue, (key(s, now), order, s))

    def admit(now: float) -> None:
        nonlocal free, total
        while free and queue:
            _, _, s = heapq.heappop(queue)
            free -= 1
            latency, roll = draw(s, page[s], tries[s])
            total += latency
            spent[s] += latency
            push_event(now + latency, "done", s, roll)

    for s in range(SOURCES):
        enqueue(s, 0.0)
    admit(0.0)
    while events:
        now, _, kind, s, roll = heapq.heappop(events)
        if kind == "wake":
            enqueue(s, now)
        elif roll < FAIL and tries[s] < ATTEMPTS - 1:
            free += 1
            wait = backoff * 2 ** tries[s] + jitter.uniform(0, backoff)
            tries[s] += 1
            spent[s] += wait
            push_event(now + wait, "wake", s)
        else:
            free += 1
            finish[s] = now
            if roll >= FAIL + BLOCK and page[s] < PAGES:  # an OK page with a next one
                page[s], tries[s], done[s], asked[s] = page[s] + 1, 0, done[s] + 1, now
                enqueue(s, now)
        admit(now)
    return max(finish), max(max(spent), total / SLOTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="jitter seeds per policy")
    parser.add_argument("--backoff", type=float, default=2.0, help="initial backoff = jitter")
    parser.add_argument("policies", nargs="*", default=["fifo", "since", "depth", "oracle"])
    args = parser.parse_args()
    print(f"simulated crawl cycle, backoff {args.backoff:g} s + 0-{args.backoff:g} s jitter")
    for policy in args.policies:
        runs = [simulate(policy, seed, args.backoff) for seed in range(args.runs)]
        walls = [w for w, _ in runs]
        ratios = [w / b for w, b in runs]
        print(
            f"  {policy:6s} wall {min(walls):5.2f}-{max(walls):5.2f} s, x bound "
            f"{min(ratios):.2f}-{max(ratios):.2f} (mean {statistics.mean(ratios):.2f})"
        )


if __name__ == "__main__":
    main()
