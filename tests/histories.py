"""Seeded, pure generators of synthetic capture histories -- a MyBB forum and a
WooCommerce leak shop over simulated weeks -- together with the truth of what
happened on them. Every name, seller and number is invented.

`forum_history` / `shop_history` return a `History`: the captures (file paths
relative to the capture directory → text) in the layout `leakmon replay` reads, and
a `Truth`: price and record-count edits, removals and returns, reposts, the
redesign, and which captures are unreadable (blocked/failed) or incomplete.
`write_history` puts a history on disk.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

from monitor.demo.sites import (
    FORUM_HOST,
    NOT_FOUND_PAGE,
    SHOP_HOST,
    THREADS_PER_PAGE,
    Thread,
    forum_page,
    thread_page,
)

FORUM_URL = f"http://{FORUM_HOST}/forumdisplay.php?fid=2"
SHOP_URL = f"http://{SHOP_HOST}/shop/"
T0 = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)
MAX_PAGES = 3  # the forum source's max_pages: a capture saves what a crawl would fetch
PRODUCTS_PER_PAGE = 6
REPOST_NAME = "Velmora"  # the dataset posted on the forum, deleted, then sold on the shop

_SYLLABLES = (
    "ka",
    "lo",
    "ve",
    "mor",
    "tan",
    "dri",
    "sel",
    "qua",
    "zen",
    "fio",
    "rax",
    "nol",
    "bri",
    "vash",
    "tul",
    "em",
    "or",
    "ix",
)
_KINDS = ("citizens", "patients", "clients", "voters", "employees", "students", "drivers")
_SELLERS = ("n0body", "skyhigh", "ledgerlord", "m4rv", "medic", "k0ala", "cargo_cult", "zer0")

# Pages that are not the content they claim to be (block pages, error pages).
CAPTCHA = (
    "<html><head><title>Security check</title></head><body><form><p>Please complete "
    "the captcha to continue.</p><img src='/captcha.php'><input name='c'></form></body></html>"
)
DDOS = (
    "<html><body><h1>DDoS protection</h1><p>You are in a queue, please wait while we "
    "check your browser. This may take a few seconds.</p></body></html>"
)
MAINTENANCE = (
    "<html><body><h2>Under maintenance</h2><p>We are upgrading our servers and will "
    "be back soon. Thank you for your patience.</p></body></html>"
)
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
MYBB_SQL_ERROR = (
    "<!DOCTYPE html><html><head><title>MyBB Internal Error</title></head><body><div "
    "id='container'><h1>MyBB SQL Error</h1><p>MyBB has experienced an internal SQL error "
    "and cannot continue.</p><dl><dt>SQL Error:</dt><dd>1040 - Too many connections</dd>"
    "</dl></div></body></html>"
)
WP_DB_ERROR = (
    "<!DOCTYPE html><html><head><title>Database Error</title></head><body id='error-page'>"
    "<div class='wp-die-message'><h1>Error establishing a database connection</h1></div>"
    "</body></html>"
)


@dataclass(frozen=True)
class Edit:
    external_id: str
    at: datetime  # the first capture that shows the new value
    field: str  # "price" (raw text) or "records" (count)
    before: str | int
    after: str | int
    drop: bool  # a lower price


@dataclass
class Removal:
    external_id: str
    at: datetime  # the first capture without it
    returned: datetime | None = None  # the first capture showing it again


@dataclass
class Truth:
    edits: list[Edit] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    reposts: list[str] = field(default_factory=list)  # external ids of reposted datasets
    redesign: datetime | None = None  # the first capture in the new theme
    outcomes: dict[str, str] = field(default_factory=dict)  # capture name -> crawl outcome
    listed: set[str] = field(default_factory=set)  # ids shown on some readable page


@dataclass(frozen=True)
class Capture:
    name: str  # as `leakmon replay` names it (the directory, or the flat files' time)
    at: datetime
    files: dict[str, str]  # path relative to the history's directory -> text


@dataclass(frozen=True)
class History:
    captures: tuple[Capture, ...]
    truth: Truth


def write_history(history: History, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for capture in history.captures:
        for relative, text in capture.files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return root


def _names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(3)).capitalize()
        if word != REPOST_NAME:
            names.add(word)
    return sorted(names, key=lambda _: rng.random())


def _defect(rng: random.Random, step: int) -> str | None:
    """What is wrong with this capture, if anything (never the first two)."""
    if step < 2:
        return None
    roll = rng.random()
    table = (
        (0.02, "captcha"),
        (0.035, "ddos"),
        (0.05, "maintenance"),
        (0.06, "error502"),
        (0.07, "sql_error"),
        (0.08, "empty"),
        (0.095, "truncated"),
        (0.105, "status503"),
        (0.125, "page2_missing"),
        (0.14, "page2_captcha"),
        (0.15, "page2_truncated"),
    )
    return next((name for limit, name in table if roll < limit), None)


def _truncate(rng: random.Random, html: str) -> str:
    return html[: int(len(html) * rng.uniform(0.3, 0.8))]


def _block_page(defect: str, rng: random.Random, html: str, shop: bool) -> str:
    pages = {
        "captcha": CAPTCHA,
        "ddos": DDOS,
        "maintenance": MAINTENANCE,
        "error502": NGINX_502,
        "sql_error": WP_DB_ERROR if shop else MYBB_SQL_ERROR,
        "empty": "<html><body></body></html>" if shop else "",
    }
    return _truncate(rng, html) if defect == "truncated" else pages[defect]


def _outcome(defect: str | None, pages: int) -> tuple[str, str | None]:
    """The crawl outcome a defect should give, and the defect as applied (a page-2
    defect of a one-page capture is no defect)."""
    if defect is None:
        return "complete", None
    if defect == "status503":
        return "failed", defect
    if defect.startswith("page2"):
        return ("partial", defect) if pages >= 2 else ("complete", None)
    return "blocked", defect


def _apply_defect(
    files: dict[str, str],
    defect: str | None,
    rng: random.Random,
    shop: bool,
    page: Callable[[int, str], str],
) -> dict[str, str]:
    """`files` (named by `page(number, status suffix)`) with the defect applied."""
    if defect is None:
        return files
    out = dict(files)
    first, second = page(1, ""), page(2, "")
    if defect == "status503":
        out[page(1, ".503")] = out.pop(first)
    elif defect == "page2_missing":
        out.pop(second)
    elif defect == "page2_captcha":
        out[second] = CAPTCHA
    elif defect == "page2_truncated":
        out[second] = _truncate(rng, out[second])
    else:
        out[first] = _block_page(defect, rng, out[first], shop)
    return out


# ---------------------------------------------------------------------- forum


@dataclass
class _Thread:
    tid: int
    name: str
    kind: str
    millions: float
    btc: float
    seller: str
    posted: datetime
    last_post: datetime
    replies: int = 0
    deleted: bool = False
    deleted_step: int = 0
    edited_step: int = -100

    @property
    def price_text(self) -> str:
        return f"{self.btc:g} BTC"

    @property
    def records_text(self) -> str:
        return "1 billion" if self.millions >= 1000 else f"{self.millions:g}M"

    @property
    def records(self) -> int:
        return round(self.millions * 1_000_000)

    @property
    def title(self) -> str:
        return (
            f"[SELLING] {self.name} {self.kind} database - {self.records_text} records"
            f" - {self.price_text}"
        )

    def shown(self) -> Thread:
        body = (
            f"{self.name} {self.kind} dump, {self.records_text} records. Sample on request, "
            "escrow accepted, price in the title."
        )
        uid = 100 + self.tid % 97
        return Thread(
            self.tid,
            self.title,
            self.seller,
            uid,
            self.posted,
            self.last_post,
            "lurker",
            self.replies,
            40 + 13 * self.replies,
            body,
        )


def _xf_list(threads: list[_Thread]) -> str:
    """The forum after its redesign: XenForo-style markup the MyBB selectors miss."""
    rows = "\n".join(
        f"""<div class="structItem structItem--thread" data-author="{escape(t.seller)}">
