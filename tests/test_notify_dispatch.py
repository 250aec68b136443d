from __future__ import annotations

import random
import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.errors import NotifyError
from monitor.models import Alert, AlertStatus, NotifyTarget
from monitor.notify.dispatch import DispatchReport, dispatch, retry_delay
from monitor.notify.send import AppriseSender

NOW = datetime(2022, 6, 30, 12, 0, tzinfo=UTC)
TARGETS = {"hook": NotifyTarget("hook", "json://127.0.0.1:1/x"), "mail": NotifyTarget("mail", "x")}


def alert(aid: str = "a1", target: str = "hook", attempts: int = 0, age: float = 60) -> Alert:
    return Alert(
        id=aid,
        event_id="e1",
        rule="r",
        target=target,
        severity="high",
        title="t",
        body="Seller: x",
        created=NOW - timedelta(seconds=age),
        attempts=attempts,
    )


@dataclass
class FakeOutbox:
    """In-memory outbox recording what the dispatcher asked of it."""

    alerts: list[Alert]
    queries: list[tuple[datetime, int]] = field(default_factory=list)
    sent: list[tuple[str, datetime]] = field(default_factory=list)
    failures: list[tuple[str, str, datetime | None]] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)

    def due_alerts(self, now: datetime, limit: int) -> list[Alert]:
        self.queries.append((now, limit))
        return [a for a in self.alerts if a.status is AlertStatus.PENDING][:limit]

    def mark_sent(self, alert_id: str, at: datetime, message_id: str | None = None) -> None:
        self.sent.append((alert_id, at))
        self.messages[alert_id] = message_id or alert_id

    def mark_attempt_failed(self, alert_id: str, error: str, next_attempt: datetime | None) -> None:
        self.failures.append((alert_id, error, next_attempt))

    def messages_since(self, target: str, since: datetime) -> int:
        targets = {a.id: a.target for a in self.alerts}
        return len(
            {self.messages[a] for a, at in self.sent if targets.get(a) == target and at >= since}
        )

    def last_message_at(self, target: str) -> datetime | None:
        targets = {a.id: a.target for a in self.alerts}
        return max((at for aid, at in self.sent if targets.get(aid) == target), default=None)


@dataclass
class FakeSender:
    """Fails for the alert ids in `failing` (NotifyError) or `crashing` (a bug)."""

    failing: set[str] = field(default_factory=set)
    crashing: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def send(self, target: NotifyTarget, alert: Alert) -> None:
        self.calls.append((target.name, alert.id))
        if alert.id in self.failing:
            raise NotifyError(f"target {target.name!r}: not delivered: HTTP 500")
        if alert.id in self.crashing:
            raise RuntimeError("secret-bearing internals")


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


NO_JITTER = FixedRandom(0.0)


def test_success_marks_sent() -> None:
    outbox, sender = FakeOutbox([alert("a1"), alert("a2", "mail")]), FakeSender()
    report = dispatch(outbox, sender, TARGETS, NOW)
    assert report == DispatchReport(sent=2, retried=0, failed=0)
    assert outbox.sent == [("a1", NOW), ("a2", NOW)]
    assert sender.calls == [("hook", "a1"), ("mail", "a2")]
    assert outbox.failures == []
    assert outbox.queries == [(NOW, 1000)]


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 60), (1, 120), (2, 240), (5, 1920), (6, 3600), (50, 3600), (10_000, 3600)],
)
def test_failure_backs_off_exponentially(attempts: int, seconds: int) -> None:
    outbox = FakeOutbox([alert(attempts=attempts)])
    report = dispatch(outbox, FakeSender(failing={"a1"}), TARGETS, NOW, rng=NO_JITTER)
    assert report == DispatchReport(sent=0, retried=1, failed=0)
    assert outbox.failures == [
        ("a1", "target 'hook': not delivered: HTTP 500", NOW + timedelta(seconds=seconds))
    ]
    assert outbox.sent == []


def test_jitter_only_brings_a_retry_forward_by_at_most_ten_percent() -> None:
    assert retry_delay(0, FixedRandom(0.5)) == timedelta(seconds=57)
    assert retry_delay(20, FixedRandom(0.999)) > timedelta(seconds=3240)
    delays = {retry_delay(3, random.Random(seed)) for seed in range(50)}
    assert all(timedelta(seconds=432) <= d <= timedelta(seconds=480) for d in delays)
    assert len(delays) > 40  # actually spread out


def test_gives_up_on_alerts_older_than_max_age() -> None:
    old = alert("old", attempts=12, age=timedelta(hours=24, seconds=1).total_seconds())
    young = alert("young", attempts=12, age=timedelta(hours=23).total_seconds())
    outbox = FakeOutbox([old, young])
    sender = FakeSender(failing={"old", "young"})
    report = dispatch(outbox, sender, TARGETS, NOW, rng=NO_JITTER)
    assert report == DispatchReport(sent=0, retried=1, failed=1)
    assert outbox.failures == [
        ("old", "target 'hook': not delivered: HTTP 500 (giving up)", None),
        ("young", "target 'hook': not delivered: HTTP 500", NOW + timedelta(hours=1)),
    ]


