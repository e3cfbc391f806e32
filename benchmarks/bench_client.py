"""Issue 15's table: the client's CPU, memory and start-up cost next to raw aiohttp, by hand and
httpx, against a minimal fast gateway in another process (``_gateway.py``).

CPU figures are this process's CPU time (``time.process_time``) per call; variants run side by
side in one process, in rotated order over ``--rounds`` rounds, and each ratio is the median of
the per-round ratios (the machine is shared: absolute figures drift, ratios hold). Rows:

* ``to_card``: ``payouts.to_card`` / raw aiohttp posting one prebuilt signed form (the transport
  alone); / a careful hand-written aiohttp client (sign, form, xmltodict, pg_sig check); httpx
  doing the hand-written work, for comparison;
* ``request("g2g/payout_status2")`` / raw and ``payouts.balance()`` / raw;
* the floor of each: the least work any client must do per exchange (``_floor.py``: fresh
  salt, signature, form, answer read by one regex, its pg_sig and ids checked) / raw, and the
  library / that floor;
* 10,000 ``process`` payouts waiting in ``payouts.wait`` with the default ``PayoutPolicy``: CPU
  as a share of one core over ``--wait-seconds`` (the policy's whole ``wait_deadline``) from the
  moment they all wait, polls counted where the requestor sends them;
* ``run_payout_batch`` CPU per row / plain ``to_card`` under an ``asyncio.Semaphore``;
* peak RSS of 10,000 ``to_card`` at once on 10,000 connections / the same with raw aiohttp
  (each in a fresh child process, the median of ``--rss-runs`` runs);
* ``freedompay --help`` wall time (median of 7 runs).

    python benchmarks/bench_client.py            # the full table (about ten minutes)
    python benchmarks/bench_client.py --smoke    # seconds: every row runs, figures are rough
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
import timeit
import types
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import aiohttp
import httpx
from _by_hand import HEADERS, checked_answer, signed_body
from _floor import checked, signed_form
from _gateway import KEY, MERCHANT, answer, gateway_process

from freedompay_async import (
    FreedomPayClient,
    Payout,
    PayoutPending,
    PayoutPolicy,
    PayoutState,
    RetryPolicy,
)
from freedompay_async.batch import PayoutRow, RowState, payout_row, run_payout_batch

CARD = "4405645000006150"
POST_LINK = "https://merchant.example/payouts/notify"
ORDERS = itertools.count(1)
Call = Callable[[], Awaitable[object]]


def new_client(url: str, limit: int = 100) -> FreedomPayClient:
    return FreedomPayClient(
        MERCHANT,
        KEY,
        base_url=url,
        connection_limit=limit,
        retry=RetryPolicy(attempts=1),
    )


def order_params(prefix: str = "O") -> dict[str, str]:
    return {
        "pg_order_id": f"{prefix}-{next(ORDERS)}",
        "pg_amount": "1.00",
        "pg_description": "bench",
        "pg_payment_to": CARD,
        "pg_post_link": POST_LINK,
    }


def bench_payout(client: FreedomPayClient, prefix: str, *, wait: bool = True) -> Awaitable[Payout]:
    """One bench payout of 1.00 to the bench card, a new order id starting with ``prefix``."""
    return client.payouts.to_card(
        order_id=f"{prefix}-{next(ORDERS)}",
        amount=Decimal("1.00"),
        card_number=CARD,
        description="bench",
        post_link=POST_LINK,
        wait=wait,
    )


async def cpu_per_call(fn: Call, calls: int, concurrency: int) -> float:
    """Client CPU microseconds per call of ``fn``, ``concurrency`` at a time."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fn()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / calls * 1e6


async def side_by_side(
    variants: dict[str, Call], calls: int, concurrency: int, rounds: int
) -> dict[str, list[float]]:
    """µs of CPU per call of each variant, per round; the order rotates every round."""
    for fn in variants.values():  # warm pools and caches
        await cpu_per_call(fn, 100, concurrency)
    names = list(variants)
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(await cpu_per_call(variants[name], calls, concurrency))
    return results


