"""HTML of the demo's two onion sites: a MyBB forum and a WooCommerce leak shop. Pure.

The markup follows the real engines' DOM shapes (MyBB 1.8 `forumdisplay`/`showthread`
templates, WooCommerce's product loop) so the extractors meet what they meet in the
wild. Functions here render values; which values exist at which step is `world`'s job.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape


def onion_address(label: str) -> str:
    """A well-formed v3 onion name (56 base32 chars + ".onion") derived from `label`."""
    pubkey = hashlib.sha256(label.encode()).digest()
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]
    return base64.b32encode(pubkey + checksum + b"\x03").decode().lower() + ".onion"


FORUM_HOST = onion_address("leakmon-demo-forum")
SHOP_HOST = onion_address("leakmon-demo-shop")
THREADS_PER_PAGE = 4
THREAD_NOT_FOUND = "The specified thread does not exist."  # MyBB's error_invalidthread
_FORUM = "DarkForum"


@dataclass(frozen=True)
class Thread:
    """A forum thread as shown at one moment."""

    tid: int
    title: str
    seller: str
    uid: int
    posted: datetime
    last_post: datetime
    last_poster: str
    replies: int
    views: int
    body: str
    color: str | None = None  # usergroup colour: the name is wrapped in rank spans
    sticky: bool = False


@dataclass(frozen=True)
class Product:
    pid: int
    slug: str
    title: str
    price: str  # US dollars as displayed: "4,500"
    seller: str
    description: str

    @property
    def path(self) -> str:
        return f"/product/{self.slug}-{self.pid}/"


NOT_FOUND_PAGE = """<!DOCTYPE html>
<html><head><title>404 Not Found</title></head>
<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>
"""

# ---------------------------------------------------------------------- MyBB


def _date(at: datetime, now: datetime) -> str:
    """MyBB's default date style ("Today, 09:12 AM", "06-28-2022, 11:40 PM")."""
    days = (now.date() - at.date()).days
    clock = at.strftime("%I:%M %p")
    if days in (0, 1):
        return f'<span title="{at:%m-%d-%Y}">{("Today", "Yesterday")[days]}</span>, {clock}'
    return f"{at:%m-%d-%Y}, {clock}"


def _profile(name: str, uid: int, color: str | None) -> str:
    shown = escape(name)
    if color:
        shown = f'<span style="color:{color}"><strong>{shown}</strong></span>'
    return f'<a href="member.php?action=profile&amp;uid={uid}">{shown}</a>'


def _mybb(title: str, crumbs: str, content: str) -> str:
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xml:lang="en" lang="en" xmlns="http://www.w3.org/1999/xhtml">
<head><title>{escape(title)}</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" /></head>
<body><div id="container"><div id="header"><div id="logo"><div class="wrapper">
<a href="index.php"><img src="images/logo.png" alt="{_FORUM}" /></a></div></div></div>
<div id="content"><div class="wrapper">
<div class="navigation"><a href="index.php">{_FORUM}</a> &rsaquo; {crumbs}</div><br />
{content}
</div></div><div id="footer"><div class="lower"><div class="wrapper">
<span id="copyright">Powered By <a href="https://mybb.com">MyBB</a>, &copy; 2002-2022</span>
</div></div></div></div></body></html>
"""


def mybb_error(message: str) -> str:
    """MyBB's error page (served with HTTP 200, as MyBB does)."""
    box = f"""<table border="0" cellspacing="0" cellpadding="5" class="tborder">
<tr><td class="thead"><span class="smalltext"><strong>{_FORUM}</strong></span></td></tr>
<tr><td class="trow1">{escape(message)}</td></tr>
</table>"""
    return _mybb(_FORUM, "Error", box)