<div class="structItem-cell structItem-cell--main"><div class="structItem-title">
<a href="threads/{t.name.lower()}.{t.tid}/" data-tp-primary="on">{escape(t.title)}</a></div>
<div class="structItem-minor"><ul class="structItem-parts"><li>
<a class="username" href="members/{escape(t.seller)}/">{escape(t.seller)}</a></li></ul></div>
</div><div class="structItem-cell structItem-cell--meta"><dl><dt>Replies</dt>
<dd>{t.replies}</dd></dl></div></div>"""
        for t in threads[: THREADS_PER_PAGE * 5]
    )
    return f"""<!DOCTYPE html><html lang="en"><head><title>Databases | DarkForum</title></head>
<body><div class="p-body"><h1 class="p-title-value">Databases</h1>
<div class="structItemContainer">{rows}</div>
<div class="pageNav"><a class="pageNav-jump pageNav-jump--next" href="forums/db.2/page-2">Next</a>
</div></div></body></html>"""


def _xf_thread(t: _Thread | None) -> str:
    if t is None:
        body = "<div class='blockMessage'>The requested thread could not be found.</div>"
        return f"<!DOCTYPE html><html><head><title>Oops!</title></head><body>{body}</body></html>"
    return f"""<!DOCTYPE html><html><head><title>{escape(t.title)} | DarkForum</title></head>
