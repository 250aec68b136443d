"""The nesting scan that keeps lexbor's tree builder out of its quadratic cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

from monitor.extract import nesting
from monitor.extract.dom import MAX_DEPTH, parse_html

FIXTURES = Path(__file__).parent / "fixtures"
N = 4000

# Each shape once fooled a simpler guard (or would have): the end tag is not one, the
# closing comment is not where a regex thinks, the raw text hides or shows tags.
HOSTILE = {
    "plain": "<div>" * N,
    "end tag of another name": "<div></div-x>" * N,
    "end tag inside a quoted attribute": '<div title="</div>">' * N,
    "end tag inside title text": "<div><title></div></title>" * N,
    "end tag inside escaped script": "<div><script><!--<script></script></div></script>" * N,
    "abrupt comment": "<div><!--></div>-->" * N,
    "comment ended by --!>": "<div><!-- x --!><div>" * N,
    "svg title holding a script": "<svg><title><div><script></title></svg></div></script>" * N,
    "svg title holding a comment": "<svg><title><!--</title>--></svg>" * N,
    "ruby text outside ruby": "<rt>" * N,
    "optgroup": "<optgroup>" * N,
    "style ignored inside select": "<select><style></select><div></style>" * N,
    "stray end tags first": "</div>" * N + "<div>" * N,
    "cdata in svg": "<svg>" + "<![CDATA[<div>]]>" * N,
    # once in distrust, tags without an end (no ">", one long name) still count, and
    # each is read once (rescanning every such tag to the end was quadratic)
    "distrust, tags never closed": "<svg><title><b></title>" + "<b " * N,
    "distrust, one long name": "<svg><title><b></title>" + "<b" * N,
}

TOKENS = st.sampled_from(
    ["<div>", "</div>", "<span class='a'>", "</span>", "<b>", "</b>", "<script>",
     "</script>", "<!--", "-->", "--!>", "<!-->", "<title>", "</title>", "<svg>", "</svg>",
     "<math>", "</math>", "<select>", "</select>", "<![CDATA[", "]]>", "<p>", "<li>",
     "<b a='", "'", '"', ">", "<", "</", "x", " ", "<foreignObject>", "</foreignObject>",
     "<desc>", "<style>", "</style>", "<textarea>", "</textarea>", "<plaintext>", "<?",
     "<!x", "</ x>", "=", "<DiV>", "</DIV >", "<script ", "<scriptx>", "</script ",
     "<!--<script>", "</script\t", "<table>", "<td>", "<rt>", "<optgroup>", "<template>",
     "<li>", "<dd>", "<dt>", "</li>", "<section>", "</section>", "<ul>", "</ul>",
     "</template>", "<frameset>", "<x-y>", "</x-y>", "<div/>", "<a href=x>", "</a>"]
)  # fmt: skip


def lexbor_depth(html: str | bytes) -> int:
    """Deepest element of the tree lexbor builds (the html element is 1)."""
    tree = LexborHTMLParser(html, options=LexborDocumentOptions.WO_EVENTS)
    best = 0
    stack = [(tree.root, 1)] if tree.root is not None else []
    while stack:
        node, depth = stack.pop()
        best = max(best, depth)
        child = node.child
        while child is not None:
            if child.tag not in ("-text", "-comment"):
                stack.append((child, depth + 1))
            child = child.next
    return best


# html, head/body and the flat elements (td, tr, li …) are not counted by the model;
# each counted element can carry a few of them (table > tbody > tr > td).
def covers(bound: int, depth: int) -> bool:
    return depth <= 4 * bound + 3


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_nesting_is_seen_and_capped(name: str) -> None:
    html = HOSTILE[name]
    bound, _ = nesting.python_scan(html.encode(), 10**9)
    assert covers(bound, lexbor_depth(html[: len(html) // 8])), name
    assert lexbor_depth(parse_html(html).html or "") <= 4 * MAX_DEPTH + 3


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, max_size=60))
def test_bound_covers_what_lexbor_builds(tokens: list[str]) -> None:
    html = "".join(tokens)
    bound, spans = nesting.python_scan(html.encode(), 10**9)
    assert not spans
    assert covers(bound, lexbor_depth(html)), html


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=200), st.integers(0, 12))
def test_cut_pages_stay_under_the_cap(tokens: list[str], cap: int) -> None:
    data = "".join(tokens).encode()
    _, spans = nesting.python_scan(data, cap)
    pieces, last = [], 0
    for start, end in spans:
        assert last <= start < end <= len(data)
        pieces.append(data[last:start])
        last = end
    pieces.append(data[last:])
    cut = b" ".join(pieces)
    assert nesting.python_scan(cut, 10**9)[0] <= cap


needs_c = pytest.mark.skipif(nesting._nesting is None, reason="C scanner not built")


@needs_c
@settings(max_examples=500, deadline=None)
@given(st.lists(TOKENS, max_size=80), st.sampled_from([0, 2, 5, 10**9]))
def test_c_scanner_agrees_with_the_reference(tokens: list[str], cap: int) -> None:
    data = "".join(tokens).encode()
    assert nesting._nesting.scan(data, cap) == nesting.python_scan(data, cap)


@needs_c
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([0, 3, 10**9]))
def test_c_scanner_agrees_on_arbitrary_bytes(data: bytes, cap: int) -> None:
    assert nesting._nesting.scan(data, cap) == nesting.python_scan(data, cap)


@needs_c
@pytest.mark.parametrize("name", list(HOSTILE))
def test_c_scanner_agrees_on_hostile_pages(name: str) -> None:
    data = HOSTILE[name].encode()
    for cap in (MAX_DEPTH, 10**9):
        assert nesting._nesting.scan(data, cap) == nesting.python_scan(data, cap)


def test_real_pages_need_no_cut() -> None:
    for path in sorted(FIXTURES.rglob("*.html")):
        data = path.read_bytes()
        bound, spans = nesting.scan(data, MAX_DEPTH)
        assert not spans, path.name
        assert covers(bound, lexbor_depth(data)), path.name
        assert bound < 30, path.name


def test_script_text_is_not_markup() -> None:
    page = "<script>" + "for (i = 0; i<n; i++) { a<b; '<div>' }\n" * 500 + "</script><p>x"
    assert nesting.scan(page.encode(), MAX_DEPTH)[0] == 1


def test_eof_inside_a_tag_or_comment_ends_the_scan() -> None:
    assert nesting.scan(b"<div a='" + b"<div>" * 500, MAX_DEPTH) == (0, [])
    assert nesting.scan(b"<!--" + b"<div>" * 500, MAX_DEPTH) == (0, [])


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_c_scanner_is_built_where_a_compiler_is() -> None:
    # `pip install -e .` compiles it (setup.py); without it parsing is ~10x slower
    assert nesting._nesting is not None
