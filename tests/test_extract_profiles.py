"""Engine profiles and the json engine: overrides, configuration errors, sticky
handling, and hostile input (arbitrary text and bytes never raise)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ExtractError
from monitor.extract import ENGINES, get_engine
from monitor.extract.profiles import PROFILES
from monitor.models import PageExtract, Selectors, Source

CASES = Path(__file__).parent / "fixtures" / "engines"
NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
JSON_PATHS = {"item": "data.threads", "title": "title", "url": "url", "id": "id"}
CSS_CORE = Selectors(item="li", title="a", url="a@href")


def src(engine: str, **kwargs: object) -> Source:
    overrides = kwargs.pop("overrides", JSON_PATHS if engine == "json" else {})
    return Source(name="s", url="http://forum.onion/f/1", engine=engine, every=60,
                  overrides=overrides, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def page(name: str) -> str:
    return next(CASES.glob(f"{name}.*[lm]")).read_text(encoding="utf-8")


def test_engines_listed() -> None:
    assert set(ENGINES) == {"css", "mybb", "xenforo", "phpbb", "shop", "blog", "json"}


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "css"])
def test_every_profile_builds_without_overrides_or_with_paths(engine: str) -> None:
    result = get_engine(src(engine)).extract("", "http://forum.onion/f/1")
    assert result == PageExtract(listings=())


def test_override_replaces_a_profile_selector() -> None:
    url = "http://dumpsterfx.onion/forumdisplay.php?fid=9"
    plain = get_engine(src("mybb")).extract(page("mybb_default"), url)
    assert plain.listings[0].seller == "ChinaDan"
    tuned = get_engine(src("mybb", overrides={"seller": "span.smalltext"}))
    listings = tuned.extract(page("mybb_default"), url).listings
    assert listings[0].seller == "VIP Seller"
    assert [x.external_id for x in listings] == [x.external_id for x in plain.listings]


def test_empty_override_removes_a_key() -> None:
    url = "http://dumpsterfx.onion/forumdisplay.php?fid=9"
    engine = get_engine(src("mybb", overrides={"replies": "", "views": " "}))
    listings = engine.extract(page("mybb_default"), url).listings
    assert all(x.replies is None and x.views is None for x in listings)


def test_sticky_threads_are_skipped_by_default_and_kept_on_request() -> None:
    url = "http://dumpsterfx.onion/forumdisplay.php?fid=9"
    skipped = get_engine(src("mybb")).extract(page("mybb_default"), url).listings
    assert "3" not in [x.external_id for x in skipped]
    kept = get_engine(src("mybb", skip_sticky=False)).extract(page("mybb_default"), url)
    (rules,) = [x for x in kept.listings if x.external_id == "3"]
    assert rules.sticky and rules.views == 9811


def test_relative_dates_need_now() -> None:
    url = "http://breachedxyz.onion/Forum-Databases"
    engine = get_engine(src("mybb"))
    without = {x.external_id: x for x in engine.extract(page("mybb_breach"), url).listings}
    assert without["88101"].posted_at is None  # "2 hours ago", no crawl time given
    assert without["88101"].posted_raw == "2 hours ago"
    assert without["88190"].posted_at == datetime(2026, 6, 30, 22, 15, tzinfo=UTC)  # title attr
    with_now = {
        x.external_id: x for x in engine.extract(page("mybb_breach"), url, now=NOW).listings
    }
    assert with_now["88101"].posted_at == datetime(2026, 7, 1, 10, tzinfo=UTC)


def test_source_timezone_applies_to_naive_dates_only() -> None:
    url = "http://oldbazar.onion/viewforum.php?f=2"
    overrides = {"posted": "a.topictitle@title"}
    utc = get_engine(src("phpbb", overrides=overrides)).extract(page("phpbb_subsilver"), url)
    msk = get_engine(src("phpbb", overrides=overrides, timezone="Europe/Moscow"))
    moscow = msk.extract(page("phpbb_subsilver"), url)
    assert utc.listings[0].posted_at == datetime(2026, 6, 30, 17, 2, tzinfo=UTC)
    assert moscow.listings[0].posted_at == datetime(2026, 6, 30, 14, 2, tzinfo=UTC)
    bad_zone = get_engine(src("phpbb", overrides=overrides, timezone="Mars/Olympus"))
    assert bad_zone.extract(page("phpbb_subsilver"), url) == utc  # unknown zone: UTC


def test_rates_give_usd_estimates() -> None:
    url = "http://xssleaks.onion/forums/databases.12/"
    engine = get_engine(src("xenforo"), rates={"BTC": 50_000})
    price = engine.extract(page("xenforo_default"), url).listings[0].price
    assert price is not None and (price.amount, price.currency, price.usd) == (10.0, "BTC", 500_000)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (src("mybb", overrides={"colour": "b"}), "unknown override colour"),
        (src("mybb", overrides={"title": "a[["}), "title"),
        (src("xenforo", overrides={"id_pattern": "(("}), "id_pattern"),
        (src("phpbb", overrides={"item": "li@id"}), "item"),
        (src("css", overrides={"title": "a"}), r"needs \[selectors\]"),
        (src("css", selectors=CSS_CORE, overrides={"colour": "b"}), "unknown override colour"),
        (src("css", selectors=CSS_CORE, overrides={"text": "p[["}), "text"),
        (src("json", overrides={"title": "t"}), "url"),
        (src("json", overrides={"url": "u"}), "title"),
        (src("json", overrides={"title": "t", "url_template": "/t/{id}"}), "id"),
        (src("json", overrides={**JSON_PATHS, "colour": "x"}), "colour"),
        (src("json", overrides={**JSON_PATHS, "id_pattern": "(("}), "id_pattern"),
        (src("vbulletin"), "unknown engine"),
    ],
)
def test_configuration_errors(source: Source, message: str) -> None:
    with pytest.raises(ExtractError, match=message):
        get_engine(source)


def test_json_engine_paths_and_hostile_documents() -> None:
    engine = get_engine(src("json", overrides={**JSON_PATHS, "item": "*"}))
    doc = json.dumps([{"id": 1, "title": "A 5M users", "url": "/t/1"}, {"id": 2, "title": "B"}])
    (listing,) = engine.extract(doc, "http://forum.onion/api").listings
    assert (listing.external_id, listing.url) == ("1", "http://forum.onion/t/1")
    assert listing.records is not None and listing.records.count == 5_000_000
    for bad in ("", "{", "null", '{"data": {"threads": 5}}', "[" * 100_000, '"x"'):
        assert engine.extract(bad, "http://forum.onion/api").listings == ()


def test_json_engine_memoises_unchanged_items_and_sees_changed_ones() -> None:
    engine = get_engine(src("json", overrides={**JSON_PATHS, "item": "*"}))
    items = [{"id": 1, "title": "A 5M users", "url": "/t/1"}, {"id": 2, "title": "B", "url": "/2"}]
    first = engine.extract(json.dumps(items), "http://forum.onion/api").listings
    engine.new_crawl()
    items[1]["title"] = "B 2M rows"
    again = engine.extract(json.dumps(items), "http://forum.onion/api").listings
    assert again[0] is first[0]  # the unchanged item came from the memo
    assert again[1].title == "B 2M rows" and again[1].records is not None
    fresh = get_engine(src("json", overrides={**JSON_PATHS, "item": "*"}))
    assert again == fresh.extract(json.dumps(items), "http://forum.onion/api").listings


ENGINE_SOURCES = [src(e) for e in ENGINES if e != "css"]
TAGS = st.sampled_from(
    ["<tr class='inline_row'>", "<span id='tid_7'>", "<a href='/t/1'>", "</a>", "5M rows",
     "<div class='structItem structItem--thread'>", "<div class='structItem-title'>",
     "<a data-tp-primary='on' href='/threads/x.9/'>", "<li class='row'>", "<ul class='topics'>",
     "<a class='topictitle' href='?t=3'>", "<li class='product post-4'>", "<h2>", "<article>",
     "<time datetime='2026-01-01'>", "Yesterday, 10:15 PM", "10 BTC", "\x00", "\ud800", "<",
     '{"data": {"threads": [{"id": 1, "title": "x", "url": "/t"}]}}', "[", "{", "\u202e"]
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(ENGINE_SOURCES),
    st.one_of(
        st.text(st.characters(exclude_categories=()), max_size=1500),
        st.lists(TAGS | st.text(max_size=5), max_size=120).map("".join),
        st.binary(max_size=1500).map(lambda b: b.decode("utf-8", errors="replace")),
        st.binary(max_size=600).map(lambda b: b.decode("latin-1")),
    ),
)
def test_engines_never_raise(source: Source, text: str) -> None:
    result = get_engine(source).extract(text, "http://forum.onion/f/1", now=NOW)
    ids = [x.external_id for x in result.listings]
    assert len(ids) == len(set(ids))
    for listing in result.listings:
        assert listing.external_id and listing.url.startswith("http://forum.onion/")
        assert listing.title and len(listing.title) <= 500


def test_skip_sticky_false_keeps_flag(tmp_path: Path) -> None:
    engine = get_engine(replace(src("phpbb"), skip_sticky=False))
    listings = engine.extract(page("phpbb_prosilver"), "http://breachboard.onion/viewforum.php")
    assert [x.sticky for x in listings.listings] == [True, True, False, False, False]


def test_mybb_views_follow_the_replies_column_whatever_comes_after() -> None:
    # MyBB 1.8's forumdisplay_thread with the rating column and the moderator checkbox
    row = """<tr class="inline_row">
      <td class="trow1 forumdisplay_regular"><span class="thread_status newfolder"></span></td>
      <td class="trow1 forumdisplay_regular"><div><span><span class=" subject_new" id="tid_88">
        <a href="showthread.php?tid=88">Acme Telecom 2.5M subscribers - 3 BTC</a></span></span>
        <div class="author smalltext"><a href="member.php?action=profile&amp;uid=4">seller</a>
        </div></div></td>
      <td class="trow1 forumdisplay_regular"><a href="javascript:MyBB.whoPosted(88);">17</a></td>
      <td class="trow1 forumdisplay_regular">4,210</td>
      <td class="trow1 forumdisplay_regular"><ul class="star_rating"><li>3</li></ul></td>
      <td class="trow1 forumdisplay_regular"><span class="lastpost smalltext">Today</span></td>
      <td class="trow1 forumdisplay_regular"><input type="checkbox" name="inlinemod_88"></td>
    </tr>"""
    html = f"<table>{row}</table>"
    [listing] = get_engine(src("mybb")).extract(html, "http://forum.onion/f/1", now=NOW).listings
    assert (listing.external_id, listing.replies, listing.views) == ("88", 17, 4210)
    assert listing.records is not None and listing.records.count == 2_500_000


def test_blog_cards_that_are_links_themselves() -> None:
    # leak blogs whose whole card is one link (<a class="post-block">)
    cards = "".join(
        f"""<a class="post-block good" href="/post/{slug}">
          <div class="post-title-block"><div class="post-title">{name}</div>
          <div class="post-block-text">{text}</div></div>
          <div class="updated-post-date">{date}</div></a>"""
        for slug, name, text, date in [
            ("acme-1", "acme-logistics.example", "1.2 TB of files, 300k customer records",
             "02 Jun, 2026 09:14 UTC"),
            ("globex-2", "globex.example", "HR and finance data", "01 Jun, 2026 17:40 UTC"),
        ]
    )  # fmt: skip
    html = f"<html><body><div class='post-big-list'>{cards}</div></body></html>"
    found = get_engine(src("blog")).extract(html, "http://blog.onion/", now=NOW).listings
    assert [listing.url for listing in found] == [
        "http://blog.onion/post/acme-1",
        "http://blog.onion/post/globex-2",
    ]
    assert found[0].title == "acme-logistics.example"
    assert found[0].records is not None and found[0].records.count == 300_000
    assert found[0].posted_at == datetime(2026, 6, 2, 9, 14, tzinfo=UTC)


def test_documented_profiles_are_the_real_ones() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "extraction.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"#### `(\w+)`\s+```toml\n(.*?)```", doc, re.DOTALL))
    assert set(blocks) == set(PROFILES)
    for name, block in blocks.items():
        assert tomllib.loads(block) == dict(PROFILES[name]), name
