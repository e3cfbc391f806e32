"""The endpoint table's answer fields are the ones the gateway answers with: every field the
emulator answers a typed call with is declared for that script (or is the envelope), so a
model reading an undeclared field, or an emulator answering one, shows up here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pytest

from freedompay_async import FreedomPayClient, PaymentState, ReceiptPosition, WalletToken
from freedompay_async._endpoints import endpoint_for_path
from freedompay_async.testing import MOBILE_TEST_CODE, MOBILE_TEST_PHONE, Emulator, Rule
from freedompay_async.testing._gateway import Gateway

pytestmark = pytest.mark.anyio

ENVELOPE = {
    "pg_status",
    "pg_salt",
    "pg_sig",
    "pg_error_code",
    "pg_error_description",
    "pg_datetime",
}
CARD = "4405645000006150"
LINK = "https://shop.example/freedompay"
WALLET = WalletToken(
    dpan="4111111111111111",
    expiry_month=6,
    expiry_year=31,
    cryptogram="AgAAAAAAAIR8CQrXcIhbQAAAAAA=",
    eci="07",
    cardholder="ANN LEE",
)


def names(fields: dict[str, Any]) -> Iterable[str]:
    for name, value in fields.items():
        yield name
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):  # <card> items, refund lists: their children count too
                yield from names(item)


async def test_every_answered_field_is_declared(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    answered: dict[str, set[str]] = defaultdict(set)
    handle = Gateway.handle

    def recording(self: Gateway, route: Any, *args: Any, **kwargs: Any) -> Any:
        answer = handle(self, route, *args, **kwargs)
        answered[route.endpoint.path].update(names(dict(answer.fields)))
        return answer

    monkeypatch.setattr(Gateway, "handle", recording)

    # Payouts, both APIs.
    emu.rules.add(Rule.process(then="ok", polls=1, order_id="P-2"))
    await client.payouts.to_card(
        order_id="P-1", amount="10", card_number=CARD, description="x", post_link=LINK
    )
    await client.payouts.to_card(
        order_id="P-2", amount="10", card_number=CARD, description="x", post_link=LINK, wait=False
    )
    await client.payouts.status("P-2")
    await client.payouts.status("P-1", version=1)
    token = emu.save_card("u-1", CARD)
    await client.payouts.to_token(
        order_id="P-3", amount="5", user_id="u-1", card_token=token, description="x", post_link=LINK
    )
    merchant = await client.payouts.to_token(
        order_id="P-4",
        amount="5",
        user_id="u-1",
        card_token=token,
        description="x",
        post_link=LINK,
        api="merchant",
    )
    await client.payouts.status("P-4", api="merchant")
    assert merchant.payment_id is not None
    await client.payouts.status_by_payment(merchant.payment_id)
    iban: dict[str, Any] = {
        "amount": "5",
        "iban": "KZ123412341234123412",
        "recipient_iin": "761223455678",
        "recipient_name": "IVANOV IVAN",
        "recipient_kbe": "19",
        "knp": "119",
        "bank_bik": "KZZSAE",
        "description": "x",
        "post_link": LINK,
    }
    await client.payouts.to_iban(order_id="P-5", **iban)
    await client.payouts.to_iban(order_id="P-6", api="merchant", **iban)
    await client.payouts.balance()
    await client.payouts.balance(api="merchant")
    await client.payouts.page(
        order_id="P-7", amount="5", description="x", back_link=LINK, post_link=LINK
    )

    # Payments, two-step, refunds, recurring, mobile.
    page = await client.payments.create(
        order_id="O-1", amount="100", description="x", auto_clearing=False, recurring_start=True
    )
    await emu.pay(page.payment_id)
    await client.payments.capture(page.payment_id, amount="60")
    await client.payments.refund(
        page.payment_id, amount="10", receipt=[ReceiptPosition("t", 1, "10")]
    )
    paid = await client.payments.status(page.payment_id)
    await client.payments.order_status("O-1")
    if paid.recurring_profile:
        await client.payments.charge_recurring(
            recurring_profile=paid.recurring_profile, amount="5", description="x", order_id="O-2"
        )
    held = await client.payments.create(
        order_id="O-3", amount="5", description="x", auto_clearing=False
    )
    await emu.pay(held.payment_id)
    await client.payments.cancel(held.payment_id)
    mobile = await client.mobile.init(order_id="O-4", amount="5", description="x")
    charge = await client.mobile.pay(mobile, phone=MOBILE_TEST_PHONE)
    if charge.state is PaymentState.NEED_APPROVE:
        await client.mobile.resend_code(mobile.payment_id)
        await client.mobile.approve(mobile, code=MOBILE_TEST_CODE)

    # Saved cards (Merchant API) and card payments.
    await client.cards.add(user_id="u-2", post_link=LINK, back_link=LINK)
    payment_token = emu.save_card("u-2", CARD, for_payouts=False)
    await client.cards.list("u-2", extended=True)
    created = await client.cards.create_payment(
        order_id="O-5", amount="5", description="x", user_id="u-2", card_token=payment_token
    )
    await client.cards.charge(created)
    await client.cards.remove("u-2", card_token=payment_token)

    # Gateway API: tokens, wallets with 3-D Secure, card storage.
    stored = await client.tokens.save_card(
        user_id="u-3", card_number=CARD, expiry_month=6, expiry_year=31, cvc="123", cardholder="A B"
    )
    assert stored.card_token is not None
    await client.tokens.pay(
        order_id="O-6", amount="5", description="x", user_id="u-3", card_token=stored.card_token
    )
    await client.tokens.status(order_id="O-6")
    challenged = await client.tokens.apple_pay(
        order_id="O-7", amount="5", description="x", token=WALLET
    )
    assert challenged.payment_id is not None
    back = emu.pass_3ds(challenged.payment_id)
    await client.tokens.complete_3ds(challenged, md=back.md, pares=back.pares)
    await client.tokens.list_cards("u-3")
    await client.tokens.remove_card("u-3", card_token=stored.card_token)

    undeclared: dict[str, list[str]] = {}
    for path, seen in answered.items():
        endpoint = endpoint_for_path(path)
        assert endpoint is not None, path
        extra = sorted(seen - ENVELOPE - set(endpoint.answer))
        if extra:
            undeclared[path] = extra
    assert len(answered) >= 30  # the calls above reached most scripts
    assert undeclared == {}, sorted(undeclared.items())
