"""A TCP server on loopback that tracks its connection handlers, so that `close()`
can cut every open connection. The demo's HTTP server and SOCKS relay build on it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self


class LoopbackServer:
    """Subclasses implement `_handle(reader, writer)` and call `_track()` first in it."""

    limit = 2**16  # asyncio stream buffer limit

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[object]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, host, port, limit=self.limit)

    async def close(self) -> None:
        """Stop listening and cut every connection still open."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _track(self) -> None:
        """Register the running handler task; it unregisters itself when done."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError
