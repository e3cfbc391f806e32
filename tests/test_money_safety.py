"""Money safety under real faults (issue 11), each rule against a gateway that misbehaves in
the way the rule guards against: outages (connection refused), a status that lags the create,
answers about other requests, replays, transient status errors, "order exists", a wrong key,
declines after ``process`` and compressed bombs.

The invariant everywhere: a payout is created at most once, and a created payout is never
reported as "not sent" or "refused".
"""

from __future__ import annotations

import resource
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freedompay_async import (
    AnswerMismatch,
    FreedomPayClient,
    GatewayError,
    MalformedResponse,
    PayoutDeclined,
    PayoutOutcomeUnknown,
    PayoutPending,
    PayoutPolicy,
    PayoutState,
    RequestNotSent,
    SecretKeyRejected,
    UnexpectedHTTPStatus,
)
from freedompay_async.batch import Journal, RowState, run_payout_batch
from freedompay_async.batch._rows import payout_row
from freedompay_async.payouts import _poll_delay
from freedompay_async.testing import Emulator, Fault, OutageProxy, Rule

pytestmark = pytest.mark.anyio

MERCHANT, KEY, PAYOUT_KEY = "552893", "payment-key", "payout-key"
CARD = "4405645000006150"
CREATE = "g2g/p2p2nonreg"
STATUS2 = "g2g/payout_status2"
POLICY = PayoutPolicy(poll_initial=0.05, poll_max=0.2, wait_deadline=5, reconcile_deadline=5)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(merchant_id=MERCHANT, secret_key=KEY, payout_secret_key=PAYOUT_KEY) as emu:
        yield emu


@pytest.fixture
async def proxy(emulator: Emulator) -> AsyncIterator[OutageProxy]:
    async with OutageProxy(emulator.host, emulator.port) as outage_proxy:
        yield outage_proxy


def client_for(emulator: Emulator, url: str | None = None, **overrides: object) -> FreedomPayClient:
    options: dict[str, object] = {
        "timeout": aiohttp.ClientTimeout(total=1),
        "payout_policy": POLICY,
        **overrides,
    }
    if url is not None:
        options["base_url"] = url
    return emulator.client(**options)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with client_for(emulator) as fp:
        yield fp


async def pay(client: FreedomPayClient, order_id: str, **kw: object) -> object:
    return await client.payouts.to_card(
        order_id=order_id,
        amount=Decimal("150.00"),
        card_number=CARD,
        description="Cashback",
        post_link="https://shop.example/payouts",
        **kw,  # type: ignore[arg-type]
    )


async def refuse_once_created(
    emulator: Emulator, proxy: OutageProxy, order: str, for_s: float
) -> None:
    """Start an outage the moment the gateway holds ``order`` (its answer is still held back),
    so the create's answer is lost and the status endpoint is unreachable for ``for_s``."""
    with anyio.fail_after(5):
        while order not in emulator.payouts:  # noqa: ASYNC110 - the emulator has no event
            await anyio.sleep(0.001)
    async with proxy.outage():
        await anyio.sleep(for_s)


# -- 1. an outage after the create: never "certainly not sent" ------------------------------


async def test_an_outage_after_the_create_is_reconciled_not_reported_as_not_sent(
    emulator: Emulator, proxy: OutageProxy
) -> None:
    emulator.faults.add(Fault.slow_after_commit(0.8, endpoint=CREATE, times=1))
    async with client_for(emulator, proxy.url) as fp, anyio.create_task_group() as group:
        group.start_soon(refuse_once_created, emulator, proxy, "O-1", 1.5)
        payout = await pay(fp, "O-1")
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert proxy.refused == 1
    assert emulator.created_count("O-1") == 1


