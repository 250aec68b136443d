"""The apprise adapter: deliver one rendered alert to one configured target.

apprise is imported lazily (importing it and loading the first URL cost ~250 ms),
and one `apprise.Apprise` per target name is kept. A target's URL holds secrets:
it never appears in a NotifyError, and while apprise loads or uses it, apprise's
own log records are redacted (apprise logs a URL it cannot parse verbatim).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import unquote

from monitor.errors import NotifyError
from monitor.models import Alert, NotifyTarget
from monitor.notify.console import register_console
from monitor.notify.render import one_line, render

_NOTIFY_TYPES = {"critical": "failure", "high": "warning"}  # anything else: info
_DETAIL_LIMIT = 300
_MIN_SECRET = 5  # shorter URL parts are not redacted (they would mangle words)


class Sender(Protocol):
    """Delivers one alert to one target; raises NotifyError when it was not delivered."""

    def send(self, target: NotifyTarget, alert: Alert) -> None: ...


def secret_parts(url: str) -> tuple[str, ...]:
    """Substrings of an apprise URL that may be secret, longest first.

    That is the URL itself, every part of its authority and path (user, password,
    host, tokens) and every query value, raw and percent-decoded.
    """
    head, _, query = url.partition("://")[2].partition("?")
    parts = re.split(r"[/:@]+", head) + [item.partition("=")[2] for item in query.split("&")]
    found = {url}
    for part in parts:
        found.update(p for p in (part, unquote(part)) if len(p) >= _MIN_SECRET)
    return tuple(sorted(found, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class _Redactor(logging.Filter):
    """Rewrites apprise's log records so they cannot quote a target's URL."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = ()
        return True


@contextmanager
def _redacted_apprise_logs(url: str) -> Iterator[None]:
    log = logging.getLogger("apprise")
    redactor = _Redactor(secret_parts(url))
    log.addFilter(redactor)
    try:
        yield
    finally:
        log.removeFilter(redactor)


def _failure(result: Any, secrets: tuple[str, ...]) -> str:
    """A one-line, secret-free account of a failed apprise notify() result."""
    services = list(result)
    if not services:
        return f"no service was notified ({result.status.name.lower()})"
    problems = []
    for service in services:
        if service:
            continue
        messages = [e.message for e in service.logs() if e.level in ("WARNING", "ERROR")]
        problem = f"{service.name} {service.status.name.lower()}"
        if messages:
            problem += f": {messages[-1]}"
        problems.append(problem)
    text = one_line(redact("; ".join(problems) or result.status.name.lower(), secrets))
    return text[:_DETAIL_LIMIT]


_PROXY_VARS = ("ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy")


@contextmanager
def _through(proxy: str | None) -> Iterator[None]:
    """Route apprise's requests-based plugins through `proxy` for one send.

    requests reads the proxy from the environment (PySocks speaks SOCKS for it);
    the sender is single-threaded, so the variables are set only around one call
    and restored after (NO_PROXY is cleared meanwhile: nothing bypasses Tor).
    """
    if not proxy:
        yield
        return
    saved = {name: os.environ.get(name) for name in (*_PROXY_VARS, "NO_PROXY", "no_proxy")}
    for name in saved:
        os.environ.pop(name, None)
    for name in _PROXY_VARS:
        os.environ[name] = proxy
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class AppriseSender:
    """Sends alerts through apprise; one cached `apprise.Apprise` per target name.

    Not thread-safe: use one sender per dispatching thread.
    """

    def __init__(self) -> None:
        self._clients: dict[str, tuple[str, Any]] = {}

    def _client(self, target: NotifyTarget) -> Any:
        cached = self._clients.get(target.name)
        if cached is not None and cached[0] == target.url:
            return cached[1]
        import apprise

        register_console()
        client = apprise.Apprise()
        with _redacted_apprise_logs(target.url):
            loaded = client.add(target.url)
        if not loaded:
            raise NotifyError(f"target {target.name!r}: apprise does not understand its URL")
        self._clients[target.name] = (target.url, client)
        return client

    def send(self, target: NotifyTarget, alert: Alert) -> None:
        """Deliver `alert` to `target`; NotifyError (naming the target, never its URL)
        unless apprise reports success for every service of the URL."""
        title, body, body_format = render(alert, target.format, defang_links=target.defang)
        client = self._client(target)
        notify_type = _NOTIFY_TYPES.get(alert.severity.lower(), "info")
        with _redacted_apprise_logs(target.url), _through(target.proxy):
            try:
                result = client.notify(
                    body=body, title=title, body_format=body_format, notify_type=notify_type
                )
            except Exception as exc:  # apprise or a plugin crashed: report, never leak
                raise NotifyError(
                    f"target {target.name!r}: apprise failed ({type(exc).__name__})"
                ) from None
        with result:
            if not result:
                detail = _failure(result, secret_parts(target.url))
                raise NotifyError(f"target {target.name!r}: not delivered: {detail}")
