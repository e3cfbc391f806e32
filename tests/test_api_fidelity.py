"""Issue 12: values travel by value on every Python, documented bounds are checked before
anything is sent, and answers' fields are not mixed up."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from freedompay_async import FreedomPayClient, GatewayResponse, Payout, ValidationError, signing
from freedompay_async import _validation as check
from freedompay_async._convert import REGION_TIMEZONES
from freedompay_async._wire import flatten
from freedompay_async.batch import BadRows, PayoutRow
from freedompay_async.batch._rows import parse_payout_rows
from freedompay_async.payments import Payment
from freedompay_async.testing import MOBILE_TEST_CODE, Emulator, Fault
from freedompay_async.testing._protocol import ErrorCode

pytestmark = pytest.mark.anyio

Call = Callable[[FreedomPayClient], Awaitable[Any]]


class Code(enum.IntEnum):
    A = 7


def test_int_enums_are_signed_and_sent_by_value() -> None:
    # str(Code.A) is "Code.A" on Python 3.10 and "7" on 3.11+: the wire must not depend on it.
    assert signing.signing_string("x", {"pg_a": Code.A}, "k") == "x;7;***"
    assert signing.sign("x", {"pg_a": Code.A}, "k") == signing.sign("x", {"pg_a": "7"}, "k")
    assert flatten({"pg_code": ErrorCode.CHECK_REJECTED}) == [
        ("pg_code001", "pg_code", str(int(ErrorCode.CHECK_REJECTED)))
    ]


POST = "https://shop.example/payout-notify"
PAYOUT: dict[str, Any] = {
    "order_id": "V-1",
    "amount": "10.00",
    "description": "x",
    "post_link": POST,
}


def _luhn_complete(prefix: str) -> str:
    for last in "0123456789":
        try:
            return check.card_number("pan", prefix + last, max_digits=20)
        except ValidationError:
            continue
    raise AssertionError("no Luhn digit")


async def test_a_20_digit_card_number_is_a_valid_v1_payout_destination(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    pan = _luhn_complete("4" + "0" * 18)
    assert len(pan) == 20
    with pytest.raises(ValidationError):
        check.card_number("pan", pan)  # card forms stop at 19
    payout = await freedompay_client.payouts.to_card(**PAYOUT, card_number=pan)
    assert payout.order_id == "V-1"
    assert sum(freedompay_emulator.calls.values()) >= 1


async def test_a_successful_payout_has_its_amount_even_when_the_answer_omits_it(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    bare = {
        "pg_status": "ok",
        "pg_payment_id": "777",
        "pg_order_id": "V-1",
        "pg_merchant_id": freedompay_emulator.settings.merchant_id,
    }
    freedompay_emulator.faults.add(Fault.answer(bare, replace=True, endpoint="g2g/p2p2nonreg"))
    payout = await freedompay_client.payouts.to_card(**PAYOUT, card_number="4405645000006150")
    assert (payout.payment_id, payout.amount) == (777, Decimal(str(PAYOUT["amount"])))
    assert "pg_payment_amount" not in payout.raw


@pytest.mark.parametrize("text", ["1e3", "1E3", "1_000", " 10", "+5", "NaN", "Infinity", "0x10"])
def test_amounts_are_plain_decimal_notation_only(text: str) -> None:
    with pytest.raises(ValidationError, match="plain decimal"):
        check.amount("pg_amount", text)


def test_a_comma_amount_gets_a_decimal_separator_hint() -> None:
    with pytest.raises(ValidationError, match=r"'\.' as the decimal separator \(10\.50\)"):
        check.amount("pg_amount", "10,50")
    assert check.amount("pg_amount", "10.5") == "10.50"
    assert check.amount("pg_amount", 1000) == "1000.00"


ROW = {"order_id": "R-1", "description": "x", "card_number": "4405645000006150"}


@pytest.mark.parametrize(
    ("amount", "message"),
    [("1e3", "plain decimal"), ("1_000", "plain decimal"), ("10,50", "decimal separator")],
)
def test_batch_rows_refuse_non_plain_amounts(amount: str, message: str) -> None:
    with pytest.raises(BadRows) as caught:
        parse_payout_rows([(2, {**ROW, "amount": amount})])
    assert message in str(caught.value)
    rows = parse_payout_rows([(2, {**ROW, "amount": "1000"})])
    assert isinstance(rows[0], PayoutRow)
    assert rows[0].amount == Decimal("1000.00")


def _answer(fields: dict[str, str]) -> GatewayResponse:
    return GatewayResponse("g2g/payout_status2", "response", fields, b"")


def test_the_request_time_is_never_the_payment_date() -> None:
    fields = {
        "pg_status": "ok",
        "pg_payment_status": "success",
        "pg_datetime": "2026-01-02 10:00:00",
    }
    assert Payout.from_answer("V-1", _answer(fields)).payment_date is None
    assert Payment.from_answer(_answer(fields)).payment_date is None
    dated = {**fields, "pg_payment_date": "2026-01-02 09:59:00"}
    assert Payout.from_answer("V-1", _answer(dated)).payment_date is not None


async def test_a_payment_without_order_id_is_created(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    page = await freedompay_client.payments.create(amount=Decimal("5.00"), description="Tea")
    assert page.payment_id > 0
    status = await freedompay_client.payments.status(page.payment_id)
    assert status.amount == Decimal("5.00")


@pytest.mark.parametrize(("region", "hours"), [("kz", 5), ("uz", 5), ("kg", 6)])
async def test_gateway_times_follow_the_region(region: str, hours: int) -> None:
    emulator = Emulator(merchant_id="552893", secret_key="pay-key", region=region)
    async with emulator, emulator.client() as client:
        before = datetime.now(timezone.utc).replace(microsecond=0)
        payout = await client.payouts.to_card(**PAYOUT, card_number="4405645000006150")
        after = datetime.now(timezone.utc) + timedelta(seconds=1)
        assert payout.payment_date is not None
        assert payout.payment_date.utcoffset() == timedelta(hours=hours)
        assert before <= payout.payment_date <= after  # the same instant, not hours off
        assert client.timezone.utcoffset(None) == timedelta(hours=hours)


def test_the_order_time_limit_is_written_in_the_regions_time() -> None:
    from freedompay_async.payouts import _time_limit

    limit = datetime(2026, 1, 2, 0, 0, tzinfo=timezone.utc)
    assert _time_limit(limit, REGION_TIMEZONES["kg"]) == "2026-01-02 06:00:00"
    assert _time_limit(limit, REGION_TIMEZONES["kz"]) == "2026-01-02 05:00:00"


@pytest.mark.parametrize(("api", "field"), [("gateway", "card_token"), ("merchant", "card_id")])
async def test_token_payouts_carry_the_recipient_card_and_merchant(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, api: str, field: str
) -> None:
    token = freedompay_emulator.save_card("user_7", "4405645000006150")
    payout = await freedompay_client.payouts.to_token(
        **{**PAYOUT, "order_id": f"T-{api}"},
        user_id="user_7",
        card_token=token,
        api=api,  # type: ignore[arg-type]
    )
    # Seed 003: g2g/reg2reg answers pg_card_token; seed 004: api/reg2reg answers pg_card_id.
    expected = token if field == "card_token" else freedompay_emulator.card_id(token)
    assert getattr(payout, field) == expected
    assert payout.merchant_id == freedompay_emulator.settings.merchant_id


async def test_merchant_api_iban_balance_and_status_by_payment_id(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    payouts = freedompay_client.payouts
    payout = await payouts.to_iban(
        order_id="IB-M",
        amount="1000",
        iban="KZ12 3412 3412 3412 3412",
        recipient_iin="761223455678",
        recipient_name="IVANOV IVAN",
        recipient_kbe="19",
        knp="119",
        bank_bik="KZZSAE",
        description="Refund",
        post_link=POST,
        api="merchant",
    )
    assert freedompay_emulator.calls["api/to_iban"] == 1
    assert payout.payment_id is not None
    found = await payouts.status_by_payment(payout.payment_id)
    assert (found.order_id, found.state, found.amount) == ("IB-M", payout.state, Decimal("1000.00"))
    assert freedompay_emulator.calls["api/payment_status"] == 1
    balance = await payouts.balance("KZT", api="merchant")
    assert balance.amount == freedompay_emulator.balance
    assert freedompay_emulator.calls["api/balance_status"] == 1
    with pytest.raises(ValidationError) as caught:
        await payouts.status_by_payment(0)
    assert caught.value.field == "pg_payment_id"


async def test_mobile_and_direct_card_charges_know_order_and_amount(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    client = freedompay_client
    page = await client.mobile.init(order_id="M-9", amount="500.00", description="Top-up")
    charge = await client.mobile.pay(page, phone="77017777777")
    assert (charge.order_id, charge.amount) == ("M-9", Decimal("500.00"))
    approved = await client.mobile.approve(page, code=MOBILE_TEST_CODE)
    assert (approved.order_id, approved.amount) == ("M-9", Decimal("500.00"))
    token = freedompay_emulator.save_card("user-9", "4405645000006150", for_payouts=False)
    created = await client.cards.create_payment(
        order_id="C-9", amount="700.00", description="Renewal", user_id="user-9", card_token=token
    )
    charged = await client.cards.charge(created)
    assert (charged.order_id, charged.amount) == ("C-9", Decimal("700.00"))
    assert charged.payment_id == created.payment_id