async def test_an_outage_past_the_deadline_is_outcome_unknown_with_the_order_id(
    emulator: Emulator, proxy: OutageProxy
) -> None:
    emulator.faults.add(Fault.slow_after_commit(0.8, endpoint=CREATE, times=1))
    short = PayoutPolicy(poll_initial=0.05, poll_max=0.1, reconcile_deadline=0.8)
    async with (
        client_for(emulator, proxy.url, payout_policy=short) as fp,
        anyio.create_task_group() as group,
    ):
        group.start_soon(refuse_once_created, emulator, proxy, "O-2", 2.0)
        with pytest.raises(PayoutOutcomeUnknown) as unknown:
            await pay(fp, "O-2")
        assert not isinstance(unknown.value, RequestNotSent)
        assert unknown.value.order_id == "O-2"
    assert emulator.created_count("O-2") == 1


async def test_a_create_refused_at_connect_is_certainly_not_sent(
    emulator: Emulator, proxy: OutageProxy
) -> None:
    async with client_for(emulator, proxy.url) as fp, proxy.outage():
        with pytest.raises(RequestNotSent):
            await pay(fp, "O-3")
    assert emulator.created_count("O-3") == 0


# -- 2. "not found" is not proof: one call never re-sends -----------------------------------


async def test_a_lagging_status_never_makes_a_call_send_the_payout_again(
    emulator: Emulator,
) -> None:
    emulator.faults.add(Fault.drop_after_commit(endpoint=CREATE, times=1))
    emulator.faults.add(Fault.status_lag(30))
    patient = PayoutPolicy(
        poll_initial=0.02, poll_max=0.05, reconcile_deadline=1, not_found_grace=0.01
    )
    async with client_for(emulator, payout_policy=patient) as fp:
        with pytest.raises(PayoutOutcomeUnknown) as unknown:
            await pay(fp, "L-1")
    assert unknown.value.order_id == "L-1"
    assert emulator.calls[STATUS2] >= 5  # it kept asking...
    assert emulator.created_count("L-1") == 1  # ...and never sent it again


async def test_a_status_that_catches_up_settles_the_call(emulator: Emulator) -> None:
    emulator.faults.add(Fault.drop_after_commit(endpoint=CREATE, times=1))
    emulator.faults.add(Fault.status_lag(0.5))
    async with client_for(emulator) as fp:
        payout = await pay(fp, "L-2")
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert emulator.created_count("L-2") == 1


# -- 3. answers are bound to the request ----------------------------------------------------


@pytest.mark.parametrize(
    "lie",
    [
        Fault.answer({"pg_order_id": "someone-else"}, endpoint=CREATE, times=1),
        Fault.answer({"pg_merchant_id": "999999"}, endpoint=CREATE, times=1),
        Fault.answer({}, status=500, endpoint=CREATE, times=1),  # signed "ok" under HTTP 500
    ],
    ids=["other-order", "other-merchant", "http-500-signed-ok"],
)
async def test_a_signed_create_answer_about_another_request_is_not_this_payouts_success(
    emulator: Emulator, client: FreedomPayClient, lie: Fault
) -> None:
    emulator.faults.add(lie)
    payout = await pay(client, "B-1")
    truth = emulator.payouts["B-1"]
    assert payout.order_id == "B-1"  # type: ignore[attr-defined]
    assert payout.payment_id == truth.payment_id  # type: ignore[attr-defined]
    assert emulator.calls[STATUS2] >= 1  # learnt from the status, not from the lie
    assert emulator.created_count("B-1") == 1


