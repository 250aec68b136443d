"""Politeness shared by every Fetcher: a global limit on requests in flight, one
request at a time per host, and a minimum delay between two requests to a host.

One `Politeness` is built per process (runtime) and passed to every Fetcher, so the
limits span all sources. Asyncio only; not thread-safe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class Politeness:
    """`slot(host, min_delay)` admits one request; see the module docstring."""

    def __init__(
        self, max_concurrency: int = 8, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self._gate = asyncio.Semaphore(max_concurrency)
        self._hosts: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}  # host -> clock() when its last request ended
        self._clock = clock

    @asynccontextmanager
    async def slot(self, host: str, min_delay: float = 0.0) -> AsyncIterator[None]:
        """Wait for the host's turn, its `min_delay` since the previous request ended,
        then a global slot; hold them while the request runs."""
        key = host.lower().rstrip(".")
        lock = self._hosts.setdefault(key, asyncio.Lock())
        async with lock:
            last = self._last.get(key)
            if last is not None:
                wait = last + min_delay - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                async with self._gate:
                    yield
            finally:
                self._last[key] = self._clock()
