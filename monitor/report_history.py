"""Rendering of listing history for the CLI: the `show` timeline, seller tables,
stats and CSV. Pure: rows in, text out. Page-derived values pass `report.clean`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from monitor.report import clean, describe_event, fmt_price, fmt_records, table

TRACKED = frozenset({"title", "seller", "price", "records", "data_types"})
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def duration(seconds: float) -> str:
    """'3d 4h', '5h 12m', '40m', '12s'."""
    s = int(max(seconds, 0))
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{s}s"


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def timeline(
    row: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    observations: Sequence[Mapping[str, Any]],
    verifications: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    cluster: Sequence[Mapping[str, Any]],
) -> list[dict[str, str]]:
    """Everything that happened to a listing as (at, what, detail) dicts, oldest first."""
    items: list[dict[str, str]] = [
        {"at": row["first_seen"], "what": "first seen", "detail": clean(row["title"], 80)}
    ]
    for e in events:
        detail = describe_event(e)
        if e["kind"] == "deleted":
            up = seconds_between(row["first_seen"], e["details"].get("deleted_before"))
            how = clean(e["details"].get("how") or "", 60)
            after = clean(e["details"].get("deleted_after") or "")[:16]
            detail = f"gone after {after}; {how}" + (f"; up for {duration(up)}" if up else "")
        elif e["kind"] == "restored" and e["details"].get("deleted_at"):
            detail = restored_detail(e["details"])
        items.append({"at": e["at"], "what": str(e["kind"]), "detail": detail})
    for o in observations:
        if o["field"] not in TRACKED:
            change = f"{clean(o['before'], 40)} → {clean(o['after'], 40)}"
            items.append({"at": o["at"], "what": "evidence", "detail": f"{o['field']}: {change}"})
    for v in verifications:
        what = f"verified {v['verdict']}"
        items.append({"at": v["at"], "what": what, "detail": clean(v["reason"], 80)})
    for a in alerts:
        when = a["sent_at"] or a["created"]
        detail = f"{a['kind']} → {clean(a['target'], 30)} (rule {clean(a['rule'], 30)})"
        items.append({"at": when, "what": f"alert {a['status']}", "detail": detail})
    for c in cluster:
        detail = f"{clean(c['id'], 40)} by {clean(c['seller'] or '-', 20)} ({c['state']})"
        items.append({"at": c["first_seen"], "what": "same dataset", "detail": detail})
    return sorted(items, key=lambda i: i["at"])


def restored_detail(details: Mapping[str, Any]) -> str:
    """'back after 6h 0m (deleted 2024-06-02 16:00); found on its own page'."""
    gone = details.get("gone_for")
    back = f"back after {duration(gone)} " if isinstance(gone, int | float) else "back "
    when = clean(details.get("deleted_at") or "")[:16].replace("T", " ")
    how = details.get("how")
    found = "; found on its own page" if how == "own page" else f"; {clean(how, 40)}" if how else ""
    return f"{back}(deleted {when}){found}"


def timeline_text(items: Sequence[Mapping[str, str]]) -> str:
    lines = [f"  {clean(i['at'])[:19]}  {i['what']:<16} {i['detail']}" for i in items]
    return "\n".join(lines) or "  (nothing yet)"


def evidence_text(row: Mapping[str, Any]) -> str:
    """The richer fields of a listing, one per line (only those known)."""
    span = f"{row['span_from']}-{row['span_to']}" if row.get("span_from") else None
    fields = [
        ("data types", ", ".join(row.get("data_types") or []) or None),
        ("size", f"{row['size_bytes']:,} bytes" if row.get("size_bytes") else None),
        ("span", span),
        ("country", row.get("country")),
        ("first post", row.get("first_post")),
    ]
    return "\n".join(f"{name:>11}: {clean(value, 400)}" for name, value in fields if value)


def sellers_table(rows: Sequence[Mapping[str, Any]]) -> str:
    body = [
        [
            clean(r["handle"], 30),
            str(r["sources"]),
            str(r["listings"]),
            str(r["active"]),
            str(r["deleted"]),
            fmt_records(r["total_records"]),
            clean(r["first_seen"])[:16],
            clean(r["last_seen"])[:16],
        ]
        for r in rows
    ]
    headers = ["seller", "sources", "listings", "active", "deleted", "records", "first", "last"]
    return table(body, headers)


def seller_listings_table(rows: Sequence[Mapping[str, Any]]) -> str:
    body = [
        [
            clean(r["id"], 40),
            clean(r["state"]),
            fmt_records(r.get("records")),
            fmt_price(r),
            clean(r["first_seen"])[:16],
            clean(r["title"], 60),
        ]
        for r in rows
    ]
    return table(body, ["id", "state", "records", "price", "first seen", "title"])


def stats_text(stats: Mapping[str, Any]) -> str:
    lines = []
    for key, value in stats.items():
        if isinstance(value, Mapping):
            parts = ", ".join(f"{clean(k, 40)} {v:,}" for k, v in sorted(value.items()))
            value = parts or "-"
        elif isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:,}"  # 2,015,318,000 records offered
        lines.append(f"{key.replace('_', ' '):>24}: {value if value is not None else '-'}")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        text = "; ".join(str(v) for v in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    text = clean(text, 10_000)
    return "'" + text if text.startswith(_FORMULA) else text  # no spreadsheet formulas


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV with a header; lists joined by "; ", page text single-line and
    defused against spreadsheet formula injection."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = list(rows[0].keys())
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()
