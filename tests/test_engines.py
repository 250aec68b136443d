"""The engine names agree with the profiles that define them."""

from __future__ import annotations

from monitor.absence import absence_mode
from monitor.engines import COUNT_ENGINES, ENGINES, FORUM_PROFILES, PROFILE_ENGINES
from monitor.extract.profiles import PROFILES
from monitor.models import Source


def test_the_profile_names_are_the_profiles() -> None:
    assert tuple(PROFILES) == PROFILE_ENGINES
    assert set(ENGINES) == {"css", "json", *PROFILES}
    assert set(FORUM_PROFILES) | set(COUNT_ENGINES) == set(ENGINES) - {"css"}
    assert not set(FORUM_PROFILES) & set(COUNT_ENGINES)


def test_forum_profiles_verify_absence_and_the_others_count_it() -> None:
    def mode(engine: str) -> str:
        return absence_mode(Source(name="s", url="http://x.onion/shop/", engine=engine, every=60))

    assert {e: mode(e) for e in ENGINES if e != "css"} == {
        **{e: "verify" for e in FORUM_PROFILES},
        **{e: "count" for e in COUNT_ENGINES},
    }
