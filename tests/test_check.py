"""`leakmon check` against the demo world: a SOCKS relay (not Tor) and two onion sites."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from monitor.cli_check import check
from tests.conftest import LiveWorld
from tests.test_fetch_live import no_backoff

__all__ = ["no_backoff"]  # the autouse fixture, imported to apply here too


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(check, ["--config", str(config), *args])


def forum_host(live: LiveWorld) -> str:
    return next(name for name in live.world.routes(live.server.port) if name.startswith("pv56"))


def test_everything_ok(live_world: LiveWorld, tmp_path: Path) -> None:
    result = run(live_world.config(tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("socks    ok: SOCKS port 127.0.0.1:")
    assert "a SOCKS5 server that is not Tor" in lines[1]
    assert lines[2] == "control  ok: not configured (no NEWNYM when a source keeps failing)"
    forum = next(line for line in lines if line.startswith("source   darkforum: "))
    assert forum.startswith("source   darkforum: ok, ") and "listings (HTTP 200)" in forum
    titles = lines[lines.index(forum) + 1 : lines.index(forum) + 4]
    assert len(titles) == 3 and all(t.startswith("           - ") for t in titles)
    assert any(line.startswith("source   leakshop: ok, ") for line in lines)


def test_an_unreachable_onion_fails_with_its_reason(live_world: LiveWorld, tmp_path: Path) -> None:
    live_world.relay.onion_errors[forum_host(live_world)] = 0xF2
    config = live_world.config(tmp_path)  # the demo config has min_delay = 0: fast retries
    result = run(config, "darkforum")
    assert result.exit_code == 1
    assert "source   darkforum: FAILED failed:onion_unreachable" in result.output
    assert "onion service introduction failed (SOCKS5 reply 0xf2)" in result.output
    assert "leakshop" not in result.output  # only the named source
    assert [r.host for r in live_world.relay.requests].count(forum_host(live_world)) == 3


def test_tor_down_fails_and_skips_the_sources(live_world: LiveWorld, tmp_path: Path) -> None:
    config = live_world.config(tmp_path)
    text = config.read_text().replace(live_world.socks, "socks5h://127.0.0.1:1")
    config.write_text(text)
    before = live_world.server.requests
    result = run(config)
    assert result.exit_code == 1
    assert "socks    FAILED: SOCKS port 127.0.0.1:1 does not answer" in result.output
    assert "source   darkforum: FAILED skipped (Tor unavailable)" in result.output
    assert live_world.server.requests == before


def test_control_port_down_fails(live_world: LiveWorld, tmp_path: Path) -> None:
    config = live_world.config(tmp_path)
    config.write_text(config.read_text().replace("[tor]\n", '[tor]\ncontrol = "127.0.0.1:1"\n'))
    result = run(config)
    assert result.exit_code == 1
    assert "control  FAILED: Tor control port 127.0.0.1:1 does not answer" in result.output


def test_bad_config_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[tor]\nsocks = "socks5://127.0.0.1:9050"\n')
    result = run(path)
    assert result.exit_code == 2
    assert "config error: tor.socks: use socks5h://" in result.output


def test_a_page_without_listings_fails(live_world: LiveWorld, tmp_path: Path) -> None:
    forum = forum_host(live_world)
    extra = (
        f'\n[[source]]\nname = "nothing"\nengine = "css"\nurl = "http://{forum}/forumdisplay.php?fid=2"\n'
        'every = "1h"\nselectors = { item = "div.no-such-thing", title = "a", url = "a@href" }\n'
    )
    result = run(live_world.config(tmp_path, extra), "nothing")
    assert result.exit_code == 1
    assert "source   nothing: FAILED no_listings (the page loaded but" in result.output
