from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from monitor.errors import NotifyError
from monitor.models import Alert, NotifyTarget
from monitor.notify.console import register_console
from monitor.notify.render import render
from monitor.notify.send import AppriseSender, redact, secret_parts

NOW = datetime(2022, 6, 30, 12, 0, tzinfo=UTC)
SECRET = "s3cretPassw0rd"
PATH_SECRET = "T0kenInThePath"


def alert(title: str = "[high] new: Shanghai police database (darkforum)") -> Alert:
    return Alert(
        id="a1",
        event_id="e1",
        rule="shanghai",
        target="t",
        severity="high",
        title=title,
        body="Seller: ChinaDan\nRecords: 1,000,000,000\nPrice: 10 BTC",
        created=NOW,
    )


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """apprise's requests would honour proxy variables even for 127.0.0.1."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


class Receiver:
    """A webhook receiver on 127.0.0.1 answering every POST with `status`."""

    def __init__(self) -> None:
        self.status = 200
        self.requests: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"json://leakmon:{SECRET}@127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ------------------------------------------------------------------ console


def test_console_target_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    hostile = alert("[high] new: evil\x1b[2J\x1b]0;pwned\x07 title\u202e (darkforum)")
    AppriseSender().send(NotifyTarget("console", "console://"), hostile)
    out = capsys.readouterr().out
    assert out == (
        "ALERT [high] new: evil [2J ]0;pwned title (darkforum)\n"
        "  Seller: ChinaDan\n"
        "  Records: 1,000,000,000\n"
        "  Price: 10 BTC\n"
    )


def test_register_console_is_idempotent(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="apprise")
    for _ in range(3):
        register_console()
    assert "already defined" not in caplog.text
    AppriseSender().send(NotifyTarget("console", "console://"), alert())
    assert capsys.readouterr().out.startswith("ALERT [high] new: Shanghai")


# ------------------------------------------------------------------ json webhook


def test_json_target_delivers_to_a_real_http_receiver(receiver: Receiver) -> None:
    AppriseSender().send(NotifyTarget("hook", receiver.url(), "text"), alert())
    ((path, payload),) = receiver.requests
    assert path == "/hook"
    assert payload["title"] == "[high] new: Shanghai police database (darkforum)"
    assert payload["message"].startswith("Seller: ChinaDan\nRecords: 1,000,000,000")
    assert payload["type"] == "warning"  # severity high


@pytest.mark.parametrize("status", [500, 404, 302])
def test_non_2xx_answer_is_a_failure(receiver: Receiver, status: int) -> None:
    receiver.status = status
    url = receiver.url(f"/hook/{PATH_SECRET}")
    with pytest.raises(NotifyError) as err:
        AppriseSender().send(NotifyTarget("soc-hook", url), alert())
    message = str(err.value)
    assert len(receiver.requests) == 1
    assert message.startswith("target 'soc-hook': not delivered: JSON failure")
    assert f"error={status}" in message
    assert SECRET not in message and PATH_SECRET not in message and url not in message


def test_unreachable_receiver_is_a_failure() -> None:
    url = f"json://leakmon:{SECRET}@127.0.0.1:{free_port()}/hook"
    with pytest.raises(NotifyError, match="target 'down': not delivered") as err:
        AppriseSender().send(NotifyTarget("down", url), alert())
    assert SECRET not in str(err.value)


def test_apprise_logs_never_quote_the_secret(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="apprise")
    receiver.status = 500
    with pytest.raises(NotifyError):
        AppriseSender().send(NotifyTarget("hook", receiver.url(f"/{PATH_SECRET}")), alert())
    assert "JSON POST URL" in caplog.text  # apprise did log, redacted
    assert SECRET not in caplog.text and PATH_SECRET not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        f"nosuchscheme://{SECRET}@example.com",
        f"slack://{SECRET}",
        f"tgram://{SECRET}",
        f"https://user:{SECRET}@example.com",
        SECRET,
    ],
)
def test_bad_url_is_reported_without_its_secret(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="apprise")
    with pytest.raises(NotifyError) as err:
        AppriseSender().send(NotifyTarget("broken", url), alert())
    assert str(err.value) == "target 'broken': apprise does not understand its URL"
    assert SECRET not in caplog.text
    assert caplog.records  # apprise complained, redacted


def test_changed_url_for_a_target_name_is_reloaded(receiver: Receiver) -> None:
    other = Receiver()
    try:
        sender = AppriseSender()
        sender.send(NotifyTarget("hook", receiver.url("/one")), alert())
        sender.send(NotifyTarget("hook", other.url("/two")), alert())
        assert [p for p, _ in receiver.requests] == ["/one"]
        assert [p for p, _ in other.requests] == ["/two"]
    finally:
        other.close()


def test_secret_parts_and_redact() -> None:
    url = "slack://T1AAAAAAA/B2BBBBBBB/c3ccccccccccc?footer=no&token=abc%2Fdefgh"
    parts = secret_parts(url)
    assert {"T1AAAAAAA", "B2BBBBBBB", "c3ccccccccccc", "abc%2Fdefgh", "abc/defgh"} <= set(parts)
    assert "footer" not in parts and "slack" not in parts
    assert redact(f"failed {url} and abc/defgh", parts) == "failed *** and ***"


# ------------------------------------------------------------------ email


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_email_through_a_real_smtp_server(fmt: str) -> None:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # plain SMTP without TLS or login: scheme mailto (not mailtos), no user
        url = f"mailto://127.0.0.1:{port}?from=leakmon@example.com&to=soc@example.com"
        hostile = alert("[high] new: <b>db</b>\r\nBcc: victim@example.com\u202e (darkforum)")
        AppriseSender().send(NotifyTarget("mail", url, fmt), hostile)
    finally:
        controller.stop()
    (envelope,) = mailbox.envelopes
    assert envelope.rcpt_tos == ["soc@example.com"]
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    expected_title = render(hostile, fmt)[0]
    assert message["Subject"] == expected_title
    assert "\n" not in expected_title and "\u202e" not in expected_title
    assert message["Bcc"] is None
    part = message.get_body(preferencelist=("html",) if fmt == "html" else ("plain",))
    assert part is not None
    content = part.get_content()
    if fmt == "html":
        assert "<b>Seller:</b> ChinaDan" in content
        assert expected_title == (
            "[high] new: &lt;b&gt;db&lt;/b&gt; Bcc: victim@example.com (darkforum)"
        )
    else:
        assert "Seller: ChinaDan" in content
        assert expected_title == "[high] new: <b>db</b> Bcc: victim@example.com (darkforum)"


def test_proxy_sends_http_targets_through_socks(receiver: Receiver) -> None:
    """A target with `proxy` reaches its receiver only through the SOCKS relay (PySocks),
    by host name: the relay maps hooks.example to the receiver on loopback."""
    import asyncio
    import threading

    from monitor.demo import SocksRelay

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    relay = SocksRelay({"hooks.example": ("127.0.0.1", receiver.port)})
    asyncio.run_coroutine_threadsafe(relay.start(), loop).result(5)
    try:
        target = NotifyTarget(
            "via-tor",
            f"json://hooks.example:{receiver.port}/hook",
            "text",
            proxy=f"socks5h://127.0.0.1:{relay.port}",
        )
        before = dict(os.environ)
        AppriseSender().send(target, alert())
        assert dict(os.environ) == before  # the proxy was set for that one call only
        assert len(receiver.requests) == 1
        assert [r.host for r in relay.requests] == ["hooks.example"]
    finally:
        asyncio.run_coroutine_threadsafe(relay.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
