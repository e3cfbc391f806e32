"""Every injected fault, as the real client sees it, with the emulator's record of it."""

from __future__ import annotations

import time

import aiohttp
import pytest

from freedompay_async import FreedomPayClient
from freedompay_async.errors import (
    FreedomPayError,
    MalformedResponse,
    OutcomeUnknown,
    SignatureMismatch,
    UnexpectedHTTPStatus,
    UnsignedResponse,
)
from freedompay_async.testing import Emulator, Fault, FaultKind, FaultPlan, FaultRecord

pytestmark = pytest.mark.anyio

PAYOUT = "g2g/p2p2nonreg"


def card_payout(order_id: str) -> dict[str, str]:
    return {
        "pg_order_id": order_id,
        "pg_amount": "10.00",
        "pg_description": "reward",
        "pg_payment_to": "4405645000006150",
        "pg_post_link": "http://127.0.0.1:9/notify",
    }


@pytest.mark.parametrize(
    ("fault", "error", "created"),
    [
        (Fault.drop_before(endpoint=PAYOUT), OutcomeUnknown, 0),
        (Fault.drop_after_commit(endpoint=PAYOUT), OutcomeUnknown, 1),
        (Fault.http_error(503, endpoint=PAYOUT), UnexpectedHTTPStatus, 1),
        (Fault.malformed_xml(endpoint=PAYOUT), MalformedResponse, 1),
        (Fault.bad_signature(endpoint=PAYOUT), SignatureMismatch, 1),
        (Fault.unsigned(endpoint=PAYOUT), UnsignedResponse, 1),
    ],
    ids=lambda value: value.kind.value if isinstance(value, Fault) else None,
)
async def test_fault_as_seen_by_the_client(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    fault: Fault,
    error: type[FreedomPayError],
    created: int,
) -> None:
    freedompay_emulator.faults.add(fault)
    with pytest.raises(error) as caught:
        await freedompay_client.request(PAYOUT, card_payout("F-1"))
    assert freedompay_emulator.created_count("F-1") == created
    assert freedompay_emulator.fault_records == [FaultRecord(PAYOUT, "F-1", fault.kind, 1)]
    if isinstance(caught.value, UnexpectedHTTPStatus):
        assert caught.value.status == 503
        assert caught.value.raw.startswith(b"<html>")
    # The fault had no `times`: it hits every call until cleared.
    with pytest.raises(error):
        await freedompay_client.request(PAYOUT, card_payout("F-2"))
    freedompay_emulator.faults.clear()
    answer = await freedompay_client.request(PAYOUT, card_payout("F-3"))
    assert answer.status == "ok"
    assert [r.call_number for r in freedompay_emulator.fault_records] == [1, 2]


async def test_answer_held_past_the_client_timeout(freedompay_emulator: Emulator) -> None:
    freedompay_emulator.faults.add(Fault.slow_after_commit(2.0, endpoint=PAYOUT, times=1))
    async with freedompay_emulator.client(timeout=aiohttp.ClientTimeout(total=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown):
            await client.request(PAYOUT, card_payout("SL-1"))
        assert time.monotonic() - started < 1.5
        assert freedompay_emulator.payouts["SL-1"].status == "success"
        assert freedompay_emulator.created_count("SL-1") == 1
        status = await client.request("g2g/payout_status2", {"pg_order_id": "SL-1"})
    assert status["pg_payment_status"] == "success"
    assert [r.kind for r in freedompay_emulator.fault_records] == [FaultKind.SLOW_AFTER_COMMIT]


async def test_latency_delays_but_answers(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_emulator.faults.add(Fault.latency(0.2, endpoint="/g2g/balance_status", times=1))
    started = time.monotonic()
    answer = await freedompay_client.request("g2g/balance_status", {})
    assert time.monotonic() - started >= 0.2
    assert answer.status == "ok"
    started = time.monotonic()
    await freedompay_client.request("g2g/balance_status", {})
    assert time.monotonic() - started < 0.2
    assert freedompay_emulator.fault_records == [
        FaultRecord("g2g/balance_status", None, FaultKind.LATENCY, 1)
    ]


async def test_nth_call_and_next_k_calls(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    await client.request(PAYOUT, card_payout("Q-1"))
    emu.faults.add(Fault.http_error(500, endpoint="g2g/payout_status2", nth=2, times=2))
    outcomes: list[str] = []
    for _ in range(5):
        try:
            await client.request("g2g/payout_status2", {"pg_order_id": "Q-1"})
            outcomes.append("ok")
        except UnexpectedHTTPStatus as exc:
            outcomes.append(str(exc.status))
    assert outcomes == ["ok", "500", "500", "ok", "ok"]
    assert [(r.endpoint, r.call_number) for r in emu.fault_records] == [
        ("g2g/payout_status2", 2),
        ("g2g/payout_status2", 3),
    ]
    assert emu.calls["g2g/payout_status2"] == 5


async def test_order_id_selects_one_payout(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_emulator.faults.add(Fault.drop_after_commit(order_id="7", times=1))
    assert (await freedompay_client.request(PAYOUT, card_payout("6"))).status == "ok"
    with pytest.raises(OutcomeUnknown):
        await freedompay_client.request(PAYOUT, card_payout("7"))
    # The client must resolve the ambiguity by status, never by re-sending.
    status = await freedompay_client.request("g2g/payout_status2", {"pg_order_id": "7"})
    assert status["pg_payment_status"] == "success"
    assert freedompay_emulator.created_count("7") == 1
    assert freedompay_emulator.fault_records == [
        FaultRecord(PAYOUT, "7", FaultKind.DROP_AFTER_COMMIT, 2)
    ]


def test_one_answer_fault_per_call_latency_combines() -> None:
    plan = FaultPlan()
    slow = plan.add(Fault.latency(0.1))
    drop = plan.add(Fault.drop_before(endpoint="a", times=1))
    bad = plan.add(Fault.unsigned(endpoint="a", times=1))
    assert plan.take("a", None, 1) == [slow, drop]
    assert plan.take("a", None, 2) == [slow, bad]
    assert plan.take("a", None, 3) == [slow]
    assert plan.take("b", "x", 1) == [slow]
    assert [r.kind for r in plan.records] == [
        FaultKind.LATENCY,
        FaultKind.DROP_BEFORE,
        FaultKind.LATENCY,
        FaultKind.UNSIGNED,
        FaultKind.LATENCY,
        FaultKind.LATENCY,
    ]
    with pytest.raises(ValueError, match="nth"):
        Fault.unsigned(nth=0)
