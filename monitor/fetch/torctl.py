"""Tor's control port through stem: authenticate (password or cookie) and NEWNYM.

Blocking (stem is synchronous): call from a thread (``asyncio.to_thread``). stem
(~5 MB of modules) is imported at the first connection, so a daemon without a
control port never loads it. Errors are leakmon's: `TorUnavailable` when the port
does not answer as a Tor control port, `ConfigError` when the credentials are wrong
or missing. The password never appears in a message.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from monitor.errors import ConfigError, TorUnavailable
from monitor.models import TorSettings

NEWNYM_INTERVAL = 10.0  # seconds: Tor ignores a NEWNYM sooner than this after the last


class TorControl:
    """A lazily connected, authenticated control connection. Thread-safe."""

    def __init__(
        self,
        address: str,
        password: str | None = None,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        host, _, port = address.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self._password = password
        self._timeout = timeout
        self._clock = clock
        self._controller: Any = None  # stem.control.Controller once connected
        self._last_newnym: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, tor: TorSettings) -> TorControl | None:
        """The control connection `tor` configures, or None without `tor.control`."""
        return cls(tor.control, tor.control_password) if tor.control else None

    def __enter__(self) -> TorControl:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"Tor control port {self.host}:{self.port}"

    def connect(self) -> None:
        """Connect and authenticate (if not already); raise TorUnavailable or ConfigError."""
        with self._lock:
            self._connect()

    def _connect(self) -> None:
        if self._controller is not None and self._controller.is_alive():
            return
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ConfigError(f"tor.control: {self.host!r} must be an IP address") from None
        import stem.connection  # lazily: see the module docstring
        import stem.control

        try:
            controller = stem.control.Controller.from_port(address=self.host, port=self.port)
        except stem.SocketError as exc:
            raise TorUnavailable(f"{self.where} does not answer: {exc}") from None
        try:
            controller.authenticate(password=self._password)
        except stem.connection.IncorrectPassword:
            controller.close()
            raise ConfigError(f"tor.control_password: rejected by the {self.where}") from None
        except stem.connection.MissingPassword:
            controller.close()
            raise ConfigError(
                f"tor.control_password: the {self.where} wants a password "
                "(HashedControlPassword); set control_password"
            ) from None
        except stem.connection.AuthenticationFailure as exc:
            controller.close()
            raise ConfigError(
                f"tor.control: cannot authenticate to the {self.where}: {exc}"
            ) from None
        except stem.SocketError as exc:
            controller.close()
            raise TorUnavailable(f"{self.where} closed the connection: {exc}") from None
        self._controller = controller

    def version(self) -> str:
        """Tor's version string (connects if needed)."""
        with self._lock:
            self._connect()
            return str(self._controller.get_version())

    def newnym_wait(self) -> float:
        """Seconds until Tor would accept another NEWNYM from us (0: now)."""
        stem_wait = 0.0
        if self._controller is not None and self._controller.is_alive():
            stem_wait = float(self._controller.get_newnym_wait())
        ours = 0.0
        if self._last_newnym is not None:
            ours = self._last_newnym + NEWNYM_INTERVAL - self._clock()
        return max(0.0, stem_wait, ours)

    def newnym(self) -> float:
        """Ask Tor for new circuits. Returns 0 when sent, else the seconds still to wait
        under Tor's rate limit (nothing is sent then)."""
        with self._lock:
            self._connect()
            wait = self.newnym_wait()
            if wait > 0:
                return wait
            import stem  # loaded by _connect

            try:
                self._controller.signal(stem.Signal.NEWNYM)
            except stem.ControllerError as exc:
                self._drop()
                raise TorUnavailable(f"{self.where}: NEWNYM failed: {exc}") from None
            self._last_newnym = self._clock()
            return 0.0

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._controller is not None:
            self._controller.close()
            self._controller = None
