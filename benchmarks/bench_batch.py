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
from freedompay_async.batch import Journal, PayoutRow, RowState, payout_row, run_payout_batch

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


def client_for(url: str, concurrency: int) -> FreedomPayClient:
    return FreedomPayClient(
        MERCHANT,
        PAYMENT_KEY,
        payout_secret_key=PAYOUT_KEY,
        base_url=url,
        connection_limit=concurrency,
        retry=RetryPolicy(attempts=1),
        timeout=aiohttp.ClientTimeout(total=120),
        payout_policy=PayoutPolicy(poll_initial=0.05, poll_max=0.5, wait_deadline=120),
    )


async def measured(
    rows: int, concurrency: int, declined: float, process: float, path: Path | None, sync: str
) -> tuple[float, float, Journal]:
    """One batch against a fresh emulator process (the emulator's state and its background
    notifications from an earlier run would otherwise slow a later one)."""
    async with (
        emulator_process(MERCHANT, PAYMENT_KEY, PAYOUT_KEY) as (url, _),
        client_for(url, concurrency) as client,
    ):
        warm = make_rows(min(500, rows), "W", declined, process)
        await one_run(client, warm, Journal(None), concurrency)
        batch = make_rows(rows, "B", declined, process)
        with Journal(path, synchronous="FULL" if sync == "FULL" else "NORMAL") as journal:
            rate, cpu = await one_run(client, batch, journal, concurrency)
    return rate, cpu, journal


async def run(rows: int, concurrency: int, declined: float, process: float, rounds: int) -> None:
    runs: dict[str, list[tuple[float, float, Journal]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        variants: list[tuple[str, Path | None, str]] = [
            ("no journal", None, "NORMAL"),
            ("journal NORMAL", Path(folder) / "normal", "NORMAL"),
            ("journal FULL", Path(folder) / "full", "FULL"),
        ]
        for round_number in range(rounds):  # interleaved, so drift weighs on all alike
            for name, path, sync in variants:
                file = None if path is None else path.with_suffix(f".{round_number}")
                result = await measured(rows, concurrency, declined, process, file, sync)
                runs.setdefault(name, []).append(result)
    print(
        f"{rows:,} rows at concurrency {concurrency} (emulator in another process; "
        f"{declined:.0%} declined, {process:.0%} through process; best of {rounds}):"
    )
    results = {name: max(values, key=lambda run: run[0]) for name, values in runs.items()}
    base_rate, base_cpu, _ = results["no journal"]
    for name, (rate, cpu, journal) in results.items():
        spread = ", ".join(f"{run[0]:,.0f}" for run in runs[name])
        line = f"  {name:<15} {rate:8,.0f} rows/s ({spread})   {cpu:6,.0f} µs CPU per row"
        if journal.writes:
            on_loop = journal.write_seconds * 1e6 / rows
            line += (
                f"\n  {'':<15} {journal.writes:,} commits, {on_loop:,.0f} µs per row on the loop"
                f" (longest commit {journal.max_write_seconds * 1e3:,.1f}"
                f" ms); vs no journal: {rate / base_rate - 1:+.0%} rows/s, "
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
