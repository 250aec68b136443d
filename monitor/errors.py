"""One exception tree for leakmon. Only `cli` maps these to exit codes."""

from __future__ import annotations


class LeakmonError(Exception):
    """Base of every error leakmon raises on purpose."""


class ConfigError(LeakmonError):
    """The configuration is missing, unreadable or invalid.

    `problems` holds every problem found, each prefixed with its path
    (``source[2].every: ...``); str() joins them one per line.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class FetchError(LeakmonError):
    """A page could not be fetched. `reason` is a short machine-readable word."""

    reason = "fetch_error"


class TorUnavailable(FetchError):
    """The SOCKS proxy (Tor) does not answer or is not a SOCKS5 proxy."""

    reason = "tor_unavailable"


class OnionUnreachable(FetchError):
    """Tor answered, but could not reach the onion service (SOCKS5 reply F0-F7)."""

    reason = "onion_unreachable"


class FetchTimeout(FetchError):
    """Connect, read or total time limit exceeded."""

    reason = "timeout"


class TooLarge(FetchError):
    """The response exceeded the wire-byte or decoded-byte cap."""

    reason = "too_large"


class Refused(FetchError):
    """leakmon refused the request itself (clearnet target, bad redirect, content type)."""

    reason = "refused"


class HTTPStatusError(FetchError):
    """The server answered with a non-2xx status."""

    reason = "http_error"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Blocked(FetchError):
    """The page is a block page: captcha, DDoS queue, login wall, maintenance, empty."""

    reason = "blocked"


class ExtractError(LeakmonError):
    """An extractor could not be built or applied (bad selector, unknown engine)."""


class StoreError(LeakmonError):
    """The database could not be opened, migrated or written."""


class NotifyError(LeakmonError):
    """A notification could not be delivered."""
