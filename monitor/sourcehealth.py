"""Pure: a source's health events from its previous failure streak and a new crawl.

`source_down` when failed or blocked crawls in a row reach `down_after` (at once
when a login wall says the session expired), `source_recovered` when a source that
was down completes a crawl again. `layout_changed` comes from lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from monitor.models import Crawl, CrawlOutcome, Event, EventKind

UNHEALTHY = (CrawlOutcome.FAILED, CrawlOutcome.BLOCKED)


def source_events(
    crawl: Crawl,
    previous_streak: int,
    down_after: int,
    make_id: Callable[[], str] = lambda: uuid4().hex,
) -> tuple[Event, ...]:
    """The health events this crawl causes for its source."""
    error = crawl.error or ""
    if crawl.outcome in UNHEALTHY:
        streak = previous_streak + 1
        expired = "login_wall" in error
        if streak == down_after or (expired and streak == 1 and down_after > 1):
            details = {
                "outcome": str(crawl.outcome),
                "error": error[:300],
                "streak": streak,
                "session_expired": expired,
            }
            return (_event(crawl, EventKind.SOURCE_DOWN, details, make_id),)
        return ()
    if previous_streak >= down_after:
        details = {"outcome": str(crawl.outcome), "after_failures": previous_streak}
        return (_event(crawl, EventKind.SOURCE_RECOVERED, details, make_id),)
    return ()


def _event(
    crawl: Crawl, kind: EventKind, details: dict[str, object], make_id: Callable[[], str]
) -> Event:
    return Event(
        id=make_id(),
        kind=kind,
        source=crawl.source,
        crawl_id=crawl.id,
        at=crawl.finished,
        details=details,
    )
