"""Pure: events x rules x targets -> alerts (with their plain-text title and body).

Matching works on a normalised text (NFKC, casefold, format characters such as
zero-width spaces removed, whitespace collapsed) so ``Sh\\u200banghai`` or fullwidth
letters cannot slip past a keyword. Keywords match whole words (a multi-word keyword
as a phrase); keywords containing CJK characters match as substrings.

Alert bodies are ``Label: value`` lines: the label is always ours, the value is
page-derived text, sanitised and single-line. ``notify.render`` relies on this.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.models import Alert, Event, EventKind, Listing, NotifyTarget, Price, Records, Rule
from monitor.text import safe_line

FIELD_LIMIT = 300  # characters per page-derived field in an alert
_TITLE_PART_LIMIT = 150  # the listing title inside an alert title
_VALUE_LIMIT = 100  # one before/after value of a change

_SPACES = re.compile(r"\s+")
_CJK = re.compile(
    r"[\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)
_LABEL = re.compile(r"[A-Za-z][A-Za-z ]*")


def clean(text: object, limit: int = FIELD_LIMIT) -> str:
    """Hostile text as one safe display line of at most `limit` characters."""
    return safe_line(text, limit)


def normalize(text: str) -> str:
    """Matching form of `text`: NFKC, casefold, no format characters, single spaces."""
    s = unicodedata.normalize("NFKC", text)
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Cf")
    s = unicodedata.normalize("NFKC", s.casefold())
    return _SPACES.sub(" ", s).strip()


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    escaped = re.escape(keyword)
    if _CJK.search(keyword):
        return re.compile(escaped)
    return re.compile(rf"(?<!\w){escaped}(?!\w)")


def _patterns(keywords: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    normalised = (normalize(k) for k in keywords)
    return tuple(_keyword_pattern(k) for k in dict.fromkeys(normalised) if k)


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its keywords compiled; build with `compile_rule`."""

    rule: Rule
    any: tuple[re.Pattern[str], ...]
    all: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]
    regex: tuple[re.Pattern[str], ...]
    sellers: frozenset[str]

    def matches_event(self, event: Event) -> bool:
        """The event's kind is one the rule wants (PRICE_DROP: a CHANGED price drop)."""
        if event.kind in self.rule.events:
            return True
        return (
            event.kind is EventKind.CHANGED
            and EventKind.PRICE_DROP in self.rule.events
            and event.details.get("price_drop") is True
        )

    def matches_listing(self, listing: Listing) -> bool:
        """Source, seller, record count and keywords all agree with the rule."""
        rule = self.rule
        if rule.sources and listing.source not in rule.sources:
            return False
        if self.sellers and normalize(listing.seller or "") not in self.sellers:
            return False
        if rule.min_records is not None and (
            listing.records is None or listing.records.count < rule.min_records
        ):
            return False
        if rule.min_price_usd is not None and (
            listing.price is None or (listing.price.usd or 0) < rule.min_price_usd
        ):
            return False
        if rule.data_types and not set(rule.data_types) & set(listing.data_types):
            return False
        if rule.countries and (listing.country or "").upper() not in rule.countries:
            return False
        parts = [listing.title, listing.seller or ""]
        if rule.first_post and listing.first_post:
            parts.append(listing.first_post)
        text = normalize(" ".join(parts))
        if self.any and not any(p.search(text) for p in self.any):
            return False
        if not all(p.search(text) for p in self.all):
            return False
        if self.regex and not any(p.search(text) for p in self.regex):
            return False
        return not any(p.search(text) for p in self.exclude)


def compile_rule(rule: Rule) -> CompiledRule:
    """Compile a rule's keywords and sellers once for many events."""
    return CompiledRule(
        rule=rule,
        any=_patterns(rule.any),
        all=_patterns(rule.all),
        exclude=_patterns(rule.exclude),
        regex=tuple(re.compile(r, re.IGNORECASE) for r in rule.regex),
        sellers=frozenset(normalize(s) for s in rule.sellers if normalize(s)),
    )


def alert_id(event_id: str, rule: str, target: str) -> str:
    """Deterministic outbox key of one (event, rule, target)."""
    return hashlib.sha256(f"{event_id}|{rule}|{target}".encode()).hexdigest()[:20]


SEVERITIES = ("low", "medium", "high", "critical")


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 1