<body><h1 class="p-title-value">{escape(t.title)}</h1><article class="message" \
data-author="{escape(t.seller)}"><div class="message-body"><div class="bbWrapper">\
{escape(t.shown().body)}</div></div></article></body></html>"""


def _forum_page(n: int, status: str) -> str:
    return f"page{n}{status}.html"


class _Forum:
    def __init__(self, rng: random.Random, steps: int, every: timedelta) -> None:
        self.rng = rng
        self.steps = steps
        self.every = every
        self.names = _names(rng, 400)
        self.threads: dict[int, _Thread] = {}
        self.next_tid = 1000
        self.truth = Truth(redesign=T0 + every * int(steps * 0.88))
        self.redesign_step = int(steps * 0.88)
        self.quiet_after = self.redesign_step - 20  # no edits/removals close to the redesign
        self.listed: set[int] = set()
        self.drops: dict[int, int] = {}
        self.pending_edits: list[Edit] = []
        self.removed: dict[int, Removal] = {}
        for _ in range(18):
            self.post(T0 - timedelta(hours=self.rng.uniform(1, 200)))

    def post(self, at: datetime, name: str | None = None, **kw: float) -> _Thread:
        t = _Thread(
            tid=self.next_tid,
            name=name or self.names.pop(),
            kind=self.rng.choice(_KINDS),
            millions=kw.get("millions", round(self.rng.uniform(0.1, 30), 1)),
            btc=kw.get("btc", round(self.rng.uniform(0.5, 12), 1)),
            seller=self.rng.choice(_SELLERS),
            posted=at,
            last_post=at,
        )
        self.next_tid += self.rng.randint(1, 7)
        self.threads[t.tid] = t
        return t

    def alive(self) -> list[_Thread]:
        return [t for t in self.threads.values() if not t.deleted]

    def bump(self, t: _Thread, at: datetime) -> None:
        t.replies += 1
        t.last_post = at + timedelta(seconds=self.rng.randint(0, 600))

    def edit(self, step: int, at: datetime, what: str) -> None:
        choices = [
            t
            for t in self.alive()
            if t.edited_step <= step - 10 and t.tid in self.listed and t.name != REPOST_NAME
        ]
        if not choices:
            return
        t = self.rng.choice(choices)
        if what == "price":
            before = t.price_text
            drop = self.rng.random() < 0.7
            t.btc = max(0.1, round(t.btc * (0.8 if drop else 1.25), 1))
            self.pending_edits.append(Edit(str(t.tid), at, "price", before, t.price_text, drop))
        else:
            before_count = t.records
            t.millions = round(t.millions + 0.3, 1)
            self.pending_edits.append(
                Edit(str(t.tid), at, "records", before_count, t.records, False)
            )
        t.edited_step = step
        self.bump(t, at - self.every / 2)

    def mutate(self, step: int, at: datetime) -> None:
        """What happens on the forum between the previous capture and this one."""
        rng, before = self.rng, at - self.every / 2
        if rng.random() < 0.35:
            self.post(before)
        for t in rng.sample(self.alive(), k=min(2, len(self.alive()))):
            if rng.random() < 0.4:
                self.bump(t, before)
        if step == 20:
            self.post(before, REPOST_NAME, millions=1000.0, btc=10.0).kind = "city police"
        if step >= self.quiet_after:
            return
        flagship = (
            next(t for t in self.threads.values() if t.name == REPOST_NAME) if step > 20 else None
        )
        if step == 35 and flagship is not None:
            flagship.edited_step = -100
            self._edit_thread(flagship, step, at)
        if rng.random() < 0.12:
            self.edit(step, at, "price")
        if rng.random() < 0.06:
            self.edit(step, at, "records")
        if step == 60 and flagship is not None:
            self.remove(flagship, step, at)
        elif rng.random() < 0.06:
            choices = [
                t
                for t in self.alive()
                if t.tid in self.listed and t.edited_step <= step - 10 and t.name != REPOST_NAME
            ]
            if choices:
                self.remove(rng.choice(choices), step, at)
        back = [t for t in self.threads.values() if t.deleted and t.deleted_step <= step - 20]
        back = [t for t in back if t.name != REPOST_NAME]
        if back and rng.random() < 0.05:
            t = rng.choice(back)
            t.deleted = False
            t.edited_step = step
            self.bump(t, before)
            self.removed.pop(t.tid).returned = at

    def _edit_thread(self, t: _Thread, step: int, at: datetime) -> None:
        before = t.price_text
        t.btc = 8.0
        self.pending_edits.append(Edit(str(t.tid), at, "price", before, t.price_text, True))
        t.edited_step = step
        self.bump(t, at - self.every / 2)

    def remove(self, t: _Thread, step: int, at: datetime) -> None:
        t.deleted = True
        t.deleted_step = step
        removal = Removal(str(t.tid), at)
        self.truth.removals.append(removal)
        self.removed[t.tid] = removal

    def capture(self, step: int) -> Capture:
        at = T0 + self.every * step
        if step:
            self.mutate(step, at)
        shown = sorted(self.alive(), key=lambda t: t.last_post, reverse=True)
        name = at.strftime("%Y%m%dT%H%M%SZ")
        defect = _defect(self.rng, step)
        if step >= self.redesign_step:
            files = {"page1.html": _xf_list(shown)}
            outcome, defect = _outcome(defect if defect in ("captcha", "empty") else None, 1)
            files = _apply_defect(files, defect, self.rng, False, _forum_page)
            visible: list[_Thread] = []
        else:
            visible = shown[: THREADS_PER_PAGE * MAX_PAGES]
            pages = max(1, min(MAX_PAGES, -(-len(shown) // THREADS_PER_PAGE)))
            files = {
                f"page{n}.html": forum_page([s.shown() for s in shown], [], n, at)
                for n in range(1, pages + 1)
            }
            outcome, defect = _outcome(defect, pages)
            files = _apply_defect(files, defect, self.rng, False, _forum_page)
        self.truth.outcomes[name] = outcome
        listed = {t.tid for t in visible}
        seen = {t.tid for t in visible[:THREADS_PER_PAGE]} if outcome == "partial" else listed
        if outcome in ("complete", "partial"):
            self.truth.listed |= {str(i) for i in seen}
            self.listed |= seen
            self.truth.edits += [e for e in self.pending_edits if int(e.external_id) in seen]
            self.pending_edits = [e for e in self.pending_edits if int(e.external_id) not in seen]
            files.update(self.thread_pages(listed, at, step))
        return Capture(name, at, {f"{name}/{path}": text for path, text in files.items()})

    def thread_pages(self, visible: set[int], at: datetime, step: int) -> dict[str, str]:
        """The thread pages a crawler would have saved: of threads no longer listed
        (for a few captures), and of deleted ones (until they return); some fail."""
        files: dict[str, str] = {}
        new_theme = step >= self.redesign_step
        for tid in sorted(self.listed - visible):
            t = self.threads[tid]
            tries = self.drops.get(tid, 0)
            if not t.deleted and tries >= 3:
                continue
            self.drops[tid] = tries + 1
            roll = self.rng.random()
            if roll < 0.12:
                continue  # this thread page was not saved
            if roll < 0.16:
                files[f"threads/{tid}.html"] = CAPTCHA
            elif t.deleted and roll < 0.22:
                files[f"threads/{tid}.404.html"] = NOT_FOUND_PAGE
            elif new_theme:
                files[f"threads/{tid}.html"] = _xf_thread(None if t.deleted else t)
            else:
                files[f"threads/{tid}.html"] = thread_page(None if t.deleted else t.shown(), at)
        for tid in visible:
            self.drops[tid] = 0
        return files


def forum_history(
    seed: int = 5, steps: int = 230, every: timedelta = timedelta(hours=2.5)
) -> History:
    forum = _Forum(random.Random(seed), steps, every)
    captures = tuple(forum.capture(step) for step in range(steps))
    return History(captures, forum.truth)


# ----------------------------------------------------------------------- shop


@dataclass
class _Product:
    pid: int
    name: str
    kind: str
    millions: float
    usd: int
    seller: str
    deleted: bool = False
    deleted_step: int = 0
    edited_step: int = -100

    @property
    def title(self) -> str:
        if self.millions >= 1000:
            return f"{self.name} {self.kind} {self.records:,} records"
        return f"{self.name} {self.kind} dump {self.millions:g}M rows"

    @property
    def price_text(self) -> str:
        return f"${self.usd:,}"

    @property
    def records(self) -> int:
        return round(self.millions * 1_000_000)


def _woo_page(products: list[_Product], page: int, pages: int) -> str:
    """WooCommerce's product loop (`/shop/`, `/shop/page/N/`), newest first."""
    items = []
    for i, p in enumerate(products):
        link = f"http://{SHOP_HOST}/product/{p.name.lower()}-{p.pid}/"
        items.append(f"""<li class="product type-product post-{p.pid} status-publish \
{("first", "", "last")[i % 3]} instock product_cat-databases product-type-simple">
<a href="{link}" class="woocommerce-LoopProduct-link woocommerce-loop-product__link">
<h2 class="woocommerce-loop-product__title">{escape(p.title)}</h2>
<span class="price"><span class="woocommerce-Price-amount amount"><bdi><span \
class="woocommerce-Price-currencySymbol">&#36;</span>{p.usd:,}</bdi></span></span></a>
<a href="?add-to-cart={p.pid}" data-product_id="{p.pid}" class="button add_to_cart_button">\
Add to cart</a></li>""")
    nav = ""
    if page < pages:
        nav = (
            '<nav class="woocommerce-pagination"><ul class="page-numbers"><li>'
            f'<a class="next page-numbers" href="http://{SHOP_HOST}/shop/page/{page + 1}/">'
            "&rarr;</a></li></ul></nav>"
        )
    return f"""<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8" /><title>Shop &#8211; LeakShop</title></head>
<body class="archive post-type-archive-product woocommerce"><div id="page" class="site">
<header class="site-header"><a href="http://{SHOP_HOST}/">LeakShop</a></header>
<main id="main" class="site-main"><h1 class="page-title">Shop</h1>
<p class="woocommerce-result-count">Showing page {page} of {pages}</p>
<ul class="products columns-3">{"".join(items)}</ul>{nav}</main>
<footer class="site-footer">&copy; LeakShop. Escrow on every order.</footer></div></body></html>
"""


