"""Payout notifications: signed like the gateway's, re-sent on non-200, never blocking."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import attrs
import pytest
from aiohttp import web

from freedompay_async import FreedomPayClient
from freedompay_async._wire import parse_form
from freedompay_async.signing import verify
from freedompay_async.testing import Emulator, Rule

pytestmark = pytest.mark.anyio

PAYOUT_KEY = "emulator-payout-key"


@attrs.define
class Merchant:
    """A merchant's callback endpoint that answers with programmed statuses."""

    url: str = ""
    statuses: list[int] = attrs.field(factory=list)
    delay: float = 0.0
    received: list[list[tuple[str, str]]] = attrs.field(factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        pairs = parse_qsl(request.query_string) + parse_qsl((await request.read()).decode())
        self.received.append(pairs)
        await asyncio.sleep(self.delay)
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200, text="OK")


@pytest.fixture
async def merchant() -> AsyncIterator[Merchant]:
    sink = Merchant()
    app = web.Application()
    app.router.add_post("/shop/payout-result", sink.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sink.url = f"http://127.0.0.1:{runner.addresses[0][1]}/shop/payout-result?shop=kz"
    yield sink
    await runner.cleanup()


def card_payout(order_id: str, post_link: str, card: str = "4405645000006150") -> dict[str, str]:
    return {
        "pg_order_id": order_id,
        "pg_amount": "10.00",
        "pg_description": "reward",
        "pg_payment_to": card,
        "pg_post_link": post_link,
    }


async def test_notification_is_signed_for_the_merchant_url(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, merchant: Merchant
) -> None:
    created = await freedompay_client.request("g2g/p2p2nonreg", card_payout("N-1", merchant.url))
    await freedompay_emulator.wait_notifications()
    [pairs] = merchant.received
    fields = parse_form(pairs)
    assert fields["shop"] == "kz"  # the URL's own query takes part in the signature
    assert verify("payout-result", fields, PAYOUT_KEY)
    assert not verify("payout-result", fields, "emulator-payment-key")
    assert not verify("p2p2nonreg", fields, PAYOUT_KEY)
    assert fields["pg_status"] == "ok"
    assert fields["pg_payment_id"] == created["pg_payment_id"]
    assert fields["pg_card_hash"] == "440564******6150"
    assert fields["pg_payment_amount"] == "10.00"
    [delivery] = freedompay_emulator.notifications
    assert (delivery.order_id, delivery.attempt, delivery.status) == ("N-1", 1, 200)
    assert delivery.delivered
    assert "4405645000006150" not in str(pairs)


async def test_resent_until_http_200(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, merchant: Merchant
) -> None:
    merchant.statuses = [500, 502]
    await freedompay_client.request("g2g/p2p2nonreg", card_payout("N-2", merchant.url))
    await freedompay_emulator.wait_notifications()
    assert [d.status for d in freedompay_emulator.notifications] == [500, 502, 200]
    assert [d.attempt for d in freedompay_emulator.notifications] == [1, 2, 3]
    assert len(merchant.received) == 3
    salts = {parse_form(pairs)["pg_salt"] for pairs in merchant.received}
    assert len(salts) == 3


async def test_gives_up_after_the_schedule(merchant: Merchant) -> None:
    async with (
        Emulator(
            merchant_id="9", secret_key="k", notify_retry_delays=(0.01, 0.01), notify_timeout=0.5
        ) as emu,
        FreedomPayClient("9", "k", base_url=emu.url) as client,
    ):
        await client.request("g2g/p2p2nonreg", card_payout("N-3", "http://127.0.0.1:9/x"))
        merchant.statuses = [503] * 10
        await client.request("g2g/p2p2nonreg", card_payout("N-4", merchant.url))
        await emu.wait_notifications()
        refused = [d for d in emu.notifications if d.order_id == "N-3"]
        failing = [d for d in emu.notifications if d.order_id == "N-4"]
    assert [(d.status, d.attempt) for d in refused] == [(None, 1), (None, 2), (None, 3)]
    assert all(d.error == "ClientConnectorError" for d in refused)
    assert [d.status for d in failing] == [503, 503, 503]


async def test_sent_when_a_process_payout_settles_with_its_error(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, merchant: Merchant
) -> None:
    created = await freedompay_client.request(
        "g2g/p2p2nonreg", card_payout("N-5", merchant.url, card="4532676596620704")
    )
    assert created.status == "process"
    await asyncio.sleep(0.05)
    assert freedompay_emulator.notifications == []
    await freedompay_client.request("g2g/payout_status2", {"pg_order_id": "N-5"})
    await freedompay_emulator.wait_notifications()
    [pairs] = merchant.received
    fields = parse_form(pairs)
    assert (fields["pg_status"], fields["pg_error_code"]) == ("error", "10001")
    assert verify("payout-result", fields, PAYOUT_KEY)


async def test_timer_settled_payout_notifies(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, merchant: Merchant
) -> None:
    freedompay_emulator.rules.add(Rule.process(polls=None, seconds=0.1))
    await freedompay_client.request("g2g/p2p2nonreg", card_payout("N-6", merchant.url))
    await asyncio.sleep(0.25)
    await freedompay_emulator.wait_notifications()
    assert [d.order_id for d in freedompay_emulator.notifications] == ["N-6"]
    assert parse_form(merchant.received[0])["pg_status"] == "ok"


async def test_slow_merchant_does_not_block_answers(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient, merchant: Merchant
) -> None:
    merchant.delay = 1.0
    started = time.monotonic()
    await freedompay_client.request("g2g/p2p2nonreg", card_payout("N-7", merchant.url))
    await freedompay_client.request("g2g/payout_status2", {"pg_order_id": "N-7"})
    assert time.monotonic() - started < 0.5
    assert freedompay_emulator.notifications == []  # still in flight; closing abandons it
