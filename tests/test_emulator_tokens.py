"""Gateway API token payments in the emulator: Token Pay, Apple Pay, Google Pay, status_v2."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from _merchant_site import PAYMENT_KEY, MerchantSite, merchant_site

from freedompay_async import FreedomPayClient
from freedompay_async.errors import GatewayError, InvalidParameter, TransactionNotFound
from freedompay_async.signing import verify
from freedompay_async.testing import Emulator, ErrorCode, Rule

pytestmark = pytest.mark.anyio

CARD = "4405645000006150"
DPAN = "4111222233334444"
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


@pytest.fixture
async def site() -> AsyncIterator[MerchantSite]:
    async with merchant_site() as shop:
        yield shop


def token_pay(
    order_id: str, token: str, user_id: str = "user-1", amount: str = "70"
) -> dict[str, str]:
    return {
        "pg_order_id": order_id,
        "pg_amount": amount,
        "pg_description": "Subscription",
        "pg_user_id": user_id,
        "pg_card_token": token,
    }


def wallet_pay(order_id: str, method: str = "apple_pay", eci: str = "05") -> dict[str, str]:
    params = {
        "pg_order_id": order_id,
        "pg_amount": "1200.50",
        "pg_currency": "KZT",
        "pg_description": "Sneakers",
        "pg_payment_method": method,
        "pg_card_pan": DPAN,
        "pg_card_year": "31",
        "pg_card_month": "06",
        "pg_online_payment_cryptogram": "APlNRdTMHJ3AAAA=",
        "pg_eci_indicator": eci,
    }
    if method == "apple_pay":
        params["pg_card_name"] = "IVAN IVANOV"
    return params


async def test_token_pay_with_a_card_saved_for_payments(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    token = emu.save_card("user-1", CARD, for_payouts=False)
    assert emu.cards[token].purpose == "payment"
    paid = await client.request(
        "g2g/payment", {**token_pay("T-1", token), "pg_result_url": site.url("result")}
    )
    assert (paid.root, paid.status, paid["pg_order_id"]) == ("response", "ok", "T-1")
    assert paid["pg_merchant_id"] == emu.settings.merchant_id
    assert ISO_WITH_OFFSET.fullmatch(paid["pg_datetime"])
    [payment] = emu.payments_for("T-1")
    assert (payment.status, payment.method, payment.card_token) == ("success", "card_token", token)
    assert str(payment.payment_id) == paid["pg_payment_id"]

    by_id = await client.request("g2g/status_v2", {"pg_payment_id": paid["pg_payment_id"]})
    by_order = await client.request("g2g/status_v2", {"pg_order_id": "T-1"})
    for status in (by_id, by_order):
        assert (status["pg_payment_status"], status["pg_payment_id"]) == (
            "success",
            paid["pg_payment_id"],
        )
        assert (status["pg_amount"], status["pg_clearing_amount"]) == ("70.00", "70.00")
        assert (status["pg_card_token"], status["pg_card_pan"]) == (token, "440564******6150")
        assert (status["pg_captured"], status["pg_refund_amount"]) == ("1", "0.00")
        assert ISO_WITH_OFFSET.fullmatch(status["pg_datetime"])
    await emu.wait_notifications()
    [result] = site.got("result")
    assert verify("result", result, PAYMENT_KEY)
    assert (result["pg_card_token"], result["pg_result"]) == (token, "1")

    with pytest.raises(GatewayError) as duplicate:
        await client.request("g2g/payment", token_pay("T-1", token))
    assert duplicate.value.code == ErrorCode.ORDER_EXISTS
    assert (emu.payment_count("T-1"), payment.create_requests) == (1, 2)


async def test_cards_serve_their_own_purpose_only(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    payout_card = emu.save_card("user-1", CARD)
    payment_card = emu.save_card("user-1", CARD, for_payouts=False)
    for user, token in [("user-1", payout_card), ("user-2", payment_card), ("user-1", "nope")]:
        with pytest.raises(GatewayError) as caught:
            await client.request("g2g/payment", token_pay("T-2", token, user))
        assert caught.value.code == ErrorCode.CARD_NOT_FOUND
    assert emu.payment_count("T-2") == 0
    payout = {
        "pg_order_id": "T-3",
        "pg_amount": "10",
        "pg_description": "refund",
        "pg_user_id": "user-1",
        "pg_card_token_to": payment_card,
        "pg_post_link": "http://127.0.0.1:9/notify",
        "pg_order_time_limit": "2030-12-31 12:00:00",
    }
    with pytest.raises(InvalidParameter, match="pg_card_token_to"):
        await client.request("g2g/reg2reg", payout)
    assert emu.created_count("T-3") == 0
    assert (
        await client.request("g2g/reg2reg", {**payout, "pg_card_token_to": payout_card})
    ).status == "ok"


async def test_rules_decide_token_payments(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    token = emu.save_card("user-1", CARD, for_payouts=False)
    emu.rules.add(Rule.error(10009, "Insufficient funds", order_id="T-4"))
    emu.rules.add(Rule.process(then="error", error_code=10004, polls=2, amount=Decimal("33.00")))
    with pytest.raises(GatewayError) as declined:
        await client.request("g2g/payment", token_pay("T-4", token))
    assert (declined.value.code, declined.value.description) == (10009, "Insufficient funds")
    assert declined.value.fields["pg_order_id"] == "T-4"
    failed = await client.request("g2g/status_v2", {"pg_order_id": "T-4"})
    assert (failed["pg_payment_status"], failed["pg_failure_code"]) == ("error", "10009")

    pending = await client.request("g2g/payment", token_pay("T-5", token, amount="33"))
    assert pending.status == "ok"
    seen = [
        (await client.request("g2g/status_v2", {"pg_order_id": "T-5"}))["pg_payment_status"]
        for _ in range(3)
    ]
    assert seen == ["process", "process", "error"]
    assert emu.payments_for("T-5")[0].failure_code == 10004


async def test_apple_pay_two_step_then_captured_through_the_merchant_api(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    client = freedompay_client
    paid = await client.request("g2g/payment", {**wallet_pay("W-1"), "pg_auto_clearing": "0"})
    assert (paid.status, paid["pg_3ds"]) == ("ok", "0")
    assert re.fullmatch(r"\d{6}", paid["pg_auth_code"])
    assert re.fullmatch(r"\d{12}", paid["pg_reference"])
    payment = freedompay_emulator.payments[int(paid["pg_payment_id"])]
    assert (payment.method, payment.card_pan, payment.held) == (
        "apple_pay",
        "411122******4444",
        True,
    )
    assert DPAN not in repr(payment)
    pid = {"pg_payment_id": paid["pg_payment_id"]}
    assert (await client.request("g2g/status_v2", pid))["pg_captured"] == "0"
    await client.request("do_capture.php", pid)
    status = await client.request("g2g/status_v2", pid)
    assert (status["pg_captured"], status["pg_payment_method"]) == ("1", "apple_pay")


async def test_google_pay_without_device_authentication_needs_3ds(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    client = freedompay_client
    answer = await client.request("g2g/payment", wallet_pay("W-2", "google_pay", eci="07"))
    assert (answer.status, answer["pg_3ds"]) == ("ok", "1")
    assert answer["pg_3d_acsurl"].startswith("https://freedompay-emulator.invalid/3ds/")
    assert answer["pg_3d_md"]
    assert answer["pg_3d_pareq"]
    assert "pg_auth_code" not in answer.fields
    pid = {"pg_payment_id": answer["pg_payment_id"]}
    for _ in range(3):  # no rule settles it: it waits for the payer
        assert (await client.request("g2g/status_v2", pid))["pg_payment_status"] == "process"
    payment = await freedompay_emulator.pay(int(answer["pg_payment_id"]))
    assert (payment.status, payment.method, payment.card_pan) == (
        "success",
        "google_pay",
        "411122******4444",
    )
    assert (await client.request("g2g/status_v2", pid))["pg_payment_status"] == "success"


@pytest.mark.parametrize(
    ("method", "name", "value"),
    [
        ("apple_pay", "pg_payment_method", "samsung_pay"),
        ("apple_pay", "pg_card_pan", "411122223333"),
        ("google_pay", "pg_card_pan", "4111-2222-3333-4444"),
        ("apple_pay", "pg_card_year", "2031"),
        ("google_pay", "pg_card_month", "13"),
        ("google_pay", "pg_card_month", "6"),
        ("apple_pay", "pg_eci_indicator", "03"),
        ("google_pay", "pg_online_payment_cryptogram", ""),
        ("apple_pay", "pg_card_name", ""),
        ("google_pay", "pg_amount", "0"),
        ("google_pay", "pg_order_id", ""),
    ],
)
async def test_wallet_payments_refuse_invalid_fields_naming_them(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    method: str,
    name: str,
    value: str,
) -> None:
    with pytest.raises(InvalidParameter, match=name):
        await freedompay_client.request("g2g/payment", {**wallet_pay("W-3", method), name: value})
    assert freedompay_emulator.payments == {}


async def test_status_v2_lookups(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    client = freedompay_client
    created = await client.request(
        "init_payment.php", {"pg_order_id": "S-1", "pg_amount": "80", "pg_description": "Tea"}
    )
    pid = created["pg_payment_id"]
    fresh = await client.request("g2g/status_v2", {"pg_payment_id": pid, "pg_order_id": "S-1"})
    assert (fresh["pg_payment_status"], fresh["pg_payment_method"]) == ("new", "bankcard")
    await freedompay_emulator.pay(int(pid))
    refund = await client.request("revoke.php", {"pg_payment_id": pid, "pg_refund_amount": "30"})
    by_refund_id = await client.request("g2g/status_v2", {"pg_payment_id": refund["pg_payment_id"]})
    assert (by_refund_id["pg_payment_status"], by_refund_id["pg_amount"]) == ("success", "30.00")
    assert by_refund_id["pg_order_id"] == "S-1"
    parent = await client.request("g2g/status_v2", {"pg_order_id": "S-1"})
    assert (parent["pg_payment_id"], parent["pg_refund_amount"]) == (pid, "-30.00")
    for params in (
        {"pg_payment_id": "999"},
        {"pg_order_id": "ghost"},
        {"pg_payment_id": pid, "pg_order_id": "other"},
    ):
        with pytest.raises(TransactionNotFound):
            await client.request("g2g/status_v2", params)
    with pytest.raises(InvalidParameter, match="pg_payment_id"):
        await client.request("g2g/status_v2", {})


async def test_process_payment_settles_after_seconds_and_notifies(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu = freedompay_emulator
    token = emu.save_card("user-1", CARD, for_payouts=False)
    emu.rules.add(Rule.process(polls=None, seconds=0.05, order_id="T-9"))
    answer = await freedompay_client.request(
        "g2g/payment", {**token_pay("T-9", token), "pg_result_url": site.url("result")}
    )
    assert answer.status == "ok"
    [payment] = emu.payments_for("T-9")
    assert payment.status == "process"
    await asyncio.sleep(0.15)
    assert (payment.status, payment.polls) == ("success", 0)
    await emu.wait_notifications()
    [result] = site.got("result")
    assert (result["pg_order_id"], result["pg_result"]) == ("T-9", "1")
