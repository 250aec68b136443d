"""The ``console://`` apprise target: alerts printed to standard output.

Used by the demo and by anyone who wants alerts in the journal. Registration goes
through apprise's custom-notification decorator, which is process-wide, so
`register_console` checks apprise's plugin registry first and is safe to repeat.
"""

from __future__ import annotations

import sys
from typing import Any

from monitor.notify.render import one_line

SCHEMA = "console"


def print_alert(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    """Print ``ALERT <title>`` and the body lines, indented, to the current stdout."""
    lines = [f"ALERT {one_line(title)}"]
    lines += [f"  {one_line(line)}" for line in body.splitlines() if one_line(line)]
    print("\n".join(lines), file=sys.stdout, flush=True)
    return True


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