def _thread_row(t: Thread, now: datetime) -> str:
    kind = "forumdisplay_sticky" if t.sticky else "forumdisplay_regular"
    status = "folder sticky" if t.sticky else ("newhotfolder" if t.views > 1000 else "newfolder")
    cell = f'td class="trow1 {kind}"'
    return f"""<tr class="inline_row">
<{cell} align="center" width="2%"><span class="thread_status {status}" title="New posts.">\
&nbsp;</span></td>
<{cell} align="center" width="2%">&nbsp;</td>
<{cell}><div><span> <span class=" subject_new" id="tid_{t.tid}">\
<a href="showthread.php?tid={t.tid}">{escape(t.title)}</a></span></span>
<div class="author smalltext">{_profile(t.seller, t.uid, t.color)}</div></div></td>
<{cell} align="center"><a href="javascript:MyBB.whoPosted({t.tid});">{t.replies}</a></td>
<{cell} align="center">{t.views:,}</td>
<{cell} style="white-space: nowrap; text-align: right;"><span class="lastpost smalltext">\
{_date(t.last_post, now)}<br /><a href="showthread.php?tid={t.tid}&amp;action=lastpost">\
Last Post</a>: {_profile(t.last_poster, 900 + len(t.last_poster), None)}</span></td>
</tr>"""


def _pagination(page: int, pages: int) -> str:
    link = 'href="forumdisplay.php?fid=2&amp;page={}"'
    nav = [f'<span class="pages">Pages ({pages}):</span>']
    if page > 1:
        nav.append(f'<a {link.format(page - 1)} class="pagination_previous">&laquo; Previous</a>')
    for n in range(1, pages + 1):
        nav.append(
            f'<span class="pagination_current">{n}</span>'
            if n == page
            else f'<a {link.format(n)} class="pagination_page">{n}</a>'
        )
    if page < pages:
        nav.append(f'<a {link.format(page + 1)} class="pagination_next">Next &raquo;</a>')
    return f'<div class="float_left"><div class="pagination">{" ".join(nav)}</div></div>'


