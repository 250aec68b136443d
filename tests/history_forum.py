"""The synthetic MyBB forum history (see `tests.histories`): threads sorted by
last activity (4 per page, 3 pages crawled), bumps, edits (a third of the threads
priced in the post only, their edits seen on their saved pages), deletions shown on
thread pages, returns, the repost's original, defects, and a redesign that stays."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from monitor.demo.sites import NOT_FOUND_PAGE, THREADS_PER_PAGE, Thread, forum_page, thread_page
from tests.histories import (
    CAPTCHA,
    KINDS,
    MAX_PAGES,
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
    def post_priced(self) -> bool:
        """A third of the threads state the price in the post only ("Price: ..."), as
        many leak forums do; the crawler saves their pages at every capture."""
        return self.tid % 3 == 0

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
        head = f"[SELLING] {self.name} {self.kind} database - {self.records_text} records"
        return head if self.post_priced else f"{head} - {self.price_text}"

    def shown(self) -> Thread:
        price = f"Price: {self.price_text}." if self.post_priced else "price in the title."
        body = (
            f"{self.name} {self.kind} dump, {self.records_text} records. Sample on request, "
            f"escrow accepted, {price}"
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
        self.names = invented_names(rng, 400)
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
            kind=self.rng.choice(KINDS),
            millions=kw.get("millions", round(self.rng.uniform(0.1, 30), 1)),
            btc=kw.get("btc", round(self.rng.uniform(0.5, 12), 1)),
            seller=self.rng.choice(SELLERS),
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
        defect = defect_of(self.rng, step)
        if step >= self.redesign_step:
            files = {"page1.html": _xf_list(shown)}
            outcome, defect = outcome_of(defect if defect in ("captcha", "empty") else None, 1)
            files = apply_defect(files, defect, self.rng, False, _forum_page)
            visible: list[_Thread] = []
        else:
            visible = shown[: THREADS_PER_PAGE * MAX_PAGES]
            pages = max(1, min(MAX_PAGES, -(-len(shown) // THREADS_PER_PAGE)))
            files = {
                f"page{n}.html": forum_page([s.shown() for s in shown], [], n, at)
                for n in range(1, pages + 1)
            }
            outcome, defect = outcome_of(defect, pages)
            files = apply_defect(files, defect, self.rng, False, _forum_page)
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
            t = self.threads[tid]
            if t.post_priced and not new_theme:  # read again: an edit of the post shows
                files[f"threads/{tid}.html"] = thread_page(t.shown(), at)
        return files


def forum_history(
    seed: int = 5, steps: int = 230, every: timedelta = timedelta(hours=2.5)
) -> History:
    forum = _Forum(random.Random(seed), steps, every)
    captures = tuple(forum.capture(step) for step in range(steps))
    return History(captures, forum.truth)
