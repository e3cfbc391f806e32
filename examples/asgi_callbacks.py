"""FreedomPay callbacks in a Starlette application (FastAPI is the same: it is Starlette).

Serve it with any ASGI server, from this folder, e.g. ``uvicorn asgi_callbacks:app``, and give
the gateway ``https://<your host>/freedompay/check`` as ``pg_check_url``, ``.../result`` as
``pg_result_url`` and ``.../payouts`` as ``pg_post_link``. The keys come from the environment
(``FREEDOMPAY_SECRET_KEY``, ``FREEDOMPAY_PAYOUT_SECRET_KEY``); without them it refuses to start.

The gateway re-sends a callback until it gets HTTP 200 (every 30 minutes for about 2 hours), so
each handler records a payment or payout once, by its payment id, and answers a repeat exactly
as it answered the first delivery. ``Store`` stands in for your database.
"""

from __future__ import annotations

import os
from decimal import Decimal

import attrs
from starlette.applications import Starlette
from starlette.routing import Route

from freedompay_async.callbacks import (
    CallbackAnswer,
    CheckRequest,
    PayoutNotification,
    ResultNotification,
)
from freedompay_async.callbacks.asgi import callback_app


@attrs.define
class Store:
    """Orders awaiting payment, and what the gateway told us (keyed by payment id)."""

    orders: dict[str, Decimal] = attrs.field(factory=dict)  # order id -> amount due
    payments: dict[int, ResultNotification] = attrs.field(factory=dict)
    payouts: dict[int, PayoutNotification] = attrs.field(factory=dict)
    paid_orders: set[str] = attrs.field(factory=set)


def create_app(store: Store, *, secret_key: str, payout_secret_key: str) -> Starlette:
    async def check(request: CheckRequest) -> CallbackAnswer:
        # Before the money is taken: may this payment go ahead?
        due = store.orders.get(request.order_id or "")
        if due is None:
            return CallbackAnswer.rejected("Unknown order")
        if request.amount != due or request.order_id in store.paid_orders:
            return CallbackAnswer.rejected("This order cannot be paid now")
        return CallbackAnswer.ok()

    async def result(notification: ResultNotification) -> CallbackAnswer:
        # Record each payment once (in SQL: INSERT ... ON CONFLICT (payment_id) DO NOTHING).
        if notification.payment_id not in store.payments:
            store.payments[notification.payment_id] = notification
            if notification.succeeded and notification.order_id is not None:
                store.paid_orders.add(notification.order_id)
        return CallbackAnswer.ok()

    async def payout(notification: PayoutNotification) -> CallbackAnswer:
        store.payouts.setdefault(notification.payment_id, notification)
        return CallbackAnswer.ok()

    # Payment callbacks are verified with the payment key, payout notifications with the
    # payout key; each route answers GET and POST (the gateway uses either).
    check_app = callback_app(CheckRequest, check, secret_key=secret_key)
    result_app = callback_app(ResultNotification, result, secret_key=secret_key)
    payout_app = callback_app(
        PayoutNotification, payout, secret_key=secret_key, payout_secret_key=payout_secret_key
    )
    return Starlette(
        routes=[
            Route("/freedompay/check", check_app),
            Route("/freedompay/result", result_app),
            Route("/freedompay/payouts", payout_app),
        ]
    )


def required_key(name: str) -> str:
    """The secret key in the environment variable ``name``; none means no start at all.

    A built-in fallback key would let anyone who read this file forge callbacks.
    """
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"asgi_callbacks: set {name} (the key the gateway signs with)")
    return value


def main_app() -> Starlette:
    """The application ``uvicorn asgi_callbacks:app`` serves."""
    return create_app(
        Store(),
        secret_key=required_key("FREEDOMPAY_SECRET_KEY"),
        payout_secret_key=required_key("FREEDOMPAY_PAYOUT_SECRET_KEY"),
    )


def __getattr__(name: str) -> Starlette:
    # ``app`` is built when the server asks for it, so that importing this module for its
    # handlers (tests) needs no keys while serving it always does.
    if name == "app":
        return main_app()
    raise AttributeError(name)
