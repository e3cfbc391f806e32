"""Mobile balance payments in the emulator: init, mfs/pay, one-time code, resend, status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _merchant_site import PAYMENT_KEY, MerchantSite, merchant_site

from freedompay_async import FreedomPayClient, RetryPolicy
from freedompay_async.errors import GatewayError, InvalidParameter, TransactionNotFound
from freedompay_async.signing import verify
from freedompay_async.testing import (
    MOBILE_PROCESS_PHONE,
    MOBILE_TEST_CODE,
    MOBILE_TEST_PHONE,
    Emulator,
    ErrorCode,
    Rule,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def site() -> AsyncIterator[MerchantSite]:
    async with merchant_site() as shop:
        yield shop


async def mobile_payment(client: FreedomPayClient, order_id: str, **extra: str) -> str:
    params = {
        "pg_order_id": order_id,
        "pg_amount": "150",
        "pg_description": "Top-up",
        "pg_payment_method": "mobile_commerce",
        **extra,
    }
    answer = await client.request("init_payment.php", params)
    assert (answer.root, answer.status) == ("response", "ok")
    return str(answer["pg_payment_id"])


async def test_pay_from_a_phone_with_the_one_time_code(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    payment_id = await mobile_payment(client, "M-1", pg_result_url=site.url("result"))
    pid = {"pg_payment_id": payment_id}
    paying = await client.request(
        "mfs/pay",
        {**pid, "pg_abonent_phone": MOBILE_TEST_PHONE, "pg_payment_system_code": "KCELLKZT"},
    )
    assert (paying.root, paying.status, paying["pg_payment_id"]) == (
        "root",
        "need_approve",
        payment_id,
    )
    waiting = await client.request("get_status3.php", pid)
    assert (waiting["pg_payment_status"], waiting["pg_payment_method"]) == (
        "process",
        "mobile_commerce",
    )
    for _ in range(2):
        assert (await client.request("mfs/resend_code", pid)).status == "ok"
    with pytest.raises(GatewayError) as wrong:
        await client.request("mfs/approve", {**pid, "pg_approval_code": "000000"})
    assert wrong.value.code == ErrorCode.INVALID_APPROVAL_CODE
    assert b"<pg_sig>" in wrong.value.raw

    approved = await client.request("mfs/approve", {**pid, "pg_approval_code": MOBILE_TEST_CODE})
    assert (approved.root, approved.status) == ("root", "ok")
    payment = emu.payments[int(payment_id)]
    assert (payment.status, payment.code_resends, payment.payment_system) == (
        "success",
        2,
        "KCELLKZT",
    )
    status = await client.request("get_status3.php", pid)
    assert (status["pg_payment_status"], status["pg_user_phone"]) == ("success", MOBILE_TEST_PHONE)
    await emu.wait_notifications()
    [result] = site.got("result")
    assert verify("result", result, PAYMENT_KEY)
    assert (result["pg_result"], result["pg_payment_method"]) == ("1", "mobile_commerce")
    assert "pg_card_pan" not in result
    with pytest.raises(GatewayError) as again:
        await client.request("mfs/approve", {**pid, "pg_approval_code": MOBILE_TEST_CODE})
    assert again.value.code == ErrorCode.INVALID_STATE


async def test_second_test_phone_is_in_process_until_the_next_poll(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    client = freedompay_client
    payment_id = await mobile_payment(
        client, "M-2", pg_user_phone="77000000000", pg_result_url=site.url("result")
    )
    pid = {"pg_payment_id": payment_id}
    await client.request("mfs/pay", {**pid, "pg_abonent_phone": MOBILE_PROCESS_PHONE})
    approved = await client.request("mfs/approve", {**pid, "pg_approval_code": MOBILE_TEST_CODE})
    assert approved.status == "process"
    await freedompay_emulator.wait_notifications()
    assert site.got("result") == []
    polls = [(await client.request("get_status3.php", pid))["pg_payment_status"] for _ in range(2)]
    assert polls == ["process", "success"]
    await freedompay_emulator.wait_notifications()
    [result] = site.got("result")
    assert (result["pg_result"], result["pg_user_phone"]) == ("1", "77000000000")


async def test_rules_decide_an_approved_mobile_payment(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_emulator.rules.add(Rule.error(711, "Subscriber blocked", order_id="M-3"))
    payment_id = await mobile_payment(freedompay_client, "M-3")
    pid = {"pg_payment_id": payment_id}
    await freedompay_client.request("mfs/pay", {**pid, "pg_abonent_phone": MOBILE_TEST_PHONE})
    with pytest.raises(GatewayError) as caught:
        await freedompay_client.request(
            "mfs/approve", {**pid, "pg_approval_code": MOBILE_TEST_CODE}
        )
    assert (caught.value.code, caught.value.description) == (711, "Subscriber blocked")
    status = await freedompay_client.request("get_status3.php", pid)
    assert (status["pg_payment_status"], status["pg_failure_code"]) == ("error", "711")


async def test_mobile_calls_refused_in_the_wrong_state_or_with_bad_fields(
    freedompay_client: FreedomPayClient,
) -> None:
    client = freedompay_client
    card = await client.request(
        "init_payment.php", {"pg_order_id": "B-1", "pg_amount": "5", "pg_description": "Tea"}
    )
    mobile = await mobile_payment(client, "M-4")
    phone = {"pg_abonent_phone": MOBILE_TEST_PHONE}
    with pytest.raises(GatewayError) as not_mobile:
        await client.request("mfs/pay", {"pg_payment_id": card["pg_payment_id"], **phone})
    assert not_mobile.value.code == ErrorCode.INVALID_STATE
    for path in ("mfs/approve", "mfs/resend_code"):
        with pytest.raises(GatewayError) as early:
            await client.request(
                path, {"pg_payment_id": mobile, "pg_approval_code": MOBILE_TEST_CODE}
            )
        assert early.value.code == ErrorCode.INVALID_STATE
    for name, value in [
        ("pg_abonent_phone", "+77017777777"),
        ("pg_abonent_phone", "7701777777"),
        ("pg_payment_system_code", "MTSKZT"),
    ]:
        with pytest.raises(InvalidParameter, match=name):
            await client.request("mfs/pay", {"pg_payment_id": mobile, **phone, name: value})
    with pytest.raises(TransactionNotFound):
        await client.request("mfs/pay", {"pg_payment_id": "42", **phone})
    await client.request("mfs/pay", {"pg_payment_id": mobile, **phone})
    with pytest.raises(GatewayError) as twice:
        await client.request("mfs/pay", {"pg_payment_id": mobile, **phone})
    assert twice.value.code == ErrorCode.INVALID_STATE


async def test_mfs_answer_root_is_configurable() -> None:
    async with (
        Emulator(merchant_id="7", secret_key="k", mfs_root="response") as emu,
        FreedomPayClient("7", "k", base_url=emu.url, retry=RetryPolicy(attempts=1)) as client,
    ):
        payment_id = await mobile_payment(client, "M-5")
        answer = await client.request(
            "mfs/pay", {"pg_payment_id": payment_id, "pg_abonent_phone": MOBILE_TEST_PHONE}
        )
        assert (answer.root, answer.status) == ("response", "need_approve")
