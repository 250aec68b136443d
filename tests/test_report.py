"""Terminal rendering: hostile text never reaches the terminal raw."""

from __future__ import annotations

from monitor.report import clean, describe_event, elide_common, listings_table, timeline


def test_clean_strips_escapes_bidi_and_newlines() -> None:
    hostile = "\x1b[2J\x1b]0;pwned\x07Shang\u200bhai\u202e police\r\nDB"
    out = clean(hostile)
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\n" not in out and "\r" not in out
    assert "Shanghai" in out
    assert clean("x" * 500, 10) == "x" * 9 + "…"
    assert clean(None) == ""


def test_elide_common_shows_the_edit() -> None:
    before = "[SELLING] Shanghai police database - 1 billion records - 10 BTC"
    after = "[SELLING] Shanghai police database - 1 billion records - 8 BTC"
    b, a = elide_common(before, after)
    assert b.startswith("…") and b.endswith("10 BTC")
    assert a.startswith("…") and a.endswith("8 BTC")
    assert elide_common("10 BTC", "8 BTC") == ("10 BTC", "8 BTC")


def test_describe_events() -> None:
    changed = {
        "kind": "changed",
        "details": {"changes": [{"field": "price", "before": "10 BTC", "after": "8 BTC"}]},
    }
    assert describe_event(changed) == "price: 10 BTC → 8 BTC"
    repost = {"kind": "reposted", "details": {"original_id": "f:1", "original_title": "T"}}
    assert "same dataset as f:1" in describe_event(repost)
    assert describe_event({"kind": "new", "details": {}}) == ""
    restored = {
        "kind": "restored",
        "details": {"deleted_at": "2024-06-02T16:00:00+00:00", "how": "own page\x1b[2J"},
    }
    assert describe_event(restored) == "deleted 2024-06-02T16:00; own page [2J"  # no ESC


def test_tables_render_hostile_rows_on_one_line_each() -> None:
    row = {
        "id": "f:1",
        "state": "active",
        "seller": "evil\x1b[31m",
        "records": 1_000_000,
        "price_raw": "10 BTC",
        "last_seen": "2026-01-01T00:00:00+00:00",
        "title": "line1\nline2\u202e",
    }
    out = listings_table([row])
    assert len(out.splitlines()) == 3
    assert "\x1b" not in out and "1,000,000" in out
    events = [{"at": "2026-01-01T00:00:00", "kind": "new", "details": {}}]
    assert "new" in timeline(events)
    assert timeline([]) == "  (no events)"