async def test_a_replayed_answer_of_another_order_is_not_accepted(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    first = await pay(client, "B-0")
    emulator.faults.add(Fault.replay(endpoint=CREATE, times=1))
    second = await pay(client, "B-2")
    assert second.order_id == "B-2"  # type: ignore[attr-defined]
    assert second.payment_id == emulator.payouts["B-2"].payment_id  # type: ignore[attr-defined]
    assert second.payment_id != first.payment_id  # type: ignore[attr-defined]
    assert emulator.created_count("B-2") == 1


async def test_a_replayed_refusal_naming_no_order_is_checked_against_the_status(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    emulator.balance = Decimal("200.00")
    with pytest.raises(GatewayError) as refused:  # a genuine refusal (it names no order)
        await client.payouts.to_card(
            order_id="RR-0",
            amount=Decimal("500.00"),
            card_number=CARD,
            description="too much",
            post_link="https://shop.example/payouts",
        )
    assert "RR-0" not in emulator.payouts
    assert "pg_order_id" not in refused.value.fields
    # That refusal, replayed as the answer to a payout the gateway made:
    emulator.faults.add(Fault.replay(endpoint=CREATE, times=1))
    payout = await pay(client, "RR-1")
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert emulator.created_count("RR-1") == 1


async def test_status_answers_are_checked_against_the_order_and_the_payment(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    payout = await pay(client, "B-3")
    emulator.faults.add(Fault.answer({"pg_order_id": "B-9"}, endpoint=STATUS2, times=1))
    with pytest.raises(AnswerMismatch) as other_order:
        await client.payouts.status("B-3")
    assert other_order.value.field == "pg_order_id"
    assert other_order.value.raw  # the body is kept for diagnosis
    emulator.faults.add(Fault.answer({"pg_payment_id": "1"}, endpoint=STATUS2, times=1))
    with pytest.raises(AnswerMismatch):
        await client.payouts.status("B-3", payment_id=payout.payment_id)  # type: ignore[attr-defined]


async def test_a_status2_answer_without_the_payment_status_is_malformed_never_success(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    await pay(client, "B-4")
    bare = {"pg_status": "ok", "pg_order_id": "B-4", "pg_payment_id": "1"}
    emulator.faults.add(Fault.answer(bare, replace=True, endpoint=STATUS2, times=1))
    with pytest.raises(MalformedResponse):
        await client.payouts.status("B-4")


async def test_http_500_with_a_signed_ok_body_is_not_success(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    emulator.faults.add(Fault.answer({}, status=500, endpoint="g2g/balance_status", times=1))
    with pytest.raises(UnexpectedHTTPStatus):
        await client.payouts.balance()


# -- 4. what is learnt while reconciling is never a refusal ----------------------------------


async def test_process_then_not_found_keeps_polling(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    emulator.rules.add(Rule.process(polls=3, order_id="N-1"))
    not_found = {"pg_status": "error", "pg_error_code": "340", "pg_error_description": "no"}
    emulator.faults.add(Fault.answer(not_found, replace=True, endpoint=STATUS2, times=2))
    payout = await pay(client, "N-1")
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert emulator.created_count("N-1") == 1


@pytest.mark.parametrize("code", [600, 350, 1000, 110])
async def test_transient_status_errors_after_a_lost_create_are_not_refusals(
    emulator: Emulator, client: FreedomPayClient, code: int
) -> None:
    emulator.faults.add(Fault.drop_after_commit(endpoint=CREATE, times=1))
    error = {"pg_status": "error", "pg_error_code": str(code), "pg_error_description": "busy"}
    emulator.faults.add(Fault.answer(error, replace=True, endpoint=STATUS2, times=2))
    payout = await pay(client, f"T-{code}")
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert emulator.created_count(f"T-{code}") == 1
    # A signed error is no refusal of payout_status2 itself: v1 was never asked.
    assert "g2g/payout_status" not in emulator.calls
    assert (await client.payouts.status(f"T-{code}")).state is PayoutState.SUCCESS
    assert "g2g/payout_status" not in emulator.calls


async def test_an_unsigned_unknown_merchant_after_commit_is_reconciled(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    unknown = {"pg_status": "error", "pg_error_code": "9998", "pg_error_description": "?"}
    emulator.faults.add(Fault.answer(unknown, replace=True, signed=False, endpoint=CREATE, times=1))
    payout = await pay(client, "M-1")
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert emulator.created_count("M-1") == 1


# -- 5. "order already exists" is evidence that the payout exists ----------------------------


async def test_order_exists_returns_what_the_status_shows(emulator: Emulator) -> None:
    async with client_for(emulator) as first_client:
        first = await pay(first_client, "E-1")
    async with client_for(emulator) as second_client:  # a new process, say, paying it again
        again = await pay(second_client, "E-1")
    assert again.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert again.payment_id == first.payment_id  # type: ignore[attr-defined]
    assert len(emulator.payouts) == 1


async def test_order_exists_for_a_declined_payout_is_the_decline(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    emulator.rules.add(Rule.process(then="error", error_code=8001, order_id="E-2"))
    with pytest.raises(PayoutDeclined):
        await pay(client, "E-2")
    with pytest.raises(PayoutDeclined) as declined:
        await pay(client, "E-2")
    assert declined.value.code == 8001


# -- 7. a wrong secret key is said within seconds, and nothing was paid ---------------------


async def test_a_wrong_payout_key_is_named_within_seconds(emulator: Emulator) -> None:
    started = time.monotonic()
    async with client_for(emulator, payout_secret_key="not-the-payout-key") as fp:
        with pytest.raises(SecretKeyRejected) as rejected:
            await pay(fp, "K-1")
    assert time.monotonic() - started < 5
    assert rejected.value.key == "payout"
    assert rejected.value.order_id == "K-1"
    assert "not-the-payout-key" not in str(rejected.value)
    assert not isinstance(rejected.value, PayoutOutcomeUnknown)
    assert emulator.created_count("K-1") == 0


async def test_a_batch_with_a_wrong_key_stops_and_pays_nothing_even_without_preflight(
    emulator: Emulator, tmp_path: Path
) -> None:
    rows = [
        payout_row(
            {"order_id": f"KB-{n}", "amount": "10.00", "description": "d", "card_number": CARD},
            n + 2,
        )
        for n in range(5)
    ]
    journal = tmp_path / "kb.journal"
    async with client_for(emulator, payout_secret_key="not-the-payout-key") as fp:
        with pytest.raises(SecretKeyRejected) as rejected:
            await run_payout_batch(
                fp,
                rows,
                journal=journal,
                post_link="https://shop.example/payouts",
                preflight=False,
                status_preflight=False,
                concurrency=1,
            )
    assert rejected.value.key == "payout"
    report = Journal.read_report(journal)
    assert {row.state for row in report.rows} == {RowState.PENDING}  # safe to send once fixed
    assert not emulator.payouts


# -- 8. one channel for declines ---------------------------------------------------------------


async def test_a_decline_after_process_raises_like_a_direct_decline(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    emulator.rules.add(
        Rule.process(then="error", error_code=8002, description="Card blocked", order_id="X-1")
    )
    with pytest.raises(GatewayError) as after_process:
        await pay(client, "X-1")
    assert isinstance(after_process.value, PayoutDeclined)
    assert after_process.value.code == 8002
    assert after_process.value.description == "Card blocked"
    assert after_process.value.payout is not None
    assert after_process.value.payout.state is PayoutState.ERROR
    assert after_process.value.payment_id == emulator.payouts["X-1"].payment_id

    emulator.rules.add(Rule.error(8003, "Limit", order_id="X-2"))
    with pytest.raises(GatewayError) as direct:
        await pay(client, "X-2")
    assert direct.value.code == 8003

    emulator.rules.add(Rule.process(then="error", error_code=8004, polls=2, order_id="X-3"))
    pending = await pay(client, "X-3", wait=False)
    with pytest.raises(PayoutDeclined) as waited:
        await client.payouts.wait("X-3", payout=pending)  # type: ignore[arg-type]
    assert waited.value.code == 8004


# -- 9. compressed bombs ------------------------------------------------------------------------


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_a_gzip_bomb_is_cut_at_the_answer_limit(
    emulator: Emulator, client: FreedomPayClient
) -> None:
    await client.payouts.balance()  # warm up: connections, imports
    emulator.faults.add(Fault.gzip_bomb(512 << 20, endpoint="g2g/balance_status", times=1))
    emulator.faults.add(Fault.gzip_bomb(512 << 20, endpoint=CREATE, times=1))
    before = _peak_rss_mib()
    with pytest.raises(MalformedResponse) as bomb:
        await client.payouts.balance()
    assert len(bomb.value.raw) <= 4096
    payout = await pay(client, "Z-1")  # for a create: ambiguous, reconciled
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert emulator.created_count("Z-1") == 1
    assert _peak_rss_mib() - before < 128, "the bomb was inflated in memory"


# -- the property: random fault schedules with outages and status lag ------------------------

ANSWER_FAULTS = st.sampled_from(
    [
        None,
        lambda order: Fault.drop_after_commit(order_id=order, endpoint=CREATE, times=1),
        lambda order: Fault.drop_before(order_id=order, endpoint=CREATE, times=1),
        lambda order: Fault.http_error(502, order_id=order, endpoint=CREATE, times=1),
        lambda order: Fault.malformed_xml(order_id=order, endpoint=CREATE, times=1),
        lambda order: Fault.unsigned(order_id=order, endpoint=CREATE, times=1),
        lambda order: Fault.bad_signature(order_id=order, endpoint=CREATE, times=1),
        lambda order: Fault.replay(order_id=order, endpoint=CREATE, times=1),
        lambda order: Fault.answer(
            {"pg_order_id": "elsewhere"}, order_id=order, endpoint=CREATE, times=1
        ),
        lambda order: Fault.http_error(503, order_id=order, endpoint=STATUS2, times=2),
        lambda order: Fault.drop_after_commit(order_id=order, endpoint=STATUS2, times=2),
    ]
)
WINDOWS = st.lists(st.tuples(st.floats(0.0, 1.5), st.floats(0.05, 0.8)), min_size=0, max_size=3)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    schedule=st.lists(ANSWER_FAULTS, min_size=24, max_size=24),
    windows=WINDOWS,
    lag=st.sampled_from([0.0, 0.3, 1.0]),
)
async def test_random_faults_outages_and_lag_never_pay_twice_nor_hide_a_payout(
    schedule: list[object], windows: list[tuple[float, float]], lag: float
) -> None:
    async with (
        Emulator(merchant_id=MERCHANT, secret_key=KEY, payout_secret_key=PAYOUT_KEY) as emu,
        OutageProxy(emu.host, emu.port) as proxy,
    ):
        for index, make in enumerate(schedule):
            if make is not None:
                emu.faults.add(make(f"H-{index}"))  # type: ignore[operator]
        if lag:
            emu.faults.add(Fault.status_lag(lag))
        policy = PayoutPolicy(poll_initial=0.05, poll_max=0.2, reconcile_deadline=2.5)
        outcomes: dict[str, object] = {}
        async with client_for(emu, proxy.url, payout_policy=policy) as fp:

            async def one(order: str) -> None:
                try:
                    outcomes[order] = await pay(fp, order)
                except (PayoutOutcomeUnknown, PayoutPending, RequestNotSent, GatewayError) as exc:
                    outcomes[order] = exc

            async with anyio.create_task_group() as group:
                group.start_soon(proxy.outages, windows)
                for index in range(len(schedule)):
                    group.start_soon(one, f"H-{index}")
    for order, result in outcomes.items():
        created = emu.created_count(order)
        assert created <= 1, order
        if created:
            assert not isinstance(result, (RequestNotSent, GatewayError)), (order, result)
        if isinstance(result, GatewayError):
            raise AssertionError(f"{order}: no row here is declined: {result!r}")
        if not isinstance(result, (PayoutOutcomeUnknown, PayoutPending, RequestNotSent)):
            assert result.state is PayoutState.SUCCESS, (order, result)  # type: ignore[attr-defined]
            assert created == 1


def test_status_polls_of_one_payout_keep_the_docs_pace_by_default() -> None:
    delays = [_poll_delay(PayoutPolicy(), polls) for polls in range(8) for _ in range(200)]
    assert min(delays) >= 1.5  # the docs: 1.5-2 s at least between calls about one payment
    assert max(delays) <= PayoutPolicy().poll_max
