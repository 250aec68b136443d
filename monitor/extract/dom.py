"""Parse hostile HTML with lexbor in bounded time.

Two inputs make lexbor's tree builder quadratic: deep nesting (every block start
tag scans the stack of open elements; 40 000 nested ``<div>`` in 200 KB take seconds)
and long ``<select>`` lists when DOM mutation events are on. `parse_html` parses
without mutation events and, when `nesting.scan`'s upper bound of the nesting depth
exceeds `MAX_DEPTH`, first drops the start and end tags nested deeper than that,
keeping their text. Script and style elements are removed from the tree afterwards so that
their text never reaches a field; a line break reads as a space.
"""

from __future__ import annotations

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

from monitor.extract.nesting import scan

MAX_DEPTH = 256  # real pages nest < 100 deep; lexbor's worst case grows with depth
MAX_CHARS = 10_000_000  # fetch caps pages far below this; a last resort

_UNSAFE = "script, style"  # one query: their text must never reach a field


def parse_html(html: str) -> LexborHTMLParser:
    """Parse `html` (any text) into a lexbor tree without scripts and styles; never
    raises on content."""
    html = html[:MAX_CHARS].replace("<br", " <br").replace("<BR", " <BR")  # "a<br>b": "a b"
    data = html.encode("utf-8", "ignore")  # what lexbor would parse (lone surrogates go)
    _, spans = scan(data, MAX_DEPTH)
    if spans:
        data = _cut(data, spans)
    tree = LexborHTMLParser(data, options=LexborDocumentOptions.WO_EVENTS)
    for node in tree.css(_UNSAFE):
        node.decompose(recursive=False)
    return tree


def _cut(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """`data` with each (start, end) span replaced by one space (so that no new tag
    forms where two pieces meet)."""
    pieces = []
    last = 0
    for start, end in spans:
        pieces.append(data[last:start])
        last = end
    pieces.append(data[last:])
    return b" ".join(pieces)
