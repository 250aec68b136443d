"""Logging set-up: one line per event; journald-friendly; optional JSON lines.

Under journald ($JOURNAL_STREAM is set) lines carry no timestamp, since the
journal adds its own. Messages pass through `safe_line`, so hostile page text in
a log message can never forge extra log lines or terminal escapes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from monitor.text import safe_line

LEVELS = ("debug", "info", "warning", "error")


class _SafeFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.msg = safe_line(record.getMessage(), 2000)
        record.args = None
        return super().format(record)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": safe_line(record.getMessage(), 2000),
        }
        if record.exc_info:
            entry["error"] = safe_line(self.formatException(record.exc_info), 4000)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger once for the whole process."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    elif os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(
            _SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "httpx", "httpcore", "apprise"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
