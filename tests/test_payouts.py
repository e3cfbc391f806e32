"""client.payouts against the emulator: typed results, validation, polling, reconciliation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freedompay_async import (
    FreedomPayClient,
    GatewayError,
    PayoutDeclined,
    PayoutOutcomeUnknown,
    PayoutPending,
    PayoutPolicy,
    PayoutState,
    UnexpectedHTTPStatus,
    ValidationError,
)
from freedompay_async.errors import TransactionNotFound
from freedompay_async.testing import Emulator, Fault, Rule

pytestmark = pytest.mark.anyio

CARD = "4405645000006150"
PAYOUT = "g2g/p2p2nonreg"
FAST = PayoutPolicy(
    poll_initial=0.01, poll_max=0.05, wait_deadline=2, reconcile_deadline=3, not_found_grace=0.1
)


@pytest.fixture
async def client(freedompay_emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with freedompay_emulator.client(
        timeout=aiohttp.ClientTimeout(total=0.5), payout_policy=FAST
    ) as fp:
        yield fp


async def pay(client: FreedomPayClient, order_id: str, card: str = CARD, **kw: object) -> object:
    return await client.payouts.to_card(
        order_id=order_id,
        amount=Decimal("150.00"),
        card_number=card,
        description="Cashback",
        post_link="https://shop.example/payouts",
        **kw,  # type: ignore[arg-type]
    )


async def test_to_card_returns_a_typed_payout(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    before = freedompay_emulator.balance
    payout = await client.payouts.to_card(
        order_id="P-1",
        amount="150",
        card_number="4405 6450 0000 6150",
        description="Cashback",
        post_link="https://shop.example/payouts",
        currency="KZT",
        user_id="user_1",
    )
    assert payout.state is PayoutState.SUCCESS
    assert payout.is_final
    assert payout.amount == Decimal("150.00")
    assert payout.payment_id == freedompay_emulator.payouts["P-1"].payment_id
    assert payout.balance == before - Decimal("150.00")
    assert payout.payment_date is not None
    assert payout.payment_date.tzinfo is not None
    assert CARD not in repr(payout)
    assert freedompay_emulator.created_count("P-1") == 1
    status = await client.payouts.status(order_id="P-1")
    assert (status.state, status.payment_id) == (PayoutState.SUCCESS, payout.payment_id)
    v1 = await client.payouts.status(order_id="P-1", version=1)
    assert v1.state is PayoutState.SUCCESS
    with pytest.raises(ValidationError, match="version"):
        await client.payouts.status(order_id="P-1", version=3)
    balance = await client.payouts.balance("KZT")
    assert balance.amount == freedompay_emulator.balance


async def test_declined_is_a_final_gateway_error(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    with pytest.raises(GatewayError) as declined:
        await pay(client, "D-1", card="5325349472901311")
    assert declined.value.code == 10000
    assert freedompay_emulator.created_count("D-1") == 1


async def test_process_is_polled_until_final(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    settled = await pay(client, "W-1", card="5507841999732294")
    assert settled.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    with pytest.raises(PayoutDeclined) as failed:
        await pay(client, "W-2", card="4532676596620704")
    assert failed.value.payout is not None
    assert failed.value.payout.state is PayoutState.ERROR
    assert failed.value.code is not None
    assert failed.value.payment_id is not None
    assert failed.value.order_id == "W-2"
    pending = await pay(client, "W-3", card="5507841999732294", wait=False)
    assert pending.state is PayoutState.PROCESS  # type: ignore[attr-defined]
    assert (await client.payouts.wait("W-3")).state is PayoutState.SUCCESS
    for order in ("W-1", "W-2", "W-3"):
        assert freedompay_emulator.created_count(order) == 1


async def test_a_payout_still_in_process_at_the_deadline_is_pending_not_failed(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_emulator.rules.add(Rule.process(order_id="S-1", polls=None, seconds=60))
    freedompay_client.payouts.policy = PayoutPolicy(
        poll_initial=0.01, poll_max=0.02, wait_deadline=0.2
    )
    with pytest.raises(PayoutPending) as pending:
        await pay(freedompay_client, "S-1")
    assert pending.value.order_id == "S-1"
    assert pending.value.payment_id == freedompay_emulator.payouts["S-1"].payment_id
    assert freedompay_emulator.payouts["S-1"].status == "process"


@pytest.mark.parametrize(
    "fault",
    [
        Fault.drop_after_commit(endpoint=PAYOUT, times=1),
        Fault.slow_after_commit(1.0, endpoint=PAYOUT, times=1),
        Fault.http_error(502, endpoint=PAYOUT, times=1),
        Fault.malformed_xml(endpoint=PAYOUT, times=1),
        Fault.bad_signature(endpoint=PAYOUT, times=1),
        Fault.unsigned(endpoint=PAYOUT, times=1),
    ],
    ids=lambda fault: fault.kind.name,
)
async def test_every_fault_ends_in_the_emulators_truth_created_once(
    freedompay_emulator: Emulator, client: FreedomPayClient, fault: Fault
) -> None:
    freedompay_emulator.faults.add(fault)
    payout = await pay(client, "F-1")
    truth = freedompay_emulator.payouts["F-1"]
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
    assert truth.status == "success"
    assert payout.payment_id == truth.payment_id  # type: ignore[attr-defined]
    assert freedompay_emulator.created_count("F-1") == 1
    assert [record.kind for record in freedompay_emulator.fault_records] == [fault.kind]


async def test_unreachable_status_is_outcome_unknown_with_the_order_id(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint=PAYOUT, times=1))
    freedompay_emulator.faults.add(Fault.http_error(503, endpoint="g2g/payout_status2"))
    freedompay_client.payouts.policy = PayoutPolicy(
        poll_initial=0.01, poll_max=0.02, reconcile_deadline=0.3
    )
    with pytest.raises(PayoutOutcomeUnknown) as unknown:
        await pay(freedompay_client, "U-1")
    assert unknown.value.order_id == "U-1"
    assert freedompay_emulator.created_count("U-1") == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"card": "4405645000006151"}, "pg_payment_to"),
        ({"card": "44056450"}, "pg_payment_to"),
        ({"amount": Decimal("1.001")}, "pg_amount"),
        ({"amount": 1.5}, "pg_amount"),
        ({"amount": Decimal("0")}, "pg_amount"),
        ({"order_id": ""}, "pg_order_id"),
        ({"order_id": "x" * 51}, "pg_order_id"),
        ({"post_link": "shop.example/payouts"}, "pg_post_link"),
        ({"user_id": "bad id!"}, "pg_user_id"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    freedompay_emulator: Emulator, client: FreedomPayClient, kwargs: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {
        "order_id": "V-1",
        "amount": Decimal("10"),
        "card": CARD,
        "post_link": "https://shop.example/payouts",
    }
    args.update(kwargs)
    with pytest.raises(ValidationError) as invalid:
        await client.payouts.to_card(
            order_id=args.pop("order_id"),  # type: ignore[arg-type]
            amount=args.pop("amount"),  # type: ignore[arg-type]
            card_number=args.pop("card"),  # type: ignore[arg-type]
            description="d",
            post_link=args.pop("post_link"),  # type: ignore[arg-type]
            **args,  # type: ignore[arg-type]
        )
    assert invalid.value.field == field
    assert CARD[6:12] not in str(invalid.value)
    assert dict(freedompay_emulator.calls) == {}


FAULTS = st.sampled_from(
    [
        lambda order: Fault.drop_after_commit(order_id=order, endpoint=PAYOUT, times=1),
        lambda order: Fault.drop_before(order_id=order, endpoint=PAYOUT, times=1),
        lambda order: Fault.http_error(500, order_id=order, endpoint=PAYOUT, times=1),
        lambda order: Fault.malformed_xml(order_id=order, endpoint=PAYOUT, times=1),
        lambda order: Fault.unsigned(order_id=order, endpoint=PAYOUT, times=1),
        lambda order: Fault.bad_signature(order_id=order, endpoint=PAYOUT, times=1),
        None,
    ]
)


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schedule=st.lists(FAULTS, min_size=60, max_size=60))
async def test_random_fault_schedules_never_pay_twice(schedule: list[object]) -> None:
    async with Emulator(merchant_id="552893", secret_key="k", payout_secret_key="pk") as emu:
        for index, make in enumerate(schedule):
            if make is not None:
                emu.faults.add(make(f"R-{index}"))  # type: ignore[operator]
        async with emu.client(timeout=aiohttp.ClientTimeout(total=1), payout_policy=FAST) as fp:
            outcomes: dict[str, object] = {}

            async def one(index: int) -> None:
                try:
                    outcomes[f"R-{index}"] = await pay(fp, f"R-{index}")
                except (PayoutOutcomeUnknown, PayoutPending) as exc:  # typed, allowed
                    outcomes[f"R-{index}"] = exc

            async with anyio.create_task_group() as group:
                for index in range(len(schedule)):
                    group.start_soon(one, index)
        for order, result in outcomes.items():
            if isinstance(result, PayoutOutcomeUnknown):  # dropped before processing
                assert emu.created_count(order) == 0, order
                continue
            assert emu.created_count(order) == 1
            assert getattr(result, "state", None) is PayoutState.SUCCESS, (order, result)


@pytest.mark.parametrize("api", ["gateway", "merchant"])
async def test_to_token_on_both_apis(
    freedompay_emulator: Emulator, client: FreedomPayClient, api: str
) -> None:
    token = freedompay_emulator.save_card("user_7", CARD)
    payout = await client.payouts.to_token(
        order_id=f"T-{api}",
        amount=Decimal("25.50"),
        user_id="user_7",
        card_token=token,
        description="Refund",
        post_link="https://shop.example/payouts",
        api=api,  # type: ignore[arg-type]
    )
    assert payout.state is PayoutState.SUCCESS
    assert payout.amount == Decimal("25.50")
    assert freedompay_emulator.payouts[f"T-{api}"].card_token == token
    assert freedompay_emulator.created_count(f"T-{api}") == 1
    by_id = await client.payouts.to_token(
        order_id=f"TI-{api}",
        amount="10",
        user_id="user_7",
        card_id=freedompay_emulator.card_id(token),
        description="Refund",
        post_link="https://shop.example/payouts",
        api=api,  # type: ignore[arg-type]
    )
    assert by_id.state is PayoutState.SUCCESS
    if api == "merchant":
        status = await client.payouts.status(order_id=f"T-{api}", api="merchant")
        assert (status.state, status.payment_id) == (PayoutState.SUCCESS, payout.payment_id)
        assert freedompay_emulator.calls["api/payment_status2"] == 1


async def test_to_token_needs_exactly_one_card_reference(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    common = {
        "order_id": "T-x",
        "amount": "1",
        "user_id": "u",
        "description": "d",
        "post_link": "https://shop.example/p",
    }
    with pytest.raises(ValidationError, match="exactly one"):
        await client.payouts.to_token(**common)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="exactly one"):
        await client.payouts.to_token(**common, card_token="t", card_id=1)  # type: ignore[arg-type]
    assert dict(freedompay_emulator.calls) == {}


async def test_to_iban(freedompay_emulator: Emulator, client: FreedomPayClient) -> None:
    payout = await client.payouts.to_iban(
        order_id="IB-1",
        amount="1000",
        iban="KZ12 3412 3412 3412 3412",
        recipient_iin="761223455678",
        recipient_name="IVANOV IVAN",
        recipient_kbe="19",
        knp="119",
        bank_bik="KZZSAE",
        description="Refund",
        post_link="https://shop.example/payouts",
    )
    assert payout.state is PayoutState.SUCCESS
    assert freedompay_emulator.created_count("IB-1") == 1
    with pytest.raises(ValidationError, match="pg_recipient_iban"):
        await client.payouts.to_iban(
            order_id="IB-2",
            amount="1",
            iban="not-an-iban",
            recipient_iin="761223455678",
            recipient_name="X",
            recipient_kbe="19",
            knp="119",
            bank_bik="KZZSAE",
            description="d",
            post_link="https://shop.example/payouts",
        )


async def test_status_falls_back_to_v1_for_good_when_v2_is_refused(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    await pay(client, "FB-1")
    freedompay_emulator.faults.add(Fault.http_error(404, endpoint="g2g/payout_status2"))
    first = await client.payouts.status(order_id="FB-1")
    second = await client.payouts.status(order_id="FB-1")
    assert first.state is second.state is PayoutState.SUCCESS
    assert freedompay_emulator.calls["g2g/payout_status2"] == 1
    assert freedompay_emulator.calls["g2g/payout_status"] == 2
    with pytest.raises(UnexpectedHTTPStatus):
        await client.payouts.status(order_id="FB-1", version=2)


async def test_not_found_is_not_a_reason_to_fall_back(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    with pytest.raises(TransactionNotFound):
        await client.payouts.status(order_id="ghost")
    assert "g2g/payout_status" not in freedompay_emulator.calls


async def test_payout_page_returns_the_redirect_and_the_outcome_is_learnt_by_status(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    page = await client.payouts.page(
        order_id="PG-1",
        amount="99.90",
        description="Prize",
        back_link="https://shop.example/back",
        post_link="https://shop.example/payouts",
        user_email="winner@example.com",
    )
    assert page.redirect_url.startswith("https://")
    assert str(page.payment_id) in page.redirect_url
    assert page.payment_id == freedompay_emulator.payouts["PG-1"].payment_id
    status = await client.payouts.status(order_id="PG-1", api="merchant")
    assert status.state is PayoutState.SUCCESS
    assert freedompay_emulator.created_count("PG-1") == 1
    with pytest.raises(ValidationError, match="pg_back_link"):
        await client.payouts.page(
            order_id="PG-2",
            amount="1",
            description="d",
            back_link="nope",
            post_link="https://shop.example/payouts",
        )


async def test_merchant_api_payouts_are_reconciled_through_the_merchant_status(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    token = freedompay_emulator.save_card("user_8", CARD)
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="api/reg2reg", times=1))
    payout = await client.payouts.to_token(
        order_id="MR-1",
        amount="5",
        user_id="user_8",
        card_token=token,
        description="Refund",
        post_link="https://shop.example/payouts",
        api="merchant",
    )
    assert payout.state is PayoutState.SUCCESS
    assert freedompay_emulator.created_count("MR-1") == 1
    assert freedompay_emulator.calls["api/payment_status2"] >= 1
    assert "g2g/payout_status2" not in freedompay_emulator.calls