def pure_work(client: FreedomPayClient, calls: int) -> dict[str, float]:
    """µs per call of each row's work without I/O: the library's (check and encode the fields,
    prepare, sign, decode, verify, check the ids, model) and the hand-written client's (sign,
    encode, xmltodict, verify).

    (The request rows measure each variant in the event loop; this is the part that does not
    depend on aiohttp.)
    """
    from freedompay_async._convert import to_decimal
    from freedompay_async._endpoints import endpoint_for_path, merchant_template
    from freedompay_async.payouts import Balance, Payout, Payouts
    from freedompay_async.signing import new_salt

    requestor = client._requestor
    answers = {
        script: answer(script, "O-1", MERCHANT)
        for script in ("p2p2nonreg", "payout_status2", "balance_status")
    }
    balance_endpoint = Payouts._BALANCE["gateway"]
    # What the decoder reads of the response when the body is XML: its status.
    ok = cast(aiohttp.ClientResponse, types.SimpleNamespace(status=200))
    params = order_params()
    del params["pg_order_id"]

    def to_card() -> None:
        fields = Payouts._TO_CARD.encode(
            pg_order_id="O-1",
            pg_amount=Decimal("1.00"),
            pg_description="bench",
            pg_payment_to=CARD,
            pg_post_link=POST_LINK,
            pg_currency=None,
            pg_user_id=None,
            pg_card_name=None,
        )
        call = requestor.prepare(Payouts._TO_CARD, fields)
        call.signed_body(new_salt())
        Payout.from_answer("O-1", requestor._decode_response(call, ok, answers["p2p2nonreg"]))

    def status2() -> None:
        endpoint = endpoint_for_path(merchant_template("g2g/payout_status2")[0])
        assert endpoint is not None
        call = requestor.prepare(endpoint, {"pg_order_id": "O-1"})
        call.signed_body(new_salt())
        requestor._decode_response(call, ok, answers["payout_status2"])

    def balance() -> None:
        call = requestor.prepare(balance_endpoint, {})
        call.signed_body(new_salt())
        answer = requestor._decode_response(call, ok, answers["balance_status"])
        amount = to_decimal(answer.get("pg_balance"))
        assert amount is not None
        Balance(amount, answer.get("pg_currency"), answer)

    def by_hand() -> None:
        signed_body("p2p2nonreg", {"pg_order_id": "O-1", **params}, MERCHANT, KEY)
        checked_answer("p2p2nonreg", answers["p2p2nonreg"], KEY)

    number = max(calls // 5, 1)
    return {
        name: min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6
        for name, fn in (
            ("to_card", to_card),
            ("status2", status2),
            ("balance", balance),
            ("by hand", by_hand),
        )
    }


def ratio(results: dict[str, list[float]], name: str, base: str) -> float:
    return statistics.median(a / b for a, b in zip(results[name], results[base], strict=True))


async def request_rows(url: str, calls: int, concurrency: int, rounds: int) -> dict[str, object]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
    http = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    )
    fixed = {
        script: signed_body(script, params, MERCHANT, KEY)
        for script, params in (
            ("p2p2nonreg", order_params()),
            ("payout_status2", {"pg_order_id": "O-1"}),
            ("balance_status", {}),
        )
    }

    def raw(script: str) -> Call:
        async def post() -> None:
            async with session.post(
                f"{url}/g2g/{script}", data=fixed[script], headers=HEADERS
            ) as r:
                await r.read()

        return post

    def floor(script: str, with_order: bool) -> Call:
        async def exchange() -> None:
            params = order_params() if script == "p2p2nonreg" else {}
            if with_order and not params:
                params = {"pg_order_id": f"O-{next(ORDERS)}"}
            body = signed_form(script, params, MERCHANT, KEY)
            async with session.post(f"{url}/g2g/{script}", data=body, headers=HEADERS) as r:
                answer = await r.read()
            assert checked(script, answer, KEY, params.get("pg_order_id"), MERCHANT)

        return exchange

    async def by_hand() -> None:
        body = signed_body("p2p2nonreg", order_params(), MERCHANT, KEY)
        async with session.post(f"{url}/g2g/p2p2nonreg", data=body, headers=HEADERS) as r:
            assert checked_answer("p2p2nonreg", await r.read(), KEY)["pg_status"] == "ok"

    async def by_hand_httpx() -> None:
        body = signed_body("p2p2nonreg", order_params(), MERCHANT, KEY)
        answer = await http.post(f"{url}/g2g/p2p2nonreg", content=body, headers=HEADERS)
        assert checked_answer("p2p2nonreg", answer.content, KEY)["pg_status"] == "ok"

    async with new_client(url, concurrency) as client:

        async def to_card() -> None:
            payout = await bench_payout(client, "O")
            assert payout.state is PayoutState.SUCCESS

        async def status2() -> None:
            await client.request("g2g/payout_status2", {"pg_order_id": f"O-{next(ORDERS)}"})

        async def balance() -> None:
            await client.payouts.balance()

        variants: dict[str, Call] = {
            "raw to_card": raw("p2p2nonreg"),
            "floor to_card": floor("p2p2nonreg", True),
            "to_card": to_card,
            "by hand": by_hand,
            "httpx by hand": by_hand_httpx,
            "raw status2": raw("payout_status2"),
            "floor status2": floor("payout_status2", True),
            "status2": status2,
            "raw balance": raw("balance_status"),
            "floor balance": floor("balance_status", False),
            "balance": balance,
        }
        try:
            results = await side_by_side(variants, calls, concurrency, rounds)
            pure = pure_work(client, calls)
        finally:
            await session.close()
            await http.aclose()
    med = {name: statistics.median(values) for name, values in results.items()}
    return {
        "µs per call (median)": {name: round(value) for name, value in med.items()},
        "to_card / raw": ratio(results, "to_card", "raw to_card"),
        "to_card / by hand": ratio(results, "to_card", "by hand"),
        "httpx by hand / raw": ratio(results, "httpx by hand", "raw to_card"),
        "to_card / httpx by hand": ratio(results, "to_card", "httpx by hand"),
        "status2 / raw": ratio(results, "status2", "raw status2"),
        "balance / raw": ratio(results, "balance", "raw balance"),
        "floor / raw: to_card, status2, balance": [
            ratio(results, f"floor {name}", f"raw {name}")
            for name in ("to_card", "status2", "balance")
        ],
        "library / floor: to_card, status2, balance": [
            ratio(results, name, f"floor {name}") for name in ("to_card", "status2", "balance")
        ],
        "work without I/O µs: to_card, status2, balance; by hand": [
            round(pure[name]) for name in ("to_card", "status2", "balance", "by hand")
        ],
    }


