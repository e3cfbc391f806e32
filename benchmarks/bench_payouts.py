"""Payouts at concurrency against the emulator running in another process.

Reports payouts/s, this process's CPU per payout and peak RSS for:

* ``client``       - ``client.payouts.to_card`` (validation, signing middleware, verification,
                     typed results), every payout answering ``ok``;
* ``raw aiohttp``  - the same exchange written by hand with aiohttp (``_by_hand``);
* ``httpx``        - the same by hand with httpx;
* ``client+process`` - ``to_card`` with a share of payouts answering ``process`` first, so they
                     are polled until final (the realistic mix);

then, with ``--in-flight N``, N payouts started at once through one client (memory per pending
payout), reporting peak RSS.

    python benchmarks/bench_payouts.py --payouts 3000 --concurrency 200 --in-flight 10000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import aiohttp
import httpx
from _by_hand import HEADERS, checked_answer, signed_body
from _emulator_process import emulator_process

from freedompay_async import FreedomPayClient, PayoutPolicy, PayoutState, RetryPolicy

MERCHANT = "552893"
PAYMENT_KEY = "bench-payment-key"
PAYOUT_KEY = "bench-payout-key"
OK_CARD = "4405645000006150"
PROCESS_CARD = "5507841999732294"  # test card: process, then success
POST_LINK = "http://127.0.0.1:9/notify"  # refused at once: notifications cost nothing here
ORDERS = itertools.count(1)


def order_params(card: str) -> dict[str, str]:
    return {
        "pg_order_id": f"B-{next(ORDERS)}",
        "pg_amount": "1.00",
        "pg_description": "bench",
        "pg_payment_to": card,
        "pg_post_link": POST_LINK,
    }


async def timed(
    count: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> tuple[float, float]:
    """(payouts per second, CPU microseconds per payout) for ``count`` calls of ``one``."""
    indexes = iter(range(count))

    async def worker() -> None:
        for index in indexes:
            await one(index)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return count / wall, cpu / count * 1e6


def client_for(url: str, limit: int) -> FreedomPayClient:
    return FreedomPayClient(
        MERCHANT,
        PAYMENT_KEY,
        payout_secret_key=PAYOUT_KEY,
        base_url=url,
        connection_limit=limit,
        retry=RetryPolicy(attempts=1),
        timeout=aiohttp.ClientTimeout(total=120),
        payout_policy=PayoutPolicy(poll_initial=0.05, poll_max=0.5, wait_deadline=120),
    )


async def run(payouts: int, concurrency: int, process_share: float, in_flight: int) -> None:
    async with emulator_process(MERCHANT, PAYMENT_KEY, PAYOUT_KEY) as (url, _):
        results: dict[str, tuple[float, float]] = {}
        async with client_for(url, concurrency) as client:

            async def via_client(index: int, *, process: bool = False) -> None:
                params = order_params(PROCESS_CARD if process else OK_CARD)
                payout = await client.payouts.to_card(
                    order_id=params["pg_order_id"],
                    amount=Decimal(params["pg_amount"]),
                    card_number=params["pg_payment_to"],
                    description=params["pg_description"],
                    post_link=params["pg_post_link"],
                )
                assert payout.state is PayoutState.SUCCESS

            await timed(200, concurrency, via_client)  # warm up
            results["client"] = await timed(payouts, concurrency, via_client)
            every = max(1, round(1 / process_share)) if process_share else 0

            async def mixed(index: int) -> None:
                await via_client(index, process=bool(every) and index % every == 0)

            results["client+process"] = await timed(payouts, concurrency, mixed)

        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def via_aiohttp(index: int) -> None:
                body = signed_body("p2p2nonreg", order_params(OK_CARD), MERCHANT, PAYOUT_KEY)
                async with session.post(f"{url}/g2g/p2p2nonreg", data=body, headers=HEADERS) as r:
                    answer = checked_answer("p2p2nonreg", await r.read(), PAYOUT_KEY)
                assert answer["pg_status"] == "ok"

            await timed(200, concurrency, via_aiohttp)
            results["raw aiohttp"] = await timed(payouts, concurrency, via_aiohttp)

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=120) as http:

            async def via_httpx(index: int) -> None:
                body = signed_body("p2p2nonreg", order_params(OK_CARD), MERCHANT, PAYOUT_KEY)
                response = await http.post(f"{url}/g2g/p2p2nonreg", content=body, headers=HEADERS)
                assert (
                    checked_answer("p2p2nonreg", response.content, PAYOUT_KEY)["pg_status"] == "ok"
                )

            await timed(200, concurrency, via_httpx)
            results["httpx"] = await timed(payouts, concurrency, via_httpx)

        print(f"{payouts} payouts at concurrency {concurrency} (emulator in another process):")
        for name, (rate, cpu) in results.items():
            print(f"  {name:<15} {rate:8,.0f} payouts/s   {cpu:7,.0f} µs client CPU per payout")
        client_cpu, raw_cpu = results["client"][1], results["raw aiohttp"][1]
        print(f"  client CPU / raw aiohttp = {client_cpu / raw_cpu:.2f}x")
        print(f"  client CPU / httpx       = {client_cpu / results['httpx'][1]:.2f}x")
        print(f"  peak RSS so far: {peak_rss_mb():.0f} MB")

        if in_flight:
            async with client_for(url, 100) as client:
                before = peak_rss_mb()
                started = time.perf_counter()

                async def one() -> None:
                    params = order_params(OK_CARD)
                    await client.payouts.to_card(
                        order_id=params["pg_order_id"],
                        amount=Decimal("1.00"),
                        card_number=OK_CARD,
                        description="bench",
                        post_link=POST_LINK,
                    )

                await asyncio.gather(*(one() for _ in range(in_flight)))
                took = time.perf_counter() - started
                print(
                    f"{in_flight} payouts in flight at once (pool of 100 connections): done in "
                    f"{took:.1f} s, peak RSS {peak_rss_mb():.0f} MB (was {before:.0f} MB)"
                )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payouts", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--process-share", type=float, default=0.1)
    parser.add_argument("--in-flight", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(run(args.payouts, args.concurrency, args.process_share, args.in_flight))


if __name__ == "__main__":
    main()
