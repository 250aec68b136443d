"""Health of a leakmon installation, for `leakmon status` and the metrics file.

Pure: configured sources, stored source rows and outbox counts in; a verdict out.
healthy (0): every enabled source ok, nothing failed in the outbox; degraded (1):
some source not ok, or alerts failed; down (2): no enabled source is ok. Overdue
revisits of aged-out listings and overdue re-checks of deleted ones are shown per
source but leave the level alone: the source works, it is behind its schedule (a
capacity setting to change).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.models import RestoreBacklog, RevisitBacklog, Source

HEALTHY, DEGRADED, DOWN = 0, 1, 2
LEVEL_NAMES = {HEALTHY: "healthy", DEGRADED: "degraded", DOWN: "down"}


@dataclass(frozen=True)
class SourceHealth:
    name: str
    state: str  # ok / failing / blocked / layout_changed / never crawled / disabled
    last_ok: str | None
    failure_streak: int
    next_run: datetime | None
    revisits: RevisitBacklog | None = None  # verify sources only
    restores: RestoreBacklog | None = None  # sources that re-check deleted listings only


@dataclass(frozen=True)
class Health:
    level: int
    sources: tuple[SourceHealth, ...]
    pending_alerts: int
    failed_alerts: int
    db_bytes: int

    @property
    def name(self) -> str:
        return LEVEL_NAMES[self.level]


def assess(
    sources: Sequence[Source],
    rows: Sequence[Mapping[str, Any]],
    alert_counts: Mapping[str, int],
    db_bytes: int,
    backlogs: Mapping[str, RevisitBacklog] | None = None,
    restores: Mapping[str, RestoreBacklog] | None = None,
) -> Health:
    """Judge the installation from what the database says about each source;
    `backlogs`: the revisit backlog of each `verify` source, by name; `restores`: the
    re-check backlog of deleted listings of each source that makes them, by name."""
    by_name = {row["name"]: row for row in rows}
    states: list[SourceHealth] = []
    for source in sources:
        row = by_name.get(source.name, {})
        last = row.get("last_crawl")
        state = row.get("state") or "never crawled"
        if not source.enabled:
            state = "disabled"
        elif not last:
            state = "never crawled"
        states.append(
            SourceHealth(
                name=source.name,
                state=state,
                last_ok=row.get("last_ok"),
                failure_streak=int(row.get("failure_streak") or 0),
                next_run=_next_run(last, source.every) if source.enabled else None,
                revisits=(backlogs or {}).get(source.name),
                restores=(restores or {}).get(source.name),
            )
        )
    enabled = [s for s in states if s.state != "disabled"]
    ok = [s for s in enabled if s.state in ("ok", "never crawled")]
    failed_alerts = int(alert_counts.get("failed", 0))
    if enabled and not ok:
        level = DOWN
    elif len(ok) < len(enabled) or failed_alerts:
        level = DEGRADED
    else:
        level = HEALTHY
    return Health(
        level=level,
        sources=tuple(states),
        pending_alerts=int(alert_counts.get("pending", 0)),
        failed_alerts=failed_alerts,
        db_bytes=db_bytes,
    )


def _next_run(last_crawl: str | None, every: float) -> datetime | None:
    if not last_crawl:
        return None
    return datetime.fromisoformat(last_crawl) + timedelta(seconds=every)


# Per-source gauges of the metrics file and their HELP text ("": none).
SOURCE_GAUGES = {
    "leakmon_source_ok": "",
    "leakmon_source_failure_streak": "",
    "leakmon_source_revisits_overdue": "aged-out listings whose revisit is overdue",
    "leakmon_source_restore_checks_overdue": (
        "deleted listings whose re-check for a restore is overdue"
    ),
}


def _source_values(source: SourceHealth) -> dict[str, int | None]:
    """The per-source gauges of `source` (None: not measured for it)."""
    return {
        "leakmon_source_ok": int(source.state == "ok"),
        "leakmon_source_failure_streak": source.failure_streak,
        "leakmon_source_revisits_overdue": (
            None if source.revisits is None else source.revisits.overdue
        ),
        "leakmon_source_restore_checks_overdue": (
            None if source.restores is None else source.restores.overdue
        ),
    }


def prometheus(health: Health) -> str:
    """The node_exporter textfile-collector format of `health`: each metric one
    group, its HELP and TYPE lines first."""
    lines = [
        "# HELP leakmon_health 0 healthy, 1 degraded, 2 down",
        "# TYPE leakmon_health gauge",
        f"leakmon_health {health.level}",
        "# TYPE leakmon_alerts_pending gauge",
        f"leakmon_alerts_pending {health.pending_alerts}",
        "# TYPE leakmon_alerts_failed gauge",
        f"leakmon_alerts_failed {health.failed_alerts}",
        "# TYPE leakmon_db_bytes gauge",
        f"leakmon_db_bytes {health.db_bytes}",
    ]
    values = [
        (s.name.replace("\\", "").replace('"', ""), _source_values(s)) for s in health.sources
    ]
    for name, help_text in SOURCE_GAUGES.items():
        if help_text:
            lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for label, by_name in values:
            if by_name[name] is not None:
                lines.append(f'{name}{{source="{label}"}} {by_name[name]}')
    return "\n".join(lines) + "\n"
