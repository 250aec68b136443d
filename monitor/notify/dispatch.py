"""The outbox dispatcher: deliver due alerts, mark them sent or schedule a retry.

A failed alert is retried with exponential backoff (60 s doubling per attempt, at
most an hour, minus up to 10 % jitter so retries spread out) until it is older
than `max_age`; then it is failed for good. One alert's failure never stops the
others; only the outbox itself (the store) may raise.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from monitor.errors import NotifyError
from monitor.models import Alert, NotifyTarget
from monitor.notify.send import Sender

BASE_DELAY = 60.0  # seconds before the first retry
MAX_DELAY = 3600.0
JITTER = 0.1  # a retry comes up to this fraction earlier

log = logging.getLogger(__name__)


class Outbox(Protocol):
    """What the dispatcher needs from the store (`monitor.store.Store` has it)."""

    def due_alerts(self, now: datetime, limit: int) -> list[Alert]: ...

    def mark_sent(self, alert_id: str, at: datetime) -> None: ...

    def mark_attempt_failed(
        self, alert_id: str, error: str, next_attempt: datetime | None
    ) -> None: ...


@dataclass(frozen=True)
class DispatchReport:
    """What one dispatch run did: delivered, rescheduled, failed for good."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Delay before the next try of an alert that has failed `attempts` times before
    this failure: 60 s, 120 s, 240 s ... at most 3600 s, less up to 10 % jitter."""
    base = min(BASE_DELAY * 2 ** min(max(attempts, 0), 16), MAX_DELAY)
    return timedelta(seconds=base * (1 - JITTER * rng.random()))


def dispatch(
    outbox: Outbox,
    sender: Sender,
    targets: Mapping[str, NotifyTarget],
    now: datetime,
    *,
    max_age: timedelta = timedelta(hours=24),
    limit: int = 100,
    rng: random.Random | None = None,
) -> DispatchReport:
    """Try every alert due at `now` (at most `limit`) once.

    Unknown target -> failed for good ("target X no longer configured"); delivered
    -> sent; not delivered -> retried later, or failed for good once older than
    `max_age`.
    """
    rng = rng or random.Random()
    sent = retried = failed = 0
    for alert in outbox.due_alerts(now, limit):
        target = targets.get(alert.target)
        if target is None:
            outbox.mark_attempt_failed(
                alert.id, f"target {alert.target!r} no longer configured", None
            )
            failed += 1
            continue
        try:
            sender.send(target, alert)
        except NotifyError as exc:
            error = str(exc)
        except Exception as exc:  # a sender bug must not stop the other alerts
            error = f"target {target.name!r}: unexpected {type(exc).__name__}"
        else:
            outbox.mark_sent(alert.id, now)
            sent += 1
            continue
        if now - alert.created >= max_age:
            outbox.mark_attempt_failed(alert.id, f"{error} (giving up)", None)
            failed += 1
        else:
            outbox.mark_attempt_failed(alert.id, error, now + retry_delay(alert.attempts, rng))
            retried += 1
        log.warning("alert %s: %s", alert.id, error)
    return DispatchReport(sent=sent, retried=retried, failed=failed)
