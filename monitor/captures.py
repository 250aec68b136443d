"""Saved captures of one source, as `leakmon replay` reads them.

Layout (times: ``YYYYMMDDTHHMMSSZ``; 14 digits as the Wayback Machine and crawlers
write them, bare or with ``_`` or ``-`` between date and time: ``20240601080000``,
``20240601_080000``, ``20240601-080000``; 12 digits, a minute, in the same forms:
``202406010800``, ``20240601_0800``; ISO 8601 -- ``-`` may stand for ``:``;
epoch seconds; or epoch milliseconds, 13 digits as JavaScript tools write them:
``1717228800123``; without a zone they are UTC)::

    DIR/<time>/page1.html          one capture: listing pages in crawl order
    DIR/<time>/page2.html          (page1 is the source URL; pageN+1 is where
                                   pageN's next link leads)
    DIR/<time>/threads/<id>.html   a listing's own page (verification, evidence)
    DIR/<time>.html                flat form: page 1 of a capture ...
    DIR/<time>-p2.html             ... and its page 2

Epoch seconds with a fraction (``1717228800.25``, as ArchiveBox names its snapshot
directories; kept to the microsecond) name capture directories only. In the flat
form a ``.NNN`` of 200-599 before the extension is always the HTTP status
(``1717228800.250.html`` is page 1 of ``1717228800``, saved with status 250), so a
fraction there could not be told from a status; a flat name whose time has one is
an error.

A capture directory without pages holds thread pages only: they serve the latest
listing capture at or before its time. ``<id>`` is the listing's external id,
percent-encoded (``urllib.parse.quote(id, safe="")``; digits stay as they are).
Any page or thread file may carry the HTTP status it was saved with before its
extension (``page2.503.html``, ``threads/1042.404.html``): a final status, 200-599.
Three digits outside that range are never a status: right after a zone-less ISO
time to the second they are its milliseconds (``2024-06-01T08-00-00.123.html``,
with a status ``2024-06-01T08-00-00.123.503.html``); anywhere else the name is an
error. So milliseconds of 200-599 there read as a status (``...00.250.html`` is
08:00:00, status 250): write the zone (``...00.250Z.html``) to keep them. An id
that itself ends in ``.NNN`` is saved with its status (``v1.100.200.html``).
Extensions: html, htm, json. Hidden entries (``.name``) are ignored; anything else
is an error, so that a misnamed file never silently becomes a missing page.

`scan` reads directory listings only (file contents are read when served); the
name parsers are pure. `scan_warc` reads a WARC file instead (`monitor.warc`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from monitor.errors import ConfigError
from monitor.extract.urls import resolve_url, same_host
from monitor.warc import MAX_BODY, WarcResponse, read_warc

_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})[T_-]?(\d{2})(\d{2})(\d{2})?Z?$")
_EPOCH = re.compile(r"^(\d{9,11})(?:\.(\d+))?$")
_EPOCH_MS = re.compile(r"^\d{13}$")
_ISO_DASHED_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ])(\d{2})-(\d{2})(?:-(\d{2}))?(.*)$")
_FLAT = re.compile(r"^(?P<time>.+?)(?:-p(?P<page>\d+))?(?:\.(?P<status>\d{3}))?\.(?:html?|json)$")
_PAGE = re.compile(r"^page(?P<page>\d+)(?:\.(?P<status>\d{3}))?\.(?:html?|json)$")
_THREAD = re.compile(r"^(?P<id>.+?)(?:\.(?P<status>\d{3}))?\.(?:html?|json)$")
_ISO_TO_THE_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}[:-]\d{2}[:-]\d{2}$")  # no zone
_STATUSES = range(200, 600)  # the final HTTP statuses a name may carry
_MAX_PROBLEMS = 10  # names reported in one error


class SavedFile(NamedTuple):
    """One saved response: where it is and the HTTP status it came with; a response
    read from a WARC file carries its body and content type (`path` is the file)."""

    path: Path
    status: int = 200
    data: bytes | None = None
    content_type: str = ""


@dataclass(frozen=True)
class Capture:
    """One listing capture: its time, its pages by number and the thread pages
    (by quoted external id, each with the time it was saved) that serve it; or, read
    from a WARC file, every response by canonical URL (`urls`, with its time)."""

    at: datetime
    name: str
    pages: dict[int, SavedFile] = field(default_factory=dict)
    threads: dict[str, tuple[datetime, SavedFile]] = field(default_factory=dict)
    urls: dict[str, tuple[datetime, SavedFile]] = field(default_factory=dict)


def parse_time(text: str) -> datetime | None:
    """A capture time from a file or directory name, as aware UTC; None if unreadable.
    An epoch fraction is kept to the microsecond (further digits are dropped), epoch
    milliseconds (13 digits) to the millisecond; a 12-digit compact time is a minute."""
    epoch = _EPOCH.match(text)
    if epoch:
        micro = int((epoch[2] or "0").ljust(6, "0")[:6])
        return datetime.fromtimestamp(int(epoch[1]), UTC).replace(microsecond=micro)
    if _EPOCH_MS.match(text):
        whole, millis = divmod(int(text), 1000)
        return datetime.fromtimestamp(whole, UTC).replace(microsecond=millis * 1000)
    compact = _COMPACT.match(text)
    if compact:
        year, month, day, hour, minute, second = (int(p) for p in compact.groups("0"))
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            return None
    dashed = _ISO_DASHED_TIME.match(text)
    if dashed:
        seconds = f":{dashed[4]}" if dashed[4] else ""
        text = f"{dashed[1]}{dashed[2]}:{dashed[3]}{seconds}{dashed[5]}"
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _status(text: str | None) -> int | None:
    """The HTTP status a name carries before its extension (200 when none); None when
    its three digits are no final status (200-599)."""
    code = int(text) if text else 200
    return code if code in _STATUSES else None


class _Flat(NamedTuple):
    time: str
    page: int
    status: str | None


def _flat(name: str) -> _Flat | None:
    """A flat name's time, page number and status digits; None if it has no such form.
    Three digits that are no status right after a zone-less ISO time to the second
    (``2024-06-01T08-00-00.123.html``) are that time's milliseconds."""
    match = _FLAT.match(name)
    if match is None:
        return None
    time, status = match["time"], match["status"]
    no_status = status is not None and _status(status) is None
    if no_status and not match["page"] and _ISO_TO_THE_SECOND.match(time):
        time, status = f"{time}.{status}", None
    return _Flat(time, int(match["page"] or 1), status)


