"""Engine profiles on hand-written pages (two themes per forum engine, a shop, a leak
blog, a JSON API): each page's expected listings sit beside it in
tests/fixtures/engines/<name>.expected.json, with the source settings to use."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.extract import ENGINES, get_engine
from monitor.extract.listing import listing_dict
from monitor.models import Source

CASES = Path(__file__).parent / "fixtures" / "engines"
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


def run_case(name: str) -> dict[str, Any]:
    """The extract of fixture `name` as JSON-ready values."""
    expected = json.loads((CASES / f"{name}.expected.json").read_text(encoding="utf-8"))
    src = expected["source"]
    page = next(p for p in CASES.glob(f"{name}.*") if ".expected." not in p.name)
    now = datetime.fromisoformat(src["now"]) if src.get("now") else None
    engine = get_engine(case_source(src), rates=src.get("rates"))
    result = engine.extract(page.read_text(encoding="utf-8"), src["url"], now=now)
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
