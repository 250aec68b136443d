"""Shared fixtures: the demo world (fixture forum + shop + SOCKS5 relay) on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest

from monitor.demo import DemoServer, SocksRelay, World


@dataclass
class LiveWorld:
    """A demo world served from a background event loop, for CLI-level tests."""

    world: World
    server: DemoServer
    relay: SocksRelay
    loop: asyncio.AbstractEventLoop

    @property
    def socks(self) -> str:
        return f"socks5h://127.0.0.1:{self.relay.port}"

    def config(self, tmp_path: Path, extra: str = "") -> Path:
        """The demo's sources.toml pointed at this relay and a tmp database."""
        text = resources.files("monitor.demo").joinpath("sources.toml").read_text()
        text = text.replace('socks = "socks5h://127.0.0.1:9050"', f'socks = "{self.socks}"')
        text = text.replace("[tor]", f'[storage]\npath = "{tmp_path / "leakmon.db"}"\n\n[tor]', 1)
        path = tmp_path / "sources.toml"
        path.write_text(text + extra)
        return path


@pytest.fixture
def live_world() -> Iterator[LiveWorld]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    world = World()
    server = DemoServer(world)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    relay = SocksRelay(world.routes(server.port))
    asyncio.run_coroutine_threadsafe(relay.start(), loop).result(5)
    try:
        yield LiveWorld(world, server, relay, loop)
    finally:
        asyncio.run_coroutine_threadsafe(relay.close(), loop).result(5)
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


class Hook:
    """A webhook receiver on loopback; `status` is what it answers."""

    def __init__(self) -> None:
        self.status = 200
        self.titles: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hook.status == 200:
                    hook.titles.append(json.loads(body).get("title", ""))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()
