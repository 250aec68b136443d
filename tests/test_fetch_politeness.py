"""Retries and politeness against a real loopback server (requests counted there)."""

from __future__ import annotations

import asyncio

import pytest

from monitor.fetch import Fetcher, Politeness
from monitor.models import Page, PageOutcome
from tests.test_fetch_live import (
    HOST,
    OTHER,
    Handler,
    LoopServer,
    Request,
    no_backoff,
    ok_page,
    respond,
    source,
    world,
)

__all__ = ["no_backoff"]  # the autouse fixture, imported to apply here too


def scripted(statuses: list[int]) -> Handler:
    """A handler answering `statuses` in turn, then 200 with a "busy" block page."""
    remaining = list(statuses)

    async def handler(request: Request, writer: asyncio.StreamWriter) -> None:
        status = remaining.pop(0) if remaining else 200
        await respond(writer, status, "<html><body>busy, try again later</body></html>")

    return handler


def get_once(handler: Handler, retries: int) -> tuple[Page, LoopServer]:
    async def go() -> tuple[Page, LoopServer]:
        src = source(retries=retries)
        async with world(handler) as (server, _relay, tor), Fetcher(tor, src) as fetcher:
            return await fetcher.get(src.url), server

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("statuses", "retries", "outcome", "requests"),
    [
        ([503, 503], 2, PageOutcome.BLOCKED, 3),  # the 200 "busy" page is then a block page
        ([503, 503, 503], 2, PageOutcome.FAILED, 3),
        ([502, 504], 2, PageOutcome.BLOCKED, 3),
        ([503], 0, PageOutcome.FAILED, 1),
        ([404], 2, PageOutcome.FAILED, 1),
        ([403], 2, PageOutcome.FAILED, 1),
        ([429], 2, PageOutcome.FAILED, 1),
    ],
)
def test_retries_on_502_503_504_only(
    statuses: list[int], retries: int, outcome: PageOutcome, requests: int
) -> None:
    page, server = get_once(scripted(statuses), retries)
    assert page.outcome is outcome
    assert len(server.requests) == requests


def test_block_pages_are_not_retried() -> None:
    page, server = get_once(scripted([]), retries=3)
    assert page.outcome is PageOutcome.BLOCKED
    assert len(server.requests) == 1


async def slow_page(request: Request, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(0.02)
    await ok_page(request, writer)


def crawl_together(max_concurrency: int, hosts: tuple[str, str], min_delay: float) -> LoopServer:
    """Two sources sharing one Politeness fetch 3 pages each at once; the server."""

    async def go() -> LoopServer:
        async with world(slow_page, hosts=(HOST, OTHER)) as (server, _relay, tor):
            politeness = Politeness(max_concurrency)
            a = source("a", hosts[0], min_delay=min_delay)
            b = source("b", hosts[1], min_delay=min_delay)
            async with Fetcher(tor, a, politeness) as fa, Fetcher(tor, b, politeness) as fb:
                pages = await asyncio.gather(
                    *(f.get(f"{s.url}p{i}") for f, s in ((fa, a), (fb, b)) for i in range(3))
                )
            assert all(p.outcome is PageOutcome.OK for p in pages)
            return server

    return asyncio.run(go())


def test_one_request_at_a_time_per_host_across_sources() -> None:
    server = crawl_together(8, (HOST, HOST), min_delay=0.01)
    assert len(server.requests) == 6
    assert server.max_active == 1


def test_different_hosts_run_in_parallel_within_the_global_limit() -> None:
    assert crawl_together(8, (HOST, OTHER), min_delay=0).max_active == 2
    assert crawl_together(1, (HOST, OTHER), min_delay=0).max_active == 1


def test_min_delay_spaces_requests_to_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await real_sleep(0)

    async def go() -> None:
        politeness = Politeness(4, clock=lambda: now[0])
        monkeypatch.setattr(asyncio, "sleep", fake_sleep)
        async with politeness.slot(HOST, 5.0):
            now[0] += 1.0  # the request takes 1 s
        async with politeness.slot(HOST, 5.0):  # waits 5 s after the previous one ended
            now[0] += 1.0
        async with politeness.slot(OTHER, 5.0):  # another host: no wait
            pass
        now[0] += 10.0
        async with politeness.slot(HOST, 5.0):  # long enough ago: no wait
            pass

    asyncio.run(go())
    assert slept == [5.0]
