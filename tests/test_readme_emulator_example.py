"""The README's "Testing your app with the emulator" example, kept runnable."""

from __future__ import annotations

from decimal import Decimal

import pytest

from freedompay_async import FreedomPayClient, GatewayError, OutcomeUnknown
from freedompay_async.testing import Emulator, Fault, Rule

pytestmark = pytest.mark.anyio

PAYOUT = {
    "pg_order_id": "order-1",
    "pg_amount": Decimal("150.00"),
    "pg_description": "Cashback",
    "pg_payment_to": "4405645000006150",
    "pg_post_link": "https://shop.example/freedompay/payouts",
}


async def test_a_declined_payout(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_emulator.rules.add(Rule.error(10000, order_id="order-1"))
    with pytest.raises(GatewayError) as declined:
        await freedompay_client.request("g2g/p2p2nonreg", PAYOUT)
    assert declined.value.code == 10000
    assert freedompay_emulator.payouts["order-1"].status == "error"


async def test_a_lost_answer_is_not_paid_twice(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="g2g/p2p2nonreg"))
    with pytest.raises(OutcomeUnknown):
        await freedompay_client.request("g2g/p2p2nonreg", PAYOUT)
    assert freedompay_emulator.created_count("order-1") == 1
    assert freedompay_emulator.balance == Decimal("1000000.00") - Decimal("150.00")
