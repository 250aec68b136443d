"""The synthetic WooCommerce shop history (see `tests.histories`): every product
listed over paginated pages, price and record-count edits, removals, returns, the
repost of the forum's deleted dataset, and defects."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from monitor.demo.sites import SHOP_HOST
from tests.histories import (
    KINDS,
    PRODUCTS_PER_PAGE,
    REPOST_NAME,
    SELLERS,
    T0,
    Capture,
    Edit,
    History,
    Removal,
    Truth,
    apply_defect,
    defect_of,
    invented_names,
    outcome_of,
)


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
        self.names = invented_names(rng, 300)
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
            kind=self.rng.choice(KINDS),
            millions=millions or round(self.rng.uniform(0.1, 40), 1),
            usd=self.rng.randrange(300, 9000, 50),
            seller=self.rng.choice(SELLERS),
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
        outcome, defect = outcome_of(defect_of(self.rng, step), pages)

        def page(n: int, status: str) -> str:
            return f"{name}{'' if n == 1 else f'-p{n}'}{status}.html"

        files = apply_defect(files, defect, self.rng, True, page)
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
