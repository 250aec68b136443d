"""extract.fallback.FallbackEngine (`fallback_engines`): other profiles read a page
the source's engine reads nothing from, on the engine fixtures."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from monitor.extract import get_engine
from monitor.extract.fallback import FallbackEngine
from monitor.extract.listing import listing_dict
from tests.test_extract_engines import CASES, NAMES, case_source

PROFILES = ("mybb", "xenforo", "phpbb", "shop", "blog")
HTML_CASES = [n for n in NAMES if not n.startswith("json")]


def case(name: str) -> tuple[dict[str, Any], str]:
    expected = json.loads((CASES / f"{name}.expected.json").read_text(encoding="utf-8"))
    page = next(p for p in CASES.glob(f"{name}.*") if ".expected." not in p.name)
    return expected, page.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", HTML_CASES)
def test_each_profile_reads_only_pages_of_its_own_engine(name: str) -> None:
    """What makes a fallback safe: no profile finds listings on another engine's page."""
    expected, html = case(name)
    src = expected["source"]
    found = {
        engine: len(get_engine(case_source({**src, "engine": engine, "overrides": {}}))
                    .extract(html, src["url"]).listings)
        for engine in PROFILES
    }  # fmt: skip
    assert {e for e, n in found.items() if n} == {src["engine"]}


@pytest.mark.parametrize("name", HTML_CASES)
def test_a_fallback_reads_what_the_pages_own_engine_reads(name: str) -> None:
    expected, html = case(name)
    src = expected["source"]
    others = [e for e in PROFILES if e != src["engine"]]
    source = replace(
        case_source({**src, "engine": others[0], "overrides": {}}),
        fallback_engines=(*others[1:], src["engine"]),
    )
    engine = get_engine(source, rates=src.get("rates"))
    assert isinstance(engine, FallbackEngine)
    now = datetime.fromisoformat(src["now"]) if src.get("now") else None
    result = engine.extract(html, src["url"], now=now)
    if src.get("overrides"):  # the fixture's own overrides are not the fallback's
        assert result.listings
        return
    assert [listing_dict(x) for x in result.listings] == expected["listings"]
    assert result.next_url == expected["next_url"]


def test_the_engine_that_read_the_last_page_is_tried_first() -> None:
    mybb, mybb_html = case("mybb_default")
    xf, xf_html = case("xenforo_default")
    source = replace(case_source({**mybb["source"]}), fallback_engines=("xenforo",))
    engine = get_engine(source)
    assert isinstance(engine, FallbackEngine)
    own = engine.engines[0]
    assert len(engine.extract(mybb_html, mybb["source"]["url"]).listings) == 4
    assert len(engine.extract(xf_html, xf["source"]["url"]).listings) == 3
    engine.new_crawl()
    assert engine.engines[0] is not own  # XenForo first now: the forum moved
    assert len(engine.extract(mybb_html, mybb["source"]["url"]).listings) == 4  # and back
    assert engine.engines[0] is own
    empty = engine.extract("<html><body><p>nothing here</p></body></html>", "http://x.onion/")
    assert empty.listings == () and empty.next_url is None
