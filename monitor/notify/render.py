"""Alert -> (title, body, apprise body_format) for one target format.

An alert's title and body are plain text; each body line is ``Label: value`` with
a label written by leakmon and a page-derived value. Every format treats the value
as hostile: it can never become markup, a link, a mention or a new line.

- ``text``: plain text (body_format ``text``).
- ``markdown``: CommonMark, one list item per line, labels bold; page text is
  backslash-escaped so it cannot make links, images, HTML or emphasis.
- ``html``: body fully HTML-escaped, labels bold; the title keeps ``&`` and
  quotes (it is an email subject) but ``<`` and ``>`` become entities because
  apprise inlines the title into HTML for services without a title field.
- ``slack``: CommonMark for apprise's Slack plugin, which converts it to Slack
  mrkdwn and entity-escapes ``&``, ``<`` and ``>`` itself (escaping them here too
  would show ``&amp;lt;`` in Slack). So page text cannot form ``<!channel>`` or
  ``<url|label>`` even without that, ``<`` ``>`` ``@`` and the styling
  characters ``* _ ~ ` \\`` are replaced by their visible fullwidth twins, and
  ``[ ] ( ) ! #`` are backslash-escaped (apprise turns ``[a](b)`` into a link).
  URL values become code spans (exact, copyable, not auto-linked).

In every format the broadcast mentions ``@channel``, ``@here``, ``@everyone`` and
``@all`` are neutralised with a fullwidth ``＠``, and the title is one line.
"""

from __future__ import annotations

import html
import re

from monitor.errors import NotifyError
from monitor.models import Alert
from monitor.text import safe_line

FORMATS = ("text", "markdown", "html", "slack")

_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone|all)\b)", re.IGNORECASE)
_LABEL = re.compile(r"[A-Za-z][A-Za-z ]{0,40}")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~|&!#])")
_SLACK_TWINS = str.maketrans(
    {"@": "＠", "<": "＜", ">": "＞", "*": "＊", "_": "＿", "~": "～", "`": "｀", "\\": "＼"}
)
_SLACK_SPECIAL = re.compile(r"([\[\]()!#])")
_URL = re.compile(r"\b(https?|ftp)://([^/\s?#]+)", re.IGNORECASE)
_ONION = re.compile(r"(?<!\[)\.onion\b", re.IGNORECASE)
_SLACK_CODE_TWINS = str.maketrans({"@": "＠", "<": "＜", ">": "＞", "`": "｀"})


def one_line(text: str) -> str:
    """Hostile text as one safe line (see monitor.text.safe_line)."""
    return safe_line(text)


def _split(line: str) -> tuple[str | None, str]:
    label, sep, value = line.partition(": ")
    return (label, value) if sep and _LABEL.fullmatch(label) else (None, line)


def _markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _slack(text: str) -> str:
    return text.translate(_SLACK_TWINS)


def _slack_value(label: str | None, value: str) -> str:
    if label is not None and label.endswith("URL"):
        return f"`{value.translate(_SLACK_CODE_TWINS)}`"
    return _SLACK_SPECIAL.sub(r"\\\1", _slack(value))


def defang(text: str) -> str:
    """Links made unclickable the way threat-intelligence reports write them:
    ``http://x.onion/a`` -> ``hxxp://x[.]onion/a``; bare ``.onion`` names too."""

    def url(match: re.Match[str]) -> str:
        scheme = match.group(1).replace("tt", "xx").replace("TT", "XX")
        return f"{scheme}://{match.group(2).replace('.', '[.]')}"

    return _ONION.sub("[.]onion", _URL.sub(url, text))


def render(alert: Alert, fmt: str, *, defang_links: bool = True) -> tuple[str, str, str]:
    """(title, body, body_format) of `alert` for a target of format `fmt`.

    With `defang_links` (the default) every link in the title and body is defanged. Raises
    NotifyError for an unknown format.
    """
    title = _BROADCAST.sub("＠", one_line(alert.title))
    lines = [
        _split(_BROADCAST.sub("＠", one_line(raw)))
        for raw in alert.body.splitlines()
        if one_line(raw)
    ]
    if defang_links:
        title = defang(title)
        lines = [(label, defang(value)) for label, value in lines]
    if fmt == "text":
        body = "\n".join(f"{label}: {value}" if label else value for label, value in lines)
        return title, body, "text"
    if fmt == "markdown":
        items = (
            f"- **{label}:** {_markdown(value)}" if label else f"- {_markdown(value)}"
            for label, value in lines
        )
        return _markdown(title), "\n".join(items), "markdown"
    if fmt == "html":
        rows = (
            f"<b>{label}:</b> {html.escape(value)}" if label else html.escape(value)
            for label, value in lines
        )
        safe_title = title.replace("<", "&lt;").replace(">", "&gt;")
        return safe_title, "<br>\n".join(rows), "html"
    if fmt == "slack":
        parts = ((label, _slack_value(label, value)) for label, value in lines)
        body = "\n".join(f"**{label}:** {value}" if label else value for label, value in parts)
        return _slack(title), body, "markdown"
    raise NotifyError(f"unknown message format {fmt!r} (expected one of {', '.join(FORMATS)})")
