"""The ``console://`` apprise target: alerts printed to standard output.

Used by the demo and by anyone who wants alerts in the journal. A single
``console://`` URL with a text or markdown body is printed without apprise
(`prints_alone`): importing apprise loads all its ~200 plugin modules, about 17 MB
of a daemon's RSS, to call `print_alert`. Anything else (an HTML body, which
apprise converts to text for this plugin, or a URL list) goes through apprise,
where registration uses apprise's custom-notification decorator, which is
process-wide, so `register_console` checks apprise's plugin registry first and is
safe to repeat.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from monitor.notify.render import one_line

SCHEMA = "console"
_ALONE = re.compile(SCHEMA + r"://[^\s,]*", re.IGNORECASE)


def print_alert(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    """Print ``ALERT <title>`` and the body lines, indented, to the current stdout."""
    lines = [f"ALERT {one_line(title)}"]
    lines += [f"  {one_line(line)}" for line in body.splitlines() if one_line(line)]
    print("\n".join(lines), file=sys.stdout, flush=True)
    return True


def prints_alone(url: str, body_format: str) -> bool:
    """Whether `print_alert` delivers to `url` exactly as apprise would: one
    ``console://`` URL and a body apprise passes through unchanged (not HTML)."""
    return body_format != "html" and _ALONE.fullmatch(url.strip()) is not None


def register_console() -> None:
    """Make ``console://`` known to apprise (imports apprise; idempotent)."""
    from apprise import NotificationManager, NotifyFormat
    from apprise.decorators import notify

    # apprise's registry and decorator are untyped
    if SCHEMA in NotificationManager():  # type: ignore[no-untyped-call]
        return
    decorator = notify(  # type: ignore[no-untyped-call]
        on=SCHEMA, name="leakmon console", body_format=NotifyFormat.TEXT
    )
    decorator(print_alert)
