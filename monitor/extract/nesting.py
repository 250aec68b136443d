"""An upper bound of the element nesting lexbor builds, and the tags to drop to cap it.

lexbor's tree builder is quadratic in the nesting depth (block start tags and stray
end tags scan the stack of open elements), so a hostile page of 200 KB of ``<div>``
takes seconds and one of 5 MB takes hours. `scan` tokenizes the page the way the
HTML tokenizer does (tag names up to whitespace, ``/`` or ``>``; quoted attribute
values; comments ending at ``-->`` or ``--!>``, ``<!-->`` and ``<!--->``; bogus
comments; the raw text of script, style, title, textarea, xmp, iframe, noembed,
noframes and plaintext, with the script escape states) and models the stack per tag
name: a start tag opens an element of its name, an end tag closes one only when one
of that name is open. Elements that never nest by themselves (void elements, those
closed by their next sibling) are not counted; a list item (li, dd/dt) that comes
while its predecessor is the last element opened and nothing opened since is still
open replaces it, as the tree builder does, so unclosed ``<li>`` lists are flat.

The model only ever over-estimates lexbor: where the parse could go two ways (raw
text that lexbor may treat as markup: inside ``<svg>``/``<math>``, ``<select>`` or
``<frameset>``), start tags are counted and end tags ignored; ``</svg>`` and
``</math>`` do not close while an HTML integration point (``foreignObject``,
``desc``, ``title``, ``annotation-xml``, ``mi``…) is open, as lexbor ignores them
there. The C extension `monitor.extract._nesting` implements the same scan; this
module is its reference and the fallback when it was not built.
"""

from __future__ import annotations

import re

try:
    from monitor.extract import _nesting  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the build normally compiles it
    _nesting = None

FLAT = frozenset(
    b"area base br col colgroup embed hr img input link meta param source track wbr p "
    b"option tr td th tbody thead tfoot caption html head body frame keygen basefont "
    b"bgsound".split()
)
FLAT_LONGEST = max(map(len, FLAT))
ITEMS = {b"li": b"li", b"dd": b"dd", b"dt": b"dd"}  # list items, by the family they close
SINCE_LIMIT = 32  # elements opened since the last list item that are tracked
RAWTEXT = frozenset(b"script style xmp iframe noembed noframes title textarea".split())
INTEGRATION = (b"foreignobject", b"desc", b"title", b"annotation-xml", b"mi", b"mo", b"mn",
               b"ms", b"mtext")  # fmt: skip
AMBIGUOUS_CONTEXT = (b"svg", b"math", b"select", b"frameset")
_WS = b" \t\n\r\f"
_NAME_END = re.compile(rb"[ \t\n\r\f/>]")
_LETTERS = re.compile(rb"[A-Za-z]*")
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_COMMENT_END = re.compile(rb"--!?>")
_SCRIPT_SPECIAL = re.compile(rb"[<>-]")
_ALPHA = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

Span = tuple[int, int]


def scan(data: bytes, max_depth: int) -> tuple[int, list[Span]]:
    """Model `data` (UTF-8 HTML): the peak depth of the tags kept, and the byte spans of
    the tags to drop so that no kept tag nests deeper than `max_depth` (text stays).
    Uses the C extension when it is built; both give the same answer."""
    if _nesting is not None:
        peak, spans = _nesting.scan(data, max_depth)
        return peak, spans
    return python_scan(data, max_depth)


def python_scan(data: bytes, max_depth: int) -> tuple[int, list[Span]]:
    """The reference implementation of `scan` (pure Python)."""
    return _Scanner(data, max_depth).run()


