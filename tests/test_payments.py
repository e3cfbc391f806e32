"""client.payments and client.mobile against the emulator: lifecycle and money safety."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from freedompay_async import (
    FreedomPayClient,
    GatewayError,
    PaymentOutcomeUnknown,
    PaymentState,
    ReceiptPosition,
    TaxType,
    TransactionState,
)
from freedompay_async.errors import CannotBeCancelled, InvalidParameter, TransactionNotFound
from freedompay_async.testing import MOBILE_TEST_CODE, Emulator, Fault, Rule

pytestmark = pytest.mark.anyio

RESULT_URL = "https://shop.example/freedompay/result"


@pytest.fixture
async def client(freedompay_emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with freedompay_emulator.client(timeout=aiohttp.ClientTimeout(total=0.5)) as fp:
        yield fp


async def create(client: FreedomPayClient, order_id: str, **kw: object) -> int:
    page = await client.payments.create(
        order_id=order_id,
        amount=Decimal("4990.00"),
        description="Kettle",
        **kw,  # type: ignore[arg-type]
    )
    return page.payment_id


async def test_create_returns_the_page_and_is_idempotent(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    page = await client.payments.create(
        order_id="A-1",
        amount="4990.00",
        description="Kettle",
        generate_qr=True,
        receipt=[ReceiptPosition("Kettle", 1, "4990.00", TaxType.VAT_12)],
        merchant_fields={"basket": "42"},
    )
    assert page.redirect_url.startswith("https://")
    assert page.redirect_url_type == "need data"
    assert page.qr
    again = await client.payments.create(
        order_id="A-1",
        amount="4990.00",
        description="Kettle",
        generate_qr=True,
        receipt=[ReceiptPosition("Kettle", 1, "4990.00", TaxType.VAT_12)],
        merchant_fields={"basket": "42"},
    )
    # The same operation sends the same default idempotency key: the gateway replays.
    assert again.payment_id == page.payment_id
    assert len(freedompay_emulator.payments) == 1
    status = await client.payments.status(page.payment_id)
    assert status.state is PaymentState.NEW
    assert not status.is_final
    assert status.amount == Decimal("4990.00")
    order = await client.payments.order_status("A-1")
    assert order.state is TransactionState.PARTIAL
    assert order.payment_id == page.payment_id


async def test_paid_one_step_payment_status(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-2", result_url=RESULT_URL)
    await freedompay_emulator.pay(payment_id)
    status = await client.payments.status(payment_id)
    assert status.state is PaymentState.SUCCESS
    assert status.is_final
    assert status.captured is True
    assert status.currency == "KZT"
    assert status.card_pan is not None
    assert "5000006150"[-4:] in status.card_pan
    assert "4405645000006150" not in repr(status)
    assert status.payment_date is not None
    assert status.payment_date.tzinfo is not None
    assert (await client.payments.order_status("A-2")).state is TransactionState.OK


async def test_declined_payment_status_keeps_the_failure(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-3")
    await freedompay_emulator.pay(payment_id, succeed=False, error_code=10009)
    status = await client.payments.status(payment_id)
    assert status.state in (PaymentState.ERROR, PaymentState.FAILED)
    assert status.failure_code == 10009
    assert status.failure_description


async def test_two_step_capture_then_cancel_refused(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-4", auto_clearing=False)
    await freedompay_emulator.pay(payment_id)
    held = await client.payments.status(payment_id)
    assert held.state is PaymentState.SUCCESS
    assert held.captured is False
    captured = await client.payments.capture(payment_id, amount=Decimal("4000.00"))
    assert captured.kind == "capture"
    status = await client.payments.status(payment_id)
    assert status.captured is True
    assert status.clearing_amount == Decimal("4000.00")
    with pytest.raises(CannotBeCancelled):
        await client.payments.cancel(payment_id)


async def test_cancel_a_held_payment(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-5", auto_clearing=False)
    await freedompay_emulator.pay(payment_id)
    cancelled = await client.payments.cancel(payment_id)
    assert cancelled.kind == "cancel"
    assert (await client.payments.status(payment_id)).state is PaymentState.REVOKED


async def test_partial_and_full_refunds_are_listed(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-6")
    await freedompay_emulator.pay(payment_id)
    first = await client.payments.refund(payment_id, amount=Decimal("990.00"))
    assert first.kind == "refund"
    assert first.payment_id not in (None, payment_id)
    with pytest.raises(InvalidParameter) as too_much:
        await client.payments.refund(payment_id, amount=Decimal("4000.01"))
    assert too_much.value.code == 110
    await client.payments.refund(payment_id)  # the rest
    status = await client.payments.status(payment_id)
    assert status.state is PaymentState.REFUNDED
    assert len(status.refunds) == 2
    assert sorted(refund.amount or 0 for refund in status.refunds) == [
        Decimal("-4000.00"),
        Decimal("-990.00"),
    ]
    assert all(refund.payment_id for refund in status.refunds)


async def test_recurring_profile_is_charged(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-7", recurring_start=True, recurring_lifetime=12)
    await freedompay_emulator.pay(payment_id)
    profile = (await client.payments.status(payment_id)).recurring_profile
    assert profile
    charged = await client.payments.charge_recurring(
        recurring_profile=profile, amount="199.00", description="Monthly", order_id="A-7-m1"
    )
    assert charged.state is PaymentState.SUCCESS
    assert charged.payment_id not in (None, payment_id)
    with pytest.raises(GatewayError):
        await client.payments.charge_recurring(
            recurring_profile="no-such-profile", amount="1.00", description="x"
        )


async def test_unknown_payment_is_not_found(client: FreedomPayClient) -> None:
    with pytest.raises(TransactionNotFound):
        await client.payments.status(987654321)
    with pytest.raises(TransactionNotFound):
        await client.payments.order_status("never-created")


async def test_lost_capture_answer_is_settled_by_the_status(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-8", auto_clearing=False)
    await freedompay_emulator.pay(payment_id)
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="do_capture.php"))
    captured = await client.payments.capture(payment_id)
    assert captured.kind == "capture"
    assert captured.amount == Decimal("4990.00")
    assert freedompay_emulator.calls["do_capture.php"] == 1


async def test_lost_refund_answer_is_outcome_unknown_never_resent(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-9")
    await freedompay_emulator.pay(payment_id)
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="revoke.php"))
    with pytest.raises(PaymentOutcomeUnknown) as unknown:
        await client.payments.refund(payment_id, amount=Decimal("10.00"))
    assert unknown.value.payment_id == payment_id
    assert freedompay_emulator.calls["revoke.php"] == 1
    assert len((await client.payments.status(payment_id)).refunds) == 1


async def test_lost_recurring_answer_is_found_by_order_id(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-10", recurring_start=True)
    await freedompay_emulator.pay(payment_id)
    profile = (await client.payments.status(payment_id)).recurring_profile
    assert profile
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="make_recurring_payment.php"))
    charged = await client.payments.charge_recurring(
        recurring_profile=profile, amount="5.00", description="m", order_id="A-10-m1"
    )
    assert charged.state is PaymentState.SUCCESS
    assert freedompay_emulator.calls["make_recurring_payment.php"] == 1


async def test_recurring_decline_rule(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    payment_id = await create(client, "A-11", recurring_start=True)
    await freedompay_emulator.pay(payment_id)
    profile = (await client.payments.status(payment_id)).recurring_profile
    assert profile
    freedompay_emulator.rules.add(Rule.error(10009, order_id="A-11-m1"))
    with pytest.raises(GatewayError) as declined:
        await client.payments.charge_recurring(
            recurring_profile=profile, amount="5.00", description="m", order_id="A-11-m1"
        )
    assert declined.value.code == 10009


# -- mobile balance ---------------------------------------------------------------------------


async def test_mobile_balance_with_sms_code(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    page = await client.mobile.init(order_id="M-1", amount="500.00", description="Top-up")
    assert freedompay_emulator.payments[page.payment_id].method == "mobile_commerce"
    charge = await client.mobile.pay(page.payment_id, phone="+77017777777", operator="KCELLKZT")
    assert charge.state is PaymentState.NEED_APPROVE
    await client.mobile.resend_code(page.payment_id)
    with pytest.raises(GatewayError):
        await client.mobile.approve(page.payment_id, code="000000")
    approved = await client.mobile.approve(page.payment_id, code=MOBILE_TEST_CODE)
    assert approved.state is PaymentState.SUCCESS
    assert (await client.mobile.status(page.payment_id)).state is PaymentState.SUCCESS


async def test_mobile_process_is_waited_for(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    page = await client.mobile.init(order_id="M-2", amount="500.00", description="Top-up")
    await client.mobile.pay(page.payment_id, phone="77027777777")
    approved = await client.mobile.approve(page.payment_id, code=MOBILE_TEST_CODE)
    assert approved.state is PaymentState.PROCESS
    final = await client.payments.wait(page.payment_id, poll_initial=0.01, poll_max=0.05)
    assert final.state is PaymentState.SUCCESS


async def test_lost_approve_answer_is_settled_by_the_status(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    page = await client.mobile.init(order_id="M-3", amount="500.00", description="Top-up")
    await client.mobile.pay(page.payment_id, phone="77017777777")
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="mfs/approve"))
    approved = await client.mobile.approve(page.payment_id, code=MOBILE_TEST_CODE)
    assert approved.state is PaymentState.SUCCESS
    assert freedompay_emulator.calls["mfs/approve"] == 1
