"""Fetching through Tor: the SOCKS-only client and block-page detection."""

from monitor.fetch.blocks import block_reason
from monitor.fetch.client import Fetcher, decode_body, is_onion, one_line, proxy_url

__all__ = ["Fetcher", "block_reason", "decode_body", "is_onion", "one_line", "proxy_url"]
