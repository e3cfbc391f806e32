"""Throughput of the standalone emulator: signed payout + status calls at concurrency ~50.

Starts ``python -m freedompay_async.testing`` in its own process, drives it with a raw aiohttp
client for a few seconds (each worker creates a payout, then asks its status), and prints
calls/s and the emulator process's CPU seconds per call (from ``/proc/<pid>/stat``, Linux).
Payout notifications go to a sink in this process, so their cost is part of the measure.

    PYTHONPATH=. python benchmarks/bench_emulator.py --seconds 5 --concurrency 50
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from _emulator_process import emulator_process
from aiohttp import web

from freedompay_async._wire import encode_form
from freedompay_async.signing import new_salt, sign

MERCHANT = "552893"
PAYOUT_KEY = "bench-payout-key"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signed(script: str, params: dict[str, str]) -> bytes:
    fields = {"pg_merchant_id": MERCHANT, **params, "pg_salt": new_salt()}
    fields["pg_sig"] = sign(script, fields, PAYOUT_KEY)
    return encode_form(fields.items())


async def start_sink() -> tuple[web.AppRunner, str]:
    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/notify", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/notify"


async def worker(
    session: aiohttp.ClientSession,
    url: str,
    post_link: str,
    orders: Iterator[int],
    stop_at: float,
    counts: list[int],
) -> None:
    while time.monotonic() < stop_at:
        order_id = str(next(orders))
        payout = {
            "pg_order_id": order_id,
            "pg_amount": "10.00",
            "pg_description": "bench",
            "pg_payment_to": "4405645000006150",
            "pg_post_link": post_link,
        }
        for path, params in (
            ("g2g/p2p2nonreg", payout),
            ("g2g/payout_status2", {"pg_order_id": order_id}),
        ):
            body = signed(path.rpartition("/")[2], params)
            async with session.post(f"{url}/{path}", data=body, headers=HEADERS) as answer:
                text = await answer.read()
            if answer.status != 200 or b"<pg_status>error" in text:
                raise RuntimeError(f"{path} failed: {answer.status} {text[:200]!r}")
            counts[0] += 1


async def run(seconds: float, concurrency: int) -> None:
    sink, post_link = await start_sink()
    try:
        async with emulator_process(MERCHANT, "bench-payment-key", PAYOUT_KEY) as (url, pid):
            orders = itertools.count(1)
            connector = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(connector=connector) as session:
                warm = [0]
                warm_until = time.monotonic() + 0.5
                await asyncio.gather(
                    *(
                        worker(session, url, post_link, orders, warm_until, warm)
                        for _ in range(concurrency)
                    )
                )
                counts = [0]
                cpu_before, started = cpu_seconds(pid), time.monotonic()
                await asyncio.gather(
                    *(
                        worker(session, url, post_link, orders, started + seconds, counts)
                        for _ in range(concurrency)
                    )
                )
                elapsed, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu_before
    finally:
        await sink.cleanup()
    calls = counts[0]
    print(f"concurrency {concurrency}, {elapsed:.1f} s, {calls} calls (payout + status2 pairs)")
    print(f"throughput:        {calls / elapsed:,.0f} calls/s")
    print(f"emulator CPU:      {cpu / calls * 1e6:,.0f} us/call ({cpu / elapsed:.0%} of one core)")
    print(f"emulator capacity: {calls / cpu:,.0f} calls per CPU-second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
