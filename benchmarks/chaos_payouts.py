"""Chaos run: thousands of payouts through every fault kind at once, then count what went wrong.

The emulator sits behind an :class:`~freedompay_async.testing.OutageProxy` that refuses
connections in windows; faults strike a random share of calls (lost answers before and after
commit, held answers, 5xx, cut XML, bad or missing signatures, replays, answers about other
orders, unsigned "unknown merchant", HTTP 500 with a signed body, gzip bombs, status errors and
a status that lags the create). Some payouts go through ``process``, some are declined.

Counted against the emulator's truth: payouts created twice, created payouts reported as "not
sent" or as refused, results that contradict the gateway, untyped errors. Every one must be 0;
the script exits 1 otherwise. ``nox -s chaos`` runs 10,000 payouts; bench_smoke a few hundred.
"""

from __future__ import annotations

import argparse
import collections
import time
from decimal import Decimal

import aiohttp
import anyio

from freedompay_async import (
    FreedomPayError,
    GatewayError,
    PayoutOutcomeUnknown,
    PayoutPending,
    PayoutPolicy,
    PayoutState,
    RequestNotSent,
    RetryPolicy,
)
from freedompay_async.testing import Emulator, Fault, OutageProxy, Rule

CARD = "4405645000006150"
CREATE = "g2g/p2p2nonreg"
STATUS2 = "g2g/payout_status2"
PROCESS_AMOUNT, DECLINED_AMOUNT, PROCESS_DECLINED_AMOUNT = "151.00", "152.00", "153.00"
NOT_FOUND = {"pg_status": "error", "pg_error_code": "340", "pg_error_description": "not yet"}
BUSY = {"pg_status": "error", "pg_error_code": "600", "pg_error_description": "busy"}
UNKNOWN_MERCHANT = {"pg_status": "error", "pg_error_code": "9998", "pg_error_description": "?"}


def arm(emu: Emulator, rate: float) -> None:
    """Every fault kind, each striking about ``rate`` of the calls it selects."""
    emu.faults.seed(7)
    create = [
        Fault.drop_after_commit(endpoint=CREATE),
        Fault.drop_before(endpoint=CREATE),
        Fault.slow_after_commit(3.0, endpoint=CREATE),
        Fault.http_error(502, endpoint=CREATE),
        Fault.malformed_xml(endpoint=CREATE),
        Fault.unsigned(endpoint=CREATE),
        Fault.bad_signature(endpoint=CREATE),
        Fault.replay(endpoint=CREATE),
        Fault.answer({"pg_order_id": "someone-else"}, endpoint=CREATE),
        Fault.answer({"pg_merchant_id": "999999"}, endpoint=CREATE),
        Fault.answer({}, status=500, endpoint=CREATE),
        Fault.answer(UNKNOWN_MERCHANT, replace=True, signed=False, endpoint=CREATE),
        Fault.gzip_bomb(16 << 20, endpoint=CREATE),
    ]
    status = [
        Fault.answer(NOT_FOUND, replace=True, endpoint=STATUS2),
        Fault.answer(BUSY, replace=True, endpoint=STATUS2),
        Fault.drop_after_commit(endpoint=STATUS2),
        Fault.http_error(503, endpoint=STATUS2),
        Fault.replay(endpoint=STATUS2),
        Fault.answer({"pg_order_id": "someone-else"}, endpoint=STATUS2),
    ]
    for fault in create:
        emu.faults.add(fault.sometimes(rate))
    for fault in status:
        emu.faults.add(fault.sometimes(rate * 2))
    emu.faults.add(Fault.status_lag(1.5).sometimes(0.5))
    emu.rules.add(Rule.process(polls=2, amount=Decimal(PROCESS_AMOUNT)))
    emu.rules.add(Rule.error(8001, "Declined by issuer", amount=Decimal(DECLINED_AMOUNT)))
    emu.rules.add(
        Rule.process(
            then="error", error_code=8002, polls=2, amount=Decimal(PROCESS_DECLINED_AMOUNT)
        )
    )


def amount_of(index: int) -> str:
    return {0: PROCESS_AMOUNT, 1: DECLINED_AMOUNT, 2: PROCESS_DECLINED_AMOUNT}.get(
        index % 10, "150.00"
    )


