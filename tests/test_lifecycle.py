"""lifecycle.diff_crawl: every rule as a value table, plus hypothesis properties."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import fingerprint as fingerprint_module
from monitor.absence import layout_suspicion, revisit_backlog, revisit_due, settled_layout
from monitor.lifecycle import (
    absence_mode,
    diff_crawl,
    fingerprint,
    jaccard,
    plan_verifications,
    records_bucket,
    title_tokens,
)
from monitor.models import (
    LEFT_BEHIND,
    Crawl,
    CrawlDiff,
    CrawlOutcome,
    EventKind,
    FieldChange,
    Listing,
    ListingState,
    Price,
    Records,
    Source,
    StoredListing,
    Verdict,
    Verification,
)

T0 = datetime(2024, 6, 1, tzinfo=UTC)
SRC = Source(name="forum", url="http://forum.onion/", engine="css", every=600)
BTC10 = Price(amount=10.0, currency="BTC", raw="10 BTC")
BILLION = Records(count=1_000_000_000, raw="1B")
ACTIVE, MISSING, DELETED, AGED_OUT = (
    ListingState.ACTIVE,
    ListingState.MISSING,
    ListingState.DELETED,
    ListingState.AGED_OUT,
)
NOT_COMPLETE = [CrawlOutcome.PARTIAL, CrawlOutcome.BLOCKED, CrawlOutcome.FAILED]


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def listing(ext: str, title: str = "Shanghai police", **kw: Any) -> Listing:
    fields: dict[str, Any] = {"seller": "ChinaDan", "price": BTC10, "records": BILLION}
    fields.update(kw)
    source = fields.pop("source", "forum")
    return Listing(source, ext, f"http://forum.onion/t/{ext}", title, **fields)


def stored(li: Listing, state: ListingState = ACTIVE, **kw: Any) -> StoredListing:
    fields: dict[str, Any] = {"first_seen": at(0), "last_seen": at(0)}
    fields.update(kw)
    return StoredListing(li, state, **fields)


def crawl(*listings: Listing, outcome: CrawlOutcome = CrawlOutcome.COMPLETE, n: int = 1) -> Crawl:
    return Crawl(f"c{n}", "forum", at(n) - timedelta(minutes=1), at(n), outcome, 1, 100, listings)


def counter() -> Callable[[], str]:
    state = iter(range(1, 10_000))
    return lambda: f"e{next(state)}"


def run(
    c: Crawl,
    known: Iterable[StoredListing] = (),
    *,
    source: Source = SRC,
    previous: Sequence[int] = (),
    candidates: Sequence[StoredListing] = (),
    first: bool = False,
) -> CrawlDiff:
    return diff_crawl(
        c,
        {s.id: s for s in known},
        source,
        previous_complete=previous,
        repost_candidates=candidates,
        first_complete=first,
        make_id=counter(),
    )


def kinds(diff: CrawlDiff) -> list[tuple[str, str | None]]:
    return [(e.kind.value, e.listing_id) for e in diff.events]


def written(diff: CrawlDiff) -> dict[str, StoredListing]:
    return {s.id: s for s in diff.writes}


# ----------------------------------------------------------------- seen


def test_unknown_listing_is_written_active_with_a_new_event() -> None:
    li = listing("1")
    diff = run(crawl(li, n=3))
    assert diff.writes == (
        StoredListing(li, ACTIVE, at(3), at(3), 0, None, fingerprint(li), "forum:1"),
    )
    (event,) = diff.events
    assert (event.id, event.kind, event.source, event.crawl_id, event.at) == (
        "e1",
        EventKind.NEW,
        "forum",
        "c3",
        at(3),
    )
    assert event.listing_id == "forum:1" and dict(event.details) == {}
    assert diff.touched == () and diff.changes == {} and diff.baseline is False


def test_known_unchanged_active_listing_is_only_touched() -> None:
    li = listing("1")
    moved = replace(li, url="http://forum.onion/t/1?page=2", posted_raw="yesterday")
    diff = run(crawl(moved), [stored(li)])
    assert (diff.writes, diff.touched, diff.events) == ((), ("forum:1",), ())


P = Price


def ch(name: str, before: Any, after: Any) -> dict[str, Any]:
    return {"field": name, "before": before, "after": after}


OLD_TITLE = "Shanghai police"
CHANGE_TABLE: list[tuple[dict[str, Any], list[dict[str, Any]], bool]] = [
    ({"title": "Shanghai police 2"}, [ch("title", OLD_TITLE, "Shanghai police 2")], False),
    ({"seller": "Dan"}, [ch("seller", "ChinaDan", "Dan")], False),
    ({"seller": None}, [ch("seller", "ChinaDan", None)], False),
    ({"price": P(8.0, "BTC", "8 BTC")}, [ch("price", "10 BTC", "8 BTC")], True),
    ({"price": P(12.0, "BTC", "12 BTC")}, [ch("price", "10 BTC", "12 BTC")], False),
    ({"price": P(5.0, "XMR", "5 XMR")}, [ch("price", "10 BTC", "5 XMR")], False),
    ({"price": None}, [ch("price", "10 BTC", None)], False),
    ({"records": Records(900, "900")}, [ch("records", 1_000_000_000, 900)], False),
    (
        {"title": "T", "records": None},
        [ch("title", OLD_TITLE, "T"), ch("records", 1_000_000_000, None)],
        False,
    ),
]


@pytest.mark.parametrize(("edit", "changes", "drop"), CHANGE_TABLE)
def test_field_changes(edit: dict[str, Any], changes: list[Any], drop: bool) -> None:
    old = stored(listing("1"), first_seen=at(-5))
    new = replace(old.listing, **edit)
    diff = run(crawl(new, n=2), [old])
    assert written(diff)["forum:1"] == StoredListing(
        new, ACTIVE, at(-5), at(2), 0, None, fingerprint(new), "forum:1"
    )
    (event,) = diff.events
    expected: dict[str, Any] = {"changes": changes}
    if drop:
        expected["price_drop"] = True
    assert (event.kind, event.listing_id, dict(event.details)) == (
        EventKind.CHANGED,
        "forum:1",
        expected,
    )
    assert diff.changes == {"forum:1": tuple(FieldChange(**c) for c in changes)}
    assert diff.touched == ()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (P(10.0, "BTC", "10 BTC"), P(10.0, "BTC", "10.0 btc", usd=1.0, negotiable=True)),
        (P(None, None, "PM me"), P(None, None, "PM me", negotiable=True)),
        (None, None),
    ],
)
def test_price_equal_by_amount_and_currency_or_raw_text(before: Any, after: Any) -> None:
    old = stored(listing("1", price=before))
    diff = run(crawl(replace(old.listing, price=after)), [old])
    assert (diff.events, diff.touched) == ((), ("forum:1",))


def test_raw_price_text_is_compared_when_amounts_are_unknown() -> None:
    old = stored(listing("1", price=P(None, None, "PM me")))
    diff = run(crawl(replace(old.listing, price=P(None, None, "make an offer"))), [old])
    assert diff.changes["forum:1"] == (FieldChange("price", "PM me", "make an offer"),)


def test_deleted_listing_seen_again_is_restored() -> None:
    old = stored(listing("1"), DELETED, missing_streak=1, deleted_at=at(1), cluster="x:9")
    diff = run(crawl(old.listing, n=4), [old])
    assert written(diff)["forum:1"] == replace(
        old,
        state=ACTIVE,
        last_seen=at(4),
        missing_streak=0,
        deleted_at=None,
        fingerprint=fingerprint(old.listing),
    )
    assert kinds(diff) == [("restored", "forum:1")]
    assert dict(diff.events[0].details) == {
        "deleted_at": at(1).isoformat(),
        "deleted_after": at(0).isoformat(),
        "gone_for": 3 * 3600,
        "how": "listed again",
    }


def test_restored_with_changes_gives_both_events() -> None:
    old = stored(listing("1"), DELETED, missing_streak=1, deleted_at=at(1))
    diff = run(crawl(replace(old.listing, title="Shanghai police v2"), n=4), [old])
    assert kinds(diff) == [("restored", "forum:1"), ("changed", "forum:1")]


@pytest.mark.parametrize("state", [MISSING, AGED_OUT])
def test_missing_or_aged_out_listing_seen_again_is_silently_active(state: ListingState) -> None:
    old = stored(listing("1"), state, missing_streak=1)
    diff = run(crawl(old.listing, n=2), [old])
    new = written(diff)["forum:1"]
    assert (new.state, new.missing_streak, new.last_seen, new.cluster) == (
        ACTIVE,
        0,
        at(2),
        "forum:1",
    )
    assert diff.events == () and diff.touched == ()


def test_duplicate_ids_in_a_crawl_count_once_first_wins() -> None:
    first, second = listing("1"), listing("1", title="other")
    diff = run(crawl(first, second))
    assert [s.listing for s in diff.writes] == [first]
    assert kinds(diff) == [("new", "forum:1")]


# --------------------------------------------------------------- absence


@pytest.mark.parametrize(
    ("missing_after", "streak", "state", "event"),
    [
        (1, 0, DELETED, True),
        (2, 0, MISSING, False),
        (2, 1, DELETED, True),
        (3, 1, MISSING, False),
    ],
)
def test_absence_in_a_complete_crawl(
    missing_after: int, streak: int, state: ListingState, event: bool
) -> None:
    before = ACTIVE if streak == 0 else MISSING
    old = stored(listing("1"), before, missing_streak=streak, first_seen=at(-9), last_seen=at(-1))
    diff = run(crawl(listing("2"), n=5), [old], source=replace(SRC, missing_after=missing_after))
    new = written(diff)["forum:1"]
    assert (new.state, new.missing_streak, new.last_seen) == (state, streak + 1, at(-1))
    assert new.deleted_at == (at(5) if event else None)
    deleted = [e for e in diff.events if e.kind is EventKind.DELETED]
    if event:
        assert [dict(e.details) for e in deleted] == [
            {
                "first_seen": at(-9).isoformat(),
                "last_seen": at(-1).isoformat(),
                "deleted_after": at(-1).isoformat(),
                "deleted_before": at(5).isoformat(),
                "how": f"absent from {streak + 1} complete crawl{'s' if streak else ''}",
                "title": "Shanghai police",
                "seller": "ChinaDan",
                "price": "10 BTC",
                "records": 1_000_000_000,
            }
        ]
        assert deleted[0].listing_id == "forum:1" and deleted[0].at == at(5)
    else:
        assert deleted == []


@pytest.mark.parametrize("state", [DELETED, AGED_OUT])
def test_absent_deleted_or_aged_out_listings_stay_as_they_are(state: ListingState) -> None:
    diff = run(crawl(listing("2", "Acme")), [stored(listing("1"), state)])
    assert "forum:1" not in written(diff)
    assert kinds(diff) == [("new", "forum:2")]


@pytest.mark.parametrize("outcome", NOT_COMPLETE)
def test_non_complete_crawls_infer_nothing_from_absence(outcome: CrawlOutcome) -> None:
    known = [stored(listing("1")), stored(listing("2"), MISSING, missing_streak=1)]
    diff = run(crawl(listing("3", "Acme"), outcome=outcome), known, previous=[100])
    assert [s.id for s in diff.writes] == ["forum:3"]
    assert kinds(diff) == [("new", "forum:3")]


def many(n: int, prefix: str = "") -> list[Listing]:
    return [listing(f"{prefix}{i}", title=f"dataset {prefix}{i}", records=None) for i in range(n)]


def test_implausibly_small_complete_crawl_raises_layout_changed_and_deletes_nothing() -> None:
    known = [stored(li) for li in many(10)]
    diff = run(crawl(*many(4)), known, previous=[10, 9, 11])
    assert kinds(diff) == [("layout_changed", None)]
    assert dict(diff.events[0].details) == {"reason": "count_drop", "listings": 4, "median": 10.0}
    assert diff.writes == () and len(diff.touched) == 4


def test_half_the_median_is_still_plausible() -> None:
    known = [stored(li) for li in many(10)]
    diff = run(crawl(*many(5)), known, previous=[10, 10])
    assert {k for k, _ in kinds(diff)} == {"deleted"} and len(diff.events) == 5


def test_known_listings_replaced_by_unknown_ones_is_a_layout_change() -> None:
    known = [stored(li) for li in many(5)]
    diff = run(crawl(*many(2), *many(4, prefix="x")), known, previous=[5])
    assert kinds(diff) == [("layout_changed", None)]
    assert dict(diff.events[0].details) == {
        "reason": "id_churn",
        "known_active": 5,
        "vanished": 3,
        "seen": 6,
        "unknown": 4,
    }
    # the unknown listings are recorded, quietly; nothing is deleted
    assert sorted(written(diff)) == [f"forum:x{i}" for i in range(4)]
    assert all(s.state is ACTIVE for s in diff.writes)


def test_a_suspected_layout_change_stays_suspected_on_the_next_crawl() -> None:
    known = {s.id: s for s in (stored(li) for li in many(5))}
    c = crawl(*many(5, prefix="x"))
    first = run(c, known.values())
    second = run(replace(c, id="c2", finished=at(2)), apply_diff(known, first).values())
    assert kinds(first) == kinds(second) == [("layout_changed", None)]
    assert dict(second.events[0].details) == {
        "reason": "id_churn",
        "known_active": 5,
        "vanished": 5,
        "seen": 5,
        "unknown": 5,
    }
    assert second.writes == () and len(second.touched) == 5


def test_a_layout_change_already_reported_is_not_reported_again() -> None:
    known = [stored(li) for li in many(5)]
    c = crawl(*many(5, prefix="x"))
    first = run(c, known)
    assert first.layout_suspected and first.crawl.error == "suspected layout change (id_churn)"
    again = diff_crawl(
        c,
        {s.id: s for s in known},
        SRC,
        previous_complete=(),
        repost_candidates=(),
        first_complete=False,
        make_id=counter(),
        layout_pending=True,
    )
    assert again.events == () and again.layout_suspected
    assert again.crawl.error == first.crawl.error
    assert {s.state for s in again.writes} == {ACTIVE}  # recorded quietly, nothing deleted
    plausible = run(crawl(*many(5)), known)
    assert not plausible.layout_suspected and plausible.crawl.error is None


def test_churn_needs_three_known_active_listings() -> None:
    known = [stored(li) for li in many(2)]
    diff = run(crawl(*many(3, prefix="x")), known)
    assert sorted(k for k, _ in kinds(diff)) == ["deleted"] * 2 + ["new"] * 3


def test_ordinary_turnover_is_not_churn() -> None:
    known = [stored(li) for li in many(5)]
    diff = run(crawl(*many(3), *many(2, prefix="x")), known)
    assert sorted(k for k, _ in kinds(diff)) == ["deleted"] * 2 + ["new"] * 2


# --------------------------------------------------------------- baseline


def test_first_complete_crawl_is_a_quiet_baseline() -> None:
    diff = run(crawl(*many(3)), first=True)
    assert diff.baseline is True and diff.events == () and len(diff.writes) == 3


def test_baseline_alerts_setting_alerts_on_the_first_crawl() -> None:
    diff = run(crawl(*many(2)), first=True, source=replace(SRC, baseline_alerts=True))
    assert diff.baseline is False and [k for k, _ in kinds(diff)] == ["new", "new"]


@pytest.mark.parametrize("outcome", NOT_COMPLETE)
def test_non_complete_crawl_before_the_baseline_records_quietly(outcome: CrawlOutcome) -> None:
    diff = run(crawl(*many(2), outcome=outcome), first=True)
    assert diff.baseline is False and diff.events == () and len(diff.writes) == 2


# ----------------------------------------------------------------- reposts

ORIGINAL = stored(
    listing("77", "Shanghai National Police database", source="breach", seller="ChinaDan"),
    DELETED,
    first_seen=at(-48),
    deleted_at=at(-24),
)


def reposted_details(original: StoredListing) -> dict[str, Any]:
    return {
        "original_id": original.id,
        "original_source": original.listing.source,
        "original_title": original.listing.title,
        "original_seller": original.listing.seller,
    }


@pytest.mark.parametrize(
    ("title", "records", "reposted"),
    [
        ("[SELLING] Shanghai national police DB 1B", BILLION, True),  # same words
        ("Shanghai police citizens", BILLION, True),  # jaccard 2/4 with same count
        ("Shanghai citizens registry", BILLION, False),  # jaccard 1/5
        ("Shanghai police citizens", Records(999, "999"), False),  # other count
        ("SHANGHAI National Police", Records(1_010_000_000, "1.01B"), True),  # same bucket
        ("Fresh leak new dump", BILLION, False),  # no dataset words at all
    ],
)
def test_repost_detection(title: str, records: Records, reposted: bool) -> None:
    li = listing("5", title, seller="dan2", records=records)
    diff = run(crawl(li), candidates=[ORIGINAL])
    (event,) = diff.events
    (row,) = diff.writes
    if reposted:
        assert (event.kind, dict(event.details)) == (
            EventKind.REPOSTED,
            reposted_details(ORIGINAL),
        )
        assert row.cluster == "breach:77"
    else:
        assert event.kind is EventKind.NEW and row.cluster == "forum:5"


def test_repost_without_records_matches_by_fingerprint() -> None:
    original = stored(listing("1", "Acme corp customers", records=None), DELETED)
    diff = run(crawl(listing("2", "WTS acme CORP customers!!", records=None)), [original])
    assert kinds(diff) == [("reposted", "forum:2")]


def test_repost_takes_the_earliest_original_and_its_cluster() -> None:
    later = stored(listing("1", "Shanghai national police"), first_seen=at(-1), cluster="breach:77")
    older = replace(ORIGINAL, cluster="breach:1")
    diff = run(
        crawl(later.listing, listing("9", "Shanghai police national")), [later], candidates=[older]
    )
    assert kinds(diff) == [("reposted", "forum:9")]
    assert diff.events[0].details["original_id"] == "breach:77"
    assert written(diff)["forum:9"].cluster == "breach:1"


def test_a_listing_is_not_a_repost_of_itself() -> None:
    same = replace(ORIGINAL, listing=replace(ORIGINAL.listing, source="forum", external_id="5"))
    diff = run(crawl(listing("5", "Shanghai national police")), candidates=[same])
    assert kinds(diff) == [("new", "forum:5")]


def test_baseline_and_layout_change_keep_repost_links_without_events() -> None:
    li = listing("5", "Shanghai national police")
    diff = run(crawl(li), candidates=[ORIGINAL], first=True)
    assert diff.events == () and diff.writes[0].cluster == "breach:77"
    churn = run(
        crawl(li, *many(3, prefix="x")), [stored(x) for x in many(4)], candidates=[ORIGINAL]
    )
    assert kinds(churn) == [("layout_changed", None)]
    assert written(churn)["forum:5"].cluster == "breach:77"


# -------------------------------------------------------- ids, fingerprints


def test_default_event_ids_are_unique_hex_in_time_order() -> None:
    def ids(n: int) -> list[str]:
        diff = diff_crawl(
            crawl(*many(3, prefix=f"c{n}-"), n=n),
            {},
            SRC,
            previous_complete=[],
            repost_candidates=[],
            first_complete=False,
        )
        return [e.id for e in diff.events]

    first, later = ids(1), ids(2)
    assert len(set(first + later)) == 6
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first + later)
    assert max(first) < min(later)  # a later crawl's events sort after an earlier one's
    assert len({i[:14] for i in first}) == 1  # the time part, shared by one crawl


@pytest.mark.parametrize(
    ("title", "tokens"),
    [
        ("[SELLING] Shanghai Police DB — 1B records, 10 BTC", {"shanghai", "police"}),
        ("WTS: ＡＣＭＥ Corp. full dump (2019-2022) $200,000", {"acme", "corp"}),
        ("Straße 500k 1.2kk 10btc md5", {"strasse", "md5"}),
        ("Fresh new leak", set()),
    ],
)
def test_title_tokens(title: str, tokens: set[str]) -> None:
    assert title_tokens(title) == tokens


@settings(max_examples=400)
@given(st.text(st.characters(max_codepoint=127), max_size=60))
def test_title_tokens_of_ascii_titles_are_the_regex_split_of_their_folded_form(
    title: str,
) -> None:
    """The byte-table path for ASCII titles finds exactly the words the general
    path (`_SPLIT` over the NFKC casefolded title) finds."""
    words = fingerprint_module._SPLIT.split(unicodedata.normalize("NFKC", title).casefold())
    expected = {
        w
        for w in words
        if w
        and w not in fingerprint_module.STOPWORDS
        and not (w[0].isdigit() and fingerprint_module._NUMBERISH.fullmatch(w))
    }
    assert title_tokens(title) == expected


def test_fingerprints_stay_what_stored_databases_hold() -> None:
    """A stored listing's fingerprint is compared with new ones: its value for a
    given title and count must never change (both paths of `title_tokens`)."""
    ascii_title = listing("1", "[SELLING] Shanghai Police DB_2022 -- 1B records")
    ascii_title = replace(ascii_title, records=Records(1_000_000_000, "1B"))
    assert fingerprint(ascii_title) == "7c241e75a9219869"
    wide_title = listing("2", "WTS: ＡＣＭＥ Corp. full dump", records=None)
    assert fingerprint(wide_title) == "7f3e655c8fa5906a"


def test_fingerprint_ignores_word_order_and_offer_words_but_not_size() -> None:
    a = listing("1", "Shanghai police database")
    assert fingerprint(a) == fingerprint(listing("2", "[WTS] police SHANGHAI leak", seller="x"))
    assert fingerprint(a) != fingerprint(listing("3", "Shanghai police", records=Records(5, "5")))
    assert fingerprint(a) != fingerprint(listing("4", "Beijing police"))
    assert len(fingerprint(a)) == 16


def test_records_bucket_and_jaccard() -> None:
    assert [records_bucket(r) for r in (None, Records(0, "0"), Records(123_456, "x"))] == [
        "-",
        "0.0e+00",
        "1.2e+05",
    ]
    assert jaccard(frozenset("ab"), frozenset("bc")) == pytest.approx(1 / 3)
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_diff_is_deterministic() -> None:
    known = [stored(li) for li in many(4)]
    c = crawl(*many(2), *many(2, prefix="y"), listing("z", "Shanghai police"))
    assert run(c, known, candidates=[ORIGINAL]) == run(c, known, candidates=[ORIGINAL])


# ------------------------------------------------------------- properties

IDS = [str(i) for i in range(10)]
TITLES = ["alpha leak", "beta db", "alpha beta", "gamma"]
listings_st = st.builds(
    lambda ext, title, rec: listing(ext, title, records=rec),
    st.sampled_from(IDS),
    st.sampled_from(TITLES),
    st.sampled_from([None, Records(10, "10"), Records(20, "20")]),
)


@st.composite
def stored_st(draw: st.DrawFn) -> StoredListing:
    first_seen = -draw(st.integers(0, 5))
    return stored(
        draw(listings_st),
        draw(st.sampled_from(list(ListingState))),
        missing_streak=draw(st.integers(0, 3)),
        first_seen=at(first_seen),
        last_seen=at(draw(st.integers(first_seen, 0))),
    )


def apply_diff(known: Mapping[str, StoredListing], diff: CrawlDiff) -> dict[str, StoredListing]:
    """What the store does with a diff, on a dict."""
    state = dict(known)
    for listing_id in diff.touched:
        state[listing_id] = replace(state[listing_id], last_seen=diff.crawl.finished)
    state.update({s.id: s for s in diff.writes})
    return state


@settings(max_examples=200, deadline=None)
@given(
    known=st.lists(stored_st(), max_size=8),
    seen=st.lists(listings_st, max_size=8),
    outcome=st.sampled_from(NOT_COMPLETE),
    missing_after=st.integers(1, 3),
    first=st.booleans(),
)
def test_non_complete_crawls_never_delete_or_touch_unseen_listings(
    known: list[StoredListing],
    seen: list[Listing],
    outcome: CrawlOutcome,
    missing_after: int,
    first: bool,
) -> None:
    source = replace(SRC, missing_after=missing_after)
    diff = run(crawl(*seen, outcome=outcome), known, source=source, previous=[50], first=first)
    seen_ids = {li.id for li in seen}
    assert all(e.kind not in (EventKind.DELETED, EventKind.LAYOUT_CHANGED) for e in diff.events)
    assert {s.id for s in diff.writes} <= seen_ids
    assert set(diff.touched) <= seen_ids


@settings(max_examples=200, deadline=None)
@given(
    known=st.lists(stored_st(), max_size=8),
    seen=st.lists(listings_st, max_size=8),
    candidates=st.lists(
        stored_st().map(lambda s: replace(s, listing=replace(s.listing, source="o"))), max_size=3
    ),
    first=st.booleans(),
)
def test_the_same_complete_crawl_twice_yields_no_listing_events_the_second_time(
    known: list[StoredListing],
    seen: list[Listing],
    candidates: list[StoredListing],
    first: bool,
) -> None:
    c1 = crawl(*seen, n=1)
    once = run(c1, known, candidates=candidates, first=first)
    state = apply_diff({s.id: s for s in known}, once)
    layout = [e for e in once.events if e.kind is EventKind.LAYOUT_CHANGED]
    previous = [] if layout else [len(seen)]
    twice = run(
        replace(c1, id="c2", finished=at(2)),
        state.values(),
        previous=previous,
        candidates=candidates,
    )
    # a suspicious crawl is suspicious again; nothing happens to any listing
    assert [e.kind for e in twice.events] == [EventKind.LAYOUT_CHANGED] * len(layout)
    assert twice.writes == () and twice.changes == {}


# ------------------------------------------------------------ verification

FORUM_SRC = replace(SRC, url="http://forum.onion/forumdisplay.php?fid=2")
OTHER = listing("2", "Acme corp customers", records=None)


def check(li: Listing, verdict: Verdict, hours: float = 5, **kw: Any) -> Verification:
    return Verification(li.id, li.url, at(0) + timedelta(hours=hours), verdict, "r", 200, **kw)


@pytest.mark.parametrize(
    ("engine", "url", "absence", "mode"),
    [
        ("mybb", "http://x.onion/", "auto", "verify"),
        ("xenforo", "http://x.onion/", "auto", "verify"),
        ("phpbb", "http://x.onion/", "auto", "verify"),
        ("css", "http://x.onion/forumdisplay.php?fid=2", "auto", "verify"),
        ("css", "http://x.onion/viewforum.php?f=7", "auto", "verify"),
        ("css", "http://x.onion/forums/databases.12/", "auto", "verify"),
        ("css", "http://x.onion/shop/", "auto", "count"),
        ("shop", "http://x.onion/", "auto", "count"),
        ("json", "http://x.onion/api/threads", "auto", "count"),
        ("shop", "http://x.onion/", "verify", "verify"),
        ("mybb", "http://x.onion/", "count", "count"),
    ],
)
def test_absence_mode(engine: str, url: str, absence: str, mode: str) -> None:
    assert absence_mode(replace(SRC, engine=engine, url=url, absence=absence)) == mode


def plan(
    c: Crawl, known: Iterable[StoredListing], source: Source = FORUM_SRC, **kw: Any
) -> list[str]:
    got = plan_verifications(c, {s.id: s for s in known}, source, previous_complete=(), **kw)
    return [s.id for s in got]


def test_plan_verifies_absent_listings_of_a_plausible_complete_crawl_newest_first() -> None:
    known = [
        stored(listing("1"), last_seen=at(1)),
        stored(listing("2"), MISSING, missing_streak=1, last_seen=at(3)),
        stored(listing("3"), DELETED),
        stored(listing("4"), AGED_OUT, last_seen=at(4)),  # revisit not due yet
        stored(listing("5")),
    ]
    c = crawl(listing("5"), n=6)
    assert plan(c, known) == ["forum:1", "forum:2"]  # just vanished before still missing
    assert plan(c, known, limit=1) == ["forum:1"]
    both = [*known, stored(listing("6"), last_seen=at(2))]
    assert plan(c, both) == ["forum:6", "forum:1", "forum:2"]  # most recently seen first
    assert plan(c, known, source=SRC) == []  # count mode: nothing to fetch
    for outcome in NOT_COMPLETE:
        assert plan(replace(c, outcome=outcome), known) == []


def test_plan_revisits_aged_out_listings_when_due_oldest_first() -> None:
    known = [
        stored(listing("1"), AGED_OUT, last_seen=at(-10)),
        stored(listing("2"), AGED_OUT, last_seen=at(-20)),
        stored(listing("3"), AGED_OUT, last_seen=at(0)),
        stored(listing("4"), last_seen=at(0)),
    ]
    c = crawl(listing("4"), n=1)  # 1 h after at(0): only the old ones are due (6 h)
    assert plan(c, known) == ["forum:2", "forum:1"]
    hourly = replace(FORUM_SRC, revisit_every=3600.0)
    assert plan(c, known, source=hourly) == ["forum:2", "forum:1", "forum:3"]
    assert plan(replace(c, outcome=CrawlOutcome.PARTIAL), known) == ["forum:2", "forum:1"]
    assert plan(replace(c, outcome=CrawlOutcome.BLOCKED), known) == []


def test_pages_that_never_answer_do_not_starve_other_revisits() -> None:
    """Found replaying captures: aged-out threads whose pages were never saved stayed
    "longest unseen" forever, took every verification slot, and a thread deleted while
    aged out was never checked again."""
    hopeless = [
        stored(listing(f"h{i}"), AGED_OUT, last_seen=at(-100 - i), missing_streak=30)
        for i in range(25)
    ]
    deleted_later = stored(listing("d"), AGED_OUT, last_seen=at(-7))
    c = crawl(listing("x"), n=1)
    got = plan(c, [*hopeless, deleted_later])
    assert got[0] == "forum:d" and len(got) == 20
    # each unanswered check moved a hopeless page back by one revisit interval
    assert got[1:] == [f"forum:h{i}" for i in range(24, 5, -1)]
    # ... so one unanswered many times is not starved by fresher ones forever
    old = stored(listing("o"), AGED_OUT, last_seen=at(-300), missing_streak=40)
    fresh = [stored(listing(f"f{i}"), AGED_OUT, last_seen=at(-8 - i)) for i in range(25)]
    assert plan(c, [old, *fresh])[0] == "forum:o"  # at(-300) + 40 x 6 h is the oldest


def test_plan_skips_absentees_of_a_suspected_layout_change() -> None:
    known = [stored(li) for li in many(5)]
    c = crawl(*many(5, prefix="x"))
    assert plan(c, known) == []


def vrun(c: Crawl, known: Iterable[StoredListing], *checks: Verification) -> CrawlDiff:
    return diff_crawl(
        c,
        {s.id: s for s in known},
        FORUM_SRC,
        previous_complete=(),
        repost_candidates=(),
        first_complete=False,
        verifications={v.listing_id: v for v in checks},
        make_id=counter(),
    )


def test_gone_verdict_deletes_with_a_bounded_deletion_time() -> None:
    old = stored(listing("1"), first_seen=at(-9), last_seen=at(-1))
    diff = vrun(crawl(OTHER, n=5), [old], check(old.listing, Verdict.GONE, hours=5.1))
    new = written(diff)["forum:1"]
    assert (new.state, new.deleted_at, new.last_seen) == (
        DELETED,
        at(0) + timedelta(hours=5.1),
        at(-1),
    )
    (event,) = [e for e in diff.events if e.kind is EventKind.DELETED]
    assert event.details["deleted_after"] == at(-1).isoformat()
    assert event.details["deleted_before"] == (at(0) + timedelta(hours=5.1)).isoformat()
    assert event.details["how"] == "verified: r"
    assert event.details["first_seen"] == at(-9).isoformat()


def test_present_verdict_ages_out_quietly_and_can_carry_changes() -> None:
    old = stored(listing("1", first_post=None), last_seen=at(-1))
    parsed = Listing(
        "forum", "1", "ignored", "", first_post="Names, IDs", price=Price(8.0, "BTC", "8 BTC")
    )
    diff = vrun(crawl(OTHER, n=5), [old], check(old.listing, Verdict.PRESENT, listing=parsed))
    new = written(diff)["forum:1"]
    assert (new.state, new.last_seen, new.missing_streak) == (AGED_OUT, at(5), 0)
    assert new.listing.url == old.listing.url and new.listing.title == old.listing.title
    assert new.listing.first_post == "Names, IDs"
    assert kinds(diff) == [("new", "forum:2"), ("changed", "forum:1")]
    assert diff.changes["forum:1"] == (FieldChange("price", "10 BTC", "8 BTC"),)
    plain = vrun(crawl(OTHER, n=5), [old], check(old.listing, Verdict.PRESENT))
    assert kinds(plain) == [("new", "forum:2")]
    assert written(plain)["forum:1"].state is AGED_OUT


@pytest.mark.parametrize("verdict", [Verdict.UNKNOWN, None])
def test_unknown_or_missing_verdict_is_missing_and_retried(verdict: Verdict | None) -> None:
    old = stored(listing("1"), missing_streak=0)
    checks = () if verdict is None else (check(old.listing, verdict),)
    diff = vrun(crawl(OTHER, n=5), [old], *checks)
    new = written(diff)["forum:1"]
    # the streak counts unanswered checks only, not crawls over the verification budget
    streak = 0 if verdict is None else 1
    assert (new.state, new.missing_streak, new.deleted_at) == (MISSING, streak, None)
    assert kinds(diff) == [("new", "forum:2")]
    waiting = replace(old, state=MISSING, missing_streak=3)
    assert "forum:1" not in written(vrun(crawl(OTHER, n=5), [waiting]))  # nothing to write


def test_revisited_aged_out_listing() -> None:
    old = stored(listing("1"), AGED_OUT, last_seen=at(-10))
    gone = vrun(crawl(OTHER, n=5), [old], check(old.listing, Verdict.GONE))
    assert written(gone)["forum:1"].state is DELETED
    assert ("deleted", "forum:1") in kinds(gone)
    there = vrun(crawl(OTHER, n=5), [old], check(old.listing, Verdict.PRESENT))
    assert (written(there)["forum:1"].state, written(there)["forum:1"].last_seen) == (
        AGED_OUT,
        at(5),
    )
    unclear = vrun(crawl(OTHER, n=5), [old], check(old.listing, Verdict.UNKNOWN))
    assert written(unclear)["forum:1"] == replace(old, missing_streak=1)  # only counted
    blocked = vrun(
        crawl(n=5, outcome=CrawlOutcome.PARTIAL), [old], check(old.listing, Verdict.GONE)
    )
    assert written(blocked)["forum:1"].state is DELETED


def test_verdicts_on_a_non_complete_crawl_never_touch_active_listings() -> None:
    old = stored(listing("1"))
    diff = vrun(crawl(n=5, outcome=CrawlOutcome.PARTIAL), [old], check(old.listing, Verdict.GONE))
    assert diff.writes == () and diff.events == ()


# ------------------------------------------------------ richer fields


def test_data_type_changes_are_changes_but_their_first_appearance_is_not() -> None:
    old = stored(listing("1", data_types=("names", "phones")))
    diff = run(crawl(replace(old.listing, data_types=("phones", "names", "emails"))), [old])
    assert kinds(diff) == [("changed", "forum:1")]
    assert diff.changes["forum:1"] == (
        FieldChange("data_types", "names, phones", "emails, names, phones"),
    )
    bare = stored(listing("2"))
    filled = run(crawl(replace(bare.listing, data_types=("emails",), size_bytes=10)), [bare])
    assert filled.events == () and filled.changes == {}
    assert written(filled)["forum:2"].listing.data_types == ("emails",)
    reordered = run(crawl(replace(old.listing, data_types=("phones", "names"))), [old])
    assert reordered.events == () and reordered.touched == ("forum:1",)


POST = "Acme customers: emails, phones. Rows: 2M. Price: $500, escrow."
USD500 = Price(500.0, "USD", "$500", usd=500.0)


def test_what_the_stored_first_post_states_stands_when_the_list_page_does_not_show_it() -> None:
    """A list row without the price or data types the post states changes nothing;
    a price in the title still wins, and a changed post price is a change."""
    two_million = Records(2_000_000, "Rows: 2M")
    old = stored(
        listing(
            "1", first_post=POST, price=USD500, records=two_million, data_types=("emails", "phones")
        )
    )
    row = replace(old.listing, first_post=None, price=None, records=None, data_types=("emails",))
    quiet = run(crawl(row), [old])
    assert quiet.events == () and quiet.touched == ("forum:1",)
    titled = run(crawl(replace(row, price=Price(450.0, "USD", "450$", usd=450.0))), [old])
    assert titled.changes["forum:1"] == (FieldChange("price", "$500", "450$"),)
    edited = replace(old, listing=replace(old.listing, first_post=POST.replace("$500", "$350")))
    reread = run(crawl(row), [edited])  # stored post now says $350, stored price $500
    assert reread.changes["forum:1"] == (FieldChange("price", "$500", "$350"),)
    assert reread.events[0].details["price_drop"] is True


def test_a_price_first_read_in_a_post_never_read_before_is_no_edit() -> None:
    """The page was not fetched at first sight (budget, a failed fetch): its first
    reading fills price and count in quietly; an edit read later is an edit."""
    bare = stored(listing("1", first_post=None, price=None, records=None))
    read = replace(bare.listing, first_post=POST, price=USD500, records=Records(2_000_000, "2M"))
    first = run(crawl(read), [bare])
    assert first.events == () and written(first)["forum:1"].listing.price == USD500
    cheaper = Price(400.0, "USD", "$400", usd=400.0)
    again = run(crawl(replace(read, price=cheaper)), [written(first)["forum:1"]])
    assert again.changes["forum:1"] == (FieldChange("price", "$500", "$400"),)


def test_evidence_is_kept_when_the_list_page_does_not_show_it() -> None:
    old = stored(listing("1", first_post="full text", span=(1995, 2019), country="CN"))
    diff = run(crawl(replace(old.listing, first_post=None, span=None, country=None)), [old])
    assert diff.touched == ("forum:1",) and diff.writes == ()
    edited = run(crawl(replace(old.listing, title="Shanghai police v2", first_post=None)), [old])
    assert written(edited)["forum:1"].listing.first_post == "full text"
    changed = run(crawl(replace(old.listing, first_post="edited text")), [old])
    assert changed.events == ()  # evidence changes are observations only
    assert changed.changes["forum:1"] == (FieldChange("first_post", "full text", "edited text"),)


def test_views_and_replies_alone_do_not_rewrite_a_listing() -> None:
    old = stored(listing("1", views=10, replies=1))
    diff = run(crawl(replace(old.listing, views=99, replies=5)), [old])
    assert (diff.writes, diff.touched) == ((), ("forum:1",))


# ------------------------------------------------- a redesign that renamed listings


def renamed(n: int = 5) -> tuple[dict[str, StoredListing], list[str]]:
    """`n` old listings last seen at hour 0, and the `n` new ids that replaced them,
    recorded quietly at hour 1 (each in its old one's cluster); the new ids."""
    known: dict[str, StoredListing] = {}
    for i in range(n):
        old = stored(listing(f"old{i}", f"Dataset {i}"), first_seen=at(-5), last_seen=at(0))
        new = stored(listing(f"new{i}", f"Dataset {i}"), first_seen=at(1), last_seen=at(1))
        known[old.id] = old
        known[new.id] = replace(new, cluster=old.id)
    return known, [f"forum:new{i}" for i in range(n)]


def test_settled_layout_needs_a_pending_churn_and_the_same_new_ids_again() -> None:
    known, new = renamed()
    churn = layout_suspicion(5, new, known, [5, 5], pending=True)
    assert churn is not None and churn["reason"] == "id_churn"
    left = settled_layout(churn, new, known, layout_pending=True)
    assert left is not None and sorted(s.id for s in left) == [f"forum:old{i}" for i in range(5)]
    assert settled_layout(churn, new, known, layout_pending=False) is None  # no episode yet
    assert settled_layout(None, new, known, layout_pending=True) is None
    drop = {"reason": "count_drop", "listings": 1, "median": 5.0}
    assert settled_layout(drop, new, known, layout_pending=True) is None
    # mostly ids never seen before: the new layout has not shown itself twice yet
    fresh = [*new[:2], "forum:x1", "forum:x2", "forum:x3"]
    assert settled_layout(churn, fresh, known, layout_pending=True) is None


def test_a_new_id_that_vanished_is_not_left_behind_nor_ends_the_churn() -> None:
    known, new = renamed()
    seen = new[1:]  # new0 vanished at hour 2
    # as before: new0's sighting moves the line, so the crawl would look plausible
    assert layout_suspicion(4, seen, known, [5, 5]) is None
    churn = layout_suspicion(4, seen, known, [5, 5], pending=True)
    assert churn is not None and churn["vanished"] == 5
    left = settled_layout(churn, seen, known, layout_pending=True)
    assert left is not None and "forum:new0" not in {s.id for s in left}


def test_diff_crawl_settles_a_renamed_layout() -> None:
    known, new = renamed()
    diff = diff_crawl(
        crawl(*(known[i].listing for i in new), n=2),
        known,
        SRC,
        previous_complete=[5, 5],
        repost_candidates=[],
        first_complete=False,
        layout_pending=True,
    )
    assert not diff.layout_suspected and diff.crawl.error is None
    settled = [e for e in diff.events if e.kind is EventKind.LAYOUT_SETTLED]
    assert len(settled) == 1 and settled[0].details["superseded"] == 5
    by = {e.listing_id: e.details["by"] for e in diff.events if e.kind is EventKind.SUPERSEDED}
    assert by == {f"forum:old{i}": f"forum:new{i}" for i in range(5)}
    written = {s.id: s for s in diff.writes}
    assert {written[f"forum:old{i}"].state for i in range(5)} == {ListingState.AGED_OUT}
    assert written["forum:old3"].superseded_by == "forum:new3"
    # superseded listings are never due for a revisit
    assert not revisit_due(written["forum:old3"], SRC, at(10_000))
    assert diff.joins == ()  # each new id is in its old one's cluster already


def test_a_successor_in_a_cluster_of_its_own_joins_its_predecessors() -> None:
    known, new = renamed(3)
    known = {i: replace(s, cluster=None) if i in new else s for i, s in known.items()}
    known["forum:new1"] = replace(known["forum:new1"], cluster="forum:x")
    diff = diff_crawl(
        crawl(*(known[i].listing for i in new), n=2),
        known,
        SRC,
        previous_complete=[3, 3],
        repost_candidates=[],
        first_complete=False,
        layout_pending=True,
    )
    assert sorted(diff.joins) == [
        ("forum:new0", "forum:old0"),
        ("forum:new2", "forum:old2"),
        ("forum:x", "forum:old1"),
    ]


def crawls_through(
    source: Source, rounds: Sequence[Sequence[Listing]]
) -> tuple[dict[str, StoredListing], list[CrawlDiff]]:
    """`rounds` as successive complete crawls, each diff applied, `layout_pending`
    and the yardstick carried as the pipeline carries them."""
    known: dict[str, StoredListing] = {}
    previous: list[int] = []
    pending = False
    diffs = []
    for n, listings in enumerate(rounds, start=1):
        diff = diff_crawl(
            crawl(*listings, n=n),
            known,
            source,
            previous_complete=previous,
            repost_candidates=[],
            first_complete=n == 1,
            make_id=counter(),
            layout_pending=pending,
        )
        known = apply_diff(known, diff)
        pending = diff.crawl.error is not None
        previous = previous if diff.layout_suspected else [len(listings), *previous]
        diffs.append(diff)
    return known, diffs


def test_a_redesign_that_renamed_most_listings_settles_too() -> None:
    """70% renamed, 30% kept their ids: the kept ones do not count against settling."""
    old = [listing(f"o{i}", f"Dataset {i} alpha{i}") for i in range(10)]
    mix = old[:3] + [listing(f"n{i}", f"Dataset {i} alpha{i}") for i in range(3, 10)]
    known, diffs = crawls_through(SRC, [old, mix, mix, mix])
    assert [kinds(d)[:1] for d in diffs[1:]] == [
        [("layout_changed", None)],
        [("layout_settled", None)],
        [],
    ]
    assert {known[f"forum:o{i}"].superseded_by for i in range(3, 10)} == {
        f"forum:n{i}" for i in range(3, 10)
    }
    assert {known[f"forum:o{i}"].state for i in range(3)} == {ListingState.ACTIVE}


def test_successors_are_one_to_one_and_the_rest_is_left_behind() -> None:
    """Many new listings in one repost cluster still each continue their own old
    one (fingerprint first, then title words); an old listing whose dataset was not
    seen again is left behind, never due for a check, and counts in no backlog."""
    shop = replace(SRC, engine="shop")
    old = [listing(f"o{i}", f"Dataset {i} alpha{i}") for i in range(10)]
    new = [listing(f"n{i}", f"Dataset {i} alpha{i}") for i in range(9)]  # o9: gone
    new[0] = replace(new[0], title="Dataset 0 alpha0 UPDATED v2")  # reworded
    known, diffs = crawls_through(shop, [old, new, new])
    assert {i: known[f"forum:o{i}"].superseded_by for i in range(10)} == {
        **{i: f"forum:n{i}" for i in range(9)},
        9: LEFT_BEHIND,
    }
    gone = [
        e for e in diffs[2].events if e.kind is EventKind.SUPERSEDED and e.details["by"] is None
    ]
    assert [e.listing_id for e in gone] == ["forum:o9"]
    aged = [s for s in known.values() if s.state is ListingState.AGED_OUT]
    assert len(aged) == 10 and not any(revisit_due(s, shop, at(10_000)) for s in aged)
    assert revisit_backlog(known.values(), shop, at(10_000)).aged_out == 0
