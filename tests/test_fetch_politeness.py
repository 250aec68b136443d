"""Retries and politeness against a real loopback server (requests counted there)."""

from __future__ import annotations

import asyncio
from typing import Any

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


async def hold_then_queue(politeness: Politeness, sinces: list[float | None]) -> list[int]:
    """Hold the only slot, queue one request per `since` (on its own host, in list
    order), release; return the order in which the queued ones were admitted."""
    admitted: list[int] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with politeness.slot("holder.onion"):
            await release.wait()

    async def queued(i: int, since: float | None) -> None:
        async with politeness.slot(f"h{i}.onion", since=since):
            admitted.append(i)
            await asyncio.sleep(0)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks = []
    for i, since in enumerate(sinces):
        tasks.append(asyncio.create_task(queued(i, since)))
        await asyncio.sleep(0)  # each one queues before the next
    release.set()
    await asyncio.gather(first, *tasks)
    return admitted


def test_waiting_requests_are_admitted_by_when_their_page_was_first_asked_for() -> None:
    now = [100.0]
    politeness = Politeness(1, clock=lambda: now[0])
    # a retry of a page first asked for at 50 queued last, after two new requests
    order = asyncio.run(hold_then_queue(politeness, [None, None, 50.0]))
    assert order == [2, 0, 1]  # then first come, first served


def test_a_cancelled_waiter_gives_up_its_place_and_leaks_no_slot() -> None:
    async def go() -> list[str]:
        politeness = Politeness(1)
        admitted: list[str] = []
        release = asyncio.Event()

        async def req(name: str, hold: asyncio.Event | None = None) -> None:
            async with politeness.slot(f"{name}.onion"):
                admitted.append(name)
                if hold is not None:
                    await hold.wait()

        first = asyncio.create_task(req("first", release))
        await asyncio.sleep(0)
        gone = asyncio.create_task(req("gone"))
        later = asyncio.create_task(req("later"))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, later)
        async with politeness.slot("again.onion"):  # the slot came back
            admitted.append("again")
        assert gone.cancelled()
        return admitted

    assert asyncio.run(go()) == ["first", "later", "again"]


def test_never_more_requests_in_flight_than_max_concurrency() -> None:
    async def go() -> int:
        politeness = Politeness(3)
        active = peak = 0

        async def req(i: int) -> None:
            nonlocal active, peak
            async with politeness.slot(f"h{i}.onion", since=float(i % 4)):
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.001 * (i % 3))
                active -= 1

        await asyncio.gather(*(req(i) for i in range(20)))
        return peak

    assert asyncio.run(go()) == 3


def test_every_attempt_of_a_page_queues_as_of_its_first_one() -> None:
    sinces: list[float | None] = []

    class Recording(Politeness):
        def slot(self, host: str, min_delay: float = 0.0, *, since: float | None = None) -> Any:
            sinces.append(since)
            return super().slot(host, min_delay, since=since)

    async def go() -> list[float | None]:
        src = source(retries=2)
        async with (
            world(scripted([503, 503])) as (_, _relay, tor),
            Fetcher(tor, src, Recording(4)) as fetcher,
        ):
            await fetcher.get(src.url)
            await fetcher.get(src.url)
        return sinces

    first, second, third, fourth = asyncio.run(go())
    assert first is not None and first == second == third  # one page, 3 attempts
    assert fourth is not None and fourth > first  # the next page queues anew


def test_a_waiter_cancelled_as_its_slot_arrives_hands_the_slot_on() -> None:
    async def go() -> bool:
        politeness = Politeness(1)
        waiter: asyncio.Task[None] | None = None

        async def wait_for_slot() -> None:
            async with politeness.slot("w.onion"):
                pass

        async def holder() -> None:
            nonlocal waiter
            async with politeness.slot("holder.onion"):
                waiter = asyncio.create_task(wait_for_slot())
                await asyncio.sleep(0)  # the waiter queues
            waiter.cancel()  # granted the slot a moment ago, before it could run

        await holder()
        assert waiter is not None
        await asyncio.gather(waiter, return_exceptions=True)
        async with asyncio.timeout(1), politeness.slot("again.onion"):
            return waiter.cancelled()

    assert asyncio.run(go())
