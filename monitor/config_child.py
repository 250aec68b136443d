"""`load_config` in a short-lived child interpreter, for `leakmon run`.

Validation needs pydantic and the schema (~10 MB of RSS) for a moment, at start
and at each SIGHUP; a daemon that imported them would keep them for months.
`load_config_isolated` runs `config.load_config` in ``python -m
monitor.config_child`` (same interpreter, same environment, so ``${VAR}`` reads
the same variables) and reads the validated `Config` back: pickled, because the
child is this very code. Result and `ConfigError` problems are those of
`load_config`.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

from monitor.errors import ConfigError
from monitor.models import Config

_INVALID = 2  # the child's exit code for a ConfigError (problems as JSON on stdout)
_TIMEOUT = 60.0  # seconds; a child that hangs (a stuck file system) must not hang the daemon


def load_config_isolated(path: Path, engines: Collection[str] = ("css",)) -> Config:
    """`config.load_config(path, engines=engines)`, without importing pydantic here."""
    argv = [sys.executable, "-m", "monitor.config_child", str(path), *engines]
    try:
        run = subprocess.run(argv, capture_output=True, check=False, timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{path}: config check took more than {_TIMEOUT:g}s") from None
    if run.returncode == 0:
        config = pickle.loads(run.stdout)
        assert isinstance(config, Config)
        return config
    if run.returncode == _INVALID:
        raise ConfigError(json.loads(run.stdout))
    detail = run.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise ConfigError(f"{path}: config check failed (exit {run.returncode}: {detail[0]})")


def main(argv: list[str]) -> int:
    """The child: validate ``argv[0]`` with extractor names ``argv[1:]``."""
    from monitor.config import load_config

    try:
        config = load_config(Path(argv[0]), engines=tuple(argv[1:]))
    except ConfigError as exc:
        sys.stdout.write(json.dumps(exc.problems))
        return _INVALID
    sys.stdout.buffer.write(pickle.dumps(config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
