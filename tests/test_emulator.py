"""The emulator's gateway behaviour, driven over loopback by the real client (and raw HTTP where
the client would refuse to send what the test needs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from freedompay_async import FreedomPayClient, RetryPolicy
from freedompay_async._wire import XmlDocument, encode_form, parse_xml
from freedompay_async.errors import (
    GatewayError,
    InvalidParameter,
    TransactionNotFound,
    UnknownMerchant,
)
from freedompay_async.signing import new_salt, sign, verify_xml
from freedompay_async.testing import Emulator, EmulatorSettings, ErrorCode, Rule

pytestmark = pytest.mark.anyio

OK_CARD = "4405645000006150"
NOWHERE = "http://127.0.0.1:9/payout/notify"  # refused at once: notifications fail quietly


def card_payout(
    order_id: str, card: str = OK_CARD, amount: str = "10.00", post_link: str = NOWHERE
) -> dict[str, str]:
    return {
        "pg_order_id": order_id,
        "pg_amount": amount,
        "pg_description": "reward",
        "pg_payment_to": card,
        "pg_post_link": post_link,
    }


def token_payout(order_id: str, user_id: str, token: str) -> dict[str, str]:
    return {
        "pg_order_id": order_id,
        "pg_amount": "25.50",
        "pg_description": "refund",
        "pg_user_id": user_id,
        "pg_card_token_to": token,
        "pg_post_link": NOWHERE,
        "pg_order_time_limit": "2030-12-31 12:00:00",
    }


async def raw_call(
    emulator: Emulator, path: str, params: dict[str, str], key: str, *, verify_key: str
) -> XmlDocument:
    """POST ``params`` signed with ``key``; the answer must verify with ``verify_key``."""
    fields = {"pg_merchant_id": emulator.settings.merchant_id, **params, "pg_salt": new_salt()}
    fields["pg_sig"] = sign(path.rpartition("/")[2], fields, key)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.url}/{path}",
            data=encode_form(fields.items()),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as answer,
    ):
        body = await answer.read()
    assert answer.status == 200
    assert verify_xml(path.rpartition("/")[2], body, verify_key)
    return parse_xml(body)


async def test_payout_to_card_succeeds_and_is_visible_everywhere(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    before = emu.balance
    created = await client.request("g2g/p2p2nonreg", card_payout("A-1", amount="10.50"))
    assert created.root == "response"
    assert created.status == "ok"
    assert created["pg_order_id"] == "A-1"
    assert created["pg_payment_amount"] == "10.50"
    assert Decimal(created["pg_balance"]) == before - Decimal("10.50") == emu.balance
    payout = emu.payouts["A-1"]
    assert payout.status == "success"
    assert payout.card_hash == "440564******6150"
    assert str(payout.payment_id) == created["pg_payment_id"]
    assert emu.created_count("A-1") == 1
    assert emu.created_count("never") == 0

    status2 = await client.request("g2g/payout_status2", {"pg_order_id": "A-1"})
    assert (status2.status, status2["pg_payment_status"]) == ("ok", "success")
    assert status2["pg_payment_id"] == created["pg_payment_id"]
    assert status2["pg_amount"] == "10.50"
    status1 = await client.request(
        "g2g/payout_status", {"pg_order_id": "A-1", "pg_payment_id": created["pg_payment_id"]}
    )
    assert status1.status == "success"
    balance = await client.request("g2g/balance_status", {"pg_currency": "KZT"})
    assert (balance["pg_balance"], balance["pg_currency"]) == (created["pg_balance"], "KZT")


async def test_merchant_api_answers_use_the_configured_root(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    await freedompay_client.request("g2g/p2p2nonreg", card_payout("R-1"))
    status = await freedompay_client.request("api/payment_status2", {"pg_order_id": "R-1"})
    assert (status.root, status["pg_payment_status"]) == ("root", "success")
    balance = await freedompay_client.request("api/balance_status", {})
    assert balance.root == "root"
    assert Decimal(balance["pg_balance"]) == freedompay_emulator.balance

    async with (
        Emulator(merchant_id="7", secret_key="k", api_root="response") as emu,
        FreedomPayClient("7", "k", base_url=emu.url, retry=RetryPolicy(attempts=1)) as client,
    ):
        assert (await client.request("api/balance_status", {})).root == "response"


@pytest.mark.parametrize(
    ("path", "right", "wrong"),
    [
        ("g2g/p2p2nonreg", "emulator-payout-key", "emulator-payment-key"),
        ("g2g/payout_status2", "emulator-payout-key", "emulator-payment-key"),
        ("init_payment.php", "emulator-payment-key", "emulator-payout-key"),
    ],
)
async def test_each_endpoint_checks_its_own_key(
    freedompay_emulator: Emulator, path: str, right: str, wrong: str
) -> None:
    params = card_payout("K-1") if path != "g2g/payout_status2" else {"pg_order_id": "K-1"}
    if path == "init_payment.php":
        params = {"pg_order_id": "K-1", "pg_amount": "5", "pg_description": "tea"}
    refused = await raw_call(freedompay_emulator, path, params, wrong, verify_key=right)
    assert refused.fields["pg_status"] == "error"
    assert refused.fields["pg_error_code"] == "100"
    assert freedompay_emulator.created_count("K-1") == 0
    accepted = await raw_call(freedompay_emulator, path, params, right, verify_key=right)
    # payout_status2 for an order never created: past the signature check, then not found.
    assert accepted.fields.get("pg_error_code") in (None, "11068")
    assert freedompay_emulator.created_count("K-1") == (path == "g2g/p2p2nonreg")


async def test_signature_covers_nested_fields_and_extra_fields(
    freedompay_emulator: Emulator,
) -> None:
    params = {
        "pg_order_id": "N-1",
        "pg_amount": "3",
        "pg_description": "cake",
        "shop_ref": "abc",
        "pg_receipt_positions[0][name]": "Tea",
        "pg_receipt_positions[0][count]": "2",
    }
    fields = {"pg_merchant_id": "552893", **params, "pg_salt": new_salt()}
    nested = {
        **{k: v for k, v in fields.items() if not k.startswith("pg_receipt")},
        "pg_receipt_positions": [{"name": "Tea", "count": "2"}],
    }
    fields["pg_sig"] = sign("init_payment.php", nested, "emulator-payment-key")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{freedompay_emulator.url}/init_payment.php",
            data=encode_form(fields.items()),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as answer,
    ):
        document = parse_xml(await answer.read())
    assert document.fields["pg_status"] == "ok", document.fields
    assert len(freedompay_emulator.payments) == 1


async def test_unknown_merchant_gets_an_unsigned_9998(freedompay_emulator: Emulator) -> None:
    async with FreedomPayClient(
        "999999",
        "emulator-payment-key",
        payout_secret_key="emulator-payout-key",
        base_url=freedompay_emulator.url,
        retry=RetryPolicy(attempts=1),
    ) as stranger:
        with pytest.raises(UnknownMerchant) as caught:
            await stranger.request("g2g/p2p2nonreg", card_payout("U-1"))
    assert caught.value.code == 9998
    assert b"pg_sig" not in caught.value.raw
    assert freedompay_emulator.payouts == {}


@pytest.mark.parametrize(
    ("missing", "params"),
    [
        ("pg_post_link", {k: v for k, v in card_payout("M-1").items() if k != "pg_post_link"}),
        ("pg_payment_to", {**card_payout("M-1"), "pg_payment_to": "1234"}),
        ("pg_amount", card_payout("M-1", amount="0.001")),
        ("pg_amount", card_payout("M-1", amount="ten")),
        ("pg_description", {**card_payout("M-1"), "pg_description": ""}),
    ],
)
async def test_missing_or_invalid_field_is_named(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    missing: str,
    params: dict[str, str],
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        await freedompay_client.request("g2g/p2p2nonreg", params)
    assert caught.value.code == 110
    assert missing in caught.value.description
    assert freedompay_emulator.created_count("M-1") == 0


async def test_insufficient_balance_creates_nothing() -> None:
    async with (
        Emulator(merchant_id="1", secret_key="s", balance=Decimal("100.00")) as emu,
        FreedomPayClient("1", "s", base_url=emu.url, retry=RetryPolicy(attempts=1)) as client,
    ):
        await client.request("g2g/p2p2nonreg", card_payout("B-1", amount="60"))
        with pytest.raises(GatewayError) as caught:
            await client.request("g2g/p2p2nonreg", card_payout("B-2", amount="40.01"))
        assert caught.value.code == ErrorCode.INSUFFICIENT_BALANCE
        assert "B-2" not in emu.payouts
        assert emu.balance == Decimal("40.00")
        emu.balance = Decimal("1000")
        await client.request("g2g/p2p2nonreg", card_payout("B-2", amount="40.01"))
        assert emu.balance == Decimal("959.99")


async def test_second_create_is_refused_and_counted(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    first = await freedompay_client.request("g2g/p2p2nonreg", card_payout("D-1"))
    balance = freedompay_emulator.balance
    with pytest.raises(GatewayError) as caught:
        await freedompay_client.request("g2g/p2p2nonreg", card_payout("D-1", amount="99"))
    assert caught.value.code == ErrorCode.ORDER_EXISTS
    assert freedompay_emulator.created_count("D-1") == 2
    assert freedompay_emulator.balance == balance
    assert len(freedompay_emulator.payouts) == 1
    assert str(freedompay_emulator.payouts["D-1"].payment_id) == first["pg_payment_id"]
    assert freedompay_emulator.payouts["D-1"].amount == Decimal("10.00")


@pytest.mark.parametrize(
    ("card", "code"),
    [
        ("4671593866478252", None),
        ("6204500338419360939", None),
        ("629656013969216940", None),
        ("62861819783765929", None),
        ("5325349472901311", 10000),
        ("4556046085041740", 10001),
        ("5543974702876045", 8888),
    ],
)
async def test_immediate_test_cards(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    card: str,
    code: int | None,
) -> None:
    balance = freedompay_emulator.balance
    if code is None:
        answer = await freedompay_client.request("g2g/p2p2nonreg", card_payout("T-1", card))
        assert answer.status == "ok"
        assert freedompay_emulator.balance == balance - Decimal("10.00")
    else:
        with pytest.raises(GatewayError) as caught:
            await freedompay_client.request("g2g/p2p2nonreg", card_payout("T-1", card))
        assert caught.value.code == code
        assert caught.value.fields["pg_order_id"] == "T-1"
        assert freedompay_emulator.balance == balance
    payout = freedompay_emulator.payouts["T-1"]
    assert payout.status == ("success" if code is None else "error")
    assert payout.error_code == code
    assert card not in repr(payout)
    status = await freedompay_client.request("g2g/payout_status2", {"pg_order_id": "T-1"})
    assert status["pg_payment_status"] == payout.status


@pytest.mark.parametrize(
    ("card", "final", "code"),
    [("5507841999732294", "success", None), ("4532676596620704", "error", 10001)],
)
async def test_process_test_cards_settle_after_one_poll(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    card: str,
    final: str,
    code: int | None,
) -> None:
    balance = freedompay_emulator.balance
    created = await freedompay_client.request("g2g/p2p2nonreg", card_payout("P-1", card))
    assert created.status == "process"
    assert freedompay_emulator.balance == balance - Decimal("10.00")
    first = await freedompay_client.request("g2g/payout_status2", {"pg_order_id": "P-1"})
    assert first["pg_payment_status"] == "process"
    second = await freedompay_client.request("g2g/payout_status", {"pg_order_id": "P-1"})
    assert second.status == final
    payout = freedompay_emulator.payouts["P-1"]
    assert (payout.status, payout.error_code, payout.polls) == (final, code, 1)
    expected = balance if final == "error" else balance - Decimal("10.00")
    assert freedompay_emulator.balance == expected


async def test_rules_by_order_amount_and_card_override_test_cards(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    emu.rules.add(Rule.error(4242, "bank says no", order_id="R-err"))
    emu.rules.add(Rule.ok(card="5325349472901311"))
    emu.rules.add(Rule.process(then="error", error_code=77, polls=3, amount=Decimal("13.13")))
    with pytest.raises(GatewayError) as caught:
        await client.request("g2g/p2p2nonreg", card_payout("R-err"))
    assert (caught.value.code, caught.value.description) == (4242, "bank says no")
    assert (
        await client.request("g2g/p2p2nonreg", card_payout("R-card", "5325349472901311"))
    ).status == "ok"
    created = await client.request("g2g/p2p2nonreg", card_payout("R-amt", amount="13.13"))
    assert created.status == "process"
    seen = [
        (await client.request("g2g/payout_status2", {"pg_order_id": "R-amt"}))["pg_payment_status"]
        for _ in range(4)
    ]
    assert seen == ["process", "process", "process", "error"]
    assert emu.payouts["R-amt"].error_code == 77
    emu.rules.clear()
    with pytest.raises(GatewayError):
        await client.request("g2g/p2p2nonreg", card_payout("R-back", "5325349472901311"))


async def test_process_settles_after_seconds_without_polls(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_emulator.rules.add(Rule.process(polls=None, seconds=0.15, order_id="S-1"))
    created = await freedompay_client.request("g2g/p2p2nonreg", card_payout("S-1"))
    assert created.status == "process"
    states = [freedompay_emulator.payouts["S-1"].status]
    await asyncio.sleep(0.3)
    states.append(freedompay_emulator.payouts["S-1"].status)
    assert states == ["process", "success"]
    status = await freedompay_client.request("g2g/payout_status2", {"pg_order_id": "S-1"})
    assert status["pg_payment_status"] == "success"
    assert freedompay_emulator.payouts["S-1"].polls == 0


def test_rules_refuse_impossible_configurations() -> None:
    with pytest.raises(ValueError, match="error_code"):
        Rule.process(then="error")
    with pytest.raises(ValueError, match="never settles"):
        Rule.process(polls=None)


async def test_unknown_order_is_a_signed_not_found(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    for path in ("g2g/payout_status2", "api/payment_status2"):
        with pytest.raises(TransactionNotFound) as caught:
            await freedompay_client.request(path, {"pg_order_id": "ghost"})
        assert caught.value.code == 11068
        assert b"<pg_sig>" in caught.value.raw
    # payout_status v1 reports the transaction in pg_status, but an error code means the
    # request itself failed: not found is raised there too.
    with pytest.raises(TransactionNotFound):
        await freedompay_client.request("g2g/payout_status", {"pg_order_id": "ghost"})
    await freedompay_client.request("g2g/p2p2nonreg", card_payout("W-1"))
    with pytest.raises(TransactionNotFound):
        await freedompay_client.request(
            "g2g/payout_status2", {"pg_order_id": "W-1", "pg_payment_id": "1"}
        )


async def test_token_payouts_on_both_apis(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    emu, client = freedompay_emulator, freedompay_client
    token = emu.save_card("user-1", "4405645000006150")
    g2g = await client.request("g2g/reg2reg", token_payout("TK-1", "user-1", token))
    assert (g2g.root, g2g.status, g2g["pg_card_token"]) == ("response", "ok", token)
    assert (g2g["pg_card_hash"], g2g["pg_error_code"]) == ("440564******6150", "0")
    assert emu.payouts["TK-1"].card_token == token

    params = token_payout("TK-2", "user-1", "")
    del params["pg_card_token_to"]
    params["pg_card_id_to"] = str(emu.card_id(token))
    api = await client.request("api/reg2reg", params)
    assert (api.root, api.status, api["pg_card_id"]) == ("root", "ok", str(emu.card_id(token)))

    failing = emu.save_card("user-1", "5543974702876045")
    with pytest.raises(GatewayError) as caught:
        await client.request("g2g/reg2reg", token_payout("TK-3", "user-1", failing))
    assert caught.value.code == 8888

    for user, tok in (("user-2", token), ("user-1", "no-such-token")):
        with pytest.raises(InvalidParameter) as refused:
            await client.request("g2g/reg2reg", token_payout("TK-4", user, tok))
        assert "pg_card_token_to" in refused.value.description
    missing = token_payout("TK-4", "user-1", token)
    del missing["pg_order_time_limit"]
    with pytest.raises(InvalidParameter, match="pg_order_time_limit"):
        await client.request("api/reg2reg", missing)
    assert emu.created_count("TK-4") == 0


async def test_iban_payout(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    params = {
        "pg_order_id": "IB-1",
        "pg_amount": "100",
        "pg_description": "salary",
        "pg_recipient_iban": "KZ123412341234123412",
        "pg_recipient_iin": "761223455678",
        "pg_recipient_name": "IVANOV IVAN",
        "pg_recipient_kbe": "19",
        "pg_knp": "119",
        "pg_bank_bik": "KZZSAE",
        "pg_post_link": NOWHERE,
    }
    answer = await freedompay_client.request("g2g/to_iban", params)
    assert answer.status == "ok"
    assert freedompay_emulator.payouts["IB-1"].card_hash is None
    del params["pg_knp"]
    params["pg_order_id"] = "IB-2"
    with pytest.raises(InvalidParameter, match="pg_knp"):
        await freedompay_client.request("g2g/to_iban", params)


async def test_idempotency_key_replays_or_refuses(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    params = {"pg_order_id": "I-1", "pg_amount": "500", "pg_description": "tea"}
    first = await freedompay_client.request("init_payment.php", params, idempotency_key="key-1")
    again = await freedompay_client.request("init_payment.php", params, idempotency_key="key-1")
    assert first["pg_payment_id"] == again["pg_payment_id"]
    assert first["pg_redirect_url"] == again["pg_redirect_url"]
    assert len(freedompay_emulator.payments) == 1
    with pytest.raises(GatewayError) as caught:
        await freedompay_client.request(
            "init_payment.php", {**params, "pg_amount": "501"}, idempotency_key="key-1"
        )
    assert caught.value.code == ErrorCode.IDEMPOTENCY_CONFLICT
    other = await freedompay_client.request("init_payment.php", params, idempotency_key="key-2")
    assert other["pg_payment_id"] != first["pg_payment_id"]
    assert len(freedompay_emulator.payments) == 2
    # The client's default key is derived from the order id: a repeat replays.
    derived = await freedompay_client.request("init_payment.php", {**params, "pg_order_id": "I-2"})
    repeat = await freedompay_client.request("init_payment.php", {**params, "pg_order_id": "I-2"})
    assert derived["pg_payment_id"] == repeat["pg_payment_id"]
    assert len(freedompay_emulator.payments) == 3


def test_settings_never_show_keys() -> None:
    settings = EmulatorSettings("1", "payment-secret", "payout-secret")
    emulator = Emulator.from_settings(settings)
    for text in (repr(settings), repr(emulator), repr(emulator.gateway.routes)):
        assert "secret" not in text


@pytest.fixture
async def small_emulator() -> AsyncIterator[Emulator]:
    async with Emulator(merchant_id="5", secret_key="k", balance="20") as emulator:
        yield emulator


async def test_balance_accepts_text_and_concurrent_payouts_never_overdraw(
    small_emulator: Emulator,
) -> None:
    async with FreedomPayClient(
        "5", "k", base_url=small_emulator.url, retry=RetryPolicy(attempts=1)
    ) as client:
        results = await asyncio.gather(
            *(
                client.request("g2g/p2p2nonreg", card_payout(f"C-{i}", amount="3"))
                for i in range(10)
            ),
            return_exceptions=True,
        )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, GatewayError)]
    assert (len(accepted), len(refused)) == (6, 4)
    assert small_emulator.balance == Decimal("2.00")


async def test_multipart_and_query_string_forms_are_read(freedompay_emulator: Emulator) -> None:
    fields = {"pg_merchant_id": "552893", "pg_currency": "USD", "pg_salt": new_salt()}
    fields["pg_sig"] = sign("balance_status", fields, "emulator-payout-key")
    url = f"{freedompay_emulator.url}/g2g/balance_status"
    async with aiohttp.ClientSession() as session:
        form = aiohttp.FormData(fields, default_to_multipart=True)
        async with session.post(url, data=form) as answer:
            multipart = parse_xml(await answer.read())
        async with session.get(url, params=fields) as answer:
            query = parse_xml(await answer.read())
        async with session.post(f"{freedompay_emulator.url}/g2g/unknown", data=fields) as answer:
            assert answer.status == 404
    assert multipart.fields["pg_currency"] == query.fields["pg_currency"] == "USD"
    assert verify_xml("balance_status", multipart.raw, "emulator-payout-key")
