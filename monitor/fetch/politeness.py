"""Politeness shared by every Fetcher: a global limit on requests in flight, one
request at a time per host, and a minimum delay between two requests to a host.

One `Politeness` is built per process (runtime) and passed to every Fetcher, so the
limits span all sources. Asyncio only; not thread-safe.

Waiting requests get a free global slot in the order of their `since`: when the
page was first asked for. A retry passes its page's `since`, so after its backoff
sleep it goes ahead of the requests that queued meanwhile instead of behind them
(a plain FIFO semaphore sent it to the back: bench/crawl.py, docs/performance.md).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class Politeness:
    """`slot(host, min_delay, since=...)` admits one request; see the module docstring."""

    def __init__(
        self, max_concurrency: int = 8, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self._free = max_concurrency  # > 0 only while nobody waits
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []  # a heap
        self._order = itertools.count()  # equal `since`: first come, first served
        self._hosts: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}  # host -> clock() when its last request ended
        self._clock = clock

    def now(self) -> float:
        """The clock `since` is read on."""
        return self._clock()

    @asynccontextmanager
    async def slot(
        self, host: str, min_delay: float = 0.0, *, since: float | None = None
    ) -> AsyncIterator[None]:
        """Wait for the host's turn, its `min_delay` since the previous request ended,
        then a global slot (earliest `since` first; default: now, on `clock`); hold
        them while the request runs."""
        key = host.lower().rstrip(".")
        lock = self._hosts.setdefault(key, asyncio.Lock())
        async with lock:
            last = self._last.get(key)
            if last is not None:
                wait = last + min_delay - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                await self._acquire(self._clock() if since is None else since)
                try:
                    yield
                finally:
                    self._release()
            finally:
                self._last[key] = self._clock()

    async def _acquire(self, since: float) -> None:
        if self._free > 0:
            self._free -= 1
            return
        granted = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (since, next(self._order), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # the slot came with the cancel
                self._release()
            raise  # a cancelled waiter stays in the heap; _release skips it

    def _release(self) -> None:
        """Hand the slot to the earliest live waiter, else free it."""
        while self._waiting:
            _, _, granted = heapq.heappop(self._waiting)
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1
