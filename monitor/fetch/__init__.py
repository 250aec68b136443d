"""Fetching through Tor: the SOCKS-only client, politeness, block-page detection,
SOCKS reply names and Tor control (NEWNYM)."""

from monitor.fetch.blocks import block_reason
from monitor.fetch.body import decode_body, one_line
from monitor.fetch.client import Fetcher, is_onion, proxy_url, socks_username
from monitor.fetch.politeness import Politeness
from monitor.fetch.probe import SocksReply, probe_connect

__all__ = [
    "Fetcher",
    "Politeness",
    "SocksReply",
    "block_reason",
    "decode_body",
    "is_onion",
    "one_line",
    "probe_connect",
    "proxy_url",
    "socks_username",
]
