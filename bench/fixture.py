"""The simulated Tor of bench/crawl.py: a fixture MyBB forum on 200 onion names.

`Fixture.handle` serves each host's 3 list pages after a latency drawn from
0.5-3 s (times `scale`); 5% of requests are transport failures (the connection is
dropped after the latency), 2% captcha pages. The draws come from a seeded RNG
keyed by (host, path, attempt number), so every run sees the same world whatever
the order of arrival. It counts the requests in flight per host (politeness check).
Until `go_live()` it answers at once and without faults (the warm-up cycle).
`serve_world` runs it, behind monitor.demo's SOCKS5 relay, in a child process.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from urllib.parse import parse_qs, urlsplit

from monitor.demo.sites import Thread, forum_page, onion_address, thread_page
from monitor.demo.socks import SocksRelay

SOURCES, PAGES, PER_PAGE = 200, 3, 4
FAIL, BLOCK = 0.05, 0.02
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
CAPTCHA = (
    "<!DOCTYPE html><html><head><title>Security check</title></head><body>"
    "<h1>Security check</h1><p>Are you human? Solve the captcha below to continue to the"
    " forum.</p><img src='/captcha.png'></body></html>"
)


@dataclass
class Fixture:
    """The forum server: pages per host, the seeded draws and what it observed."""

    scale: float
    seed: int
    pages: dict[str, list[str]] = field(default_factory=dict)
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    latency: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    kinds: Counter[str] = field(default_factory=Counter)
    inflight: Counter[str] = field(default_factory=Counter)
    max_inflight: int = 0
    live: bool = False  # False: the warm-up world (no latency, no faults, no records)
    threads: dict[str, dict[int, Thread]] = field(default_factory=dict)

    def go_live(self) -> None:
        """From now on: latency, faults, and fresh records."""
        self.live, self.max_inflight = True, 0
        for record in (self.attempts, self.latency, self.kinds):
            record.clear()

    def add_host(self, host: str, index: int) -> None:
        threads = [
            Thread(  # distinct record counts: few repost candidates, as on real forums
                tid=1000 * index + t,
                title=f"Company{index} customers {rows:,} rows - ${500 + t:,}",
                seller=f"seller{(index + t) % 37}",
                uid=100 + t,
                posted=NOW - timedelta(days=t + 1),
                last_post=NOW - timedelta(hours=t),
                last_poster="ghost404",
                replies=t,
                views=100 + t,
                body="sample",
            )
            for t in range(PAGES * PER_PAGE)
            for rows in [(PAGES * PER_PAGE * index + t + 1) * 1000]
        ]
        self.pages[host] = [forum_page(threads, (), p, NOW) for p in range(1, PAGES + 1)]
        self.threads[host] = {t.tid: t for t in threads}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("ascii")
            target = head.split(" ", 2)[1]
            host = next(
                h.split(":", 1)[1].strip().rsplit(":", 1)[0]
                for h in head.split("\r\n")
                if h.lower().startswith("host:")
            )
            n = self.attempts[(host, target)]
            self.attempts[(host, target)] += 1
            rng = random.Random(f"{self.seed}|{host}|{target}|{n}")
            delay, roll = rng.uniform(0.5, 3.0) * self.scale, rng.random()
            if not self.live:
                delay, roll = 0.0, 1.0
            self.latency[host] += delay
            self.inflight[host] += 1
            self.max_inflight = max(self.max_inflight, self.inflight[host])
            try:
                await asyncio.sleep(delay)
                if roll < FAIL:
                    self.kinds["transport failure"] += 1
                    writer.transport.abort()
                    return
                kind = "captcha" if roll < FAIL + BLOCK else "page"
                self.kinds[kind] += 1
                writer.write(self.frame(host, target, kind))
                await writer.drain()
            finally:
                self.inflight[host] -= 1
        except (OSError, asyncio.IncompleteReadError, StopIteration, IndexError):
            pass
        finally:
            writer.close()

    def frame(self, host: str, target: str, kind: str) -> bytes:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if kind == "captcha":
            html = CAPTCHA
        elif parts.path == "/showthread.php":  # a listing's own page (evidence, verification)
            html = thread_page(self.threads[host].get(int(query.get("tid", "0"))), NOW)
        else:
            html = self.pages[host][int(query.get("page", "1")) - 1]
        body = html.encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + body


def serve_world(conn: Connection, scale: float, seed: int) -> None:
    """Child process: the fixture server and the SOCKS relay; `conn` gets "live"
    (end of warm-up) and "stop" (answered with the records)."""

    async def serve() -> None:
        fixture = Fixture(scale, seed)
        for i in range(SOURCES):
            fixture.add_host(host_of(i), i)
        server = await asyncio.start_server(fixture.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with SocksRelay({h: ("127.0.0.1", port) for h in fixture.pages}) as relay:
            conn.send(relay.port)
            loop = asyncio.get_running_loop()
            while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
                if command == "live":
                    fixture.go_live()
        server.close()
        stats = (dict(fixture.latency), dict(fixture.kinds), fixture.max_inflight)
        conn.send(stats)

    asyncio.run(serve())


def host_of(i: int) -> str:
    return onion_address(f"bench-crawl-{i}")
