"""client.tokens and client.cards against the emulator: saved cards, token and wallet charges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from freedompay_async import (
    BadSignature,
    CardState,
    FreedomPayClient,
    GatewayError,
    PaymentOutcomeUnknown,
    PaymentState,
    PayoutCardStorage,
    WalletToken,
)
from freedompay_async.testing import Emulator, Fault, Rule

pytestmark = pytest.mark.anyio

CARD = "4405645000006150"
POST_LINK = "https://shop.example/freedompay/card"
BACK_LINK = "https://shop.example/account"
WALLET = WalletToken(
    dpan="4111111111111111",
    expiry_month=6,
    expiry_year=31,
    cryptogram="AgAAAAAAAIR8CQrXcIhbQAAAAAA=",
    eci="05",
    cardholder="ANN LEE",
)


@pytest.fixture
async def client(freedompay_emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with freedompay_emulator.client(timeout=aiohttp.ClientTimeout(total=0.5)) as fp:
        yield fp


# -- saved cards ------------------------------------------------------------------------------


async def test_save_list_and_remove_a_card(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    assert await client.cards.list("user-1") == ()
    form = await client.cards.add(user_id="user-1", post_link=POST_LINK, back_link=BACK_LINK)
    assert form.redirect_url.startswith("https://")
    assert form.payment_id is not None
    saved = await freedompay_emulator.complete_card_save(form.payment_id, card_number=CARD)
    assert saved is not None
    (card,) = await client.cards.list("user-1")
    assert card.card_token == saved.token
    assert card.state is CardState.APPROVED
    assert card.card_hash is not None
    assert CARD not in card.card_hash
    assert CARD not in repr(card)
    assert card.created_at is not None
    assert card.created_at.tzinfo is not None
    (extended,) = await client.cards.list("user-1", extended=True)
    assert extended.expiry_month
    assert extended.brand
    second = await client.cards.add(user_id="user-1", post_link=POST_LINK, back_link=BACK_LINK)
    assert second.payment_id is not None
    await freedompay_emulator.complete_card_save(second.payment_id, card_number="4111111111111111")
    assert len(await client.cards.list("user-1")) == 2
    removed = await client.cards.remove("user-1", card_token=saved.token)
    assert removed.state is CardState.DELETED
    assert removed.card_token == saved.token
    assert [c.card_token for c in await client.cards.list("user-1")] != [saved.token]
    assert len(await client.cards.list("user-1")) == 1
    with pytest.raises(GatewayError):
        await client.cards.remove("user-1", card_token=saved.token)


async def test_cards_for_payouts_are_kept_apart(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    form = await client.cards.add_for_payouts(
        user_id="user-2", post_link=POST_LINK, back_link=BACK_LINK
    )
    assert form.payment_id is not None
    saved = await freedompay_emulator.complete_card_save(form.payment_id)
    assert saved is not None
    assert await client.cards.list("user-2") == ()
    (card,) = await client.cards.list("user-2", for_payouts=True)
    assert card.card_token == saved.token
    # A payout card pays out, but cannot be charged.
    with pytest.raises(GatewayError):
        await client.tokens.pay(
            order_id="T-x", amount="1.00", description="x", user_id="user-2", card_token=saved.token
        )


async def test_payout_card_storage_variant_must_match_the_gateway(
    freedompay_emulator: Emulator,
) -> None:
    async with freedompay_emulator.client(
        payout_card_storage=PayoutCardStorage.PAYOUT_ADD
    ) as other:
        with pytest.raises(BadSignature):
            await other.cards.add_for_payouts(
                user_id="user-3", post_link=POST_LINK, back_link=BACK_LINK
            )


async def test_card_payment_with_cvc_page_and_without(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    token = freedompay_emulator.save_card("user-4", CARD, for_payouts=False)
    created = await client.cards.create_payment(
        order_id="C-1",
        amount=Decimal("1500.00"),
        description="Subscription",
        user_id="user-4",
        card_token=token,
        result_url="https://shop.example/freedompay/result",
    )
    again = await client.cards.create_payment(
        order_id="C-1",
        amount=Decimal("1500.00"),
        description="Subscription",
        user_id="user-4",
        card_token=token,
        result_url="https://shop.example/freedompay/result",
    )
    assert again.payment_id == created.payment_id  # same idempotency key: replayed
    page = await client.cards.cvc_page(created.payment_id)
    assert page.html is not None
    assert "<form" in page.html
    assert (await client.cards.status(created.payment_id)).state is PaymentState.NEW
    await freedompay_emulator.pay(created.payment_id)
    assert (await client.cards.status(created.payment_id)).state is PaymentState.SUCCESS

    direct = await client.cards.create_payment(
        order_id="C-2", amount="700.00", description="Renewal", user_id="user-4", card_token=token
    )
    charged = await client.cards.charge(direct.payment_id)
    assert charged.state is PaymentState.SUCCESS
    assert charged.payment_id == direct.payment_id


async def test_card_init_refuses_a_foreign_token(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    token = freedompay_emulator.save_card("owner", CARD, for_payouts=False)
    with pytest.raises(GatewayError):
        await client.cards.create_payment(
            order_id="C-3", amount="1.00", description="x", user_id="thief", card_token=token
        )


async def test_lost_direct_charge_answer_is_settled_by_the_status(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    token = freedompay_emulator.save_card("user-5", CARD, for_payouts=False)
    created = await client.cards.create_payment(
        order_id="C-4", amount="10.00", description="x", user_id="user-5", card_token=token
    )
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="card/direct"))
    charged = await client.cards.charge(created.payment_id)
    assert charged.state is PaymentState.SUCCESS
    assert (
        freedompay_emulator.calls[
            f"v1/merchant/{freedompay_emulator.settings.merchant_id}/card/direct"
        ]
        == 1
    )


# -- tokens -----------------------------------------------------------------------------------


async def test_token_pay_and_status(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    token = freedompay_emulator.save_card("user-6", CARD, for_payouts=False)
    payment = await client.tokens.pay(
        order_id="T-1", amount="700.00", description="Taxi", user_id="user-6", card_token=token
    )
    assert payment.state is PaymentState.SUCCESS
    assert payment.payment_id is not None
    status = await client.tokens.status(order_id="T-1")
    assert status.state is PaymentState.SUCCESS
    assert status.payment_id == payment.payment_id
    assert status.amount == Decimal("700.00")
    assert status.card_token == token


async def test_token_pay_decline(freedompay_emulator: Emulator, client: FreedomPayClient) -> None:
    token = freedompay_emulator.save_card("user-7", CARD, for_payouts=False)
    freedompay_emulator.rules.add(Rule.error(10007, order_id="T-2"))
    with pytest.raises(GatewayError) as declined:
        await client.tokens.pay(
            order_id="T-2", amount="1.00", description="x", user_id="user-7", card_token=token
        )
    assert declined.value.code == 10007


async def test_lost_token_pay_answer_is_found_by_order_id_never_resent(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    token = freedompay_emulator.save_card("user-8", CARD, for_payouts=False)
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="g2g/payment"))
    payment = await client.tokens.pay(
        order_id="T-3", amount="5.00", description="x", user_id="user-8", card_token=token
    )
    assert payment.state is PaymentState.SUCCESS
    assert freedompay_emulator.calls["g2g/payment"] == 1


async def test_lost_answer_and_unreadable_status_is_outcome_unknown(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    token = freedompay_emulator.save_card("user-9", CARD, for_payouts=False)
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint="g2g/payment"))
    freedompay_emulator.faults.add(Fault.http_error(502, endpoint="g2g/status_v2", times=100))
    with pytest.raises(PaymentOutcomeUnknown) as unknown:
        await client.tokens.pay(
            order_id="T-4", amount="5.00", description="x", user_id="user-9", card_token=token
        )
    assert unknown.value.order_id == "T-4"
    assert freedompay_emulator.calls["g2g/payment"] == 1


async def test_apple_pay_and_google_pay(client: FreedomPayClient) -> None:
    apple = await client.tokens.apple_pay(
        order_id="W-1", amount="990.00", description="Coffee", token=WALLET, currency="KZT"
    )
    assert apple.state is PaymentState.SUCCESS
    assert apple.auth_code
    assert apple.three_ds is None
    google = await client.tokens.google_pay(
        order_id="W-2",
        amount="990.00",
        description="Coffee",
        token=WalletToken("4111111111111111", "06", "31", "AgAAAA==", "07"),
        user_ip="10.1.2.3",
    )
    assert google.state is PaymentState.PROCESS
    assert google.three_ds is not None
    assert google.three_ds.acs_url.startswith("https://")
