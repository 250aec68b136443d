"""Name the SOCKS5 reply Tor gave: its onion-service errors 0xF0-0xF7 and RFC 1928's.

httpx (socksio) reports a reply code it does not know, such as Tor's 0xF0, only as
``ProtocolError('Malformed reply')``. `reply_code_of` recovers the code from the
exception chain when socksio left it there; otherwise `probe_connect` asks the proxy
again with a plain SOCKS5 CONNECT through PySocks, which reports the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import socks

# Tor's extended SOCKS5 errors (tor spec, "SOCKS5 extended errors"), then RFC 1928.
REPLIES: dict[int, tuple[str, str]] = {
    0xF0: ("descriptor_not_found", "onion service descriptor can not be found"),
    0xF1: ("descriptor_invalid", "onion service descriptor is invalid"),
    0xF2: ("introduction_failed", "onion service introduction failed"),
    0xF3: ("rendezvous_failed", "onion service rendezvous failed"),
    0xF4: ("missing_client_auth", "onion service needs client authorization"),
    0xF5: ("wrong_client_auth", "onion service client authorization is wrong"),
    0xF6: ("bad_address", "not a valid onion address"),
    0xF7: ("introduction_timed_out", "onion service introduction timed out"),
    0x01: ("general_failure", "general SOCKS server failure"),
    0x02: ("not_allowed", "connection not allowed by the proxy's rules"),
    0x03: ("network_unreachable", "network unreachable"),
    0x04: ("host_unreachable", "host unreachable"),
    0x05: ("connection_refused", "connection refused by the destination"),
    0x06: ("ttl_expired", "TTL expired (the circuit timed out)"),
    0x07: ("command_not_supported", "command not supported"),
    0x08: ("address_type_not_supported", "address type not supported"),
}
TRANSIENT = frozenset({0x01, 0x06, 0xF2, 0xF3, 0xF7})  # worth a retry on a new attempt

_CODE = re.compile(r"\b(?:b'\\x|0x)([0-9a-fA-F]{2})\b")


@dataclass(frozen=True)
class SocksReply:
    """A SOCKS5 reply code and its names; `code` 0 means the CONNECT succeeded."""

    code: int

    @property
    def name(self) -> str:
        return REPLIES.get(self.code, (f"reply_{self.code:#04x}", ""))[0]

    def describe(self) -> str:
        """``onion service descriptor can not be found (SOCKS5 reply 0xf0)``."""
        if self.code == 0:
            return "the proxy connected (SOCKS5 reply 0x00)"
        text = REPLIES.get(self.code, ("", "unknown SOCKS5 error"))[1]
        return f"{text} (SOCKS5 reply {self.code:#04x})"


def reply_code_of(exc: BaseException) -> int | None:
    """The SOCKS5 reply code named in `exc`'s chain (socksio keeps the ValueError
    ``b'\\xf0' is not a valid SOCKS5ReplyCode`` as context), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if "ReplyCode" in str(current) and (match := _CODE.search(str(current))):
            return int(match[1], 16)
        current = current.__cause__ or current.__context__
    return None


def probe_connect(
    proxy_host: str,
    proxy_port: int,
    username: str | None,
    host: str,
    port: int,
    timeout: float = 30.0,
) -> SocksReply | None:
    """Ask the SOCKS5 proxy to CONNECT to `host`:`port` (name sent unresolved) and
    return its reply; None when the proxy itself cannot be reached or spoke nonsense.

    Blocking (PySocks): call it through ``asyncio.to_thread``. The connection is closed
    right after the reply; nothing is sent to the destination.
    """
    sock = socks.socksocket()
    sock.settimeout(timeout)
    password = "x" if username else None
    sock.set_proxy(socks.SOCKS5, proxy_host, proxy_port, True, username, password)
    try:
        sock.connect((host, port))
    except socks.ProxyError as exc:  # PySocks: "Socket error: 0xf0: ..." (maybe wrapped)
        match = _CODE.search(str(exc))
        return SocksReply(int(match[1], 16)) if match else None
    except OSError:
        return None
    finally:
        sock.close()
    return SocksReply(0)