class _Scanner:
    def __init__(self, data: bytes, max_depth: int) -> None:
        self.data = data
        self.n = len(data)
        self.max = max_depth
        self.open: dict[bytes, int] = {}
        self.dropped: dict[bytes, int] = {}
        self.depth = 0
        self.peak = 0
        self.spans: list[Span] = []
        self.distrust = False  # from here on every start tag counts, no end tag closes
        self.name_end = 0  # in distrust: the first name delimiter after the last tag
        # The last list item opened (li, or dd/dt), and the elements opened since and
        # still open, in order; None once an end tag closed something out of order.
        self.item: bytes | None = None
        self.since: list[bytes] | None = None

    def run(self) -> tuple[int, list[Span]]:
        data, n = self.data, self.n
        i = data.find(b"<")
        while 0 <= i < n - 1:
            nxt = data[i + 1]
            if nxt in _ALPHA:
                i = self._start_tag(i)
            elif self.distrust:
                i += 1
            elif nxt == 0x2F:  # "/"
                i = self._end_tag_open(i)
            elif nxt == 0x21:  # "!"
                i = self._declaration(i)
            elif nxt == 0x3F:  # "?": bogus comment
                i = _after(data, b">", i + 2)
            else:
                i += 1
            if i < 0:
                break
            i = data.find(b"<", i)
        return self.peak, self.spans

    # -- tags ---------------------------------------------------------------------

    def _start_tag(self, i: int) -> int:
        if self.distrust:
            return self._distrusted_start(i)
        name, end = self._tag(i + 1)
        if end < 0:
            return -1  # EOF inside a tag: lexbor emits nothing
        if name in FLAT:
            return end
        if name in RAWTEXT or name == b"plaintext":
            return self._raw(name, i, end)
        self._open(name, i, end)
        return end

    def _distrusted_start(self, i: int) -> int:
        """Whatever lexbor makes of the rest, a start tag that is not a flat element's
        counts (its name and attributes matter no more). The end of its name is found
        once for a run of tags before the same delimiter, so the scan stays linear."""
        if self.name_end <= i:
            match = _NAME_END.search(self.data, i + 1)
            self.name_end = self.n if match is None else match.start()
        j = self.name_end
        if j - i - 1 > FLAT_LONGEST or self.data[i + 1 : j].translate(_LOWER) not in FLAT:
            if self.depth >= self.max:
                self.spans.append((i, j))
            else:
                self.depth += 1
                self.peak = max(self.peak, self.depth)
        return i + 1

    def _open(self, name: bytes, start: int, end: int) -> None:
        family = ITEMS.get(name)
        if (
            family is not None
            and not self.distrust
            and self.since == []
            and self.item
            and ITEMS[self.item] == family
        ):
            # "<li>a<li>b": the new item closes the open one (nothing else came between
            # that is still open), so the depth stays
            self.open[self.item] -= 1
            self.open[name] = self.open.get(name, 0) + 1
            self.item = name
            return
        if self.depth >= self.max:
            self.dropped[name] = self.dropped.get(name, 0) + 1
            self.spans.append((start, end))
            return
        self.open[name] = self.open.get(name, 0) + 1
        self.depth += 1
        if self.depth > self.peak:
            self.peak = self.depth
        if family is not None:
            self.item, self.since = name, []
        elif self.since is not None:
            self.since.append(name)
            if len(self.since) > SINCE_LIMIT:
                self.since = None

    def _end_tag_open(self, i: int) -> int:
        data = self.data
        if i + 2 >= self.n:
            return -1
        c = data[i + 2]
        if c == 0x3E:  # "</>" is ignored
            return i + 3
        if c not in _ALPHA:
            return _after(data, b">", i + 2)  # bogus comment
        name, end = self._tag(i + 2)
        if end < 0:
            return -1
        self._close(name, i, end)
        return end

    def _close(self, name: bytes, start: int, end: int) -> None:
        if name in FLAT:
            return
        if self.dropped.get(name, 0):
            self.dropped[name] -= 1
            self.spans.append((start, end))
            return
        if not self.open.get(name, 0):
            return
        if name in (b"svg", b"math") and any(self.open.get(ip, 0) for ip in INTEGRATION):
            return  # lexbor ignores it inside an HTML integration point
        self.open[name] -= 1
        self.depth -= 1
        if self.since is not None:  # only a close in the order of the opens keeps it
            if self.since and self.since[-1] == name:
                self.since.pop()
            else:
                self.since = None

    def _tag(self, i: int) -> tuple[bytes, int]:
        """The lowercased name of the tag whose name starts at `i`, and the index after
        its ``>`` (-1 at EOF)."""
        data = self.data
        match = _NAME_END.search(data, i)
        j = self.n if match is None else match.start()
        return data[i:j].translate(_LOWER), _tag_end(data, j)

    # -- comments and declarations ------------------------------------------------

    def _declaration(self, i: int) -> int:
        data = self.data
        if data.startswith(b"--", i + 2):
            j = i + 4
            if data.startswith(b">", j):
                return j + 1
            if data.startswith(b"->", j):
                return j + 2
            match = _COMMENT_END.search(data, j)
            return -1 if match is None else match.end()
        if data.startswith(b"[CDATA[", i + 2) and self._ambiguous():
            # a CDATA section in svg/math, a bogus comment up to ">" in HTML
            close = data.find(b">", i + 2)
            stop = data.find(b"]]>", i + 9)
            if close < 0 or data.find(b"<", close, self.n if stop < 0 else stop) >= 0:
                self.distrust = True
                return i + 1
            return close + 1
        return _after(data, b">", i + 2)  # doctype or bogus comment

    # -- raw text -------------------------------------------------------------------

    def _raw(self, name: bytes, start: int, end: int) -> int:
        """A raw text element (script, style, title, …, plaintext): its text is skipped
        up to its end tag. Where lexbor might read that text as markup, any "<" in it
        makes every later start tag count and no end tag close."""
        data = self.data
        if name == b"plaintext":
            close = -1
        elif name == b"script":
            close = _script_end(data, end)
        else:
            close = _raw_end(data, name, end)
        stop = self.n if close < 0 else close
        if self._ambiguous() and data.find(b"<", end, stop) >= 0:
            self.distrust = True
            self._open(name, start, end)
            return end
        if self.depth >= self.max:  # drop the whole element, its text too
            after = self._tag(close + 2)[1] if close >= 0 else -1
            self.spans.append((start, self.n if after < 0 else after))
            return after
        self._open(name, start, end)
        if close < 0:
            return -1  # raw text up to EOF
        after = self._tag(close + 2)[1]
        if after >= 0:
            self._close(name, close, after)
        return after

    def _ambiguous(self) -> bool:
        """Whether lexbor might not be in HTML content here (svg/math, select, frameset
        open), so that raw text elements may hold markup."""
        return any(self.open.get(name, 0) for name in AMBIGUOUS_CONTEXT)