def test_max_age_is_configurable() -> None:
    outbox = FakeOutbox([alert(age=120)])
    report = dispatch(
        outbox, FakeSender(failing={"a1"}), TARGETS, NOW, max_age=timedelta(minutes=1)
    )
    assert report.failed == 1 and outbox.failures[0][2] is None


def test_unknown_target_fails_for_good_without_sending() -> None:
    outbox, sender = FakeOutbox([alert(target="gone")]), FakeSender()
    report = dispatch(outbox, sender, TARGETS, NOW)
    assert report == DispatchReport(sent=0, retried=0, failed=1)
    assert outbox.failures == [("a1", "target 'gone' no longer configured", None)]
    assert sender.calls == []


def test_one_failure_never_stops_the_others() -> None:
    alerts = [alert("fails"), alert("crashes"), alert("gone", target="gone"), alert("ok")]
    outbox = FakeOutbox(alerts)
    sender = FakeSender(failing={"fails"}, crashing={"crashes"})
    report = dispatch(outbox, sender, TARGETS, NOW, rng=NO_JITTER)
    assert report == DispatchReport(sent=1, retried=2, failed=1)
    assert outbox.sent == [("ok", NOW)]
    errors = {aid: error for aid, error, _ in outbox.failures}
    assert errors["crashes"] == "target 'hook': unexpected RuntimeError"  # no internals


def test_limit_is_passed_to_the_outbox() -> None:
    outbox = FakeOutbox([alert(f"a{i}") for i in range(5)])
    report = dispatch(outbox, FakeSender(), TARGETS, NOW, limit=3)
    assert outbox.queries == [(NOW, 3)]
    assert report.sent == 3


def test_with_the_real_sender_the_stored_error_names_the_target_not_its_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as bound_not_listening:
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        secret = "hunter2hunter2"
        targets = {"hook": NotifyTarget("hook", f"json://u:{secret}@127.0.0.1:{port}/x")}
        outbox = FakeOutbox([replace(alert(), attempts=1)])
        report = dispatch(outbox, AppriseSender(), targets, NOW, rng=NO_JITTER)
    assert report == DispatchReport(sent=0, retried=1, failed=0)
    ((_, error, next_attempt),) = outbox.failures
    assert error.startswith("target 'hook': not delivered")
    assert secret not in error
    assert next_attempt == NOW + timedelta(seconds=120)


# ------------------------------------------------------- digests and rate limits


def test_rate_limit_sends_the_overflow_as_one_digest() -> None:
    alerts = [alert(f"a{i}") for i in range(200)]
    outbox, sender = FakeOutbox(alerts), FakeSender()
    targets = {"hook": NotifyTarget("hook", "json://x", rate_limit=10)}
    report = dispatch(outbox, sender, targets, NOW)
    assert report.sent == 200
    assert len(sender.calls) == 10  # 9 single messages and one digest of 191
    assert sender.calls[-1][1].startswith("digest-")
    # the hour is used up: new alerts wait, still pending
    later = [alert(f"b{i}") for i in range(3)]
    outbox.alerts = alerts + later
    for a in alerts:
        outbox.alerts[outbox.alerts.index(a)] = replace(a, status=AlertStatus.SENT)
    report = dispatch(outbox, sender, targets, NOW + timedelta(minutes=5))
    assert report.sent == 0 and report.failed == 0 and len(sender.calls) == 10
    report = dispatch(outbox, sender, targets, NOW + timedelta(minutes=61))
    assert report.sent == 3


def test_digest_target_collects_alerts_per_period() -> None:
    recorded: list[Alert] = []

    class Recording(FakeSender):
        def send(self, target: NotifyTarget, alert: Alert) -> None:
            recorded.append(alert)
            super().send(target, alert)

    first = [alert(f"a{i}") for i in range(60)]
    outbox, sender = FakeOutbox(first), Recording()
    targets = {"hook": NotifyTarget("hook", "json://x", digest=3600)}
    assert dispatch(outbox, sender, targets, NOW).sent == 60
    (message,) = recorded
    assert message.title.endswith("digest: 60 alerts")
    assert "More: 10 further alerts" in message.body
    outbox.alerts = [replace(a, status=AlertStatus.SENT) for a in first] + [alert("late")]
    assert dispatch(outbox, sender, targets, NOW + timedelta(minutes=30)).sent == 0
    assert dispatch(outbox, sender, targets, NOW + timedelta(minutes=61)).sent == 1
    assert recorded[-1].id == "late"


def test_a_failed_digest_retries_every_alert_in_it() -> None:
    alerts = [alert("a1"), alert("a2")]
    outbox = FakeOutbox(alerts)
    sender = FakeSender(failing={"digest-a1"})
    targets = {"hook": NotifyTarget("hook", "json://x", digest=60)}
    report = dispatch(outbox, sender, targets, NOW, rng=random.Random(1))
    assert report.retried == 2
    assert {f[0] for f in outbox.failures} == {"a1", "a2"}
