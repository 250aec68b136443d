"""`leakmon run` validates its config in a child process: same result, same problems,
and neither pydantic nor apprise in the daemon's own interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from monitor import config_child
from monitor.config import load_config
from monitor.config_child import load_config_isolated
from monitor.errors import ConfigError
from monitor.extract import ENGINES

DEMO = Path(str(resources.files("monitor.demo").joinpath("sources.toml")))


def test_same_config_as_load_config() -> None:
    assert load_config_isolated(DEMO, engines=ENGINES) == load_config(DEMO, engines=ENGINES)


@pytest.mark.parametrize(
    "text",
    ['[tor]\nsocks = 1\n[[source]]\nname = "x"\n', "not toml ["],
)
def test_same_problems_as_load_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as direct:
        load_config(path)
    with pytest.raises(ConfigError) as isolated:
        load_config_isolated(path)
    assert isolated.value.problems == direct.value.problems


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config_isolated(tmp_path / "absent.toml")


def test_daemon_start_imports_neither_pydantic_nor_apprise() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import monitor.cli_core\n"
        "from monitor.daemon import Daemon\n"
        f"daemon = Daemon(Path({str(DEMO)!r}))\n"
        "assert daemon.config.sources\n"
        "print([m for m in ('pydantic', 'monitor.config_schema', 'apprise') if m in sys.modules])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_a_child_that_hangs_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config read that never returns (here a FIFO nobody writes to, as a stuck
    file system would) ends in a ConfigError after the timeout, not a hung daemon."""
    fifo = tmp_path / "sources.toml"
    os.mkfifo(fifo)
    monkeypatch.setattr(config_child, "_TIMEOUT", 1.0)
    with pytest.raises(ConfigError, match=r"config check took more than 1s"):
        load_config_isolated(fifo)
