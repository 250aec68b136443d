"""Engine profiles on hand-written pages (two themes per forum engine, a shop, a leak
blog, a JSON API): each page's expected listings sit beside it in
tests/fixtures/engines/<name>.expected.json, with the source settings to use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.extract import ENGINES, get_engine
from monitor.extract.listing import listing_dict
from monitor.models import Source
from tests.histories import wayback

CASES = Path(__file__).parent / "fixtures" / "engines"
CAPTURED = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
NAMES = sorted(p.name.removesuffix(".expected.json") for p in CASES.glob("*.expected.json"))


def case_source(settings_: dict[str, Any]) -> Source:
    return Source(
        name="src",
        url=settings_["url"],
        engine=settings_["engine"],
        every=600,
        overrides=settings_.get("overrides", {}),
        timezone=settings_.get("timezone"),
        skip_sticky=settings_.get("skip_sticky", True),
    )


def run_case(name: str, saved_by: Any = None) -> dict[str, Any]:
    """The extract of fixture `name` as JSON-ready values; `saved_by(html, url)`
    rewrites the page first, as a capture tool would."""
    expected = json.loads((CASES / f"{name}.expected.json").read_text(encoding="utf-8"))
    src = expected["source"]
    page = next(p for p in CASES.glob(f"{name}.*") if ".expected." not in p.name)
    now = datetime.fromisoformat(src["now"]) if src.get("now") else None
    engine = get_engine(case_source(src), rates=src.get("rates"))
    html = page.read_text(encoding="utf-8")
    if saved_by is not None:
        html = saved_by(html, src["url"])
    result = engine.extract(html, src["url"], now=now)
    return {
        "listings": [listing_dict(x) for x in result.listings],
        "next_url": result.next_url,
    }


def test_every_engine_has_two_or_more_fixtures_per_forum_engine() -> None:
    engines = [json.loads((CASES / f"{n}.expected.json").read_text())["source"]["engine"]
               for n in NAMES]  # fmt: skip
    for engine in ("mybb", "xenforo", "phpbb"):
        assert engines.count(engine) >= 2, engine
    for engine in ("shop", "blog", "json"):
        assert engine in engines
    assert set(engines) <= set(ENGINES)


@pytest.mark.parametrize("name", NAMES)
def test_fixture_page(name: str) -> None:
    expected = json.loads((CASES / f"{name}.expected.json").read_text(encoding="utf-8"))
    got = run_case(name)
    assert got["next_url"] == expected["next_url"]
    assert [x["external_id"] for x in got["listings"]] == [
        x["external_id"] for x in expected["listings"]
    ]
    for listing, want in zip(got["listings"], expected["listings"], strict=True):
        assert listing == want, listing["external_id"]


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("json")])
def test_a_wayback_capture_gives_the_live_pages_listings_ids_and_links(name: str) -> None:
    """Archive-rewritten links resolve to the original ones: the capture time in them
    changes from capture to capture and would change urls (and, where ids come from
    urls, ids) every time."""
    assert run_case(name, saved_by=lambda html, url: wayback(html, url, CAPTURED)) == run_case(name)
