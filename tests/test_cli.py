"""The CLI: commands, exit codes, JSON output, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.conftest import LiveWorld

COMMANDS = ["config", "crawl", "demo", "events", "extract", "listings", "show"]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_every_command() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out


def test_python_dash_m_monitor_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for command in COMMANDS:
        assert command in done.stdout


def test_config_check_ok(tmp_path: Path, live_world: LiveWorld) -> None:
    code, out, _ = run("config", "check", "--config", str(live_world.config(tmp_path)))
    assert code == 0
    assert "2 sources" in out


BROKEN = """
[tor]
socks = "socks5://127.0.0.1:9050"

[[source]]
name = "forum"
url = "http://example.com/"
engine = "mybbb"
evrey = "5m"
"""


def test_config_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BROKEN)
    code, out, err = run("config", "check", "--config", str(path))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) >= 4
    assert all(line.startswith("config error: ") for line in lines)
    text = "\n".join(lines)
    for path_prefix in ("tor.socks", "source[0].url", "source[0].engine", "source[0].evrey"):
        assert path_prefix in text
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such file"),
        ("[tor\nsocks=1", "invalid TOML"),
        (
            '[[source]]\nname="x"\nurl="http://a.onion/"\nengine="css"\nevery="1m"\n'
            '[source.selectors]\nitem="li["\ntitle="a"\nurl="a@href"\n',
            "source[0]",
        ),
        (
            '[defaults]\npage_budget = 10\nrevisit_budget = 12\nrevisit_max = "1m"\n',
            "defaults.revisit_budget: must be at most page_budget (10)",
        ),
        (
            '[defaults]\nrestore_window = "-3d"\n',
            "defaults.restore_window: not a duration",
        ),
    ],
)
def test_bad_config_one_line_exit_2(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "sources.toml"
    if content is not None:
        path.write_text(content)
    code, _, err = run("config", "check", "--config", str(path))
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_crawl_once_then_query(tmp_path: Path, live_world: LiveWorld) -> None:
    config = str(live_world.config(tmp_path))
    code, out, err = run("crawl", "--once", "--config", config)
    assert code == 0, err
    assert "darkforum: complete" in out
    assert "leakshop: complete" in out

    live_world.world.advance()  # ChinaDan posts
    code, out, _ = run("crawl", "--once", "--config", config, "darkforum")
    assert code == 0
    assert "leakshop" not in out

    code, out, _ = run("listings", "--json", "--config", config)
    rows = json.loads(out)
    star = next(r for r in rows if r["seller"] == "ChinaDan")
    for key in (
        "id",
        "source",
        "external_id",
        "url",
        "title",
        "records",
        "price_raw",
        "state",
        "first_seen",
        "last_seen",
    ):
        assert key in star
    assert star["records"] == 1_000_000_000

    code, out, _ = run("events", "--json", "--config", config, "--since", "1h")
    events = json.loads(out)
    assert {"kind", "listing_id", "source", "at", "details"} <= set(events[0])
    assert ("new", star["id"]) in {(e["kind"], e["listing_id"]) for e in events}

    code, out, _ = run("show", star["id"], "--config", config)
    assert code == 0
    assert "ChinaDan" in out
    assert "timeline:" in out

    code, out, _ = run("listings", "--search", "shanghai", "--config", config)
    assert "Shanghai" in out

    code, _, err = run("show", "darkforum:nope", "--config", config)
    assert code == 1
    assert "no listing" in err


def test_crawl_with_tor_down_exits_1_with_a_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from importlib import resources

    text = resources.files("monitor.demo").joinpath("sources.toml").read_text()
    text = text.replace("127.0.0.1:9050", f"127.0.0.1:{port}")
    path = tmp_path / "sources.toml"
    path.write_text(text)
    code, out, err = run("crawl", "--once", "--config", str(path), "--db", str(tmp_path / "x.db"))
    assert code == 1
    assert "failed" in out
    assert "tor_unavailable" in out or "SOCKS proxy not reachable" in out
    assert "Traceback" not in out + err


def test_unknown_source_is_usage_error(tmp_path: Path, live_world: LiveWorld) -> None:
    code, _, err = run("crawl", "--once", "--config", str(live_world.config(tmp_path)), "nosuch")
    assert code == 2
    assert "unknown source nosuch" in err


def test_extract_offline(tmp_path: Path, live_world: LiveWorld) -> None:
    page = live_world.world.respond(
        "pv56dskue2zvy3jxon4tuimlc6dhsonwe5c2hb5tde7bd5eziidqzpyd.onion", "/forumdisplay.php?fid=2"
    )
    saved = tmp_path / "page.html"
    saved.write_text(page.body, encoding="utf-8")
    config = str(live_world.config(tmp_path))
    code, out, _ = run("extract", str(saved), "--source", "darkforum", "--config", config, "--json")
    assert code == 0
    rows = json.loads(out)["listings"]
    assert len(rows) >= 4
    assert all(r["url"].startswith("http://") for r in rows)
    code, _, err = run("extract", str(saved), "--config", config)
    assert code == 2
    assert "exactly one of" in err


def test_demo_prints_the_story_alerts(tmp_path: Path) -> None:
    code, out, _ = run("demo", "--interval", "0", "--db", str(tmp_path / "demo.db"))
    assert code == 0
    alerts = [line for line in out.splitlines() if line.startswith("ALERT")]
    assert len(alerts) == 4
    assert "new:" in alerts[0] and "10 BTC" in alerts[0]
    assert "changed:" in alerts[1] and "10 BTC → 8 BTC" in alerts[1]
    assert "deleted:" in alerts[2]
    assert "reposted:" in alerts[3]
    assert "timeline of darkforum:1042" in out
    assert str(tmp_path / "demo.db") in out
    # evidence read on the shop's product page is its description, not its price line
    code, out, _ = run("show", "leakshop:342", "--json", "--db", str(tmp_path / "demo.db"))
    assert code == 0
    assert json.loads(out)["first_post"].startswith("Shanghai police dataset, 1995")
