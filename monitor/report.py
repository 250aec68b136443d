"""Terminal rendering of stored rows for the CLI. Pure: rows in, text out.

Every value that came from a page is hostile: control characters (ANSI escapes,
bidi overrides, carriage returns) are stripped before anything reaches a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.text import safe_line


def clean(value: Any, limit: int = 200) -> str:
    """One safe line: control, zero-width and bidi characters removed, capped."""
    return safe_line(value, limit)


def fmt_records(count: Any) -> str:
    return f"{int(count):,}" if isinstance(count, int | float) else "-"


def fmt_price(row: Mapping[str, Any]) -> str:
    raw = row.get("price_raw")
    if raw:
        return clean(raw, 40)
    if row.get("price_negotiable"):
        return "negotiable"
    return "-"


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """A plain left-aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def listings_table(rows: Sequence[Mapping[str, Any]]) -> str:
    body = [
        [
            clean(r["id"], 40),
            clean(r["state"]),
            clean(r.get("seller") or "-", 20),
            fmt_records(r.get("records")),
            fmt_price(r),
            clean(r.get("last_seen", ""))[:16],
            clean(r["title"], 60),
        ]
        for r in rows
    ]
    return table(body, ["id", "state", "seller", "records", "price", "last seen", "title"])


def events_table(rows: Sequence[Mapping[str, Any]]) -> str:
    body = [
        [
            clean(r["at"])[:19],
            clean(r["kind"]),
            clean(r.get("source"), 30),
            clean(r.get("listing_id") or "-", 40),
            describe_event(r),
        ]
        for r in rows
    ]
    return table(body, ["at", "kind", "source", "listing", "details"])


def describe_event(row: Mapping[str, Any]) -> str:
    """A short human summary of an event's details."""
    details = row.get("details") or {}
    kind = row.get("kind")
    if kind == "changed":
        parts = []
        for change in details.get("changes", []):
            before, after = elide_common(
                clean(change.get("before"), 300), clean(change.get("after"), 300)
            )
            parts.append(f"{clean(change.get('field'))}: {before[:60]} → {after[:60]}")
        return "; ".join(parts) or "changed"
    if kind == "reposted":
        return (
            f"same dataset as {clean(details.get('original_id'), 40)} "
            f"({clean(details.get('original_title'), 50)})"
        )
    if kind == "deleted":
        return f"last seen {clean(details.get('last_seen'))[:16]}"
    if kind == "superseded" and details.get("by"):
        return f"continues as {clean(details.get('by'), 60)} after a redesign"
    if kind == "superseded":
        return "left behind by a redesign: no listing of its dataset on the page"
    if kind == "restored" and details.get("deleted_at"):
        how = f"; {clean(details.get('how'), 40)}" if details.get("how") else ""
        return f"deleted {clean(details.get('deleted_at'))[:16]}{how}"
    if not details:
        return ""
    return clean(json.dumps(details, ensure_ascii=False, default=str), 100)


def elide_common(before: str, after: str, keep: int = 12) -> tuple[str, str]:
    """Both strings with a long common prefix replaced by "…", so the edit shows."""
    common = 0
    for a, b in zip(before, after, strict=False):
        if a != b:
            break
        common += 1
    if common <= keep + 8:
        return before, after
    cut = common - keep
    return "…" + before[cut:], "…" + after[cut:]


def listing_detail(row: Mapping[str, Any]) -> str:
    fields = [
        ("id", row["id"]),
        ("title", row["title"]),
        ("seller", row.get("seller") or "-"),
        ("records", fmt_records(row.get("records"))),
        ("price", fmt_price(row)),
        ("state", row["state"]),
        ("url", row["url"]),
        ("posted", row.get("posted_at") or row.get("posted_raw") or "-"),
        ("first seen", row.get("first_seen")),
        ("last seen", row.get("last_seen")),
        ("deleted at", row.get("deleted_at") or "-"),
        ("cluster", row.get("cluster") or "-"),
    ]
    return "\n".join(f"{name:>11}: {clean(value, 300)}" for name, value in fields)


def timeline(events: Sequence[Mapping[str, Any]]) -> str:
    """One line per event, oldest first."""
    lines = [f"  {clean(e['at'])[:19]}  {clean(e['kind']):<9} {describe_event(e)}" for e in events]
    return "\n".join(lines) or "  (no events)"
