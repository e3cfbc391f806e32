"""Payments in the emulator (Merchant API): init, the payer's side, Check and Result callbacks,
status, two-step capture and cancel, refunds, recurring charges - through the real client."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from _merchant_site import PAYMENT_KEY, MerchantSite, merchant_site

from freedompay_async import FreedomPayClient
from freedompay_async.errors import (
    CannotBeCancelled,
    GatewayError,
    InvalidParameter,
    TransactionNotFound,
)
from freedompay_async.models import GatewayResponse
from freedompay_async.signing import verify
from freedompay_async.testing import Emulator, ErrorCode, Rule

pytestmark = pytest.mark.anyio

CARD = "4405645000006150"


@pytest.fixture
async def site() -> AsyncIterator[MerchantSite]:
    async with merchant_site() as shop:
        yield shop


def order(order_id: str, amount: str = "500.00", **extra: str) -> dict[str, str]:
    return {"pg_order_id": order_id, "pg_amount": amount, "pg_description": "Tea", **extra}


async def init(client: FreedomPayClient, params: dict[str, str]) -> int:
    answer = await client.request("init_payment.php", params)
    assert answer.status == "ok"
    return int(answer["pg_payment_id"])


async def status3(client: FreedomPayClient, payment_id: int) -> GatewayResponse:
    return await client.request("get_status3.php", {"pg_payment_id": str(payment_id)})


def verified(site: MerchantSite, script: str) -> list[dict[str, Any]]:
    """What ``script`` received, each message checked against the payment key."""
    received = site.got(script)
    for fields in received:
        assert fields["shop"] == "kz"  # the URL's own query is a signed field
        assert verify(script, fields, PAYMENT_KEY)
    return received


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pg_amount", "0.001"),
        ("pg_amount", "100000000"),
        ("pg_description", "x" * 1025),
        ("pg_order_id", "o" * 51),
        ("pg_lifetime", "299"),
        ("pg_lifetime", "604801"),
        ("pg_language", "de"),
        ("pg_user_id", "bad id"),
        ("pg_user_id", "u" * 51),
        ("pg_result_url", "https://shop.kz/" + "r" * 240),
        ("pg_check_url", "https://shop.kz/" + "c" * 240),
        ("pg_payment_method", "cash"),
        ("pg_auto_clearing", "2"),
        ("pg_recurring_start", "yes"),
        ("pg_generate_qr", "true"),
        ("pg_recurring_lifetime", "157"),
    ],
)
async def test_init_refuses_invalid_fields_naming_them(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, name: str, value: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        await freedompay_client.request("init_payment.php", {**order("V-1"), name: value})
    assert caught.value.code == 110
    assert name in caught.value.description
    assert freedompay_emulator.payment_count("V-1") == 0


async def test_init_answers_a_page_and_a_qr_only_when_asked(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    plain = await freedompay_client.request("init_payment.php", order("Q-1"))
    assert (plain.root, plain.status) == ("response", "ok")
    assert plain["pg_redirect_url_type"] == "need data"
    assert plain["pg_redirect_url"].startswith("https://freedompay-emulator.invalid/")
    assert "pg_redirect_qr" not in plain.fields
    qr = await freedompay_client.request(
        "init_payment.php", order("Q-2", pg_generate_qr="1", pg_lifetime="300")
    )
    assert base64.b64decode(qr["pg_redirect_qr"]).startswith(b"\x89PNG")
    payment = freedompay_emulator.payments[int(qr["pg_payment_id"])]
    assert (payment.status, payment.method, payment.amount) == ("new", "bankcard", Decimal(500))
    assert freedompay_emulator.payment_count("Q-1") == freedompay_emulator.payment_count("Q-2") == 1


async def test_one_step_payment_with_check_and_result(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    payment_id = await init(
        client,
        order(
            "P-1",
            pg_check_url=site.url("check"),
            pg_result_url=site.url("result"),
            pg_user_phone="77001234567",
            cart="42",
        ),
    )
    fresh = await status3(client, payment_id)
    assert (fresh["pg_payment_status"], fresh["pg_captured"]) == ("new", "0")
    assert "pg_payment_date" not in fresh.fields

    payment = await emu.pay(payment_id, card_number="5483185000000293")
    assert (payment.status, payment.captured, payment.card_pan) == (
        "success",
        True,
        "548318******0293",
    )
    await emu.wait_notifications()
    [check] = verified(site, "check")
    assert check["pg_payment_id"] == str(payment_id)
    assert (check["pg_amount"], check["pg_ps_full_amount"]) == ("500.00", "500.00")
    assert check["cart"] == "42"  # the merchant's own fields are echoed
    [result] = verified(site, "result")
    assert result["pg_result"] == "1"
    assert (result["pg_order_id"], result["pg_payment_id"]) == ("P-1", str(payment_id))
    assert (result["pg_captured"], result["pg_can_reject"], result["cart"]) == ("1", "1", "42")
    assert result["pg_card_pan"] == "548318******0293"
    assert (result["pg_payment_method"], result["pg_net_amount"]) == ("bankcard", "500.00")
    assert "pg_failure_code" not in result
    assert "pg_recurring_profile_id" not in result
    assert [d.kind for d in emu.notifications] == ["check", "result"]
    assert "5483185000000293" not in repr(payment) + repr(emu.notifications)

    status = await status3(client, payment_id)
    assert status["pg_payment_status"] == "success"
    assert (status["pg_captured"], status["pg_clearing_amount"]) == ("1", "500.00")
    assert (status["pg_refund_amount"], status["pg_card_pan"]) == ("0.00", "548318******0293")
    assert status["pg_user_phone"] == "77001234567"
    assert status["pg_payment_date"] >= status["pg_create_date"]
    by_order = await client.request("get_status2.php", {"pg_order_id": "P-1"})
    assert by_order["pg_transaction_status"] == "ok"
    assert (by_order["pg_payment_id"], by_order["pg_can_reject"]) == (str(payment_id), "1")
    with pytest.raises(ValueError, match="success"):
        await emu.pay(payment_id)


@pytest.mark.parametrize(
    ("check_status", "signed", "http_status", "reason"),
    [
        ("rejected", True, 200, "Out of stock"),
        ("error", True, 200, "Out of stock"),
        ("ok", False, 200, "not signed"),
        ("ok", True, 500, "did not answer"),
    ],
)
async def test_refused_check_fails_the_payment_without_charging(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    site: MerchantSite,
    check_status: str,
    signed: bool,
    http_status: int,
    reason: str,
) -> None:
    site.check_status, site.check_description = check_status, "Out of stock"
    site.sign_answers, site.check_http_status = signed, http_status
    payment_id = await init(
        freedompay_client,
        order("C-1", pg_check_url=site.url("check"), pg_result_url=site.url("result")),
    )
    payment = await freedompay_emulator.pay(payment_id)
    assert (payment.status, payment.captured) == ("error", False)
    assert payment.failure_code == ErrorCode.CHECK_REJECTED
    assert reason in payment.failure_description
    status = await status3(freedompay_client, payment_id)
    assert status["pg_payment_status"] == "error"
    assert status["pg_failure_code"] == str(int(ErrorCode.CHECK_REJECTED))
    assert status["pg_clearing_amount"] == "0.00"
    await freedompay_emulator.wait_notifications()
    assert [r["pg_result"] for r in site.got("result")] == ["0"] * len(site.got("result"))
    assert site.got("result")[0]["pg_failure_code"] == "10108"


async def test_declined_payment_reports_its_failure(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    payment_id = await init(freedompay_client, order("E-1", pg_result_url=site.url("result")))
    await freedompay_emulator.pay(payment_id, succeed=False)
    await freedompay_emulator.wait_notifications()
    [result] = verified(site, "result")
    assert (result["pg_result"], result["pg_failure_code"]) == ("0", "10007")
    assert (result["pg_failure_description"], result["pg_can_reject"]) == (
        "Declined by issuer",
        "0",
    )
    status = await status3(freedompay_client, payment_id)
    assert (status["pg_payment_status"], status["pg_failure_code"]) == ("error", "10007")
    by_order = await freedompay_client.request("get_status2.php", {"pg_order_id": "E-1"})
    assert by_order["pg_transaction_status"] == "failed"


async def test_transaction_status_of_new_and_expired_payments(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    payment_id = await init(freedompay_client, order("X-1", pg_testing_mode="1"))
    fresh = await freedompay_client.request("get_status2.php", {"pg_order_id": "X-1"})
    assert (fresh["pg_transaction_status"], fresh["pg_testing_mode"]) == ("partial", "1")
    freedompay_emulator.payments[payment_id].expires_at = 0.0  # its lifetime is over
    expired = await freedompay_client.request("get_status2.php", {"pg_order_id": "X-1"})
    assert expired["pg_transaction_status"] == "incomplete"
    status = await status3(freedompay_client, payment_id)
    assert (status["pg_payment_status"], status["pg_failure_code"]) == ("error", "360")
    with pytest.raises(ValueError, match="error"):
        await freedompay_emulator.pay(payment_id)


async def test_unknown_payment_is_a_signed_not_found(freedompay_client: FreedomPayClient) -> None:
    for path, params in [
        ("get_status3.php", {"pg_payment_id": "1"}),
        ("get_status3.php", {"pg_payment_id": "not-a-number"}),
        ("get_status2.php", {"pg_order_id": "ghost"}),
        ("cancel.php", {"pg_payment_id": "1"}),
        ("do_capture.php", {"pg_payment_id": "1"}),
        ("revoke.php", {"pg_payment_id": "1"}),
    ]:
        with pytest.raises(TransactionNotFound) as caught:
            await freedompay_client.request(path, params)
        assert caught.value.code == 11068
        assert b"<pg_sig>" in caught.value.raw


async def test_two_step_hold_capture_and_refunds(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    payment_id = await init(client, order("H-1", pg_auto_clearing="0"))
    pid = {"pg_payment_id": str(payment_id)}
    with pytest.raises(GatewayError) as early:
        await client.request("do_capture.php", pid)
    assert early.value.code == ErrorCode.INVALID_STATE
    payment = await emu.pay(payment_id)
    assert (payment.status, payment.captured) == ("success", False)
    held = await status3(client, payment_id)
    assert (held["pg_payment_status"], held["pg_captured"]) == ("success", "0")
    with pytest.raises(GatewayError) as not_captured:
        await client.request("revoke.php", pid)
    assert not_captured.value.code == ErrorCode.INVALID_STATE
    with pytest.raises(InvalidParameter, match="pg_clearing_amount"):
        await client.request("do_capture.php", {**pid, "pg_clearing_amount": "500.01"})

    captured = await client.request("do_capture.php", {**pid, "pg_clearing_amount": "300"})
    assert (captured.status, captured["pg_clearing_amount"]) == ("ok", "300.00")
    with pytest.raises(CannotBeCancelled) as late:
        await client.request("cancel.php", pid)
    assert late.value.code == 490
    with pytest.raises(GatewayError) as twice:
        await client.request("do_capture.php", pid)
    assert twice.value.code == ErrorCode.INVALID_STATE

    first = await client.request("revoke.php", {**pid, "pg_refund_amount": "100"})
    assert first["pg_refund_amount"] == "100.00"
    assert first["pg_payment_id"] != str(payment_id)
    with pytest.raises(InvalidParameter, match="pg_refund_amount"):
        await client.request("revoke.php", {**pid, "pg_refund_amount": "200.01"})
    partly = await status3(client, payment_id)
    assert (partly["pg_payment_status"], partly["pg_refund_amount"]) == ("success", "-100.00")
    assert partly["pg_refund_payments"]["pg_refund_payment"]["pg_amount"] == "-100.00"

    rest = await client.request("revoke.php", {**pid, "pg_refund_amount": "0"})
    assert rest["pg_refund_amount"] == "200.00"
    refunded = await status3(client, payment_id)  # the client verified the nested signature
    assert refunded["pg_payment_status"] == "refunded"
    assert (refunded["pg_clearing_amount"], refunded["pg_refund_amount"]) == ("300.00", "-300.00")
    items = refunded["pg_refund_payments"]["pg_refund_payment"]
    assert [item["pg_amount"] for item in items] == ["-100.00", "-200.00"]
    assert [item["pg_payment_id"] for item in items] == [
        first["pg_payment_id"],
        rest["pg_payment_id"],
    ]
    assert {item["pg_payment_status"] for item in items} == {"success"}
    with pytest.raises(GatewayError) as spent:
        await client.request("revoke.php", pid)
    assert spent.value.code == ErrorCode.INVALID_STATE
    assert len(emu.payments) == 1  # refunds are not payments of their own here
    assert emu.payments[payment_id].refunded_amount == Decimal(300)


async def test_cancel_voids_a_hold_only(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    held = await init(freedompay_client, order("K-1", pg_auto_clearing="0"))
    one_step = await init(freedompay_client, order("K-2"))
    for payment_id in (held, one_step):
        await freedompay_emulator.pay(payment_id)
    with pytest.raises(CannotBeCancelled):
        await freedompay_client.request("cancel.php", {"pg_payment_id": str(one_step)})
    cancelled = await freedompay_client.request("cancel.php", {"pg_payment_id": str(held)})
    assert cancelled.status == "ok"
    status = await status3(freedompay_client, held)
    assert (status["pg_payment_status"], status["pg_captured"]) == ("revoked", "0")
    with pytest.raises(GatewayError) as capture:
        await freedompay_client.request("do_capture.php", {"pg_payment_id": str(held)})
    assert capture.value.code == ErrorCode.INVALID_STATE
    refund = await freedompay_client.request("revoke.php", {"pg_payment_id": str(one_step)})
    assert refund["pg_refund_amount"] == "500.00"
    assert (await status3(freedompay_client, one_step))["pg_payment_status"] == "refunded"


async def test_recurring_profile_and_charges(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    first = await init(
        client,
        order(
            "R-0", pg_recurring_start="1", pg_recurring_lifetime="12", pg_result_url=site.url("r")
        ),
    )
    await emu.pay(first)
    await emu.wait_notifications()
    [initial] = verified(site, "r")
    profile = initial["pg_recurring_profile_id"]
    assert profile == emu.payments[first].recurring_profile_id
    assert initial["pg_recurring_profile_expiry_date"] > initial["pg_payment_date"]
    status = await status3(client, first)
    assert status["pg_recurring_profile_id"] == profile
    assert status["pg_recurring_profile_expiry_date"] == initial["pg_recurring_profile_expiry_date"]

    charge = {"pg_recurring_profile": profile, "pg_amount": "99.90", "pg_description": "Month 2"}
    answer = await client.request("make_recurring_payment.php", {**charge, "pg_order_id": "R-1"})
    assert (answer.status, answer["pg_recurring_profile"]) == ("ok", profile)
    assert (answer["pg_amount"], answer["pg_currency"]) == ("99.90", "KZT")
    assert answer["pg_recurring_profile_expiry_date"] == initial["pg_recurring_profile_expiry_date"]
    charged = emu.payments[int(answer["pg_payment_id"])]
    assert (charged.status, charged.captured, charged.card_pan) == (
        "success",
        True,
        "440564******6150",
    )
    await emu.wait_notifications()
    [_, second] = verified(site, "r")  # sent to the profile's result URL
    assert (second["pg_payment_id"], second["pg_result"]) == (answer["pg_payment_id"], "1")
    assert (second["pg_order_id"], second["pg_amount"]) == ("R-1", "99.90")

    with pytest.raises(GatewayError) as duplicate:
        await client.request("make_recurring_payment.php", {**charge, "pg_order_id": "R-1"})
    assert duplicate.value.code == ErrorCode.ORDER_EXISTS
    assert emu.payment_count("R-1") == 1
    assert emu.payments_for("R-1")[0].create_requests == 2
    with pytest.raises(GatewayError) as unknown:
        await client.request("make_recurring_payment.php", {**charge, "pg_recurring_profile": "7"})
    assert unknown.value.code == ErrorCode.RECURRING_PROFILE_NOT_FOUND

    emu.rules.add(Rule.error(10009, "Insufficient funds", order_id="R-2"))
    with pytest.raises(GatewayError) as declined:
        await client.request("make_recurring_payment.php", {**charge, "pg_order_id": "R-2"})
    assert (declined.value.code, declined.value.description) == (10009, "Insufficient funds")
    [failed] = emu.payments_for("R-2")
    assert (failed.status, failed.failure_code) == ("error", 10009)

    emu.rules.add(Rule.process(polls=2, amount=Decimal("5.00")))
    slow = await client.request(
        "make_recurring_payment.php", {**charge, "pg_order_id": "R-3", "pg_amount": "5"}
    )
    assert slow.status == "ok"
    seen = [
        (await status3(client, int(slow["pg_payment_id"])))["pg_payment_status"] for _ in range(3)
    ]
    assert seen == ["process", "process", "success"]
    await emu.wait_notifications()
    assert [r["pg_order_id"] for r in verified(site, "r")] == ["R-0", "R-1", "R-2", "R-3"]


async def test_pay_refuses_unknown_payments(freedompay_emulator: Emulator) -> None:
    with pytest.raises(KeyError):
        await freedompay_emulator.pay(12345)
