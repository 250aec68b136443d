"""Politeness shared by every Fetcher: a global limit on requests in flight, one
request at a time per host, and a minimum delay between two requests to a host.

One `Politeness` is built per process (runtime) and passed to every Fetcher, so the
limits span all sources. When requests wait for a global slot, the one of the
earliest-started Fetcher goes first (its `ticket`): a crawl that has begun finishes
its pages before new crawls start theirs, instead of every crawl's page 2 queueing
behind every other crawl's page 1. Asyncio only; not thread-safe.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class PriorityGate:
    """A semaphore whose waiters are admitted lowest `priority` first (FIFO among
    equals). A waiter cancelled while waiting takes no slot with it."""

    def __init__(self, capacity: int) -> None:
        self._free = capacity
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted, then cancelled before it ran: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1


class Politeness:
    """`slot(host, min_delay)` admits one request; see the module docstring."""

    def __init__(
        self, max_concurrency: int = 8, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self._gate = PriorityGate(max_concurrency)
        self._tickets = itertools.count()
        self._hosts: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}  # host -> clock() when its last request ended
        self._clock = clock

    def ticket(self) -> int:
        """A number for a new Fetcher: later Fetchers get larger ones."""
        return next(self._tickets)

    @asynccontextmanager
    async def slot(self, host: str, min_delay: float = 0.0, ticket: int = 0) -> AsyncIterator[None]:
        """Wait for the host's turn, its `min_delay` since the previous request ended,
        then a global slot (lowest `ticket` first); hold them while the request runs."""
        key = host.lower().rstrip(".")
        lock = self._hosts.setdefault(key, asyncio.Lock())
        async with lock:
            last = self._last.get(key)
            if last is not None:
                wait = last + min_delay - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                await self._gate.acquire(ticket)
                try:
                    yield
                finally:
                    self._gate.release()
            finally:
                self._last[key] = self._clock()
