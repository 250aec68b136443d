"""The embedded demo world: a fixture forum and leak shop on loopback, reached through
a SOCKS5 relay that stands in for Tor, and the scripted ChinaDan story they play.

`World` (world.py) is the pure story; `DemoServer` (server.py) serves it over HTTP;
`SocksRelay` (socks.py) routes the two onion names to that server; `sources.toml`
is the demo's configuration (package data).
"""

from __future__ import annotations

from monitor.demo.server import DemoServer
from monitor.demo.socks import SocksRelay, SocksRequest
from monitor.demo.world import FORUM_HOST, SHOP_HOST, STORY, World, routes

__all__ = [
    "FORUM_HOST",
    "SHOP_HOST",
    "STORY",
    "DemoServer",
    "SocksRelay",
    "SocksRequest",
    "World",
    "routes",
]
