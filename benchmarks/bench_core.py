"""Core costs: sign, encode, decode+verify, and a full client round trip vs raw aiohttp.

The trivial gateway runs in a separate process, so ``time.process_time()`` in this process is the
client's own CPU. Three ways of making the same payout call are timed, interleaved over rounds:

* ``raw``      - aiohttp posting a prebuilt body and reading the answer (transport floor);
* ``by_hand``  - what a careful developer writes with raw aiohttp: sign, encode, post, parse the
                 XML with xmltodict, check the answer's signature;
* ``client``   - ``FreedomPayClient.request`` (middleware signing, verification, typed errors).

Usage: ``python benchmarks/bench_core.py [--calls 3000] [--concurrency 8] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import time
import timeit
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any

import aiohttp
from _by_hand import HEADERS, checked_answer, signed_body
from aiohttp import web

from freedompay_async import FreedomPayClient, RetryPolicy, signing
from freedompay_async._wire import encode_form, flatten, parse_xml

MERCHANT = "552893"
KEY = "bench-payout-key"
PARAMS = {
    "pg_order_id": "order-000123",
    "pg_amount": Decimal("1500.00"),
    "pg_currency": "KZT",
    "pg_description": "Salary for November",
    "pg_payment_to": "4405645000006150",
    "pg_post_link": "https://merchant.example/payouts/notify",
    "pg_user_id": "user_42",
}
ANSWER = signing.sign_xml(
    "p2p2nonreg",
    {
        "pg_status": "ok",
        "pg_payment_id": "7999007876",
        "pg_merchant_id": MERCHANT,
        "pg_order_id": "order-000123",
        "pg_balance": "982500.00",
        "pg_payment_amount": "1500.00",
        "pg_payment_date": "2026-11-21 12:00:00",
        "pg_reference": "REF123456",
        "pg_datetime": "2026-11-21T12:00:00+00:00",
    },
    KEY,
)


def micro() -> dict[str, float]:
    """Microseconds per pure operation."""
    full = {**PARAMS, "pg_merchant_id": MERCHANT, "pg_salt": "0123456789abcdef"}
    document = parse_xml(ANSWER)
    cases: dict[str, Callable[[], object]] = {
        "sign": lambda: signing.sign("p2p2nonreg", full, KEY),
        "encode": lambda: encode_form((f, v) for _, f, v in flatten(full)),
        "decode+verify": lambda: signing.verify_document("p2p2nonreg", parse_xml(ANSWER), KEY),
        "verify only": lambda: signing.verify_document("p2p2nonreg", document, KEY),
    }
    results = {}
    for name, fn in cases.items():
        runs = timeit.repeat(fn, number=2000, repeat=5)
        results[name] = min(runs) / 2000 * 1e6
    return results


def serve(port: int) -> None:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=ANSWER, content_type="application/xml")

    app = web.Application()
    app.router.add_post("/g2g/p2p2nonreg", answer)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


HAND_PARAMS = {name: str(value) for name, value in PARAMS.items()}


async def run_round(url: str, calls: int, concurrency: int) -> dict[str, float]:
    """Client CPU microseconds per call for each variant."""
    results: dict[str, float] = {}
    endpoint = url + "/g2g/p2p2nonreg"
    static_body = signed_body("p2p2nonreg", HAND_PARAMS, MERCHANT, KEY)

    async with aiohttp.ClientSession() as session:

        async def raw() -> None:
            async with session.post(endpoint, data=static_body, headers=HEADERS) as resp:
                await resp.read()

        async def by_hand() -> None:
            body = signed_body("p2p2nonreg", HAND_PARAMS, MERCHANT, KEY)
            async with session.post(endpoint, data=body, headers=HEADERS) as resp:
                checked_answer("p2p2nonreg", await resp.read(), KEY)

        async with FreedomPayClient(
            MERCHANT, KEY, base_url=url, retry=RetryPolicy(attempts=1)
        ) as client:

            async def library() -> None:
                await client.request("g2g/p2p2nonreg", PARAMS)

            variants: dict[str, Callable[[], Awaitable[None]]] = {
                "raw": raw,
                "by_hand": by_hand,
                "client": library,
            }
            for name, fn in variants.items():
                results[name] = await _measure(fn, calls, concurrency)
    return results


async def _measure(fn: Callable[[], Awaitable[None]], calls: int, concurrency: int) -> float:
    for _ in range(50):  # warm the pool and caches
        await fn()
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fn()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    print("pure operations (µs per call, best of 5):")
    for name, value in micro().items():
        print(f"  {name:<14} {value:8.2f}")

    rounds = against_trivial_gateway(run_round, args.calls, args.concurrency, args.rounds)
    median = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(
        f"round trip, client CPU µs per call (median of {args.rounds} rounds, "
        f"{args.calls} calls, concurrency {args.concurrency}):"
    )
    for name, value in median.items():
        print(f"  {name:<8} {value:8.1f}")
    print(f"  client / by_hand = {median['client'] / median['by_hand']:.2f}x")
    print(f"  client / raw     = {median['client'] / median['raw']:.2f}x")


def against_trivial_gateway(
    run_round: Callable[[str, int, int], Coroutine[Any, Any, dict[str, float]]],
    calls: int,
    concurrency: int,
    rounds: int,
) -> list[dict[str, float]]:
    """``rounds`` runs of ``run_round(url, calls, concurrency)`` against :func:`serve` running
    in another process (so this process's CPU time is the client's own)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port,), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(_wait_ready(url))
        return [asyncio.run(run_round(url, calls, concurrency)) for _ in range(rounds)]
    finally:
        server.terminate()
        server.join()


async def _wait_ready(url: str) -> None:
    for _ in range(100):
        try:
            async with aiohttp.ClientSession() as session, session.get(url):
                return
        except aiohttp.ClientConnectorError:
            await asyncio.sleep(0.05)
    raise RuntimeError("benchmark server did not start")


if __name__ == "__main__":
    main()
