"""Every facade refuses bad input with a ValidationError naming the field, before sending."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freedompay_async import (
    FreedomPayClient,
    ReceiptPosition,
    TaxType,
    ValidationError,
    WalletToken,
)
from freedompay_async.testing import Emulator

pytestmark = pytest.mark.anyio

Call = Callable[[FreedomPayClient], Awaitable[Any]]

ORDER: dict[str, Any] = {"order_id": "O-1", "amount": Decimal("10.00"), "description": "Tea"}
POST = "https://shop.example/payout-notify"
PAN = "4405645000006150"
PAYOUT: dict[str, Any] = {
    "order_id": "V-1",
    "amount": "10.00",
    "description": "x",
    "post_link": POST,
}
PAGE: dict[str, Any] = {**ORDER, "back_link": POST, "post_link": POST}
WALLET = WalletToken(
    dpan="4111111111111111", expiry_month=6, expiry_year=31, cryptogram="AgAAAAAA", eci="05"
)

BAD_CALLS: list[tuple[str, Call]] = [
    ("pg_amount", lambda c: c.payments.create(**{**ORDER, "amount": Decimal("0.001")})),
    ("pg_amount", lambda c: c.payments.create(**{**ORDER, "amount": 1.5})),
    ("pg_order_id", lambda c: c.payments.create(**{**ORDER, "order_id": "x" * 51})),
    ("pg_description", lambda c: c.payments.create(**{**ORDER, "description": "d" * 1025})),
    ("pg_lifetime", lambda c: c.payments.create(**ORDER, lifetime=299)),
    ("pg_lifetime", lambda c: c.payments.create(**ORDER, lifetime=timedelta(days=8))),
    ("pg_language", lambda c: c.payments.create(**ORDER, language="de")),
    ("pg_user_id", lambda c: c.payments.create(**ORDER, user_id="john doe")),
    ("pg_user_phone", lambda c: c.payments.create(**ORDER, user_phone="12-34")),
    ("pg_user_contact_email", lambda c: c.payments.create(**ORDER, user_email="nobody")),
    ("pg_user_ip", lambda c: c.payments.create(**ORDER, user_ip="300.1.1.1")),
    ("pg_result_url", lambda c: c.payments.create(**ORDER, result_url="ftp://x")),
    ("pg_request_method", lambda c: c.payments.create(**ORDER, callback_method="PUT")),
    ("pg_recurring_lifetime", lambda c: c.payments.create(**ORDER, recurring_lifetime=157)),
    ("pg_param", lambda c: c.payments.create(**ORDER, extra_params=("a", "b", "c", "d"))),
    ("pg_idempotency_key", lambda c: c.payments.create(**ORDER, idempotency_key="k" * 256)),
    (
        "pg_receipt_positions[1][price]",
        lambda c: c.payments.create(
            **ORDER,
            receipt=[
                ReceiptPosition("Tea", 1, "10.00", TaxType.VAT_12),
                ReceiptPosition("Cake", 1, "10000000.00"),
            ],
        ),
    ),
    (
        "pg_receipt_positions[0][count]",
        lambda c: c.payments.create(**ORDER, receipt=[ReceiptPosition("Tea", 0, "1.00")]),
    ),
    ("pg_x", lambda c: c.payments.create(**ORDER, merchant_fields={"pg_x": "1"})),
    ("pg_payment_id", lambda c: c.payments.status(0)),
    ("pg_refund_amount", lambda c: c.payments.refund(1, amount=Decimal("-1"))),
    ("pg_clearing_amount", lambda c: c.payments.capture(1, amount="abc")),
    (
        "pg_recurring_profile",
        lambda c: c.payments.charge_recurring(recurring_profile="", amount="1.00", description="x"),
    ),
    ("pg_user_id", lambda c: c.tokens.pay(**ORDER, user_id="", card_token="t")),
    ("pg_card_token", lambda c: c.tokens.pay(**ORDER, user_id="u1", card_token="")),
    (
        "pg_eci_indicator",
        lambda c: c.tokens.google_pay(
            **ORDER, token=WalletToken("4111111111111111", 6, 31, "AgAA", "03")
        ),
    ),
    (
        "pg_card_pan",
        lambda c: c.tokens.google_pay(**ORDER, token=WalletToken("4111", 6, 31, "AgAA", "05")),
    ),
    (
        "pg_card_month",
        lambda c: c.tokens.google_pay(
            **ORDER, token=WalletToken("4111111111111111", 13, 31, "AgAA", "05")
        ),
    ),
    ("pg_card_name", lambda c: c.tokens.apple_pay(**ORDER, token=WALLET)),
    ("pg_payment_id", lambda c: c.tokens.status()),
    (
        "pg_user_id",
        lambda c: c.cards.add(
            user_id="a b", post_link="https://s.example/p", back_link="https://s.example/b"
        ),
    ),
    (
        "pg_back_link",
        lambda c: c.cards.add_for_payouts(
            user_id="u1", post_link="https://s.example/p", back_link="/relative"
        ),
    ),
    ("pg_user_id", lambda c: c.cards.list("")),
    ("pg_card_token", lambda c: c.cards.remove("u1", card_token="")),
    (
        "pg_user_email",
        lambda c: c.cards.create_payment(**ORDER, user_id="u1", card_token="t", user_email="x"),
    ),
    ("pg_payment_id", lambda c: c.cards.cvc_page(-5)),
    ("pg_payment_id", lambda c: c.cards.charge(True)),
    ("pg_abonent_phone", lambda c: c.mobile.pay(1, phone="123")),
    ("pg_payment_system_code", lambda c: c.mobile.pay(1, phone="77017777777", operator="MTS")),
    ("pg_approval_code", lambda c: c.mobile.approve(1, code="12a")),
    ("pg_lifetime", lambda c: c.mobile.init(**ORDER, lifetime=604801)),
    # Issue 12: ids, currencies, emails, lifetimes, amounts and PANs are checked too.
    ("pg_card_id_to", lambda c: c.payouts.to_token(**PAYOUT, user_id="u1", card_id=-1)),
    ("pg_card_id_to", lambda c: c.payouts.to_token(**PAYOUT, user_id="u1", card_id="abc")),  # type: ignore[arg-type]
    ("pg_payment_id", lambda c: c.payouts.status(order_id="V-1", payment_id=-1)),
    ("pg_payment_id", lambda c: c.payouts.status(order_id="V-1", payment_id="abc")),  # type: ignore[arg-type]
    ("pg_payment_id", lambda c: c.payouts.status_by_payment(0)),
    ("pg_currency", lambda c: c.payouts.balance("KZTXX")),
    ("pg_currency", lambda c: c.payouts.balance("")),
    ("pg_currency", lambda c: c.payouts.to_card(**PAYOUT, card_number=PAN, currency="kzt")),
    ("pg_user_email", lambda c: c.payouts.page(**PAGE, user_email="@")),
    ("pg_lifetime", lambda c: c.payments.create(**ORDER, lifetime="abc")),  # type: ignore[arg-type]
    ("pg_lifetime", lambda c: c.payments.create(**ORDER, lifetime="300")),  # type: ignore[arg-type]
    ("pg_amount", lambda c: c.payments.create(**{**ORDER, "amount": "1e3"})),
    ("pg_amount", lambda c: c.payments.create(**{**ORDER, "amount": "1_000"})),
    ("pg_amount", lambda c: c.payouts.to_card(**{**PAYOUT, "amount": "10,50"}, card_number=PAN)),
    ("pg_payment_to", lambda c: c.payouts.to_card(**PAYOUT, card_number="4" * 21)),
    ("pg_site_url", lambda c: c.payments.create(**ORDER, site_url="/back")),
    ("pg_success_url_method", lambda c: c.payments.create(**ORDER, success_url_method="XML")),
    (
        "pg_commission_discount_fix",
        lambda c: c.payments.create(**ORDER, commission_discount_fix="0.5"),
    ),
    (
        "pg_commission_discount_percentage",
        lambda c: c.payments.create(**ORDER, commission_discount_percentage=101),
    ),
    ("pg_language", lambda c: c.mobile.init(**ORDER, language="de")),
    # The table's bounds for the page options and the card storage / 3-D Secure calls.
    ("pg_timeout_after_payment", lambda c: c.payments.create(**ORDER, timeout_after_payment=0)),
    ("pg_3ds_challenge", lambda c: c.payments.create(**ORDER, three_ds_challenge=1)),  # type: ignore[arg-type]
    ("pg_state_url", lambda c: c.payments.create(**ORDER, state_url="wait")),
    ("pg_md", lambda c: c.tokens.complete_3ds(1, md="", pares="x")),
    ("pg_payment_id", lambda c: c.tokens.complete_3ds(0, md="m", pares="x")),
    ("pg_user_id", lambda c: c.tokens.list_cards("")),
    ("pg_card_token", lambda c: c.tokens.remove_card("u1", card_token="")),
    (
        "pg_loyalty_id",
        lambda c: c.cards.create_payment(**ORDER, user_id="u1", card_token="t", loyalty_id=0),
    ),
]


@pytest.mark.parametrize(("field", "call"), BAD_CALLS)
async def test_bad_input_names_the_field_and_sends_nothing(
    field: str, call: Call, freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    with pytest.raises(ValidationError) as caught:
        await call(freedompay_client)
    assert caught.value.field == field
    assert sum(freedompay_emulator.calls.values()) == 0


@given(
    dpan=st.text(alphabet="0123456789", min_size=13, max_size=20),
    eci=st.sampled_from(["00", "01", "02", "05", "06", "07"]),
    month=st.integers(1, 12),
    year=st.integers(0, 99),
)
@settings(max_examples=50)
def test_wallet_token_params_are_exact_and_hide_card_data(
    dpan: str, eci: str, month: int, year: int
) -> None:
    token = WalletToken(dpan, month, year, "Cryptogram==", eci, "Ann Lee")
    params = token.to_params()
    assert params["pg_card_pan"] == dpan
    assert params["pg_card_month"] == f"{month:02d}"
    assert params["pg_card_year"] == f"{year:02d}"
    assert params["pg_eci_indicator"] == eci
    shown = repr(token)
    assert dpan not in shown
    assert "Cryptogram" not in shown
    assert "Ann Lee" not in shown
