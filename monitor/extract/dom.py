"""Parse hostile HTML with lexbor in bounded time.

Two inputs make lexbor's tree builder quadratic: deep nesting (every block start
tag scans the stack of open elements; 40 000 nested ``<div>`` in 200 KB take seconds)
and long ``<select>`` lists when DOM mutation events are on. `parse_html` parses
without mutation events and, when `nesting.scan`'s upper bound of the nesting depth
exceeds `MAX_DEPTH`, first drops the start and end tags nested deeper than that,
keeping their text. Script and style elements are removed from the tree afterwards so that
their text never reaches a field, and a space goes before every ``<br>`` element so that
a line break reads as a space (one walk over the tree does both).
"""

from __future__ import annotations

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

from monitor.extract.nesting import scan

MAX_DEPTH = 256  # real pages nest < 100 deep; lexbor's worst case grows with depth
MAX_CHARS = 10_000_000  # fetch caps pages far below this; a last resort

_WALK = "script, style, br"  # one query: scripts and styles go, line breaks get a space
_DROP = frozenset({"script", "style"})


def parse_html(html: str) -> LexborHTMLParser:
    """Parse `html` (any text) into a lexbor tree without scripts and styles; never
    raises on content."""
    data = html[:MAX_CHARS].encode("utf-8", "ignore")  # lexbor's input (lone surrogates go)
    _, spans = scan(data, MAX_DEPTH)
    if spans:
        data = _cut(data, spans)
    tree = LexborHTMLParser(data, options=LexborDocumentOptions.WO_EVENTS)
    for node in tree.css(_WALK):
        if node.tag in _DROP:
            node.decompose(recursive=False)
        else:  # "a<br>b" reads "a b"
            node.insert_before(" ")
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
