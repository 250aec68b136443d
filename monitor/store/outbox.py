"""`OutboxStore`: the alert outbox of a leakmon database (`notify.dispatch.Outbox`):
due alerts, delivery marks, retries and what went to each target when."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.errors import StoreError
from monitor.models import Alert, AlertStatus
from monitor.store.base import StoreBase
from monitor.store.convert import alert_from_row, opt_parse_ts, opt_ts, ts


class OutboxStore(StoreBase):
    """The outbox's reads and writes; `Store` adds the crawl side."""

    def due_alerts(self, now: datetime, limit: int = 100) -> list[Alert]:
        """Pending alerts whose next attempt is due, oldest first."""
        sql = """
            SELECT * FROM alerts
            WHERE status = 'pending' AND (next_attempt IS NULL OR next_attempt <= ?)
            ORDER BY created, rowid LIMIT ?
        """
        with self._errors("read the outbox"):
            return [alert_from_row(row) for row in self._rows(sql, [ts(now), limit])]

    def alert_count(self, status: AlertStatus) -> int:
        """How many alerts have `status` (counted in the `alerts_due` index)."""
        sql = "SELECT count(*) FROM alerts WHERE status = ?"
        with self._errors("read the outbox"):
            return int(self.db.conn.execute(sql, [str(status)]).fetchone()[0])

    def _update_alert(self, alert_id: str, sql: str, params: dict[str, Any]) -> None:
        with self._errors("update an alert"):
            cursor = self.db.execute(sql, {**params, "id": alert_id})
        if cursor.rowcount == 0:
            raise StoreError(f"database {self.path}: no alert {alert_id!r}")

    def mark_sent(self, alert_id: str, at: datetime, message_id: str | None = None) -> None:
        """The alert was delivered (this attempt counts in `attempts`), alone or in
        the digest `message_id`."""
        self._update_alert(
            alert_id,
            "UPDATE alerts SET status = :status, sent_at = :at, attempts = attempts + 1, "
            "next_attempt = NULL, message_id = :message WHERE id = :id",
            {"status": AlertStatus.SENT.value, "at": ts(at), "message": message_id},
        )

    def retry_alerts(self, ids: Sequence[str] | None = None) -> int:
        """Make undelivered alerts (failed, or pending a later retry; all, or those of
        `ids`) due now; returns how many. Their attempt count and last error stay."""
        sql = (
            "UPDATE alerts SET status = 'pending', next_attempt = NULL WHERE status != 'sent' "
            "AND (:all OR id IN (SELECT value FROM json_each(:ids)))"
        )
        params = {"all": ids is None, "ids": json.dumps(list(ids or ()))}
        with self._errors("update the outbox"), self.db.atomic():
            return int(self.db.conn.execute(sql, params).rowcount)

    def messages_since(self, target: str, since: datetime) -> int:
        """Messages delivered to `target` at or after `since` (a digest counts once)."""
        sql = (
            "SELECT count(DISTINCT coalesce(message_id, id)) AS n FROM alerts "
            "WHERE target = ? AND status = 'sent' AND sent_at >= ?"
        )
        with self._errors("read the outbox"):
            return int(self._rows(sql, [target, ts(since)])[0]["n"])

    def last_message_at(self, target: str) -> datetime | None:
        """When the last message went to `target`, if ever."""
        sql = "SELECT max(sent_at) AS at FROM alerts WHERE target = ? AND status = 'sent'"
        with self._errors("read the outbox"):
            return opt_parse_ts(self._rows(sql, [target])[0]["at"])

    def mark_attempt_failed(self, alert_id: str, error: str, next_attempt: datetime | None) -> None:
        """A delivery attempt failed: retry at `next_attempt`, or give up (None)."""
        status = AlertStatus.PENDING if next_attempt is not None else AlertStatus.FAILED
        self._update_alert(
            alert_id,
            "UPDATE alerts SET status = :status, attempts = attempts + 1, "
            "last_error = :error, next_attempt = :next WHERE id = :id",
            {"status": status.value, "error": error, "next": opt_ts(next_attempt)},
        )
