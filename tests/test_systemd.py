"""The systemd unit: `systemd-analyze verify` clean, `security` exposure <= 1.5."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "leakmon.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed")


def installed_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this venv's leakmon (verify checks it exists)."""
    leakmon = Path(sys.executable).with_name("leakmon")
    text = UNIT.read_text().replace("/opt/leakmon/venv/bin/leakmon", str(leakmon))
    path = tmp_path / "leakmon.service"
    path.write_text(text)
    return path


def test_unit_has_the_required_directives() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "Wants=tor.service",
        "After=tor.service",
        "StateDirectory=leakmon",
        "ConfigurationDirectory=leakmon",
        "EnvironmentFile=",
        "ExecReload=",
        "leakmon run",
    ):
        assert line in text, line


@needs_analyze
def test_verify_prints_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(ANALYZE), "verify", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == "" and done.stderr.strip() == "", done.stdout + done.stderr


@needs_analyze
def test_security_exposure_at_most_1_5(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(ANALYZE), "security", "--offline=true", "--no-pager", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= 1.5
