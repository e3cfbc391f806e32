"""Issue 15's request and batch rows counted in CPU instructions, which do not drift with the load.

Each variant of ``bench_client.py``'s request rows (raw aiohttp, the floor, the library, the
hand-written client) and of its batch row (plain ``to_card`` under a semaphore,
``run_payout_batch``) runs in a child process under ``valgrind --tool=callgrind`` against the
benchmarks' gateway (``_gateway.py``, not under valgrind), once with ``--calls`` calls after a
warm-up and once with the warm-up alone; the difference over ``--calls`` is the instructions
per call: at concurrency 1 for the request rows, at 50 for the batch row (one batch of
``--calls`` rows). Needs valgrind (``apt-get install valgrind``); a few minutes.

    python benchmarks/bench_instructions.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
from _by_hand import HEADERS, checked_answer, signed_body
from _floor import checked, signed_form
from _gateway import KEY, MERCHANT, gateway_process
from bench_client import (
    ORDERS,
    Call,
    batch_payouts,
    bench_payout,
    new_batch,
    new_client,
    order_params,
    plain_payouts,
)

SCRIPTS = {"to_card": "p2p2nonreg", "status2": "payout_status2", "balance": "balance_status"}
ROWS = [*SCRIPTS, "batch"]
VARIANTS = [f"{kind} {row}" for row in SCRIPTS for kind in ("raw", "floor", "library")]
VARIANTS += ["by hand to_card", "plain batch", "library batch"]
WARM_UP = 30
# As in bench_client.py's batch row.
BATCH_CONCURRENCY = 50


def _params(row: str) -> dict[str, str]:
    if row == "to_card":
        return order_params()
    return {"pg_order_id": f"O-{next(ORDERS)}"} if row == "status2" else {}


async def batch_child(url: str, kind: str, calls: int) -> None:
    """``WARM_UP`` payouts, then ``calls`` more: plain ``to_card`` under a semaphore, or one
    batch of that many rows."""
    async with new_client(url, BATCH_CONCURRENCY) as client:
        for rows in (WARM_UP, calls):
            if rows == 0:
                continue
            if kind == "plain":
                await plain_payouts(client, rows, BATCH_CONCURRENCY)
            else:
                await batch_payouts(client, new_batch(rows), BATCH_CONCURRENCY)


async def child(url: str, variant: str, calls: int) -> None:
    """Run ``variant`` ``WARM_UP + calls`` times, one at a time."""
    kind, row = variant.rsplit(" ", 1)
    if row == "batch":
        await batch_child(url, kind, calls)
        return
    script = SCRIPTS[row]
    async with aiohttp.ClientSession() as session, new_client(url, 10) as client:
        fixed = signed_body(script, _params(row), MERCHANT, KEY)
        target = f"{url}/g2g/{script}"

        async def raw() -> None:
            async with session.post(target, data=fixed, headers=HEADERS) as r:
                await r.read()

        async def floor() -> None:
            params = _params(row)
            body = signed_form(script, params, MERCHANT, KEY)
            async with session.post(target, data=body, headers=HEADERS) as r:
                answer = await r.read()
            assert checked(script, answer, KEY, params.get("pg_order_id"), MERCHANT)

        async def by_hand() -> None:
            body = signed_body(script, _params(row), MERCHANT, KEY)
            async with session.post(target, data=body, headers=HEADERS) as r:
                assert checked_answer(script, await r.read(), KEY)["pg_status"] == "ok"

        async def library() -> None:
            if row == "to_card":
                await bench_payout(client, "O")
            elif row == "status2":
                await client.request("g2g/payout_status2", _params(row))
            else:
                await client.payouts.balance()

        fn: Call = {"raw": raw, "floor": floor, "by hand": by_hand, "library": library}[kind]
        for _ in range(WARM_UP + calls):
            await fn()


def instructions(url: str, variant: str, calls: int) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={scratch}/out",
            sys.executable,
            __file__,
            "--child",
            variant,
            "--url",
            url,
            "--calls",
            str(calls),
        ]
        # One hash seed for every child: string hashes (and so dict probing) then cost the same
        # from run to run.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found is not None, done.stderr[-2000:]
    return int(found[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--only", nargs="+", choices=ROWS, help="count only these rows (and no table)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.url, args.child, args.calls))
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench_instructions.py needs valgrind (apt-get install valgrind)")
    per_call: dict[str, int] = {}
    variants = [v for v in VARIANTS if not args.only or v.rsplit(" ", 1)[1] in args.only]
    with gateway_process() as (url, _):
        for variant in variants:
            total = instructions(url, variant, args.calls) - instructions(url, variant, 0)
            per_call[variant] = total // args.calls
            print(f"{variant}: {per_call[variant]:,} instructions per call", flush=True)
    if args.only:
        return
    table: dict[str, object] = {"instructions per call": per_call}
    for row in SCRIPTS:
        raw = per_call[f"raw {row}"]
        table[f"{row}: floor / raw, library / raw"] = [
            round(per_call[f"floor {row}"] / raw, 3),
            round(per_call[f"library {row}"] / raw, 3),
        ]
    table["to_card / by hand"] = round(per_call["library to_card"] / per_call["by hand to_card"], 3)
    table["batch / plain"] = round(per_call["library batch"] / per_call["plain batch"], 3)
    print(json.dumps(table, indent=1))
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
