"""Payout batches on many workers: rows/s with 1, 2 and 4 worker processes sharing a PostgreSQL
journal, PostgreSQL commits per row, and the SQLite journal (one process) in the same run.

The emulator runs in its own process, each worker in its own process (concurrency 50 each); the
PostgreSQL server is a throwaway local cluster (``FREEDOMPAY_TEST_POSTGRES_DSN`` if set). A
fresh emulator and a fresh database per measurement. Requires the server binaries.

    python benchmarks/bench_batch_workers.py --rows 4000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from _emulator_process import ROOT, emulator_process

sys.path.insert(0, str(ROOT / "tests"))
from pg_cluster import postgres_dsn, unavailable_reason

from freedompay_async.batch import PostgresJournal, read_payout_rows

MERCHANT = "552893"
PAYMENT_KEY = "bench-payment-key"
PAYOUT_KEY = "bench-payout-key"
POST_LINK = "http://127.0.0.1:9/notify"

WORKER = """
import asyncio, json, sys
import aiohttp
from freedompay_async import FreedomPayClient, PayoutPolicy, RetryPolicy
from freedompay_async.batch import (
    Journal, PayoutWorker, PostgresJournal, read_payout_rows, run_payout_batch,
)

async def main(kind, journal, batch, path, base_url, concurrency):
    rows = read_payout_rows(path)
    async with FreedomPayClient(
        "552893", "bench-payment-key", payout_secret_key="bench-payout-key", base_url=base_url,
        connection_limit=int(concurrency), retry=RetryPolicy(attempts=1),
        timeout=aiohttp.ClientTimeout(total=120),
        payout_policy=PayoutPolicy(poll_initial=0.05, poll_max=0.5, wait_deadline=120),
    ) as client:
        if kind == "sqlite":
            with Journal(journal) as book:
                await run_payout_batch(client, rows, journal=book, concurrency=int(concurrency),
                                       post_link="http://127.0.0.1:9/notify", preflight=False)
                print(json.dumps({"commits": book.writes}))
            return
        async with PostgresJournal(journal) as db:
            worker = PayoutWorker(client, db, batch, rows, concurrency=int(concurrency))
            await worker.run()
            print(json.dumps({"commits": worker.store.commits}))

asyncio.run(main(*sys.argv[1:]))
"""


def write_rows(path: Path, count: int) -> None:
    lines = ["order_id,amount,description,card_number,post_link"]
    for index in range(count):
        card = "5325349472901311" if index % 20 == 1 else "4405645000006150"
        lines.append(f"W-{index:06d},100.00,bench,{card},{POST_LINK}")
    path.write_text("\n".join(lines) + "\n")


async def workers(args: list[list[str]]) -> tuple[float, int]:
    """Run worker processes at once: (wall seconds until the last ends, their commits)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, *arguments, stdout=asyncio.subprocess.PIPE, env=env
        )
        for arguments in args
    ]
    outputs = [await process.communicate() for process in processes]
    wall = time.perf_counter() - started
    for process in processes:
        if process.returncode != 0:
            raise SystemExit(f"a worker failed with exit {process.returncode}")
    commits = sum(
        json.loads(out.decode().strip().splitlines()[-1])["commits"] for out, _ in outputs
    )
    return wall, commits


async def fresh_database(server: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{server.rpartition('/')[0]}/{name}"


async def run(rows: int, counts: list[int], concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as folder, postgres_dsn() as server:
        path = Path(folder) / "batch.csv"
        write_rows(path, rows)
        results: list[tuple[str, float, float]] = []
        async with emulator_process(MERCHANT, PAYMENT_KEY, PAYOUT_KEY) as (url, _):
            journal = str(Path(folder) / "sqlite.journal")
            wall, commits = await workers(
                [["sqlite", journal, "-", str(path), url, str(concurrency)]]
            )
            results.append(("SQLite, 1 process", rows / wall, commits / rows))
        for count in counts:
            async with emulator_process(MERCHANT, PAYMENT_KEY, PAYOUT_KEY) as (url, _):
                database = await fresh_database(server)
                async with PostgresJournal(database) as db:
                    batch = await db.submit(
                        merchant_id=MERCHANT, gateway=url, rows=read_payout_rows(path)
                    )
                arguments = ["pg", database, batch, str(path), url, str(concurrency)]
                wall, commits = await workers([arguments] * count)
                label = f"PostgreSQL, {count} worker{'s' * (count > 1)}"
                results.append((label, rows / wall, commits / rows))
    print(
        f"{rows:,} rows (5% declined), emulator in its own process, concurrency {concurrency} "
        "per worker process:"
    )
    for label, rate, per_row in results:
        print(f"  {label:<24} {rate:8,.0f} rows/s   {per_row:5.2f} journal commits per row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason is not None:
        raise SystemExit(f"bench_batch_workers: {reason}")
    asyncio.run(run(args.rows, args.workers, args.concurrency))


if __name__ == "__main__":
    main()