class _Scan:
    """Capture parts collected while scanning, keyed by time."""

    def __init__(self) -> None:
        self.names: dict[datetime, str] = {}
        self.pages: dict[datetime, dict[int, SavedFile]] = {}
        self.threads: dict[datetime, dict[str, SavedFile]] = {}
        self.problems: list[str] = []

    def claim(self, at: datetime, name: str) -> bool:
        """Register `name` as the capture at `at`; two names for one time is an error."""
        other = self.names.setdefault(at, name)
        if other != name:
            self.problems.append(f"{name}: same time as {other} ({at.isoformat()})")
            return False
        return True

    def saved(self, path: Path, status: str | None, name: str, hint: str = "") -> SavedFile | None:
        """`path` with the status its name carries; digits that are no status are a problem."""
        code = _status(status)
        if code is None:
            self.problems.append(f"{name}: .{status} is not an HTTP status (200-599){hint}")
            return None
        return SavedFile(path, code)

    def page(self, at: datetime, number: int, saved: SavedFile, name: str) -> None:
        pages = self.pages.setdefault(at, {})
        if number < 1 or number in pages:
            self.problems.append(f"{name}: page {number} is not a new page number")
            return
        pages[number] = saved


def _scan_directory(scan: _Scan, at: datetime, path: Path) -> None:
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue
        where = f"{path.name}/{entry.name}"
        if entry.is_dir() and entry.name == "threads":
            threads = scan.threads.setdefault(at, {})
            for item in sorted(entry.iterdir()):
                match = _THREAD.match(item.name)
                if item.name.startswith("."):
                    continue
                if not item.is_file() or match is None:
                    scan.problems.append(f"{where}/{item.name}: not a thread page (<id>.html)")
                    continue
                code = match["status"]
                hint = f"; an id ending in .{code} is saved as {match['id']}.{code}.200.html"
                saved = scan.saved(item, code, f"{where}/{item.name}", hint)
                if saved:
                    threads[match["id"]] = saved
            continue
        match = _PAGE.match(entry.name)
        if not entry.is_file() or match is None:
            scan.problems.append(f"{where}: not a listing page (pageN.html) or threads/")
            continue
        saved = scan.saved(entry, match["status"], where)
        if saved:
            scan.page(at, int(match["page"]), saved, where)


