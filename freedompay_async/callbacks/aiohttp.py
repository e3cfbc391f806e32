"""Gateway callbacks in an aiohttp.web application.

::

    from aiohttp import web
    from freedompay_async.callbacks import CallbackAnswer, ResultNotification
    from freedompay_async.callbacks.aiohttp import callback_handler

    async def on_result(result: ResultNotification) -> CallbackAnswer:
        ...  # record it idempotently (by payment id), then
        return CallbackAnswer.ok()

    app = web.Application()
    app.router.add_post(
        "/freedompay/result",
        callback_handler(ResultNotification, on_result, secret_key=PAYMENT_KEY),
    )

HTTP statuses and logging are those of :class:`~freedompay_async.callbacks.CallbackEndpoint`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import hdrs, web

from ._answer import CallbackAnswer
from ._endpoint import CallbackEndpoint
from ._endpoint import logger as default_logger
from ._models import GatewayCallback

__all__ = ["callback_handler"]

C = TypeVar("C", bound=GatewayCallback)


def callback_handler(
    kind: type[C],
    handler: Callable[[C], Awaitable[CallbackAnswer]],
    *,
    secret_key: str,
    payout_secret_key: str | None = None,
    script: str | None = None,
    logger: logging.Logger = default_logger,
    region: str = "kz",
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp.web handler for one callback URL (register it for POST, and GET if you chose
    ``pg_request_method=GET``).

    ``handler`` receives each verified callback of ``kind`` and returns the answer. The script
    name is the last segment of the requested path (``script=`` overrides it behind a proxy
    that rewrites paths); the key is ``secret_key``, or ``payout_secret_key`` when given for
    payout notifications; ``region`` (``kz``, ``uz``, ``kg``) is the gateway whose local
    time naive dates are in, as the client's. Bodies over the application's
    ``client_max_size`` get HTTP 413 from aiohttp itself.
    """
    endpoint = CallbackEndpoint(
        kind,
        handler,
        secret_key=secret_key,
        payout_secret_key=payout_secret_key,
        script=script,
        logger=logger,
        region=region,
    )

    async def freedompay_callback(request: web.Request) -> web.Response:
        body = await request.read() if request.body_exists else b""
        reply = await endpoint.respond(
            request.method,
            request.raw_path,
            body,
            request.headers.get(hdrs.CONTENT_TYPE),
            peer=request.remote,
        )
        headers = {hdrs.CONTENT_TYPE: reply.content_type, **dict(reply.headers)}
        return web.Response(status=reply.status, body=reply.body, headers=headers)

    return freedompay_callback