class _Shop:
    def __init__(self, rng: random.Random, every: timedelta, start: datetime) -> None:
        self.rng = rng
        self.every = every
        self.start = start
        self.names = _names(rng, 300)
        self.products: list[_Product] = []  # newest first
        self.next_pid = 300
        self.truth = Truth()
        self.pending_edits: list[Edit] = []
        self.listed: set[int] = set()
        self.removed: dict[int, Removal] = {}
        for _ in range(14):
            self.add()

    def add(self, name: str | None = None, millions: float | None = None) -> _Product:
        p = _Product(
            pid=self.next_pid,
            name=name or self.names.pop(),
            kind=self.rng.choice(_KINDS),
            millions=millions or round(self.rng.uniform(0.1, 40), 1),
            usd=self.rng.randrange(300, 9000, 50),
            seller=self.rng.choice(_SELLERS),
        )
        self.next_pid += self.rng.randint(1, 5)
        self.products.insert(0, p)
        return p

    def alive(self) -> list[_Product]:
        return [p for p in self.products if not p.deleted]

    def mutate(self, step: int, at: datetime, steps: int) -> None:
        rng = self.rng
        if step == 90:
            self.add(REPOST_NAME, 1000.0).kind = "City Police"
            self.truth.reposts.append(str(self.products[0].pid))
        if rng.random() < 0.2 and len(self.alive()) < 26:
            self.add()
        if step >= steps - 10:
            return
        editable = [p for p in self.alive() if p.edited_step <= step - 8 and p.pid in self.listed]
        if editable and rng.random() < 0.14:
            p = rng.choice(editable)
            before, drop = p.price_text, rng.random() < 0.65
            p.usd = max(50, round(p.usd * (0.8 if drop else 1.2) / 50) * 50)
            self.pending_edits.append(Edit(str(p.pid), at, "price", before, p.price_text, drop))
            p.edited_step = step
        elif editable and rng.random() < 0.07:
            p = rng.choice(editable)
            before_count = p.records
            p.millions = round(p.millions + 1.5, 1)
            self.pending_edits.append(
                Edit(str(p.pid), at, "records", before_count, p.records, False)
            )
            p.edited_step = step
        removable = [p for p in editable if p.name != REPOST_NAME]
        if removable and rng.random() < 0.05:
            p = rng.choice(removable)
            p.deleted, p.deleted_step = True, step
            removal = Removal(str(p.pid), at)
            self.truth.removals.append(removal)
            self.removed[p.pid] = removal
        back = [p for p in self.products if p.deleted and p.deleted_step <= step - 10]
        if back and rng.random() < 0.06:
            p = rng.choice(back)
            p.deleted, p.edited_step = False, step
            self.removed.pop(p.pid).returned = at

    def capture(self, step: int, steps: int) -> Capture:
        at = self.start + self.every * step
        if step:
            self.mutate(step, at, steps)
        shown = self.alive()
        pages = max(1, -(-len(shown) // PRODUCTS_PER_PAGE))
        name = str(int(at.timestamp()))
        files = {
            f"{name}{'' if n == 1 else f'-p{n}'}.html": _woo_page(
                shown[(n - 1) * PRODUCTS_PER_PAGE : n * PRODUCTS_PER_PAGE], n, pages
            )
            for n in range(1, pages + 1)
        }
        outcome, defect = _outcome(_defect(self.rng, step), pages)

        def page(n: int, status: str) -> str:
            return f"{name}{'' if n == 1 else f'-p{n}'}{status}.html"

        files = _apply_defect(files, defect, self.rng, True, page)
        self.truth.outcomes[name] = outcome
        if outcome == "complete" or outcome == "partial":
            ids = {p.pid for p in shown}
            if outcome == "partial":
                ids = {p.pid for p in shown[:PRODUCTS_PER_PAGE]}
            self.listed |= ids
            self.truth.listed |= {str(i) for i in ids}
            self.truth.edits += [e for e in self.pending_edits if int(e.external_id) in ids]
            self.pending_edits = [e for e in self.pending_edits if int(e.external_id) not in ids]
        return Capture(name, at, files)


def shop_history(seed: int = 7, steps: int = 210, every: timedelta = timedelta(hours=3)) -> History:
    shop = _Shop(random.Random(seed), every, T0 + timedelta(minutes=40))
    captures = tuple(shop.capture(step, steps) for step in range(steps))
    return History(captures, shop.truth)