async def chaos(payouts: int, concurrency: int, rate: float, outages: int) -> int:
    async with (
        # The default balance runs out near the end: refusals that name no order (10102) are
        # then replayed as answers to other payouts, the case a signature cannot catch.
        Emulator(merchant_id="552893", secret_key="k", payout_secret_key="pk") as emu,
        OutageProxy(emu.host, emu.port) as proxy,
    ):
        arm(emu, rate)
        policy = PayoutPolicy(
            poll_initial=0.2, poll_max=1.0, wait_deadline=30, reconcile_deadline=30
        )
        client = emu.client(
            base_url=proxy.url,
            timeout=aiohttp.ClientTimeout(total=2),
            retry=RetryPolicy(attempts=4, initial_wait=0.05, max_wait=0.5, deadline=5),
            payout_policy=policy,
            connection_limit=concurrency,
        )
        results: dict[str, object] = {}
        limiter = anyio.Semaphore(concurrency)
        started = time.perf_counter()

        async def one(index: int) -> None:
            order = f"C-{index}"
            async with limiter:
                try:
                    results[order] = await client.payouts.to_card(
                        order_id=order,
                        amount=amount_of(index),
                        card_number=CARD,
                        description="chaos",
                        post_link="http://127.0.0.1:9/payouts",
                    )
                except Exception as exc:  # counted below: an untyped one is a violation
                    results[order] = exc

        async def windows() -> None:
            # ``outages`` refusal windows of 1-2 s spread over the first ~20 s.
            await proxy.outages([(4.0 * n + 1.0, 1.0 + (n % 2)) for n in range(outages)])

        async with client, anyio.create_task_group() as group:
            group.start_soon(windows)
            for index in range(payouts):
                group.start_soon(one, index)
        elapsed = time.perf_counter() - started

        counts: collections.Counter[str] = collections.Counter()
        examples: dict[str, str] = {}
        for order, result in results.items():
            created = emu.created_count(order)
            truth = emu.payouts.get(order)
            if created > 1:
                counts["DUPLICATE"] += 1
            if isinstance(result, Exception) and not isinstance(result, FreedomPayError):
                counts["UNTYPED"] += 1
            elif isinstance(result, RequestNotSent):
                counts["NOT_SENT_BUT_CREATED" if created else "not sent"] += 1
            elif isinstance(result, GatewayError):  # PayoutDeclined included
                if truth is None or truth.status != "error":
                    counts["REFUSED_BUT_CREATED" if created else "refused, not created"] += 1
                else:
                    counts["declined"] += 1
            elif isinstance(result, PayoutOutcomeUnknown):
                # Never created: cut before the gateway processed it (an outage, drop_before);
                # created: the status could not tell in time. Either way it is the journal's.
                counts[f"outcome unknown ({'created' if created else 'not created'})"] += 1
            elif isinstance(result, PayoutPending):
                counts["pending"] += 1
            elif isinstance(result, FreedomPayError):
                counts[f"UNEXPECTED {type(result).__name__}"] += 1
            else:
                state = result.state  # type: ignore[attr-defined]
                if truth is None or state is not PayoutState.SUCCESS or truth.status != "success":
                    counts["WRONG_RESULT"] += 1
                else:
                    counts["success"] += 1
            for key in counts:
                if key.isupper() and key not in examples:
                    truth_text = None if truth is None else (truth.status, truth.create_requests)
                    faults_of = [r.kind.value for r in emu.fault_records if r.order_id == order]
                    examples[key] = f"{order}: {result!r}; gateway {truth_text}; {faults_of}"
        faults = collections.Counter(record.kind.value for record in emu.fault_records)
    print(
        f"chaos: {payouts} payouts, concurrency {concurrency}, fault rate {rate:.0%} per kind, "
        f"{proxy.refused} outage windows, {elapsed:.1f} s"
    )
    print("faults applied:", dict(sorted(faults.items())))
    print("outcomes:", dict(sorted(counts.items())))
    bad = {key: value for key, value in counts.items() if key.isupper() or key.startswith("UNEXP")}
    print("violations:", bad or 0)
    for key, example in examples.items():
        print(f"  e.g. {key}: {example}")
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payouts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--rate", type=float, default=0.01, help="share of calls per fault kind")
    parser.add_argument("--outages", type=int, default=5)
    args = parser.parse_args()
    raise SystemExit(anyio.run(chaos, args.payouts, args.concurrency, args.rate, args.outages))


if __name__ == "__main__":
    main()
