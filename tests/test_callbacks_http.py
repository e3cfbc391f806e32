"""Callbacks over real HTTP: the emulator notifies an aiohttp.web app built with the helper."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
import attrs
import pytest
from aiohttp import web
from callback_helpers import FORM, callback_url, deliver, notification

from freedompay_async import FreedomPayClient, signing
from freedompay_async.callbacks import (
    CallbackAnswer,
    CheckRequest,
    GatewayCallback,
    PayoutNotification,
    ResultNotification,
)
from freedompay_async.callbacks.aiohttp import callback_handler
from freedompay_async.errors import RejectionNotAllowed
from freedompay_async.payouts import PayoutState
from freedompay_async.testing import Emulator, Rule

pytestmark = pytest.mark.anyio

PAYMENT_KEY = "emulator-payment-key"  # the plugin's emulated merchant
PAYOUT_KEY = "emulator-payout-key"
PAN = "4405645000006150"
LOGGER = "freedompay_async.callbacks"

RESULT = {
    "pg_order_id": "order-7",
    "pg_payment_id": "1234567",
    "pg_amount": "500.00",
    "pg_currency": "KZT",
    "pg_result": "1",
    "pg_can_reject": "0",
    "pg_payment_date": "2026-11-21 14:05:00",
    "pg_card_pan": PAN,
}


@attrs.define
class Shop:
    """An aiohttp.web app with the callback helpers on /freedompay/{check,result,payouts}."""

    base: str = ""
    seen: list[GatewayCallback] = attrs.field(factory=list)
    failures: int = 0  # how many deliveries the handlers fail before succeeding
    answer: CallbackAnswer = attrs.field(factory=CallbackAnswer.ok)

    async def handle(self, callback: GatewayCallback) -> CallbackAnswer:
        self.seen.append(callback)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is down")
        return self.answer

    def url(self, path: str, query: str = "") -> str:
        return f"{self.base}{path}" + (f"?{query}" if query else "")


def _app(shop: Shop) -> web.Application:
    app = web.Application()
    payouts = callback_handler(
        PayoutNotification, shop.handle, secret_key=PAYMENT_KEY, payout_secret_key=PAYOUT_KEY
    )
    results = callback_handler(
        ResultNotification, shop.handle, secret_key=PAYMENT_KEY, payout_secret_key=PAYOUT_KEY
    )
    checks = callback_handler(CheckRequest, shop.handle, secret_key=PAYMENT_KEY)
    behind_proxy = callback_handler(
        ResultNotification, shop.handle, secret_key=PAYMENT_KEY, script="result"
    )
    app.router.add_route("*", "/freedompay/payouts", payouts)
    app.router.add_route("*", "/freedompay/result", results)
    app.router.add_route("*", "/freedompay/check", checks)
    app.router.add_post("/internal/rewritten", behind_proxy)
    return app


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    shop = Shop()
    runner = web.AppRunner(_app(shop), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    shop.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield shop
    await runner.cleanup()


def card_payout(order_id: str, post_link: str, card: str = PAN) -> dict[str, str]:
    return {
        "pg_order_id": order_id,
        "pg_amount": "10.00",
        "pg_description": "reward",
        "pg_payment_to": card,
        "pg_post_link": post_link,
    }


async def _post(url: str, body: bytes, content_type: str | None) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type} if content_type else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as answer,
    ):
        return answer.status, await answer.read()


# -- payouts, end to end ---------------------------------------------------------------------


async def test_emulator_payout_notification_reaches_the_handler_verified(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, shop: Shop
) -> None:
    post_link = shop.url("/freedompay/payouts", "shop=kz")
    created = await freedompay_client.request("g2g/p2p2nonreg", card_payout("E-1", post_link))
    await freedompay_emulator.wait_notifications()
    [payout] = shop.seen
    assert isinstance(payout, PayoutNotification)
    assert payout.verified
    assert (payout.order_id, str(payout.payment_id)) == ("E-1", created["pg_payment_id"])
    assert payout.state is PayoutState.SUCCESS
    assert payout.card_hash == "440564******6150"
    assert payout.extra == {"shop": "kz"}
    assert payout.script == "payouts"
    [delivery] = freedompay_emulator.notifications
    assert (delivery.attempt, delivery.status) == (1, 200)


async def test_a_failing_handler_gets_the_notification_again(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    shop: Shop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop.failures = 2
    post_link = shop.url("/freedompay/payouts")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        await freedompay_client.request("g2g/p2p2nonreg", card_payout("E-2", post_link))
        await freedompay_emulator.wait_notifications()
    assert [d.status for d in freedompay_emulator.notifications] == [500, 500, 200]
    assert len(shop.seen) == 3  # once per delivery, each verified
    assert all(n.verified and n.order_id == "E-2" for n in shop.seen)
    assert len({n.fields["pg_salt"] for n in shop.seen}) == 3
    failures = [r for r in caplog.records if r.name == LOGGER]
    assert len(failures) == 2
    assert all(r.levelno == logging.ERROR and r.exc_info for r in failures)
    assert "HTTP 500" in failures[0].getMessage()


async def test_settled_payouts_notify_their_outcome(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, shop: Shop
) -> None:
    post_link = shop.url("/freedompay/payouts")
    freedompay_emulator.rules.add(Rule.process(polls=1, order_id="E-3"))
    await freedompay_client.request("g2g/p2p2nonreg", card_payout("E-3", post_link))
    await freedompay_client.request(  # process -> error 10001 after a status poll
        "g2g/p2p2nonreg", card_payout("E-4", post_link, card="4532676596620704")
    )
    for order_id in ("E-3", "E-4"):
        await freedompay_client.request("g2g/payout_status2", {"pg_order_id": order_id})
    await freedompay_emulator.wait_notifications()
    states = {n.order_id: n for n in shop.seen if isinstance(n, PayoutNotification)}
    assert states["E-3"].state is PayoutState.SUCCESS
    assert states["E-4"].state is PayoutState.ERROR
    assert states["E-4"].error_code == 10001
    assert len(shop.seen) == 2


# -- payments: notifications signed here with the documented field sets ---------------------


async def test_result_and_check_over_http(shop: Shop) -> None:
    for transport in ("form", "multipart", "pg_xml", "query"):
        url = shop.url("/freedompay/result", "lang=ru")
        request = deliver(transport, url, notification(url, RESULT, PAYMENT_KEY))
        if transport == "query":
            async with aiohttp.ClientSession() as session, session.get(request[0]) as answer:
                status, body = answer.status, await answer.read()
        else:
            status, body = await _post(*request)
        assert status == 200, transport
        assert signing.verify_xml("result", body, PAYMENT_KEY)
    assert [n.payment_id for n in shop.seen] == [1234567] * 4

    check_url = shop.url("/freedompay/check")
    check = {k: v for k, v in RESULT.items() if k not in ("pg_result", "pg_can_reject")}
    shop.answer = CallbackAnswer.rejected("Out of stock")
    status, body = await _post(check_url, *deliver("form", check_url, [])[1:])
    assert status == 403  # unsigned
    form = deliver("form", check_url, notification(check_url, check, PAYMENT_KEY))
    status, body = await _post(*form)
    assert status == 200
    assert signing.verify_xml("check", body, PAYMENT_KEY)
    assert b"<pg_status>rejected</pg_status>" in body


async def test_rejecting_what_cannot_be_rejected_is_a_handler_failure(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    shop.answer = CallbackAnswer.rejected("too late")
    url = shop.url("/freedompay/result")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        status, body = await _post(*deliver("form", url, notification(url, RESULT, PAYMENT_KEY)))
    assert (status, body) == (500, b"callback handler failed\n")
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.exc_info is not None
    assert record.exc_info[0] is RejectionNotAllowed


async def test_script_override_behind_a_rewriting_proxy(shop: Shop) -> None:
    public = "https://shop.example/freedompay/result"
    pairs = notification(public, RESULT, PAYMENT_KEY)
    status, body = await _post(shop.url("/internal/rewritten"), *deliver("form", public, pairs)[1:])
    assert status == 200
    assert signing.verify_xml("result", body, PAYMENT_KEY)


# -- refusals --------------------------------------------------------------------------------


async def _refused(
    shop: Shop,
    caplog: pytest.LogCaptureFixture,
    send: Callable[[], Awaitable[tuple[int, bytes]]],
) -> tuple[int, bytes, str]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        status, body = await send()
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].exc_info is None
    assert shop.seen == []
    return status, body, records[0].getMessage()


async def test_bad_signature_is_403_with_one_clean_warning(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    url = shop.url("/freedompay/result")
    forged = notification(url, {**RESULT, "pg_description": f"card {PAN}"}, "guessed-key")
    sig = dict(forged)["pg_sig"]
    status, body, line = await _refused(shop, caplog, lambda: _post(*deliver("form", url, forged)))
    assert (status, body) == (403, b"bad signature\n")
    for secret in (PAYMENT_KEY, PAYOUT_KEY, "guessed-key", sig, PAN):
        assert secret not in line
    assert "result callback" in line
    assert "'order-7'" in line
    # A payment key on the payout URL (or the other way round) is refused the same way.
    payout_url = shop.url("/freedompay/payouts")
    wrong_key = notification(payout_url, {"pg_payment_id": "1"}, PAYMENT_KEY)
    status, _, _ = await _refused(
        shop, caplog, lambda: _post(*deliver("form", payout_url, wrong_key))
    )
    assert status == 403


async def test_malformed_is_400_and_other_methods_405(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    url = shop.url("/freedompay/result")
    status, body, line = await _refused(shop, caplog, lambda: _post(url, b"{}", "application/json"))
    assert (status, body) == (400, b"malformed callback\n")
    assert "content type" in line
    bomb = '<!DOCTYPE r [<!ENTITY a "a">]><request><x>&a;</x></request>'
    status, _, _ = await _refused(shop, caplog, lambda: _post(url, bomb.encode(), "text/xml"))
    assert status == 400
    async with aiohttp.ClientSession() as session, session.put(url, data=b"x") as answer:
        assert answer.status == 405
        assert answer.headers["Allow"] == "GET, POST"


async def test_oversized_body_is_refused_by_aiohttp(shop: Shop) -> None:
    url, body = shop.url("/freedompay/result"), io.BytesIO(b"a" * (2 << 20))
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": FORM}) as answer,
    ):
        assert answer.status == 413
    assert shop.seen == []


def test_callback_url_helper_keeps_the_script() -> None:
    assert urlsplit(callback_url("result.php", "a=1")).path.endswith("/result.php")


async def test_emulator_payment_check_and_result_reach_the_handlers_verified(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, shop: Shop
) -> None:
    page = await freedompay_client.payments.create(
        order_id="E-P1",
        amount="500.00",
        description="Kettle",
        check_url=shop.url("/freedompay/check"),
        result_url=shop.url("/freedompay/result", "shop=7"),
        merchant_fields={"basket": "B-42"},
    )
    await freedompay_emulator.pay(page.payment_id)
    await freedompay_emulator.wait_notifications()
    check, result = shop.seen
    assert isinstance(check, CheckRequest)
    assert check.payment_id == page.payment_id
    assert check.extra["basket"] == "B-42"
    assert isinstance(result, ResultNotification)
    assert result.verified
    assert result.succeeded
    assert result.order_id == "E-P1"
    assert result.extra["shop"] == "7"  # the query string of the merchant's own URL is signed
    assert result.can_reject  # a check URL was used, so the result may be rejected
    assert all(d.status == 200 for d in freedompay_emulator.notifications)
    status = await freedompay_client.payments.status(page.payment_id)
    assert status.state.value == "success"


async def test_rejected_check_keeps_the_money(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, shop: Shop
) -> None:
    shop.answer = CallbackAnswer.rejected("Out of stock")
    page = await freedompay_client.payments.create(
        order_id="E-P2",
        amount="500.00",
        description="Kettle",
        check_url=shop.url("/freedompay/check"),
        result_url=shop.url("/freedompay/result"),
    )
    await freedompay_emulator.pay(page.payment_id)
    await freedompay_emulator.wait_notifications()
    assert isinstance(shop.seen[0], CheckRequest)
    status = await freedompay_client.payments.status(page.payment_id)
    assert status.state.value == "error"
    assert status.captured is not True
    results = [c for c in shop.seen if isinstance(c, ResultNotification)]
    assert [r.succeeded for r in results] == [False]
