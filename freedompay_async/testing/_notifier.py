"""Callbacks to the merchant: notifications re-sent until HTTP 200, and the one-shot Check.

Notifications (payout notify, payment Result, card-save result) run as background tasks so
request handling never waits on the merchant's server. The real gateway re-sends every 30
minutes for about 2 hours (:data:`GATEWAY_RETRY_DELAYS`); tests use a short schedule. The
Check request (:meth:`Notifier.ask`) is sent once and its answer read. Every attempt is
recorded as a :class:`Delivery`. Each send names the secret key that signs it: the payout
key for payout notifications, the payment key for payment callbacks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import attrs

from .._wire import encode_form, parse_form
from ..signing import new_salt, script_name, sign

__all__ = ["GATEWAY_RETRY_DELAYS", "TEST_RETRY_DELAYS", "Delivery", "DeliveryKind", "Notifier"]

#: The gateway's documented re-send schedule for callbacks (seconds after each failed attempt).
GATEWAY_RETRY_DELAYS: tuple[float, ...] = (1800.0, 1800.0, 1800.0, 1800.0)
#: The emulator's default: the same number of re-sends, fast enough for a test suite.
TEST_RETRY_DELAYS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}

#: What a delivery carries: a payout notification, a payment's Check request or Result
#: notification, or the result of saving a card.
DeliveryKind: TypeAlias = Literal["payout", "check", "result", "card_save"]


@attrs.frozen(slots=True)
class Delivery:
    """One attempt to deliver a notification: what was sent and what came back.

    ``status`` is the merchant's HTTP status, ``None`` when no answer arrived (``error`` says
    why). ``fields`` are the body fields, ``pg_salt`` and ``pg_sig`` included.
    """

    url: str
    order_id: str
    attempt: int
    fields: Mapping[str, str]
    status: int | None
    error: str | None = None
    kind: DeliveryKind = "payout"

    @property
    def delivered(self) -> bool:
        """Whether the merchant accepted this attempt (HTTP 200)."""
        return self.status == 200


def signed_body(url: str, fields: Mapping[str, str], secret_key: str) -> dict[str, str]:
    """``fields`` plus ``pg_salt`` and ``pg_sig`` for ``url``.

    The signature covers the query parameters already in the URL too (they arrive as fields),
    with the URL's last path segment as script name (``shared/API-NOTES.md`` section 4).
    """
    body = {**fields, "pg_salt": new_salt()}
    received = [*parse_qsl(urlsplit(url).query, keep_blank_values=True), *body.items()]
    body["pg_sig"] = sign(script_name(url), parse_form(received), secret_key)
    return body


class Notifier:
    """Delivers signed callbacks; owns an aiohttp session while open."""

    def __init__(self, retry_delays: Sequence[float], timeout: float) -> None:
        self._delays = tuple(retry_delays)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries: list[Delivery] = []

    async def start(self) -> None:
        """Open the HTTP session (called when the application starts)."""
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        """Abandon pending re-sends and close the session."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def send(
        self,
        url: str,
        order_id: str,
        fields: Mapping[str, str],
        key: str,
        kind: DeliveryKind = "payout",
    ) -> None:
        """Start delivering ``fields`` to ``url``, signed with ``key``, without waiting for it."""
        task = asyncio.get_running_loop().create_task(
            self._deliver(url, order_id, fields, key, kind)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def ask(
        self, url: str, order_id: str, fields: Mapping[str, str], key: str
    ) -> tuple[Delivery, bytes | None]:
        """POST a Check request once; the delivery record and the answer body (if any)."""
        record, body = await self._post(url, order_id, 1, signed_body(url, fields, key), "check")
        self.deliveries.append(record)
        return record, body

    async def wait(self, timeout: float = 5.0) -> None:
        """Wait until every notification is delivered or out of re-sends (tests use this)."""
        await asyncio.wait_for(self._drain(), timeout)

    async def _drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(
        self, url: str, order_id: str, fields: Mapping[str, str], key: str, kind: DeliveryKind
    ) -> None:
        for attempt, delay in enumerate((*self._delays, None), 1):
            record, _ = await self._post(
                url, order_id, attempt, signed_body(url, fields, key), kind
            )
            self.deliveries.append(record)
            if record.delivered or delay is None:
                return
            await asyncio.sleep(delay)

    async def _post(
        self, url: str, order_id: str, attempt: int, body: dict[str, str], kind: DeliveryKind
    ) -> tuple[Delivery, bytes | None]:
        assert self._session is not None, "notifier used before the application started"
        try:
            async with self._session.post(
                url, data=encode_form(body.items()), headers=_FORM
            ) as answer:
                content = await answer.read()
                return Delivery(url, order_id, attempt, body, answer.status, kind=kind), content
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return Delivery(url, order_id, attempt, body, None, type(exc).__name__, kind), None