async def waiting_row(url: str, payouts: int, seconds: float) -> dict[str, object]:
    """CPU share of one core while ``payouts`` process payouts wait with the default policy."""
    polls = [0]
    client = FreedomPayClient(MERCHANT, KEY, base_url=url, retry=RetryPolicy(attempts=1))
    # Polls are counted where the requestor sends them: a counting client middleware would put
    # every poll on aiohttp's middleware path, which a client without middlewares never takes.
    send = client._requestor.send

    def counted_send(session: aiohttp.ClientSession, call: Any) -> Any:
        polls[0] += call.endpoint.script == "payout_status2"
        return send(session, call)

    vars(client._requestor)["send"] = counted_send
    async with client:
        created = await asyncio.gather(
            *(bench_payout(client, "P", wait=False) for _ in range(payouts))
        )
        assert all(payout.state is PayoutState.PROCESS for payout in created)
        polls_before = polls[0]

        async def wait(payout: Payout) -> None:
            with contextlib.suppress(PayoutPending):
                await client.payouts.wait(payout.order_id, payout=payout)

        tasks = [asyncio.ensure_future(wait(payout)) for payout in created]
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        sent = polls[0] - polls_before
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "waiting payouts": payouts,
        "seconds": round(wall, 1),
        "share of one core": cpu / wall,
        "polls/s": sent / wall,
    }


