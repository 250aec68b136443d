"""Against a real tor (skipped when the `tor` binary is absent).

tor runs on loopback only: its one bridge is a closed loopback port, so it never
bootstraps and never connects beyond 127.0.0.1 (``DisableNetwork 1`` would also keep
the SocksPort closed, which the preflight needs open).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.errors import ConfigError, TorUnavailable
from monitor.fetch import Fetcher, Politeness
from monitor.fetch.preflight import check_control, check_socks
from monitor.fetch.torctl import TorControl
from monitor.models import PageOutcome, Source, TorSettings

pytestmark = [
    pytest.mark.tor,
    pytest.mark.skipif(shutil.which("tor") is None, reason="tor is not installed"),
]
PASSWORD = "correct horse battery"


@dataclass
class Tor:
    socks: int
    control: int
    password: str | None

    def settings(self, password: str | None = None) -> TorSettings:
        return TorSettings(
            socks=f"socks5h://127.0.0.1:{self.socks}",
            control=f"127.0.0.1:{self.control}",
            control_password=password,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tor exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"tor did not open port {port} within {limit}s")


def start_tor(tmp: Path, password: str | None) -> Iterator[Tor]:
    tor = Tor(free_port(), free_port(), password)
    if password is None:
        auth = "CookieAuthentication 1"
    else:
        hashed = (
            subprocess.run(
                ["tor", "--quiet", "--hash-password", password],
                capture_output=True,
                text=True,
                check=True,
                timeout=20,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        auth = f"HashedControlPassword {hashed}"
    torrc = tmp / "torrc"
    torrc.write_text(
        f"SocksPort 127.0.0.1:{tor.socks} ExtendedErrors IsolateSOCKSAuth\n"
        f"ControlPort 127.0.0.1:{tor.control}\n{auth}\n"
        f"DataDirectory {tmp / 'data'}\nUseBridges 1\nBridge 127.0.0.1:{free_port()}\n"
        "Log err stderr\n"
    )
    proc = subprocess.Popen(["tor", "-f", str(torrc)], stdout=subprocess.DEVNULL)
    try:
        wait_for_port(tor.control, proc)
        wait_for_port(tor.socks, proc)
        yield tor
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def password_tor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tor]:
    yield from start_tor(tmp_path_factory.mktemp("tor-pw"), PASSWORD)


@pytest.fixture(scope="module")
def cookie_tor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tor]:
    yield from start_tor(tmp_path_factory.mktemp("tor-cookie"), None)


def test_password_auth_and_newnym_rate_limit(password_tor: Tor) -> None:
    with TorControl(f"127.0.0.1:{password_tor.control}", PASSWORD) as control:
        assert control.version().startswith("0.")
        assert control.newnym() == 0  # sent
        wait = control.newnym()  # within Tor's ~10 s: not sent, told how long to wait
        assert 0 < wait <= 10


def test_wrong_or_missing_password_is_a_clear_config_error(password_tor: Tor) -> None:
    with pytest.raises(ConfigError) as wrong:
        TorControl(f"127.0.0.1:{password_tor.control}", "not the password").connect()
    assert "tor.control_password: rejected" in str(wrong.value)
    assert "not the password" not in str(wrong.value)
    with pytest.raises(ConfigError, match="wants a password"):
        TorControl(f"127.0.0.1:{password_tor.control}", None).connect()


def test_cookie_auth_and_newnym(cookie_tor: Tor) -> None:
    with TorControl(f"127.0.0.1:{cookie_tor.control}") as control:
        assert control.newnym() == 0


def test_closed_control_port_is_tor_unavailable() -> None:
    with pytest.raises(TorUnavailable, match="does not answer"):
        TorControl(f"127.0.0.1:{free_port()}", PASSWORD).connect()


def test_preflight_recognises_real_tor(password_tor: Tor) -> None:
    async def go() -> list[str]:
        socks, tor = await check_socks(password_tor.settings())
        control = await check_control(password_tor.settings(PASSWORD))
        wrong = await check_control(password_tor.settings("nope"))
        assert socks.ok and tor.ok and control.ok
        assert not wrong.ok and wrong.config
        return [tor.detail, control.detail]

    tor_detail, control_detail = asyncio.run(go())
    assert "it is Tor" in tor_detail
    assert "password authentication ok" in control_detail


def test_tor_onion_error_reaches_the_page(password_tor: Tor) -> None:
    bad = "a" * 56 + ".onion"  # well formed, but its checksum is wrong: Tor answers 0xF6
    source = Source(name="x", url=f"http://{bad}/", engine="css", every=60, retries=0)

    async def go() -> tuple[PageOutcome, str | None, str | None]:
        async with Fetcher(password_tor.settings(), source, Politeness()) as fetcher:
            page = await fetcher.get(source.url)
        return page.outcome, page.reason, page.error

    outcome, reason, error = asyncio.run(go())
    assert (outcome, reason) == (PageOutcome.FAILED, "onion_unreachable")
    assert "not a valid onion address" in (error or "") and "0xf6" in (error or "")
