"""The verification backlogs of configured sources, read from the store: aged-out
revisits and re-checks of deleted listings left waiting (`leakmon status`, the
metrics file). The pure counting is `absence.revisit_backlog`/`restore_backlog`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.absence import (
    absence_mode,
    restore_backlog,
    restore_window,
    restores_checked,
    revisit_backlog,
)
from monitor.models import RestoreBacklog, RevisitBacklog, Source
from monitor.store import Store


def revisit_backlogs(
    store: Store, sources: Sequence[Source], now: datetime
) -> dict[str, RevisitBacklog]:
    """The revisit backlog (`absence.revisit_backlog`) of each enabled `verify`
    source at `now`, by name: for `leakmon status` and the metrics file."""
    return {
        source.name: revisit_backlog(store.aged_out_listings(source.name), source, now)
        for source in sources
        if source.enabled and absence_mode(source) == "verify"
    }


def restore_backlogs(
    store: Store, sources: Sequence[Source], now: datetime
) -> dict[str, RestoreBacklog]:
    """The re-check backlog of deleted listings (`absence.restore_backlog`) of each
    enabled source that `restores_checked` at `now`, by name: for `leakmon status`
    and the metrics file."""
    backlogs: dict[str, RestoreBacklog] = {}
    for source in sources:
        if not (source.enabled and restores_checked(source)):
            continue
        deleted = store.deleted_listings(source.name, since=now - restore_window(source))
        checks = store.last_checks(s.id for s in deleted) if deleted else {}
        backlogs[source.name] = restore_backlog(deleted, source, now, checks)
    return backlogs