def forum_page(
    threads: Sequence[Thread], sticky: Sequence[Thread], page: int, now: datetime
) -> str:
    """`forumdisplay.php?fid=2&page=N`: `threads` in display order, stickies on page 1.

    An out-of-range page shows page 1, as MyBB does.
    """
    pages = max(1, -(-len(threads) // THREADS_PER_PAGE))
    page = page if 1 <= page <= pages else 1
    start = (page - 1) * THREADS_PER_PAGE
    rows = [_thread_row(t, now) for t in threads[start : start + THREADS_PER_PAGE]]
    if page == 1:
        sep = '<tr><td class="trow_sep" colspan="6">{}</td></tr>'
        top = [_thread_row(t, now) for t in sticky]
        rows = [sep.format("Important Threads"), *top, sep.format("Normal Threads"), *rows]
    tcat = '<td class="tcat" {}><span class="smalltext"><strong>{}</strong></span></td>'
    head = [
        '<tr><td class="thead" colspan="6"><div><strong>Databases</strong></div></td></tr>',
        '<tr><td class="tcat" align="center" colspan="2">&nbsp;</td>',
        tcat.format('width="66%"', "Thread / Author"),
        tcat.format('align="center" width="7%"', "Replies"),
        tcat.format('align="center" width="7%"', "Views"),
        tcat.format('align="right" width="20%"', "Last Post") + "</tr>",
    ]
    nav = _pagination(page, pages)
    table = "\n".join(
        [
            f'{nav}<br class="clear" />',
            '<table border="0" cellspacing="0" cellpadding="5" class="tborder clear">',
            *head,
            *rows,
            "</table>",
            nav,
        ]
    )
    return _mybb(f"{_FORUM} - Databases", "Databases", table)


def thread_page(t: Thread | None, now: datetime) -> str:
    """`showthread.php?tid=N`: the first post, or MyBB's "does not exist" error."""
    if t is None:
        return mybb_error(THREAD_NOT_FOUND)
    title = escape(t.title)
    post = f"""<table border="0" cellspacing="0" cellpadding="5" class="tborder tfixed clear">
<tr><td class="thead"><div><strong>{title}</strong></div></td></tr>
<tr><td id="posts_container"><div id="posts">
<div class="post " id="post_{t.tid * 10}">
<div class="post_author"><div class="author_information"><strong><span class="largetext">\
{_profile(t.seller, t.uid, t.color)}</span></strong><br /><span class="smalltext">Member</span>\
</div></div>
<div class="post_content"><div class="post_head"><span class="post_date">\
{_date(t.posted, now)}</span></div>
<div class="post_body scaleimages" id="pid_{t.tid * 10}">{escape(t.body)}</div></div>
</div></div></td></tr></table>"""
    crumbs = f'<a href="forumdisplay.php?fid=2">Databases</a> &rsaquo; {title}'
    return _mybb(t.title, crumbs, post)


# --------------------------------------------------------------- WooCommerce


def _price(amount: str) -> str:
    return (
        '<span class="woocommerce-Price-amount amount"><bdi>'
        f'<span class="woocommerce-Price-currencySymbol">&#36;</span>{amount}</bdi></span>'
    )


def _vendor(seller: str) -> str:
    name = escape(seller)
    return f'<span class="vendor">Sold by: <a href="http://{SHOP_HOST}/store/{name}/">{name}</a></span>'


def _wordpress(title: str, body_class: str, content: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8" /><title>{escape(title)} &#8211; LeakShop</title>
</head>
<body class="{body_class} woocommerce woocommerce-page">
<div id="page" class="hfeed site"><header id="masthead" class="site-header">
<div class="site-branding"><a href="http://{SHOP_HOST}/" rel="home">LeakShop</a></div></header>
<div id="content" class="site-content"><div class="col-full"><div id="primary" class="content-area">
<main id="main" class="site-main" role="main">
{content}
</main></div></div></div>
<footer class="site-footer">&copy; LeakShop. Escrow on every order.</footer></div></body></html>
"""


def shop_page(products: Sequence[Product]) -> str:
    """`/shop/`: every product, newest first, with absolute links as WordPress writes them."""
    items = []
    for i, p in enumerate(products):
        column = ("first", "", "last")[i % 3]
        items.append(f"""<li class="product type-product post-{p.pid} status-publish {column} \
instock product_cat-databases purchasable product-type-simple">
<a href="http://{SHOP_HOST}{p.path}" \
class="woocommerce-LoopProduct-link woocommerce-loop-product__link">\
<h2 class="woocommerce-loop-product__title">{escape(p.title)}</h2>
<span class="price">{_price(p.price)}</span></a>
{_vendor(p.seller)}
<a href="?add-to-cart={p.pid}" data-quantity="1" class="button product_type_simple \
add_to_cart_button ajax_add_to_cart" data-product_id="{p.pid}" rel="nofollow">Add to cart</a>
</li>""")
    content = "\n".join(
        [
            '<header class="woocommerce-products-header">',
            '<h1 class="woocommerce-products-header__title page-title">Shop</h1></header>',
            f'<p class="woocommerce-result-count">Showing all {len(items)} results</p>',
            '<ul class="products columns-3">',
            *items,
            "</ul>",
        ]
    )
    return _wordpress("Shop", "archive post-type-archive post-type-archive-product", content)


def product_page(p: Product) -> str:
    """`/product/<slug>-<id>/`: one product's page."""
    content = f"""<div id="product-{p.pid}" class="product type-product post-{p.pid} \
status-publish instock product_cat-databases product-type-simple">
<div class="summary entry-summary">
<h1 class="product_title entry-title">{escape(p.title)}</h1>
<p class="price">{_price(p.price)}</p>
<div class="woocommerce-product-details__short-description"><p>{escape(p.description)}</p></div>
{_vendor(p.seller)}
</div></div>"""
    body_class = f"product-template-default single single-product postid-{p.pid}"
    return _wordpress(p.title, body_class, content)
