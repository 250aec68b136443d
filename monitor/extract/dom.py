"""Parse hostile HTML with lexbor in bounded time.

Two inputs make lexbor's tree builder quadratic: deep nesting (every block start
tag scans the stack of open elements; 40 000 nested ``<div>`` in 200 KB take seconds)
and long ``<select>`` lists when DOM mutation events are on. `parse_html` parses
without mutation events and, when a cheap upper bound of the nesting depth exceeds
`MAX_DEPTH`, first drops the start and end tags nested deeper than that, keeping
their text. Script and style elements are removed from the tree afterwards so that
their text never reaches a field; a line break reads as a space.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

MAX_DEPTH = 256  # real pages nest < 100 deep; lexbor's worst case grows with depth
MAX_CHARS = 10_000_000  # fetch caps pages far below this; a last resort

# Start/end tag names, with script/style bodies and comments skipped (their "<b" is
# not markup). Case-variant <ScRiPt> bodies are counted as markup: that only
# over-estimates the depth.
_TAGS = re.compile(
    r"<(?:script|style|SCRIPT|STYLE)\b(?s:.*?)(?:</(?:script|style|SCRIPT|STYLE)|\Z)"
    r"|<!--(?s:.*?)(?:-->|\Z)"
    r"|<(/?[a-zA-Z][a-zA-Z0-9]*)"
)
# Elements that never nest by themselves: void elements and those whose end tag is
# optional (the next sibling closes them), plus the implied document skeleton.
_FLAT = frozenset(
    ("area", "base", "br", "col", "colgroup", "embed", "hr", "img", "input", "link", "meta",
     "param", "source", "track", "wbr", "p", "li", "dt", "dd", "option", "optgroup", "tr",
     "td", "th", "tbody", "thead", "tfoot", "caption", "rb", "rt", "rtc", "rp", "html",
     "head", "body", "frame", "keygen", "basefont", "bgsound")
)  # fmt: skip
_UNSAFE_TAGS = ["script", "style"]


def parse_html(html: str) -> LexborHTMLParser:
    """Parse `html` (any text) into a lexbor tree without scripts and styles; never
    raises on content."""
    html = html[:MAX_CHARS].replace("<br", " <br").replace("<BR", " <BR")  # "a<br>b": "a b"
    if _depth_bound(html) > MAX_DEPTH:
        html = _flatten(html)
    tree = LexborHTMLParser(html, options=LexborDocumentOptions.WO_EVENTS)
    tree.strip_tags(_UNSAFE_TAGS)
    return tree


def _depth_bound(html: str) -> int:
    """Upper bound of the element nesting depth lexbor will build for `html`.

    Each name keeps its own count of open elements; an end tag only lowers the count
    of its own name and never below zero, as the tree builder ignores an end tag
    without a matching open element.
    """
    open_by_name: dict[str, int] = {}
    get = open_by_name.get
    depth = peak = 0
    for token in _TAGS.findall(html.lower() if not html.islower() else html):
        if not token or token in _FLAT:
            continue
        if token[0] == "/":
            count = get(token)  # end tags are counted under "/name"
            if count:
                open_by_name[token] = count - 1
                depth -= 1
            continue
        close = "/" + token
        open_by_name[close] = get(close, 0) + 1
        depth += 1
        if depth > peak:
            peak = depth
    return peak


def _flatten(html: str) -> str:
    """`html` without the tags that would nest deeper than MAX_DEPTH (slow path)."""
    open_by_name: dict[str, int] = {}
    dropped_by_name: dict[str, int] = {}
    depth = 0
    pieces: list[str] = []
    last = 0
    for match in _TAGS.finditer(html):
        token = match.group(1)
        if not token:
            continue
        closing = token[0] == "/"
        name = (token[1:] if closing else token).lower()
        drop = False
        if closing:
            if dropped_by_name.get(name, 0):
                dropped_by_name[name] -= 1
                drop = True
            elif open_by_name.get(name, 0):
                open_by_name[name] -= 1
                depth -= 1
        elif name not in _FLAT:
            if depth >= MAX_DEPTH:
                dropped_by_name[name] = dropped_by_name.get(name, 0) + 1
                drop = True
            else:
                open_by_name[name] = open_by_name.get(name, 0) + 1
                depth += 1
        if drop:
            end = html.find(">", match.end())
            end = len(html) if end < 0 else end + 1
            pieces.append(html[last : match.start()])
            last = end
    pieces.append(html[last:])
    return "".join(pieces)
