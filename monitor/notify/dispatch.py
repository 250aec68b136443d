"""The outbox dispatcher: deliver due alerts, mark them sent or schedule a retry.

A failed alert is retried with exponential backoff (60 s doubling per attempt, at
most an hour, minus up to 10 % jitter so retries spread out) until it is older
than `max_age`; then it is failed for good. One alert's failure never stops the
others; only the outbox itself (the store) may raise.

A target with `digest` collects its alerts into one message at most every
`digest` seconds. A target with `rate_limit` sends at most that many messages an
hour: when more alerts are due than the limit allows, the last allowed message is
a digest of all the rest; when none is allowed, alerts wait (still pending).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
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

    def mark_sent(self, alert_id: str, at: datetime, message_id: str | None = ...) -> None:
        """Delivered at `at`; `message_id` names the digest it went out in."""
        ...

    def mark_attempt_failed(
        self, alert_id: str, error: str, next_attempt: datetime | None
    ) -> None: ...

    def messages_since(self, target: str, since: datetime) -> int:
        """Messages (a digest counts once) delivered to `target` since `since`."""
        ...

    def last_message_at(self, target: str) -> datetime | None: ...


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


DIGEST_LISTED = 50  # alerts listed by name in one digest message
SEVERITIES = ("low", "medium", "high", "critical")


def digest_alert(alerts: Sequence[Alert], now: datetime) -> Alert:
    """One message standing for several alerts: each alert's title and link."""
    top = max((a.severity for a in alerts), key=_severity_rank)
    lines = [f"Alerts: {len(alerts)}"]
    for alert in alerts[:DIGEST_LISTED]:
        lines.append(alert.title)
        lines += [ln for ln in alert.body.splitlines() if ln.startswith("URL: ")]
    if len(alerts) > DIGEST_LISTED:
        more = len(alerts) - DIGEST_LISTED
        lines.append(f"More: {more} further alerts (leakmon alerts --sent)")
    first = alerts[0]
    return Alert(
        id="digest-" + first.id,
        event_id=first.event_id,
        rule="digest",
        target=first.target,
        severity=top,
        title=f"[{top}] leakmon digest: {len(alerts)} alerts",
        body="\n".join(lines),
        created=min(a.created for a in alerts),
        attempts=max(a.attempts for a in alerts),
    )


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 1


def plan(
    alerts: Sequence[Alert], target: NotifyTarget, outbox: Outbox, now: datetime
) -> list[list[Alert]]:
    """The messages to send now for one target's due alerts: each a list of alerts
    (one alert: a normal message; several: a digest). Alerts left out wait."""
    if not alerts:
        return []
    if target.digest is not None:
        last = outbox.last_message_at(target.name)
        if last is not None and now - last < timedelta(seconds=target.digest):
            return []
        return [list(alerts)]
    if target.rate_limit is None:
        return [[a] for a in alerts]
    allowed = target.rate_limit - outbox.messages_since(target.name, now - timedelta(hours=1))
    if allowed <= 0:
        return []
    if len(alerts) <= allowed:
        return [[a] for a in alerts]
    return [[a] for a in alerts[: allowed - 1]] + [list(alerts[allowed - 1 :])]


def dispatch(
    outbox: Outbox,
    sender: Sender,
    targets: Mapping[str, NotifyTarget],
    now: datetime,
    *,
    max_age: timedelta = timedelta(hours=24),
    limit: int = 1000,
    rng: random.Random | None = None,
) -> DispatchReport:
    """Try every alert due at `now` (at most `limit`) once, batched per target.

    Unknown target -> failed for good ("target X no longer configured"); delivered
    -> sent; not delivered -> retried later, or failed for good once older than
    `max_age`. Alerts held back by a digest period or a rate limit stay pending.
    """
    rng = rng or random.Random()
    sent = retried = failed = 0
    per_target: dict[str, list[Alert]] = {}
    for alert in outbox.due_alerts(now, limit):
        if alert.target not in targets:
            outbox.mark_attempt_failed(
                alert.id, f"target {alert.target!r} no longer configured", None
            )
            failed += 1
            continue
        per_target.setdefault(alert.target, []).append(alert)
    for name, due in per_target.items():
        target = targets[name]
        for batch in plan(due, target, outbox, now):
            message = batch[0] if len(batch) == 1 else digest_alert(batch, now)
            error = _send(sender, target, message)
            if error is None:
                for alert in batch:
                    if len(batch) == 1:
                        outbox.mark_sent(alert.id, now)
                    else:
                        outbox.mark_sent(alert.id, now, message.id)
                sent += len(batch)
                continue
            log.warning("alert %s: %s", message.id, error)
            for alert in batch:
                if now - alert.created >= max_age:
                    outbox.mark_attempt_failed(alert.id, f"{error} (giving up)", None)
                    failed += 1
                else:
                    next_try = now + retry_delay(alert.attempts, rng)
                    outbox.mark_attempt_failed(alert.id, error, next_try)
                    retried += 1
    return DispatchReport(sent=sent, retried=retried, failed=failed)


def _send(sender: Sender, target: NotifyTarget, alert: Alert) -> str | None:
    """Deliver one message; the error text, or None when delivered."""
    try:
        sender.send(target, alert)
    except NotifyError as exc:
        return str(exc)
    except Exception as exc:  # a sender bug must not stop the other alerts
        return f"target {target.name!r}: unexpected {type(exc).__name__}"
    return None
