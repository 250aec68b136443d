"""Extraction speed on a generated ~200 KB MyBB-style forum page with 50 threads.

Measures, in one run, pages per second for
  (a) full leakmon extraction (mybb profile: every field parsed; as in a daemon, the
      engine is reused, so titles seen before are not parsed again — also shown
      with a fresh engine per page),
  (b) bare selectolax: parse + select the same nodes, read their text,
  (c) BeautifulSoup with lxml doing the same selection,
and prints the ratios (targets: a >= 15x c; a within 2x of b).
Needs the bench extra: pip install beautifulsoup4 lxml.
Run: .venv/bin/python bench/extract.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from selectolax.lexbor import LexborHTMLParser

from monitor.extract import get_engine
from monitor.models import Source

URL = "http://benchforum.onion/forumdisplay.php?fid=7"
TITLES = [
    "Shanghai police database - {n} billion people: names, ID numbers, phones (1995-2019)",
    "[SELLING] French Operator ( Orange ) {n}00k users - emails, phones, 27 GB",
    "База клиентов МФО {n},2 млн строк (ФИО, паспорт, телефон) - Россия",
    "上海公安数据库 {n}亿条 姓名 身份证 手机号 地址",
    "Qatar {n}3k - DM for price",
    "Acme Bank USA {n}.3M customers: SSN, bank accounts, addresses 2015-2020",
]
PRICES = ["10 BTC", "Start 400$ Step 100$ Blitz 1500$", "$2,500 or 0.04 BTC", "договорная", ""]
DATES = ["06-30-2026, 02:02 PM", "Yesterday, 10:15 PM", "2 hours ago", "06-01-2026, 09:00 AM"]
FIELDS = {
    "title": "span[id^='tid_'] > a",
    "seller": "div.author a",
    "price": "span.thread_price",
    "posted": "span.thread_start_datetime",
    "replies": "a[href*='whoPosted']",
    "views": "td.forumdisplay_regular:nth-last-child(2)",
}


def make_page(threads: int = 50, target: int = 200_000) -> str:
    """A MyBB-style forumdisplay page of about `target` characters."""
    rng = random.Random(7)
    rows = []
    for i in range(threads):
        tid = 4000 + i
        title = rng.choice(TITLES).format(n=rng.randint(1, 9))
        rows.append(
            f"""<tr class="inline_row">
 <td class="trow1 forumdisplay_regular"><span class="thread_status folder">&nbsp;</span></td>
 <td class="trow1 forumdisplay_regular"><div><span><span class=" subject_new" id="tid_{tid}">
  <a href="showthread.php?tid={tid}">{title}</a></span></span>
  <div class="author smalltext"><a href="member.php?action=profile&amp;uid={i}">
  <span style="color:#0a0"><strong>seller{i}</strong></span></a></div>
  <span class="thread_price smalltext">{rng.choice(PRICES)}</span>
  <span class="thread_start_datetime smalltext">{rng.choice(DATES)}</span></div></td>
 <td class="trow1 forumdisplay_regular"><a href="javascript:MyBB.whoPosted({tid});">{i}</a></td>
 <td class="trow1 forumdisplay_regular">{rng.randint(10, 99999):,}</td>
 <td class="trow1 forumdisplay_regular"><span class="lastpost smalltext">Today</span></td>
</tr>"""
        )
    head = "<html><head><title>Forum</title><script>var x = 1;</script></head><body>"
    table = "<table class='tborder'>" + "\n".join(rows) + "</table>"
    filler_row = "<div class='sidebar'><a href='misc.php'>link</a> <span>stats text</span></div>\n"
    page = head + table
    while len(page) < target:
        page += filler_row
    return (
        page
        + "<a class='pagination_next' href='forumdisplay.php?fid=7&page=2'>Next</a></body></html>"
    )


def selectolax(page: str) -> int:
    tree = LexborHTMLParser(page)
    count = 0
    for row in tree.css("tr.inline_row"):
        values = {}
        for key, css in FIELDS.items():
            node = row.css_first(css)
            values[key] = node.text() if node is not None else ""
        count += bool(values["title"])
    return count


def soup(page: str) -> int:
    from bs4 import BeautifulSoup

    tree = BeautifulSoup(page, "lxml")
    count = 0
    for row in tree.select("tr.inline_row"):
        values = {}
        for key, css in FIELDS.items():
            node = row.select_one(css)
            values[key] = node.get_text() if node is not None else ""
        count += bool(values["title"])
    return count


def rate(func: Callable[[], int], seconds: float) -> float:
    """Pages per second of `func` over about `seconds` (after one warm-up call)."""
    func()
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        func()
        runs += 1
    return runs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per contestant")
    args = parser.parse_args()
    page = make_page()
    engine = get_engine(Source(name="bench", url=URL, engine="mybb", every=600))
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    found = len(engine.extract(page, URL, now=now).listings)
    print(f"page: {len(page.encode()):,} bytes, {found} listings extracted by leakmon")
    a = rate(lambda: len(engine.extract(page, URL, now=now).listings), args.seconds)
    source = Source(name="bench", url=URL, engine="mybb", every=600)
    cold = rate(lambda: len(get_engine(source).extract(page, URL, now=now).listings), args.seconds)
    b = rate(lambda: selectolax(page), args.seconds)
    try:
        c: float | None = rate(lambda: soup(page), args.seconds)
    except ImportError:
        c = None
    print(f"(a) leakmon full extraction : {a:8.1f} pages/s ({1000 / a:6.2f} ms/page)")
    print(f"    same, no memoised titles: {cold:8.1f} pages/s ({1000 / cold:6.2f} ms/page)")
    print(f"(b) bare selectolax         : {b:8.1f} pages/s ({1000 / b:6.2f} ms/page)")
    if c is None:
        print("(c) BeautifulSoup+lxml      : not installed (pip install beautifulsoup4 lxml)")
    else:
        print(f"(c) BeautifulSoup+lxml      : {c:8.1f} pages/s ({1000 / c:6.2f} ms/page)")
        print(f"a/c = {a / c:.1f}x faster than BeautifulSoup (target >= 15x)")
    print(f"b/a = {b / a:.2f}x (target <= 2x: leakmon within 2x of bare selectolax)")
    print(f"b/a without memoised titles = {b / cold:.2f}x")


if __name__ == "__main__":
    main()
