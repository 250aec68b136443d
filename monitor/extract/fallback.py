"""An engine that falls back to other engine profiles on a page its own reads
nothing from (`Source.fallback_engines`): a forum moved to another engine (MyBB
to XenForo) is still read, under the same ids when the thread numbers were kept.
Pure, like every engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import PageExtract

if TYPE_CHECKING:
    from monitor.extract import Engine


class FallbackEngine:
    """`engines` in order, the one that last read listings first: a page is read by
    the first engine that finds listings on it; a page none reads gives the first
    one's (empty) result, its next link included."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.engines = list(engines)

    def new_crawl(self) -> None:
        for engine in self.engines:
            engine.new_crawl()

    def extract(self, html: str, page_url: str, *, now: datetime | None = None) -> PageExtract:
        first = self.engines[0].extract(html, page_url, now=now)
        if first.listings:
            return first
        for n, engine in enumerate(self.engines[1:], start=1):
            result = engine.extract(html, page_url, now=now)
            if result.listings:
                self.engines.insert(0, self.engines.pop(n))  # the site's engine now
                return result
        return first