def _target_names(rule: Rule, targets: Sequence[NotifyTarget]) -> tuple[str, ...]:
    # A rule naming a target that is not configured still gets its alert: the
    # dispatcher fails it visibly ("no longer configured") instead of dropping it.
    # A target whose min_severity is above the rule's severity gets nothing.
    floors = {t.name: _rank(t.min_severity) for t in targets}
    names = rule.targets or tuple(floors)
    return tuple(n for n in dict.fromkeys(names) if _rank(rule.severity) >= floors.get(n, 0))


def alerts_for(
    events: Sequence[Event],
    listings: Mapping[str, Listing],
    rules: Sequence[Rule],
    targets: Sequence[NotifyTarget],
    now: datetime,
) -> tuple[Alert, ...]:
    """One pending Alert per (listing event, matching rule, rule target).

    Events without a listing in `listings` (source events) raise no rule alerts.
    A rule without targets fans out to every configured target. Ids are
    deterministic, so re-running on the same events yields the same alerts.
    """
    compiled = [compile_rule(r) for r in rules]
    alerts: dict[str, Alert] = {}
    for event in events:
        listing = listings.get(event.listing_id) if event.listing_id else None
        if listing is None:
            continue
        for cr in compiled:
            if not (cr.matches_event(event) and cr.matches_listing(listing)):
                continue
            title, body = describe(event, listing, cr.rule)
            for target in _target_names(cr.rule, targets):
                aid = alert_id(event.id, cr.rule.name, target)
                alerts.setdefault(
                    aid,
                    Alert(
                        id=aid,
                        event_id=event.id,
                        rule=cr.rule.name,
                        target=target,
                        severity=cr.rule.severity,
                        title=title,
                        body=body,
                        created=now,
                    ),
                )
    return tuple(alerts.values())


# ------------------------------------------------------------------ alert text


def _when(value: object) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return clean(value, _VALUE_LIMIT)
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value  # naive: taken as UTC
        return utc.strftime("%Y-%m-%d %H:%M UTC")
    return "unknown" if value is None else clean(value, _VALUE_LIMIT)


def _day(value: object) -> str:
    return _when(value)[:10]


def _records(records: Records | None) -> str:
    if records is None:
        return "unknown"
    count = f"{records.count:,}"
    raw = clean(records.raw, _VALUE_LIMIT)
    return count if raw in ("", count, str(records.count)) else f"{count} ({raw})"


def _price(price: Price | None) -> str:
    if price is None:
        return "unknown"
    text = clean(price.raw) or f"{price.amount or ''} {price.currency or ''}".strip()
    if price.usd is not None and price.currency != "USD":
        text += f" (≈ ${price.usd:,.0f})"
    return text


def _value(value: Any) -> str:
    """One before/after value of a change (lifecycle gives text, raw price text or a
    record count), as short plain text."""
    if value is None:
        return "none"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return clean(value, _VALUE_LIMIT)


