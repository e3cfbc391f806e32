"""Waiting for payouts: one shared clock, notifications end a wait at once, steep backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiohttp import web

from freedompay_async import (
    FreedomPayClient,
    PayoutDeclined,
    PayoutNotification,
    PayoutPolicy,
    PayoutState,
)
from freedompay_async.callbacks import CallbackAnswer, parse_callback_unverified
from freedompay_async.callbacks.aiohttp import callback_handler
from freedompay_async.payouts import _wait_delay
from freedompay_async.testing import Emulator, Rule

pytestmark = pytest.mark.anyio

PAYMENT_KEY = "emulator-payment-key"
PAYOUT_KEY = "emulator-payout-key"


@pytest.fixture
async def notified_url(freedompay_client: FreedomPayClient) -> AsyncIterator[str]:
    """A merchant app whose payout notification handler feeds ``client.payouts.notify``."""

    async def on_payout(notification: PayoutNotification) -> CallbackAnswer:
        freedompay_client.payouts.notify(notification)
        return CallbackAnswer.ok()

    app = web.Application()
    handler = callback_handler(
        PayoutNotification, on_payout, secret_key=PAYMENT_KEY, payout_secret_key=PAYOUT_KEY
    )
    app.router.add_post("/payouts/notify", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/payouts/notify"
    await runner.cleanup()


async def _pay(client: FreedomPayClient, order_id: str, post_link: str) -> object:
    return await client.payouts.to_card(
        order_id=order_id,
        amount=Decimal("10.00"),
        card_number="4405645000006150",
        description="reward",
        post_link=post_link,
    )


@pytest.mark.parametrize("then", ["ok", "error"])
async def test_the_notification_ends_the_wait_before_any_poll(
    freedompay_emulator: Emulator,
    freedompay_client: FreedomPayClient,
    notified_url: str,
    then: str,
) -> None:
    # The first poll would come after 22-30 s; the payout settles (and notifies) after 0.3 s.
    freedompay_client.payouts.policy = PayoutPolicy(poll_initial=30, wait_deadline=60)
    freedompay_emulator.rules.add(
        Rule.process(order_id="NW-1", polls=None, seconds=0.3, then=then, error_code=10001)  # type: ignore[arg-type]
    )
    started = time.monotonic()
    if then == "ok":
        payout = await _pay(freedompay_client, "NW-1", notified_url)
        assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]
        assert payout.payment_id == freedompay_emulator.payouts["NW-1"].payment_id  # type: ignore[attr-defined]
    else:
        with pytest.raises(PayoutDeclined) as declined:
            await _pay(freedompay_client, "NW-1", notified_url)
        assert declined.value.code == 10001
        assert declined.value.payment_id == freedompay_emulator.payouts["NW-1"].payment_id
    assert time.monotonic() - started < 15
    assert freedompay_emulator.created_count("NW-1") == 1


async def test_unverified_or_foreign_notifications_are_ignored(
    freedompay_emulator: Emulator, freedompay_client: FreedomPayClient
) -> None:
    freedompay_client.payouts.policy = PayoutPolicy(
        poll_initial=0.05, poll_max=0.1, wait_deadline=30
    )
    freedompay_emulator.rules.add(Rule.process(order_id="NW-2", polls=3))
    body = b"pg_order_id=NW-2&pg_payment_id=1&pg_status=error&pg_merchant_id=552893&pg_sig=x"
    forged = parse_callback_unverified(PayoutNotification, "http://shop/notify", body)
    waiting = asyncio.ensure_future(_pay(freedompay_client, "NW-2", "http://127.0.0.1:9/n"))
    await asyncio.sleep(0.05)
    assert not freedompay_client.payouts.notify(forged)
    payout = await waiting  # the forged "error" did not end it: the status polls did
    assert payout.state is PayoutState.SUCCESS  # type: ignore[attr-defined]


def test_waits_back_off_to_minutes_within_the_docs_minimum() -> None:
    policy = PayoutPolicy()
    delays = [_wait_delay(policy, polls) for polls in range(8)]
    assert all(delay >= 1.5 for delay in delays)  # the docs: 1.5-2 s between calls at least
    assert delays[0] <= 2
    assert all(delay >= 135 for delay in delays[3:])  # minutes once it stays process
    assert max(delays) <= policy.poll_max
