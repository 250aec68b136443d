"""Notifications: render alerts, send them through apprise, drain the outbox.

Importing this package does not import apprise; the first send does.
"""

from __future__ import annotations

from monitor.notify.console import register_console
from monitor.notify.dispatch import DispatchReport, Outbox, dispatch
from monitor.notify.render import FORMATS, render
from monitor.notify.send import AppriseSender, Sender

__all__ = [
    "FORMATS",
    "AppriseSender",
    "DispatchReport",
    "Outbox",
    "Sender",
    "dispatch",
    "register_console",
    "render",
]
