"""One callback URL, independent of any web framework: request in, HTTP reply out.

The aiohttp.web and ASGI helpers are thin adapters over :class:`CallbackEndpoint`; use it
directly to serve callbacks from another framework.

HTTP statuses (the gateway re-sends a callback that did not get HTTP 200):

* 200 - verified and answered: the signed XML answer your handler chose;
* 400 - not a readable callback (:class:`~freedompay_async.errors.MalformedCallback`);
* 403 - missing or wrong signature (:class:`~freedompay_async.errors.CallbackSignatureError`);
* 405 - a method other than GET or POST;
* 500 - your handler raised, or returned something that cannot be sent (a ``rejected`` answer
  where rejecting is not allowed): the gateway will try again later.

Refusals are logged as one WARNING line (no values, keys, signatures or card numbers); handler
failures at ERROR with the traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import attrs

from .._masking import mask_card_numbers
from .._secret import _Secret
from ..errors import CallbackError, CallbackSignatureError
from ._answer import CallbackAnswer
from ._models import GatewayCallback, parse_callback, region_zone, secret_for

__all__ = ["CallbackEndpoint", "CallbackReply", "logger"]

#: The library's callback logger (a child of ``freedompay_async``).
logger = logging.getLogger("freedompay_async.callbacks")

C = TypeVar("C", bound=GatewayCallback)

_TEXT = "text/plain; charset=utf-8"
_XML = "application/xml; charset=utf-8"


@attrs.frozen(slots=True)
class CallbackReply:
    """The HTTP reply to send: status, body, ``Content-Type`` and any other headers."""

    status: int
    body: bytes
    content_type: str = _TEXT
    headers: tuple[tuple[str, str], ...] = ()


def _shown(pairs: tuple[tuple[str, str], ...], name: str) -> str:
    """A field's value for a log line: first occurrence, short, masked, quoted."""
    value = next((value for key, value in pairs if key == name), None)
    return "-" if value is None else repr(mask_card_numbers(value[:40]))


class CallbackEndpoint(Generic[C]):
    """Verifies one kind of callback, calls ``handler`` and renders its answer.

    ``handler`` is a coroutine function taking the verified callback and returning a
    :class:`CallbackAnswer`. Keys and ``script`` are as in
    :func:`~freedompay_async.callbacks.parse_callback`.
    """

    def __init__(
        self,
        kind: type[C],
        handler: Callable[[C], Awaitable[CallbackAnswer]],
        *,
        secret_key: str,
        payout_secret_key: str | None = None,
        script: str | None = None,
        logger: logging.Logger = logger,
        region: str = "kz",
    ) -> None:
        region_zone(region)  # an unknown region fails here, not on the first callback
        self.kind = kind
        self.handler = handler
        self.script = script
        self.region = region
        self.logger = logger
        self._key = _Secret(secret_for(kind, secret_key, payout_secret_key))

    def __repr__(self) -> str:
        return f"CallbackEndpoint({self.kind.__name__}, {self.handler!r})"

    async def respond(
        self,
        method: str,
        url: str,
        body: bytes,
        content_type: str | None,
        *,
        peer: str | None = None,
    ) -> CallbackReply:
        """The reply to one request: ``url`` as requested (path and query string), the raw
        ``body`` and its ``Content-Type``; ``peer`` (the client address) is only logged."""
        if method not in ("GET", "POST"):
            return CallbackReply(405, b"method not allowed\n", headers=(("Allow", "GET, POST"),))
        try:
            callback = parse_callback(
                self.kind,
                url,
                body,
                content_type,
                secret_key=self._key.reveal(),
                script=self.script,
                region=self.region,
            )
        except CallbackError as exc:
            return self._refused(exc, peer)
        try:
            answer = await self.handler(callback)
            if not isinstance(answer, CallbackAnswer):
                raise TypeError(
                    f"the callback handler returned {type(answer).__name__}, not CallbackAnswer"
                )
            xml = answer.render(callback, secret_key=self._key.reveal())
        except Exception:
            self.logger.exception(
                "FreedomPay %s callback handler failed, answered HTTP 500 so the gateway "
                "re-sends (order %s, payment %s)",
                self.kind.kind,
                _shown_value(callback.order_id),
                callback.payment_id,
            )
            return CallbackReply(500, b"callback handler failed\n")
        self.logger.debug(
            "FreedomPay %s callback answered %s (order %s, payment %s)",
            self.kind.kind,
            answer.status.value,
            _shown_value(callback.order_id),
            callback.payment_id,
        )
        return CallbackReply(200, xml, _XML)

    def _refused(self, exc: CallbackError, peer: str | None) -> CallbackReply:
        if isinstance(exc, CallbackSignatureError):
            status, body = 403, b"bad signature\n"
        else:
            status, body = 400, b"malformed callback\n"
        self.logger.warning(
            "FreedomPay %s callback refused with HTTP %d from %s: %s (order %s, payment %s)",
            self.kind.kind,
            status,
            peer or "-",
            exc,
            _shown(exc.fields, "pg_order_id"),
            _shown(exc.fields, "pg_payment_id"),
        )
        return CallbackReply(status, body)


def _shown_value(value: str | None) -> str:
    return "-" if value is None else repr(mask_card_numbers(value[:40]))
