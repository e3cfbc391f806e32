"""client.tokens' Gateway API card storage (g2g/cardstorage/*) and the 3-D Secure completion
of wallet charges (g2g/paymentAcs), against the emulator over loopback HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from freedompay_async import (
    CardState,
    FreedomPayClient,
    GatewayError,
    PaymentOutcomeUnknown,
    PaymentState,
    ValidationError,
    WalletToken,
)
from freedompay_async.testing import THREE_DS_CARDS, THREE_DS_FAILED, Emulator, Fault, Rule

pytestmark = pytest.mark.anyio

CARD = "4405645000006150"
CHALLENGED = next(iter(THREE_DS_CARDS))
CARD_DATA: dict[str, Any] = {
    "expiry_month": 6,
    "expiry_year": 31,
    "cvc": "123",
    "cardholder": "ANN LEE",
}
NOT_AUTHENTICATED = WalletToken(
    dpan="4111111111111111",
    expiry_month=6,
    expiry_year=31,
    cryptogram="AgAAAAAAAIR8CQrXcIhbQAAAAAA=",
    eci="07",  # not authenticated on the device: 3-D Secure follows
    cardholder="ANN LEE",
)


@pytest.fixture
async def client(freedompay_emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with freedompay_emulator.client(timeout=aiohttp.ClientTimeout(total=0.5)) as fp:
        yield fp


async def test_save_list_pay_with_and_remove_a_card(client: FreedomPayClient) -> None:
    saved = await client.tokens.save_card(
        user_id="u-1", card_number=CARD, order_id="S-1", **CARD_DATA
    )
    assert saved.saved
    assert saved.three_ds is None
    assert saved.card_token
    assert saved.card_mask == "440564******6150"
    assert (saved.user_id, saved.order_id, saved.secure_details) == ("u-1", "S-1", "F")
    cards = await client.tokens.list_cards("u-1")
    assert [card.card_token for card in cards] == [saved.card_token]
    assert cards[0].state is CardState.APPROVED
    assert cards[0].is_filled
    paid = await client.tokens.pay(
        order_id="S-2",
        amount="10.00",
        description="x",
        user_id="u-1",
        card_token=cards[0].card_token,
    )
    assert paid.state is PaymentState.SUCCESS
    removed = await client.tokens.remove_card("u-1", card_token=saved.card_token)
    assert removed.state is CardState.SUCCESS
    assert removed.deleted_at is not None
    assert await client.tokens.list_cards("u-1") == ()
    with pytest.raises(GatewayError):
        await client.tokens.remove_card("u-1", card_token=saved.card_token)


async def test_a_challenged_card_is_stored_only_after_3ds(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    pending = await client.tokens.save_card(user_id="u-2", card_number=CHALLENGED, **CARD_DATA)
    assert not pending.saved
    assert pending.three_ds is not None
    assert pending.secure_details == "C"
    assert pending.payment_id is not None
    assert await client.tokens.list_cards("u-2") == ()
    back = freedompay_emulator.pass_3ds(pending.payment_id)
    done = await client.tokens.complete_card_3ds(pending, md=back.md, pares=back.pares)
    assert done.saved
    assert [card.card_token for card in await client.tokens.list_cards("u-2")] == [done.card_token]


async def test_a_failed_or_forged_card_challenge_stores_nothing(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    pending = await client.tokens.save_card(user_id="u-3", card_number=CHALLENGED, **CARD_DATA)
    assert pending.payment_id is not None
    back = freedompay_emulator.pass_3ds(pending.payment_id)
    with pytest.raises(GatewayError):  # an MD that is not this save's
        await client.tokens.complete_card_3ds(pending, md="0" * 32, pares=back.pares)
    pending = await client.tokens.save_card(user_id="u-3", card_number=CHALLENGED, **CARD_DATA)
    assert pending.payment_id is not None
    back = freedompay_emulator.pass_3ds(pending.payment_id, passed=False)
    with pytest.raises(GatewayError) as failed:
        await client.tokens.complete_card_3ds(pending, md=back.md, pares=back.pares)
    assert failed.value.code == THREE_DS_FAILED
    assert await client.tokens.list_cards("u-3") == ()


async def test_a_declined_card_is_refused_with_its_code(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    freedompay_emulator.rules.add(Rule.error(10005, card=CARD))
    with pytest.raises(GatewayError) as declined:
        await client.tokens.save_card(user_id="u-4", card_number=CARD, **CARD_DATA)
    assert declined.value.code == 10005


async def test_card_data_is_checked_before_sending_and_never_shown(
    freedompay_emulator: Emulator, client: FreedomPayClient, caplog: pytest.LogCaptureFixture
) -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({"card_number": "4405645000006151"}, "pg_card_pan"),  # Luhn
        ({"cvc": "12"}, "pg_card_cvc"),
        ({"expiry_month": 13}, "pg_card_month"),
        ({"expiry_year": "2031"}, "pg_card_year"),
        ({"cardholder": ""}, "pg_card_name"),
        ({"user_id": "a b"}, "pg_user_id"),
    ]
    for change, field in bad:
        values: dict[str, Any] = {"user_id": "u-5", "card_number": CARD, **CARD_DATA, **change}
        with pytest.raises(ValidationError) as refused:
            await client.tokens.save_card(**values)
        assert refused.value.field == field
        assert CARD not in str(refused.value)
        assert "123" not in str(refused.value)
    assert freedompay_emulator.calls.get("g2g/cardstorage/add", 0) == 0
    caplog.set_level(logging.DEBUG, logger="freedompay_async")
    saved = await client.tokens.save_card(user_id="u-5", card_number=CARD, **CARD_DATA)
    assert CARD not in repr(saved)
    assert CARD not in caplog.text
    assert "cvc" not in repr(saved).lower()


async def test_a_lost_save_answer_is_never_resent(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="g2g/cardstorage/add"))
    with pytest.raises(PaymentOutcomeUnknown):
        await client.tokens.save_card(user_id="u-6", card_number=CARD, **CARD_DATA)
    assert freedompay_emulator.calls["g2g/cardstorage/add"] == 1
    assert len(await client.tokens.list_cards("u-6")) == 1  # where the caller looks next


async def test_apple_pay_3ds_challenge_is_completed(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    challenged = await client.tokens.apple_pay(
        order_id="A-1", amount="99.00", description="x", token=NOT_AUTHENTICATED
    )
    assert challenged.state is PaymentState.PROCESS
    assert challenged.three_ds is not None
    assert challenged.payment_id is not None
    back = freedompay_emulator.pass_3ds(challenged.payment_id)
    assert back.md == challenged.three_ds.md
    paid = await client.tokens.complete_3ds(challenged, md=back.md, pares=back.pares)
    assert paid.state is PaymentState.SUCCESS
    assert paid.auth_code
    assert (paid.order_id, paid.payment_id) == ("A-1", challenged.payment_id)
    status = await client.tokens.status(challenged.payment_id, order_id="A-1")
    assert status.state is PaymentState.SUCCESS


async def test_a_failed_wallet_challenge_declines(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    challenged = await client.tokens.google_pay(
        order_id="G-1", amount="5.00", description="x", token=NOT_AUTHENTICATED
    )
    assert challenged.payment_id is not None
    back = freedompay_emulator.pass_3ds(challenged.payment_id, passed=False)
    with pytest.raises(GatewayError) as declined:
        await client.tokens.complete_3ds(challenged.payment_id, md=back.md, pares=back.pares)
    assert declined.value.code == THREE_DS_FAILED
    status = await client.tokens.status(challenged.payment_id)
    assert status.state is PaymentState.ERROR


async def test_a_lost_completion_answer_is_settled_by_the_status_never_resent(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    challenged = await client.tokens.apple_pay(
        order_id="A-2", amount="7.00", description="x", token=NOT_AUTHENTICATED
    )
    assert challenged.payment_id is not None
    back = freedompay_emulator.pass_3ds(challenged.payment_id)
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="g2g/paymentAcs"))
    paid = await client.tokens.complete_3ds(challenged, md=back.md, pares=back.pares)
    assert paid.state is PaymentState.SUCCESS
    assert freedompay_emulator.calls["g2g/paymentAcs"] == 1


async def test_a_lost_completion_with_no_readable_status_is_outcome_unknown(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    challenged = await client.tokens.apple_pay(
        order_id="A-3", amount="7.00", description="x", token=NOT_AUTHENTICATED
    )
    assert challenged.payment_id is not None
    back = freedompay_emulator.pass_3ds(challenged.payment_id)
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="g2g/paymentAcs"))
    freedompay_emulator.faults.add(Fault.http_error(502, endpoint="g2g/status_v2", times=100))
    with pytest.raises(PaymentOutcomeUnknown) as unknown:
        await client.tokens.complete_3ds(challenged, md=back.md, pares=back.pares)
    assert unknown.value.payment_id == challenged.payment_id
    assert freedompay_emulator.calls["g2g/paymentAcs"] == 1
