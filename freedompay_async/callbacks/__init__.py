"""Callbacks from the gateway: verify them, read them typed, answer them signed.

The gateway calls the merchant's URLs: a check request before taking money
(:class:`CheckRequest`, ``pg_check_url``), a result notification after a payment
(:class:`ResultNotification`, ``pg_result_url``), a payout notification
(:class:`PayoutNotification`, ``pg_post_link``) and a card-saved notification
(:class:`CardSavedNotification`). :func:`parse_callback` decodes and verifies one request
(pure, no I/O); :class:`CallbackAnswer` renders the signed XML answer. Web helpers:
:func:`freedompay_async.callbacks.aiohttp.callback_handler` (aiohttp.web),
:func:`freedompay_async.callbacks.asgi.callback_app` (ASGI: Starlette, FastAPI, ...) and, for any
other framework, :class:`CallbackEndpoint`.

Keys: payment callbacks (check, result, card saved) are signed with the payment key
(``secret_key``), payout notifications with the payout key (``payout_secret_key``; when it is
not given, ``secret_key`` is used for both - as in the client).
"""

from __future__ import annotations

from ._answer import AnswerStatus, CallbackAnswer
from ._endpoint import CallbackEndpoint, CallbackReply
from ._models import (
    CallbackFields,
    CardSavedNotification,
    CardSaveStatus,
    CheckRequest,
    GatewayCallback,
    PaymentResult,
    PayoutNotification,
    ResultNotification,
    parse_callback,
    parse_callback_unverified,
    verify_fields,
)
from ._transport import received_fields

__all__ = [
    "AnswerStatus",
    "CallbackAnswer",
    "CallbackEndpoint",
    "CallbackFields",
    "CallbackReply",
    "CardSaveStatus",
    "CardSavedNotification",
    "CheckRequest",
    "GatewayCallback",
    "PaymentResult",
    "PayoutNotification",
    "ResultNotification",
    "parse_callback",
    "parse_callback_unverified",
    "received_fields",
    "verify_fields",
]