def _after(data: bytes, needle: bytes, i: int) -> int:
    """The index after the next `needle` from `i`, -1 when there is none."""
    j = data.find(needle, i)
    return -1 if j < 0 else j + len(needle)


def _tag_end(data: bytes, j: int) -> int:
    """From just after a tag name, the index after the tag's ``>`` (attributes and
    their quoted values skipped as the tokenizer does), -1 at EOF."""
    n = len(data)
    while j < n:
        c = data[j]
        if c in _WS or c == 0x2F:  # whitespace, "/"
            j += 1
            continue
        if c == 0x3E:
            return j + 1
        # attribute name: the first character is taken whatever it is ("=" too)
        j += 1
        while j < n and data[j] not in b" \t\n\r\f/>=":
            j += 1
        while j < n and data[j] in _WS:
            j += 1
        if j < n and data[j] == 0x3D:  # "="
            j += 1
            while j < n and data[j] in _WS:
                j += 1
            if j >= n:
                return -1
            quote = data[j]
            if quote in (0x22, 0x27):
                close = data.find(bytes((quote,)), j + 1)
                if close < 0:
                    return -1
                j = close + 1
            elif quote != 0x3E:
                while j < n and data[j] not in b" \t\n\r\f>":
                    j += 1
    return -1


def _is_end_of(data: bytes, i: int, word: bytes) -> int:
    """When data[i:] is ``</word`` (any case) followed by whitespace, "/" or ">", the
    index of that delimiter, else -1."""
    j = i + 2 + len(word)
    if j < len(data) and data[i + 2 : j].translate(_LOWER) == word and data[j] in b" \t\n\r\f/>":
        return j
    return -1


def _raw_end(data: bytes, name: bytes, i: int) -> int:
    """Index of the ``</name`` that ends raw text starting at `i`, -1 if none."""
    i = data.find(b"</", i)
    while i >= 0:
        if _is_end_of(data, i, name) >= 0:
            return i
        i = data.find(b"</", i + 2)
    return -1


def _script_word(data: bytes, i: int) -> tuple[bool, int]:
    """Whether the letters at `i` are "script" (any case) followed by whitespace, "/"
    or ">", and the index after the letters."""
    word = _LETTERS.match(data, i)
    end = i if word is None else word.end()
    found = (
        end < len(data)
        and data[i:end].translate(_LOWER) == b"script"
        and data[end] in b" \t\n\r\f/>"
    )
    return found, end


def _script_end(data: bytes, i: int) -> int:
    """Index of the ``</script`` that ends script data starting at `i` (following the
    tokenizer's escaped and double-escaped states), -1 if none."""
    n = len(data)
    state = "data"
    dashes = 0  # dashes just seen in an escaped state
    while i < n:
        if state == "data":
            i = data.find(b"<", i)
            if i < 0:
                return -1
            if data.startswith(b"</", i) and _is_end_of(data, i, b"script") >= 0:
                return i
            if data.startswith(b"<!--", i):
                state, dashes, i = "escaped", 2, i + 4
                continue
            i += 1
            continue
        match = _SCRIPT_SPECIAL.search(data, i)
        if match is None:
            return -1
        if match.start() > i:
            dashes = 0  # text came between: a dash run starts again
        i = match.start()
        c = data[i]
        if c == 0x2D:  # "-"
            dashes += 1
            i += 1
            continue
        if c == 0x3E:  # ">": "-->" leaves the escaped states
            if dashes >= 2:
                state = "data"
            dashes = 0
            i += 1
            continue
        # "<"
        dashes = 0
        if state == "escaped":
            if data.startswith(b"</", i):
                if _is_end_of(data, i, b"script") >= 0:
                    return i
                i += 2
                continue
            found, end = _script_word(data, i + 1)
            if found:
                state, i = "double", end + 1
                continue
            i = max(end, i + 1)
            continue
        # double escaped
        if data.startswith(b"</", i):
            found, end = _script_word(data, i + 2)
            if found:
                state, i = "escaped", end + 1
                continue
            i = max(end, i + 2)
            continue
        i += 1
    return -1
