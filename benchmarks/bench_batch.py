"""Payout batches: ``run_payout_batch`` over 10,000 rows at concurrency 200, emulator in another
process.

Reports, per variant, rows/s, this process's CPU per row and the journal's own cost:

* ``no journal``     - ``journal=None`` (in memory only, no crash safety): the baseline;
* ``journal NORMAL`` - the SQLite journal as the CLI uses it (WAL, ``synchronous=NORMAL``:
                       durable against a crash of the process);
* ``journal FULL``   - ``synchronous=FULL`` (also durable against power loss: fsync per change).

Rows: mostly plain successes, ``--declined`` share declined by the emulator, ``--process``
share going through ``process`` first (polled until final). Then the peak RSS of this process.

    python benchmarks/bench_batch.py --rows 10000 --concurrency 200
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

import aiohttp
from _emulator_process import emulator_process

from freedompay_async import FreedomPayClient, PayoutPolicy, RetryPolicy
from freedompay_async.batch import (
    Journal,
    PayoutRow,
    RowState,
    Synchronous,
    payout_row,
    run_payout_batch,
)

MERCHANT = "552893"
PAYMENT_KEY = "bench-payment-key"
PAYOUT_KEY = "bench-payout-key"
OK_CARD = "4405645000006150"
DECLINED_CARD = "5325349472901311"  # test card: error 10000
PROCESS_CARD = "5507841999732294"  # test card: process, then success
POST_LINK = "http://127.0.0.1:9/notify"  # refused at once: notifications cost nothing here


def make_rows(count: int, prefix: str, declined: float, process: float) -> list[PayoutRow]:
    every_declined = round(1 / declined) if declined else 0
    every_process = round(1 / process) if process else 0
    rows = []
    for index in range(count):
        card = OK_CARD
        if every_declined and index % every_declined == 1:
            card = DECLINED_CARD
        elif every_process and index % every_process == 2:
            card = PROCESS_CARD
        fields = {
            "order_id": f"{prefix}-{index:06d}",
            "amount": "100.00",
            "description": "bench",
            "card_number": card,
        }
        rows.append(payout_row(fields, index + 2))
    return rows


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def one_run(
    client: FreedomPayClient, rows: list[PayoutRow], journal: Journal, concurrency: int
) -> tuple[float, float]:
    """(rows per second, client CPU microseconds per row)."""
    cpu, wall = time.process_time(), time.perf_counter()
    report = await run_payout_batch(
        client, rows, journal=journal, concurrency=concurrency, post_link=POST_LINK
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = report.counts
    assert counts[RowState.SUCCESS] + counts[RowState.ERROR] == len(rows), counts
    return len(rows) / wall, cpu / len(rows) * 1e6


async def run(rows: int, concurrency: int, declined: float, process: float, rounds: int) -> None:
    async with emulator_process(MERCHANT, PAYMENT_KEY, PAYOUT_KEY) as (url, _):
        client = FreedomPayClient(
            MERCHANT,
            PAYMENT_KEY,
            payout_secret_key=PAYOUT_KEY,
            base_url=url,
            connection_limit=concurrency,
            retry=RetryPolicy(attempts=1),
            timeout=aiohttp.ClientTimeout(total=120),
            payout_policy=PayoutPolicy(poll_initial=0.05, poll_max=0.5, wait_deadline=120),
        )
        async with client:
            warm = make_rows(min(500, rows), "W", declined, process)
            await one_run(client, warm, Journal(None), concurrency)
            runs: dict[str, list[tuple[float, float, Journal]]] = {}
            with tempfile.TemporaryDirectory() as folder:
                variants: list[tuple[str, Path | None, Synchronous]] = [
                    ("no journal", None, "NORMAL"),
                    ("journal NORMAL", Path(folder) / "normal", "NORMAL"),
                    ("journal FULL", Path(folder) / "full", "FULL"),
                ]
                # Interleaved rounds, so drift (the emulator's growing state, the machine)
                # weighs on every variant alike; the best round of each is reported.
                for round_number in range(rounds):
                    for name, path, sync in variants:
                        prefix = f"{name[:9].replace(' ', '')}{round_number}"
                        batch = make_rows(rows, prefix, declined, process)
                        file = None if path is None else path.with_suffix(f".{round_number}")
                        with Journal(file, synchronous=sync) as journal:
                            rate, cpu = await one_run(client, batch, journal, concurrency)
                        runs.setdefault(name, []).append((rate, cpu, journal))
            results = {name: max(values, key=lambda run: run[0]) for name, values in runs.items()}
        print(
            f"{rows:,} rows at concurrency {concurrency} (emulator in another process; "
            f"{declined:.0%} declined, {process:.0%} through process; best of {rounds}):"
        )
        base_rate, base_cpu, _ = results["no journal"]
        for name, (rate, cpu, journal) in results.items():
            line = f"  {name:<15} {rate:8,.0f} rows/s   {cpu:6,.0f} µs CPU per row"
            if journal.writes:
                per_write = journal.write_seconds / journal.writes * 1e6
                line += (
                    f"   {journal.writes:,} writes, {per_write:,.0f} µs each (max "
                    f"{journal.max_write_seconds * 1e3:,.1f} ms), {journal.write_seconds:.2f} s "
                    f"on the loop; vs no journal: {rate / base_rate - 1:+.0%} rows/s, "
                    f"{cpu - base_cpu:+,.0f} µs CPU per row"
                )
            print(line)
        print(f"  peak RSS of the batch process: {peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--declined", type=float, default=0.05)
    parser.add_argument("--process", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.concurrency, args.declined, args.process, args.rounds))


if __name__ == "__main__":
    main()
