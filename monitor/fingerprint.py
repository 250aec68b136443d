"""Pure: which stored listing is the same dataset as a new one (reposts, clusters).

A fingerprint hashes a title's dataset words (offer words, numbers and prices
removed) and the record count rounded to two significant digits; two listings are
the same dataset when their fingerprints match, or when their record counts are equal
and their title words overlap by at least `REPOST_JACCARD`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from monitor.models import Listing, Records, StoredListing

REPOST_JACCARD = 0.5

# Words that describe the offer rather than the dataset.
_STOPWORD_TEXT = """
    a an and the of for with from in on at by to or as is are this that
    sell selling sale sold wts wtb buy offer offering cheap price
    db dbs database databases data leak leaks leaked dump dumps dumped
    fresh new full hq private exclusive complete latest update updated
    records record rows row lines line entries users user accounts account
    customers members million millions billion billions mil mln bn k kk m mm b
    btc xmr eth usdt usd eur
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SPLIT = re.compile(r"[\W_]+")
# Numbers, amounts and magnitudes: "2019", "10btc", "500k", "1kk", "200".
_NUMBERISH = re.compile(r"\d+(?:k|kk|m|mm|mil|mln|b|bn|btc|xmr|eth|usdt|usd|eur)?")


# An ASCII title's words, as `_SPLIT` finds them in its casefolded NFKC form (which,
# for ASCII, is the title lower-cased): letters lower-cased, digits kept, every
# other byte a space. A C-level table, 4x faster than the regex on a short title.
_ASCII_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256)
)


@lru_cache(maxsize=16_384)  # one crawl asks for a new title's words 3 times
def title_tokens(title: str) -> frozenset[str]:
    """The dataset-describing words of a title: NFKC, casefolded, without
    punctuation, stopwords, numbers or price tokens."""
    if title.isascii():
        words = title.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    else:
        words = _SPLIT.split(unicodedata.normalize("NFKC", title).casefold())
    return frozenset(
        token
        for token in words
        if token
        and token not in STOPWORDS
        # every number-ish token starts with a digit (`\d` is a subset of isdigit)
        and not (token[0].isdigit() and _NUMBERISH.fullmatch(token))
    )


def records_bucket(records: Records | None) -> str:
    """The record count rounded to two significant digits ("-" when unknown)."""
    if records is None:
        return "-"
    return f"{records.count:.1e}"


def fingerprint(listing: Listing) -> str:
    """A stable hash of the title's dataset words and the record-count bucket."""
    return _fingerprint(listing.title, records_bucket(listing.records))


@lru_cache(maxsize=16_384)  # asked for by the pipeline and again by diff_crawl
def _fingerprint(title: str, bucket: str) -> str:
    key = " ".join(sorted(title_tokens(title))) + "|" + bucket
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when either set is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class Candidate:
    stored: StoredListing
    tokens: frozenset[str]
    fingerprint: str


def same_dataset(listing: Listing, tokens: frozenset[str], fp: str, cand: Candidate) -> bool:
    """Same fingerprint (with some dataset words), or the same record count and
    titles whose word sets overlap by at least `REPOST_JACCARD`."""
    if tokens and fp == cand.fingerprint:
        return True
    old = cand.stored.listing.records
    return (
        listing.records is not None
        and old is not None
        and listing.records.count == old.count
        and jaccard(tokens, cand.tokens) >= REPOST_JACCARD
    )


class CandidateIndex:
    """Candidates by fingerprint and by record count: only those can match."""

    def __init__(self, stored: Iterable[StoredListing]) -> None:
        self.by_print: dict[str, list[Candidate]] = defaultdict(list)
        self.by_count: dict[int, list[Candidate]] = defaultdict(list)
        for s in stored:
            cand = Candidate(s, title_tokens(s.listing.title), fingerprint(s.listing))
            self.by_print[cand.fingerprint].append(cand)
            if s.listing.records is not None:
                self.by_count[s.listing.records.count].append(cand)

    def near(self, listing: Listing, fp: str) -> list[Candidate]:
        found = list(self.by_print.get(fp, ()))
        if listing.records is not None:
            found += self.by_count.get(listing.records.count, ())
        return found


def original_of(listing: Listing, fp: str, candidates: CandidateIndex) -> StoredListing | None:
    """The earliest-seen stored listing (another id) of the same dataset, if any."""
    near = candidates.near(listing, fp)
    if not near:  # the common case of an ingest: nothing shares a print or a count
        return None
    tokens = title_tokens(listing.title)
    matches = [
        c.stored for c in near if c.stored.id != listing.id and same_dataset(listing, tokens, fp, c)
    ]
    return min(matches, key=lambda s: (s.first_seen, s.id), default=None)


_MAX_SUCCESSOR_CANDIDATES = 64  # per repost cluster or fingerprint: look-alike titles


def successors(old: Iterable[StoredListing], new: Iterable[StoredListing]) -> dict[str, str]:
    """For listings a redesign renamed (`old`), the listing of `new` that continues
    each, one to one. First the same title (case aside) and record count; then, for
    the rest, candidates that share a repost cluster or a fingerprint with dataset
    words in it, the best pairs first (the same fingerprint, then more title words
    in common, then the same record count, then ids). Each cluster or fingerprint
    offers at most `_MAX_SUCCESSOR_CANDIDATES` listings, so a shop of look-alike
    titles costs linear time, not quadratic."""
    olds = sorted(old, key=lambda s: s.id)
    news = sorted(new, key=lambda s: s.id)
    out: dict[str, str] = {}
    taken: set[str] = set()
    exact: dict[tuple[str, int | None], list[str]] = defaultdict(list)
    for n in news:
        exact[_title_key(n)].append(n.id)
    for o in olds:
        same = [i for i in exact.get(_title_key(o), ()) if i not in taken and i != o.id]
        if same:
            out[o.id] = same[0]
            taken.add(same[0])
    words = {n.id: title_tokens(n.listing.title) for n in news}
    by_key: dict[str, list[StoredListing]] = defaultdict(list)
    for n in news:
        if n.id in taken:
            continue
        keys = ["cluster:" + (n.cluster or n.id)]
        if n.fingerprint and words[n.id]:
            keys.append("print:" + n.fingerprint)
        for key in keys:
            if len(by_key[key]) < _MAX_SUCCESSOR_CANDIDATES:
                by_key[key].append(n)
    pairs: list[tuple[tuple[int, float, int], str, str]] = []
    for o in olds:
        if o.id in out:
            continue
        mine = title_tokens(o.listing.title)
        keys = ["cluster:" + (o.cluster or o.id)]
        if o.fingerprint and mine:
            keys.append("print:" + o.fingerprint)
        found = {n.id: n for key in keys for n in by_key.get(key, ()) if n.id != o.id}
        for n in found.values():
            same_print = int(bool(mine) and n.fingerprint == o.fingerprint)
            score = (same_print, jaccard(mine, words[n.id]), int(_same_count(n, o)))
            pairs.append((score, o.id, n.id))
    pairs.sort(key=lambda p: (-p[0][0], -p[0][1], -p[0][2], p[1], p[2]))
    for _, old_id, new_id in pairs:
        if old_id not in out and new_id not in taken:
            out[old_id] = new_id
            taken.add(new_id)
    return out


def _title_key(s: StoredListing) -> tuple[str, int | None]:
    records = s.listing.records
    return s.listing.title.casefold(), None if records is None else records.count


def _same_count(a: StoredListing, b: StoredListing) -> bool:
    ra, rb = a.listing.records, b.listing.records
    return ra is not None and rb is not None and ra.count == rb.count