def scan(directory: Path) -> list[Capture]:
    """Every capture under `directory`, oldest first, thread pages attached to the
    latest listing capture at or before their time (the earliest saved copy wins).

    Raises ConfigError naming every entry it cannot read (bad names, two entries for
    one time, thread pages older than every listing capture, no capture at all)."""
    if not directory.is_dir():
        raise ConfigError(f"capture directory {directory}: not found or not a directory")
    result = _Scan()
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            at = parse_time(entry.name)
            if at is None:
                result.problems.append(f"{entry.name}: unreadable capture time")
            elif result.claim(at, entry.name):
                _scan_directory(result, at, entry)
            continue
        flat = _flat(entry.name)
        at = parse_time(flat.time) if flat else None
        if flat is None or at is None:
            result.problems.append(f"{entry.name}: unreadable capture time")
        elif "." in flat.time and _EPOCH.match(flat.time):
            result.problems.append(f"{entry.name}: a fractional epoch names a directory only")
        else:
            saved = result.saved(entry, flat.status, entry.name)
            if saved and result.claim(at, flat.time):
                result.page(at, flat.page, saved, entry.name)
    captures = [Capture(at, result.names[at], pages) for at, pages in sorted(result.pages.items())]
    if not captures and not result.problems:
        result.problems.append("no listing capture (<time>/page1.html or <time>.html)")
    for at, threads in sorted(result.threads.items()):
        owner = next((c for c in reversed(captures) if c.at <= at), None)
        if owner is None:
            result.problems.append(f"{result.names[at]}: thread pages before any listing capture")
            continue
        for key, saved in threads.items():
            owner.threads.setdefault(key, (at, saved))
    if result.problems:
        shown = result.problems[:_MAX_PROBLEMS]
        more = len(result.problems) - len(shown)
        tail = f" (and {more} more)" if more else ""
        raise ConfigError(f"capture directory {directory}: {'; '.join(shown)}{tail}")
    return captures


_MAX_REDIRECTS = 5


def is_warc(path: Path) -> bool:
    """True when `path` names a WARC file (``.warc``, ``.warc.gz``) or a WACZ."""
    return path.name.lower().endswith((".warc", ".warc.gz", ".wacz"))


def scan_warc(path: Path, source_url: str, max_bytes: int = MAX_BODY) -> list[Capture]:
    """The captures of a WARC file, oldest first: each response for `source_url`
    starts one at its WARC-Date, and every later response, up to the next one,
    belongs to it (the first response of a URL wins). Responses before the first
    capture belong to none. A redirect is followed within its capture, on the
    source's host; one whose target the capture lacks is left out (a failed fetch).
    Only responses on the source's host are held, each body to `max_bytes` + 1
    bytes (the source's `max_bytes`: a longer page fails as too large when served).

    Raises ConfigError when the file is unreadable or holds no response for
    `source_url`."""
    start = resolve_url(source_url, source_url) or source_url
    groups: list[tuple[datetime, dict[str, WarcResponse]]] = []
    elsewhere: list[str] = []  # URLs on other hosts, not held (named when nothing is left)
    canonical: dict[str, str | None] = {}  # each URL resolved once

    def canon(url: str) -> str | None:
        if url not in canonical:
            canonical[url] = resolve_url(url, url)
        return canonical[url]

    def on_host(url: str) -> bool:  # by the canonical URL: an archive's links unwrapped
        if same_host(canon(url) or url, start):
            return True
        if len(elsewhere) < 3:
            elsewhere.append(url)
        return False

    responses = read_warc(path, max_body=max_bytes + 1, keep=on_host)
    for response in sorted(responses, key=lambda r: r.at):  # stable: file order in a tie
        url = canon(response.url)
        if url is None:
            continue
        if url == start and (not groups or response.at > groups[-1][0]):
            groups.append((response.at, {}))
        if groups:
            groups[-1][1].setdefault(url, response)
    if not groups:
        seen = ", ".join(sorted({r.url for r in responses})[:3] or elsewhere) or "no responses"
        raise ConfigError(f"WARC file {path}: no response for the source URL {source_url} ({seen})")
    return [Capture(at, _warc_name(at), urls=_followed(path, group, start)) for at, group in groups]


def _warc_name(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S.%fZ" if at.microsecond else "%Y%m%dT%H%M%SZ")


def _followed(
    path: Path, group: dict[str, WarcResponse], source_url: str
) -> dict[str, tuple[datetime, SavedFile]]:
    """`group` as saved files, each redirect replaced by the response it leads to."""
    out: dict[str, tuple[datetime, SavedFile]] = {}
    for url, response in group.items():
        final: WarcResponse | None = response
        for _ in range(_MAX_REDIRECTS):
            if final is None or not 300 <= final.status < 400:
                break
            location = final.headers.get("location", "")
            target = resolve_url(location, final.url) if location else None
            ok = target is not None and same_host(target, source_url)
            final = group.get(target) if ok and target is not None else None
        if final is not None and not 300 <= final.status < 400:
            saved = SavedFile(path, final.status, final.body, final.content_type)
            out[url] = (final.at, saved)
    return out