def _changes(details: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, before, after) from details["changes"], a list of
    {"field", "before", "after"} mappings."""
    return [
        (clean(ch["field"], 40), _value(ch.get("before")), _value(ch.get("after")))
        for ch in details.get("changes") or ()
        if isinstance(ch, Mapping) and ch.get("field")
    ]


def _change_label(field_name: str) -> str:
    label = field_name.replace("_", " ")
    return f"Changed {label}" if _LABEL.fullmatch(label) else "Changed field"


def _uptime(first: object, last: object) -> str:
    """'3 days 4 hours' between two ISO timestamps, or '' when unknown."""
    try:
        start = datetime.fromisoformat(str(first))
        end = datetime.fromisoformat(str(last))
    except ValueError:
        return ""
    return _hours_text((end - start).total_seconds())


def _hours_text(seconds: float) -> str:
    """'3 days 4 hours', '6 hours'."""
    hours = max(0, int(seconds // 3600))
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} hours" if days else f"{hours} hours"


def describe(event: Event, listing: Listing, rule: Rule) -> tuple[str, str]:
    """Plain-text (title, body) of an alert; every page-derived string is cleaned."""
    d = event.details
    name = f"{clean(listing.title, _TITLE_PART_LIMIT)} ({clean(listing.source, 60)})"
    suffix = ""
    extra: list[tuple[str, str]] = []
    if event.kind is EventKind.CHANGED:
        changes = _changes(d)
        summary = "; ".join(
            "title changed" if f == "title" else f"{f.replace('_', ' ')} {b} → {a}"
            for f, b, a in changes
        )
        suffix = f": {summary}" if summary else ""
        extra = [(_change_label(f), f"{b} → {a}") for f, b, a in changes]
        if d.get("price_drop") is True:
            extra.append(("Price drop", "yes"))
    elif event.kind is EventKind.DELETED:
        suffix = f", seen {_day(d.get('first_seen'))} to {_day(d.get('last_seen'))}"
        extra = [
            ("First seen", _when(d.get("first_seen"))),
            ("Last seen", _when(d.get("last_seen"))),
        ]
        up = _uptime(d.get("first_seen"), d.get("last_seen"))
        if up:
            extra.append(("Up for", up))
        extra.append(("Evidence", f"leakmon show {clean(listing.id, 120)}"))
    elif event.kind is EventKind.RESTORED and d.get("deleted_at"):
        extra = [("Deleted at", _when(d.get("deleted_at")))]
        gone = d.get("gone_for")
        if isinstance(gone, int | float) and not isinstance(gone, bool):
            extra.append(("Gone for", _hours_text(gone)))
        if d.get("how") == "own page":
            extra.append(("Found", "on its own page (not on the crawled list pages)"))
        elif d.get("how"):
            extra.append(("Found", clean(d["how"], _VALUE_LIMIT)))
    elif event.kind is EventKind.REPOSTED:
        orig_title = clean(d.get("original_title") or "unknown", _TITLE_PART_LIMIT)
        orig_source = clean(d.get("original_source") or "unknown", 60)
        suffix = f" (first seen as {orig_title} on {orig_source})"
        extra = [("Original", orig_title), ("Original source", orig_source)]
        if d.get("original_seller"):
            extra.append(("Original seller", clean(d["original_seller"])))
        if d.get("original_id"):
            extra.append(("Original listing", clean(d["original_id"])))
    title = clean(f"[{rule.severity}] {event.kind.value}: {name}{suffix}", FIELD_LIMIT)
    lines = [
        ("Seller", clean(listing.seller) if listing.seller else "unknown"),
        ("Records", _records(listing.records)),
        ("Price", _price(listing.price)),
        ("Source", clean(listing.source)),
        ("URL", clean(listing.url)),
        ("Rule", clean(rule.name)),
        ("Detected", _when(event.at)),
    ]
    if listing.posted_at is not None:
        lines.append(("Posted", _when(listing.posted_at)))
    if listing.data_types:
        lines.insert(3, ("Data types", clean(", ".join(listing.data_types))))
    if listing.country:
        lines.insert(3, ("Country", clean(listing.country, 8)))
    body = "\n".join(f"{label}: {value}" for label, value in [*lines, *extra])
    return title, body


_OPS_KINDS = {
    EventKind.SOURCE_DOWN: "high",
    EventKind.LAYOUT_CHANGED: "high",
    EventKind.LAYOUT_SETTLED: "low",
    EventKind.SOURCE_RECOVERED: "low",
}


def ops_alerts(events: Sequence[Event], target: str | None, now: datetime) -> tuple[Alert, ...]:
    """One alert to the [ops] target per source-health event (down, session expired,
    layout changed or settled, recovered); none without an ops target."""
    if target is None:
        return ()
    alerts = []
    for event in events:
        severity = _OPS_KINDS.get(event.kind)
        if severity is None or event.listing_id is not None:
            continue
        title, body = describe_source_event(event)
        alerts.append(
            Alert(
                id=alert_id(event.id, "ops", target),
                event_id=event.id,
                rule="ops",
                target=target,
                severity=severity,
                title=f"[{severity}] {title}",
                body=body,
                created=now,
            )
        )
    return tuple(alerts)


def describe_source_event(event: Event) -> tuple[str, str]:
    """(title, body) of a source-health event; every value sanitised."""
    d = event.details
    source = clean(event.source, 60)
    lines = [("Source", source), ("Detected", _when(event.at))]
    if event.kind is EventKind.SOURCE_DOWN:
        why = "session expired (login wall)" if d.get("session_expired") else "down"
        title = f"source {why}: {source} ({d.get('streak', '?')} failed crawls in a row)"
        lines += [("Outcome", clean(d.get("outcome"), 40)), ("Error", clean(d.get("error")))]
    elif event.kind is EventKind.SOURCE_RECOVERED:
        title = f"source recovered: {source} after {d.get('after_failures', '?')} failed crawls"
    elif event.kind is EventKind.LAYOUT_SETTLED:
        title = (
            f"layout settled: {source} lists under new ids; {d.get('superseded', '?')} of "
            f"{d.get('left_behind', '?')} earlier listings continue under them"
        )
    else:
        title = f"layout changed? {source}: listings held back, check the selectors"
        lines += [("Details", clean(", ".join(f"{k}={v}" for k, v in d.items())))]
    return clean(title), "\n".join(f"{label}: {value}" for label, value in lines)
