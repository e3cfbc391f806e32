"""Saved cards on the Merchant API in the emulator: card storage (for payments and payouts,
with the disputed payout variants), and paying with a saved card (card/init, pay, direct)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import attrs
import pytest
from _merchant_site import PAYMENT_KEY, MerchantSite, merchant_site

from freedompay_async import FreedomPayClient
from freedompay_async._endpoints import Endpoint
from freedompay_async._wire import encode_form, parse_xml
from freedompay_async.errors import (
    BadSignature,
    GatewayError,
    InvalidParameter,
    TransactionNotFound,
    UnknownMerchant,
)
from freedompay_async.signing import new_salt, sign, verify, verify_xml
from freedompay_async.testing import Emulator, ErrorCode, Fault, PayoutCardSave, Rule

pytestmark = pytest.mark.anyio

MERCHANT = "552893"
PAYOUT_KEY = "emulator-payout-key"
CARD = "4405645000006150"
OTHER_CARD = "5483185000000293"
M = "v1/merchant/{merchant_id}/"


@pytest.fixture
async def site() -> AsyncIterator[MerchantSite]:
    async with merchant_site() as shop:
        yield shop


def save_params(site: MerchantSite, user_id: str = "user-1", **extra: str) -> dict[str, str]:
    return {
        "pg_user_id": user_id,
        "pg_post_link": site.url("saved"),
        "pg_back_link": "https://shop.kz/cards",
        **extra,
    }


def card_order(order_id: str, token: str, amount: str = "250", **extra: str) -> dict[str, str]:
    return {
        "pg_order_id": order_id,
        "pg_amount": amount,
        "pg_description": "Pizza",
        "pg_user_id": "user-1",
        "pg_card_token": token,
        **extra,
    }


@attrs.frozen
class Raw:
    status: int
    content_type: str
    body: bytes


async def raw_post(
    emu: Emulator, path: str, params: dict[str, str], *, script: str, key: str = PAYMENT_KEY
) -> Raw:
    """POST ``params`` signed as ``script`` with ``key``, as a client outside the library."""
    fields = {"pg_merchant_id": MERCHANT, **params, "pg_salt": new_salt()}
    fields["pg_sig"] = sign(script, fields, key)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emu.url}/{path.replace('{merchant_id}', MERCHANT)}",
            data=encode_form(fields.items()),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as response,
    ):
        return Raw(response.status, response.content_type, await response.read())


async def test_save_list_and_remove_a_payment_card(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    # A concrete merchant path and the template are the same endpoint.
    opened = await client.request(
        f"v1/merchant/{MERCHANT}/cardstorage/add", save_params(site, pg_order_id="S-1")
    )
    assert (opened.root, opened.status, opened["pg_type"]) == ("response", "ok", "init")
    assert (opened["pg_merchant_id"], opened["pg_order_id"]) == (MERCHANT, "S-1")
    payment_id = int(opened["pg_payment_id"])
    assert opened["pg_redirect_url"] == (
        f"https://freedompay-emulator.invalid/v1/merchant/{MERCHANT}/cardstorage/view"
        f"?pg_payment_id={payment_id}"
    )
    assert emu.card_saves[payment_id].status == "new"

    card = await emu.complete_card_save(payment_id, card_number=OTHER_CARD)
    assert card is not None
    assert (card.purpose, card.user_id, card.card_hash) == ("payment", "user-1", "548318******0293")
    await emu.wait_notifications()
    [saved] = site.got("saved")
    assert verify("saved", saved, PAYMENT_KEY)
    assert (saved["pg_type"], saved["pg_status"], saved["pg_order_id"]) == (
        "approve",
        "success",
        "S-1",
    )
    assert (saved["pg_card_token"], saved["pg_card_id"]) == (card.token, str(card.card_id))
    assert (saved["pg_card_hash"], saved["pg_user_id"]) == ("548318******0293", "user-1")
    assert (saved["pg_card_month"], len(saved["pg_card_year"])) == ("12", 2)
    assert emu.notifications[0].kind == "card_save"
    with pytest.raises(ValueError, match="success"):
        await emu.complete_card_save(payment_id)

    listing = await client.request(M + "cardstorage/list", {"pg_user_id": "user-1"})
    one = listing["card"]  # a single <card> decodes as a mapping, not a one-item list
    assert (one["pg_status"], one["pg_card_token"], one["pg_card_hash"]) == (
        "approved",
        card.token,
        "548318******0293",
    )
    assert (one["pg_card_id"], one["pg_merchant_id"]) == (str(card.card_id), MERCHANT)
    assert len(one["pg_card_hhash"]) == 32
    assert one["pg_recurring_profile_id"] == ""
    assert "brand_alias" not in one

    second = emu.save_card("user-1", CARD, for_payouts=False)
    emu.save_card("user-1", CARD)  # a payout card is not listed among payment cards
    extended = await client.request(
        M + "cardstorage/list", {"pg_user_id": "user-1", "pg_extend_data": "1"}
    )
    assert [item["pg_card_token"] for item in extended["card"]] == [card.token, second]
    assert [item["brand_alias"] for item in extended["card"]] == ["MASTERCARD", "VISA"]
    assert extended["card"][0]["expiry_month"] == "12"

    removed = await client.request(
        M + "cardstorage/remove", {"pg_user_id": "user-1", "pg_card_token": card.token}
    )
    assert (removed["card"]["pg_status"], removed["card"]["pg_card_token"]) == (
        "deleted",
        card.token,
    )
    assert removed["card"]["deleted_at"]
    assert card.token not in emu.cards
    with pytest.raises(GatewayError) as again:
        await client.request(
            M + "cardstorage/remove", {"pg_user_id": "user-1", "pg_card_token": card.token}
        )
    assert again.value.code == ErrorCode.CARD_NOT_FOUND
    await client.request(
        M + "cardstorage/remove", {"pg_user_id": "user-1", "pg_card_token": second}
    )
    empty = await client.request(M + "cardstorage/list", {"pg_user_id": "user-1"})
    assert "card" not in empty.fields
    assert empty.status is None  # the documented list answer has no root pg_status


async def test_failed_card_save(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    opened = await freedompay_client.request(M + "cardstorage/add", save_params(site))
    payment_id = int(opened["pg_payment_id"])
    assert await freedompay_emulator.complete_card_save(payment_id, succeed=False) is None
    await freedompay_emulator.wait_notifications()
    [saved] = site.got("saved")
    assert verify("saved", saved, PAYMENT_KEY)
    assert (saved["pg_status"], saved["pg_card_hash"]) == ("error", "440564******6150")
    assert "pg_card_token" not in saved
    assert freedompay_emulator.cards == {}
    with pytest.raises(KeyError):
        await freedompay_emulator.complete_card_save(1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pg_user_id", "no spaces"),
        ("pg_user_id", ""),
        ("pg_post_link", ""),
        ("pg_back_link", "https://shop.kz/" + "b" * 250),
        ("pg_order_id", "o" * 51),
    ],
)
async def test_card_save_refuses_invalid_fields_naming_them(
    freedompay_client: FreedomPayClient, site: MerchantSite, name: str, value: str
) -> None:
    with pytest.raises(InvalidParameter, match=name):
        await freedompay_client.request(M + "cardstorage/add", {**save_params(site), name: value})


async def test_payout_cards_are_saved_and_listed_apart(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    # The table's default: cardstoragepayout/add signed as "add2" with the payment key.
    opened = await client.request(M + "cardstoragepayout/add", save_params(site))
    assert "/cardstoragepayout/view?" in opened["pg_redirect_url"]
    card = await emu.complete_card_save(int(opened["pg_payment_id"]))
    assert card is not None
    assert card.purpose == "payout"
    await emu.wait_notifications()
    assert verify("saved", site.got("saved")[0], PAYMENT_KEY)

    payouts = await client.request(M + "cardstoragepayout/list", {"pg_user_id": "user-1"})
    assert payouts["card"]["pg_card_token"] == card.token
    payments = await client.request(M + "cardstorage/list", {"pg_user_id": "user-1"})
    assert "card" not in payments.fields
    with pytest.raises(GatewayError) as not_for_payments:
        await client.request("g2g/payment", card_order("PC-1", card.token))
    assert not_for_payments.value.code == ErrorCode.CARD_NOT_FOUND
    with pytest.raises(GatewayError) as wrong_list:
        await client.request(
            M + "cardstorage/remove", {"pg_user_id": "user-1", "pg_card_token": card.token}
        )
    assert wrong_list.value.code == ErrorCode.CARD_NOT_FOUND
    removed = await client.request(
        M + "cardstoragepayout/remove", {"pg_user_id": "user-1", "pg_card_token": card.token}
    )
    assert removed["card"]["pg_status"] == "deleted"


def variant(path: str, script: str, key: str = "payment") -> Endpoint:
    return Endpoint(
        "cards.add_for_payouts",
        M + path,
        "payment" if key == "payment" else "payout",
        moves_money=False,
        script=script,
    )


VARIANTS: dict[PayoutCardSave, Endpoint] = {
    "documented": variant("cardstoragepayout/add", "add2"),
    "cardstorage_add2": variant("cardstorage/add2", "add2"),
    "payout_add": variant("cardstoragepayout/add", "add"),
    "payout_add2_payout_key": variant("cardstoragepayout/add2", "add2", "payout"),
}


@pytest.mark.parametrize("configured", list(VARIANTS))
async def test_payout_card_save_variants(configured: PayoutCardSave, site: MerchantSite) -> None:
    async with (
        Emulator(
            merchant_id=MERCHANT,
            secret_key=PAYMENT_KEY,
            payout_secret_key=PAYOUT_KEY,
            payout_card_save=configured,
        ) as emu,
        emu.client() as client,
    ):
        for name, endpoint in VARIANTS.items():
            if name == configured:
                answer = await client.call(endpoint, save_params(site))
                assert answer.status == "ok"
                card = await emu.complete_card_save(int(answer["pg_payment_id"]))
                assert card is not None
                assert card.purpose == "payout"
                continue
            # Signed another documented way: a signed 100 its sender can verify and read.
            with pytest.raises(BadSignature) as refused:
                await client.call(endpoint, save_params(site))
            assert refused.value.code == 100
            expected = "/" + VARIANTS[configured].path.replace("{merchant_id}", MERCHANT)
            assert expected in refused.value.description
        await emu.wait_notifications()
        [saved] = site.got("saved")
        key = PAYOUT_KEY if configured == "payout_add2_payout_key" else PAYMENT_KEY
        assert verify("saved", saved, key)
        assert len(emu.card_saves) == 1
        # A key no variant uses: the plain bad signature, signed the configured way.
        script = VARIANTS[configured].script
        raw = await raw_post(
            emu, VARIANTS[configured].path, save_params(site), script=script, key="not-a-key"
        )
        assert verify_xml(script, raw.body, key)
        assert parse_xml(raw.body).fields["pg_error_code"] == "100"


async def test_wrong_merchant_in_the_path_is_an_unsigned_9998(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    with pytest.raises(UnknownMerchant) as caught:
        await freedompay_client.request("v1/merchant/999/cardstorage/list", {"pg_user_id": "u"})
    assert caught.value.code == 9998
    assert b"pg_sig" not in caught.value.raw
    raw = await raw_post(
        freedompay_emulator, "v1/merchant/abc/cardstorage/list", {"pg_user_id": "u"}, script="list"
    )
    assert raw.status == 404


async def test_card_init_then_the_payer_confirms_with_cvc(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    token = emu.save_card("user-1", CARD, for_payouts=False)
    created = await client.request(
        M + "card/init",
        card_order("CI-1", token, pg_result_url=site.url("result"), pg_user_email="a@b.kz"),
    )
    assert (created.status, created["pg_order_id"], created["pg_merchant_id"]) == (
        "ok",
        "CI-1",
        MERCHANT,
    )
    payment_id = created["pg_payment_id"]
    payment = emu.payments[int(payment_id)]
    assert (payment.status, payment.method, payment.card_token) == ("new", "card_token", token)

    raw = await raw_post(emu, M + "card/pay", {"pg_payment_id": payment_id}, script="pay")
    assert (raw.status, raw.content_type) == (200, "text/html")
    page = raw.body.decode("utf-8")
    assert 'action="https://freedompay-emulator.invalid/' in page
    assert f'name="pg_payment_id" value="{payment_id}"' in page
    assert 'name="cvc"' in page
    assert "pg_sig" not in page
    assert CARD not in page
    assert (await client.request("get_status3.php", {"pg_payment_id": payment_id}))[
        "pg_payment_status"
    ] == "new"

    paid = await emu.pay(int(payment_id), card_number="4111111111111111")
    assert (paid.status, paid.card_pan) == ("success", "440564******6150")  # the saved card
    await emu.wait_notifications()
    [result] = site.got("result")
    assert verify("result", result, PAYMENT_KEY)
    assert (result["pg_card_token"], result["pg_payment_method"]) == (token, "card_token")
    assert result["pg_user_contact_email"] == "a@b.kz"
    status = await client.request("get_status3.php", {"pg_payment_id": payment_id})
    assert (status["pg_payment_status"], status["pg_card_token"]) == ("success", token)


async def test_card_pay_errors_are_signed_xml(freedompay_emulator: Emulator) -> None:
    raw = await raw_post(
        freedompay_emulator, M + "card/pay", {"pg_payment_id": "404"}, script="pay"
    )
    assert raw.content_type == "application/xml"
    assert verify_xml("pay", raw.body, PAYMENT_KEY)
    assert parse_xml(raw.body).fields["pg_error_code"] == "11068"


async def test_card_init_checks_the_card_and_honours_idempotency_keys(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    token = emu.save_card("user-1", CARD, for_payouts=False)
    payout_card = emu.save_card("user-1", CARD)
    for params in (
        card_order("CI-2", payout_card),
        {**card_order("CI-2", token), "pg_user_id": "user-2"},
        card_order("CI-2", "unknown"),
    ):
        with pytest.raises(GatewayError) as caught:
            await client.request(M + "card/init", params)
        assert caught.value.code == ErrorCode.CARD_NOT_FOUND
    with pytest.raises(InvalidParameter, match="pg_amount"):
        await client.request(M + "card/init", card_order("CI-2", token, amount="1.001"))
    assert emu.payment_count("CI-2") == 0

    first = await client.request(M + "card/init", card_order("CI-3", token), idempotency_key="k-1")
    again = await client.request(M + "card/init", card_order("CI-3", token), idempotency_key="k-1")
    assert first["pg_payment_id"] == again["pg_payment_id"]
    assert emu.payment_count("CI-3") == 1
    with pytest.raises(GatewayError) as conflict:
        await client.request(
            M + "card/init", card_order("CI-3", token, amount="1"), idempotency_key="k-1"
        )
    assert conflict.value.code == ErrorCode.IDEMPOTENCY_CONFLICT
    derived = await client.request(M + "card/init", card_order("CI-4", token))
    repeat = await client.request(M + "card/init", card_order("CI-4", token))
    assert derived["pg_payment_id"] == repeat["pg_payment_id"]
    assert emu.payment_count("CI-4") == 1


async def test_card_direct_charges_without_the_payer(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, site: MerchantSite
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    token = emu.save_card("user-1", CARD, for_payouts=False)
    emu.rules.add(Rule.error(10009, "Insufficient funds", order_id="CD-2"))
    emu.rules.add(Rule.process(polls=1, amount=Decimal("77.00")))
    ids = {}
    for order_id, amount in (("CD-1", "250"), ("CD-2", "250"), ("CD-3", "77")):
        created = await client.request(
            M + "card/init", card_order(order_id, token, amount, pg_result_url=site.url("result"))
        )
        ids[order_id] = created["pg_payment_id"]

    ok = await client.request(M + "card/direct", {"pg_payment_id": ids["CD-1"]})
    assert (ok.status, ok["pg_payment_status"], ok["pg_payment_id"]) == (
        "ok",
        "success",
        ids["CD-1"],
    )
    declined = await client.request(M + "card/direct", {"pg_payment_id": ids["CD-2"]})
    assert (declined.status, declined["pg_payment_status"]) == ("ok", "error")
    assert (declined["pg_failure_code"], declined["pg_failure_description"]) == (
        "10009",
        "Insufficient funds",
    )
    pending = await client.request(M + "card/direct", {"pg_payment_id": ids["CD-3"]})
    assert pending["pg_payment_status"] == "process"
    await emu.wait_notifications()
    assert [r["pg_order_id"] for r in site.got("result")] == ["CD-1", "CD-2"]
    polled = await client.request("get_status3.php", {"pg_payment_id": ids["CD-3"]})
    assert polled["pg_payment_status"] == "process"
    assert emu.payments[int(ids["CD-3"])].status == "success"
    await emu.wait_notifications()
    assert [r["pg_result"] for r in site.got("result")] == ["1", "0", "1"]

    for payment_id in (ids["CD-1"], ids["CD-2"]):
        for script in ("card/direct", "card/pay"):
            with pytest.raises(GatewayError) as twice:
                await client.request(M + script, {"pg_payment_id": payment_id})
            assert twice.value.code == ErrorCode.INVALID_STATE
    page = await client.request(
        "init_payment.php", {"pg_order_id": "CD-4", "pg_amount": "5", "pg_description": "Tea"}
    )
    with pytest.raises(GatewayError) as not_card:
        await client.request(M + "card/direct", {"pg_payment_id": page["pg_payment_id"]})
    assert not_card.value.code == ErrorCode.INVALID_STATE
    with pytest.raises(TransactionNotFound):
        await client.request(M + "card/direct", {"pg_payment_id": "1"})

    removed = await client.request(M + "card/init", card_order("CD-5", token))
    await client.request(M + "cardstorage/remove", {"pg_user_id": "user-1", "pg_card_token": token})
    with pytest.raises(GatewayError) as gone:
        await client.request(M + "card/direct", {"pg_payment_id": removed["pg_payment_id"]})
    assert gone.value.code == ErrorCode.CARD_NOT_FOUND


async def test_faults_leave_the_cvc_page_readable(freedompay_emulator: Emulator) -> None:
    emu = freedompay_emulator
    token = emu.save_card("user-1", CARD, for_payouts=False)
    async with emu.client() as client:
        created = await client.request(M + "card/init", card_order("F-1", token))
    concrete = f"v1/merchant/{MERCHANT}/card/pay"
    # A fault names the endpoint by the path called, its template or its trailing segments.
    for name in (concrete, M + "card/pay", "card/pay"):
        emu.faults.add(Fault.bad_signature(endpoint=name, times=1))
    for _ in range(3):
        raw = await raw_post(
            emu, concrete, {"pg_payment_id": created["pg_payment_id"]}, script="pay"
        )
        assert raw.content_type == "text/html"
        assert b'name="cvc"' in raw.body
    assert [(r.endpoint, r.call_number) for r in emu.fault_records] == [
        (concrete, 1),
        (concrete, 2),
        (concrete, 3),
    ]
    assert emu.calls[concrete] == 3
    assert not Fault.http_error(endpoint="card/pay").selects("v1/merchant/1/card/payment", None)