async def plain_payouts(client: FreedomPayClient, rows: int, concurrency: int) -> None:
    """``rows`` payouts by ``to_card``, at most ``concurrency`` at once (the batch's baseline)."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await bench_payout(client, "S")

    await asyncio.gather(*(one() for _ in range(rows)))


def new_batch(rows: int) -> list[PayoutRow]:
    return [
        payout_row(
            {
                "order_id": f"R-{next(ORDERS)}",
                "amount": "1.00",
                "description": "bench",
                "card_number": CARD,
            },
            line,
        )
        for line in range(2, rows + 2)
    ]


async def batch_payouts(client: FreedomPayClient, rows: list[PayoutRow], concurrency: int) -> None:
    """``rows`` through ``run_payout_batch``, each one payout."""
    # No status preflight: this gateway answers every status "success", so each row would be
    # recorded from a status answer and never sent - not a payout per row.
    report = await run_payout_batch(
        client,
        rows,
        concurrency=concurrency,
        post_link=POST_LINK,
        preflight=False,
        status_preflight=False,
    )
    assert report.counts.get(RowState.SUCCESS, 0) == len(rows), report.counts


async def batch_row(url: str, rows: int, concurrency: int, rounds: int) -> dict[str, object]:
    """CPU per row of run_payout_batch / plain to_card under a semaphore, same rows."""
    async with new_client(url, concurrency) as client:

        async def plain() -> float:
            started = time.process_time()
            await plain_payouts(client, rows, concurrency)
            return (time.process_time() - started) / rows * 1e6

        async def batch() -> float:
            batch_rows = new_batch(rows)
            started = time.process_time()
            await batch_payouts(client, batch_rows, concurrency)
            return (time.process_time() - started) / rows * 1e6

        await plain()
        await batch()
        ratios, plain_us, batch_us = [], [], []
        for round_number in range(rounds):
            order = (plain, batch) if round_number % 2 == 0 else (batch, plain)
            first, second = [await fn() for fn in order]
            p, b = (first, second) if order[0] is plain else (second, first)
            plain_us.append(p)
            batch_us.append(b)
            ratios.append(b / p)
    return {
        "µs per row: plain, batch": [
            round(statistics.median(plain_us)),
            round(statistics.median(batch_us)),
        ],
        "batch / plain": statistics.median(ratios),
    }


async def rss_child(url: str, variant: str, count: int) -> None:
    """In a fresh process: ``count`` payouts at once, each on its own connection."""
    connector = aiohttp.TCPConnector(limit=count, limit_per_host=0)
    if variant == "library":
        session = aiohttp.ClientSession(connector=connector)
        client = FreedomPayClient(
            MERCHANT,
            KEY,
            base_url=url,
            connection_limit=count,
            session=session,
            retry=RetryPolicy(attempts=1),
            # aiohttp's default, as the raw variant has: opening 10,000 connections at once
            # takes longer than the client's default connect bound.
            timeout=aiohttp.ClientTimeout(total=300, sock_connect=30),
        )

        async def one() -> None:
            await bench_payout(client, "M")

    else:
        session = aiohttp.ClientSession(connector=connector)

        async def one() -> None:
            body = signed_body("p2p2nonreg", order_params("M"), MERCHANT, KEY)
            async with session.post(f"{url}/g2g/p2p2nonreg", data=body, headers=HEADERS) as r:
                checked_answer("p2p2nonreg", await r.read(), KEY)

    async with session:
        await asyncio.gather(*(one() for _ in range(count)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": peak}))


def rss_row(url: str, count: int, runs: int) -> dict[str, object]:
    """Peak RSS of each variant in a fresh child process, the median of ``runs`` alternating
    runs (a single peak moves by a few MB from run to run)."""
    peaks: dict[str, list[float]] = {"raw": [], "library": []}
    for _ in range(runs):
        for variant, variant_peaks in peaks.items():
            command = [sys.executable, __file__, "--rss-child", variant, "--url", url]
            out = subprocess.run(
                [*command, "--count", str(count)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            variant_peaks.append(json.loads(out.splitlines()[-1])["peak_rss_mb"])
    library, raw = statistics.median(peaks["library"]), statistics.median(peaks["raw"])
    return {
        "payouts at once": count,
        "runs": runs,
        "peak RSS MB (median): library, raw": [round(library), round(raw)],
        "library / raw": library / raw,
    }


def help_row(runs: int) -> dict[str, object]:
    beside = Path(sys.executable).with_name("freedompay")
    command = str(beside) if beside.exists() else shutil.which("freedompay") or "freedompay"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([command, "--help"], check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1e3)
    return {"freedompay --help ms (median)": round(statistics.median(times))}


async def run(args: argparse.Namespace) -> dict[str, object]:
    table: dict[str, object] = {}
    with gateway_process() as (url, _):
        table["requests"] = await request_rows(url, args.calls, args.concurrency, args.rounds)
        print(json.dumps(table["requests"], indent=1, ensure_ascii=False), flush=True)
        table["batch"] = await batch_row(url, args.rows, 50, args.rounds)
        print(json.dumps(table["batch"], indent=1, ensure_ascii=False), flush=True)
        table["rss"] = rss_row(url, args.in_flight, args.rss_runs)
        print(json.dumps(table["rss"], indent=1, ensure_ascii=False), flush=True)
        table["waiting"] = await waiting_row(url, args.waiting, args.wait_seconds)
        print(json.dumps(table["waiting"], indent=1, ensure_ascii=False), flush=True)
    table["help"] = help_row(7)
    print(json.dumps(table["help"], indent=1, ensure_ascii=False), flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=10_000)
    parser.add_argument("--rss-runs", type=int, default=3)
    parser.add_argument("--waiting", type=int, default=10_000)
    # The whole wait of the default policy: its first polls come in bursts, then minutes apart.
    parser.add_argument("--wait-seconds", type=float, default=PayoutPolicy().wait_deadline)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, rough figures")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--rss-child", choices=("raw", "library"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        asyncio.run(rss_child(args.url, args.rss_child, args.count))
        return
    if args.smoke:
        args.calls, args.rounds, args.rows = 200, 1, 200
        args.in_flight, args.waiting, args.wait_seconds, args.rss_runs = 300, 300, 2.0, 1
    table = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(table, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
