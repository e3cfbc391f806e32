"""``FreedomPayClient``: configuration, the aiohttp session it owns (or borrows), ``request()``."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, Literal, TypeAlias

import aiohttp
import attrs
from aiohttp import ClientMiddlewareType
from yarl import URL

from ._convert import REGION_TIMEZONES
from ._endpoints import Endpoint, KeyKind, endpoint_for_path, merchant_template
from ._requestor import Requestor
from ._secret import _Secret
from ._telemetry import Recorder, bind_unobserved
from ._wire import MAX_BODY_BYTES, Params
from .cards import Cards, PayoutCardStorage
from .errors import ClientClosed, ConfigurationError
from .mobile import Mobile
from .models import GatewayResponse, PageAnswer
from .payments import Payments
from .payouts import PayoutPolicy, Payouts
from .retry import RetryPolicy
from .telemetry import Telemetry
from .tokens import Tokens

__all__ = ["DEFAULT_TIMEOUT", "HOSTS", "Environment", "FreedomPayClient", "Region"]

Region: TypeAlias = Literal["kz", "uz", "kg"]
Environment: TypeAlias = Literal["production", "test"]

#: Gateway hosts per country (shared/api/payouts.md 1.1). Uzbekistan publishes no test host.
HOSTS: dict[tuple[Region, Environment], str] = {
    ("kz", "production"): "https://api.freedompay.kz",
    ("uz", "production"): "https://api.freedompay.uz",
    ("kg", "production"): "https://api.freedompay.kg",
    ("kz", "test"): "https://test-api.freedompay.kz",
    ("kg", "test"): "https://test-api.freedompay.kg",
}

#: Connect (incl. waiting for a pooled connection) 10 s, whole attempt 90 s. No separate read
#: timer: ``total`` already bounds every attempt, and aiohttp would re-arm a read timer on
#: every chunk received (a timeout after sending is an unknown outcome either way).
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=90, connect=10)


def _check_secret(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string")
    return value


class FreedomPayClient:
    """Async client for one FreedomPay merchant.

    Use it as an async context manager; it owns one ``aiohttp.ClientSession`` (or borrows
    ``session=`` and leaves it open)::

        async with FreedomPayClient("552893", secret_key, payout_secret_key=payout_key) as fp:
            answer = await fp.request("g2g/balance_status", {"pg_currency": "KZT"})

    ``secret_key`` signs payment endpoints, ``payout_secret_key`` payout endpoints (if only one
    is given it signs both). ``region``/``environment`` pick the documented host; ``base_url``
    overrides it (an emulator, a proxy). ``retry`` bounds re-sending of requests that certainly
    did not reach the gateway (and of reads). ``middlewares`` are extra aiohttp client
    middlewares run around the signing one (tracing, metrics). ``payout_policy`` sets how
    patiently payouts are polled and reconciled; ``payout_card_storage`` which of the published
    variants saving a card for payouts uses (:class:`~freedompay_async.cards.PayoutCardStorage`);
    ``telemetry`` what goes to OpenTelemetry (:class:`~freedompay_async.telemetry.Telemetry`).
    """

    def __init__(
        self,
        merchant_id: str | int,
        secret_key: str,
        *,
        payout_secret_key: str | None = None,
        region: Region = "kz",
        environment: Environment = "production",
        base_url: str | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        connection_limit: int = 100,
        middlewares: Sequence[ClientMiddlewareType] = (),
        verify_responses: bool = True,
        max_response_bytes: int = MAX_BODY_BYTES,
        payout_policy: PayoutPolicy | None = None,
        payout_card_storage: PayoutCardStorage = PayoutCardStorage.DOCUMENTED,
        telemetry: Telemetry | None = None,
    ) -> None:
        merchant = str(merchant_id)
        if isinstance(merchant_id, bool) or not merchant.isdigit():
            raise ConfigurationError("merchant_id must be the numeric merchant id")
        payment_key = _check_secret("secret_key", secret_key)
        payout_key = (
            payment_key
            if payout_secret_key is None
            else _check_secret("payout_secret_key", payout_secret_key)
        )
        if region not in REGION_TIMEZONES:
            raise ConfigurationError(f"region must be one of {', '.join(REGION_TIMEZONES)}")
        #: The zone of the gateway's local times (naive answer times, ``pg_order_time_limit``).
        self.timezone = REGION_TIMEZONES[region]
        if base_url is None:
            try:
                base_url = HOSTS[region, environment]
            except KeyError:
                raise ConfigurationError(
                    f"no documented {environment} host for region {region!r}; pass base_url="
                ) from None
        url = URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError("base_url must be an absolute http(s) URL")
        if connection_limit < 1:
            raise ConfigurationError("connection_limit must be at least 1")
        self.merchant_id = merchant
        self.base_url = str(url)
        self._keys: dict[KeyKind, _Secret] = {
            "payment": _Secret(payment_key),
            "payout": _Secret(payout_key),
        }
        self._telemetry = Recorder(telemetry if telemetry is not None else Telemetry(), url)
        self._requestor = Requestor(
            merchant_id=merchant,
            keys={kind: secret.reveal() for kind, secret in self._keys.items()},
            base_url=url,
            timeout=timeout,
            retry=retry if retry is not None else RetryPolicy(),
            verify_responses=verify_responses,
            max_response_bytes=max_response_bytes,
            middlewares=middlewares,
            max_in_flight=connection_limit,
            timezone=self.timezone,
            telemetry=self._telemetry,
        )
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._connection_limit = connection_limit
        #: Payouts: ``to_card``, ``to_token``, ``to_iban``, ``page``, ``status``, ``wait``...
        self.payouts = Payouts(self, payout_policy)
        #: Payments: ``create``, ``status``, ``wait``, ``cancel``, ``capture``, ``refund``...
        self.payments = Payments(self)
        #: Gateway API charges: ``pay`` (saved-card token), ``apple_pay``, ``google_pay``.
        self.tokens = Tokens(self)
        #: Saved cards: ``add``, ``list``, ``remove``, ``create_payment``, ``charge``...
        self.cards = Cards(self, self.payments, payout_card_storage)
        #: Mobile balance: ``init``, ``pay``, ``approve``, ``resend_code``, ``status``.
        self.mobile = Mobile(self, self.payments)
        if not self._telemetry.on:
            for facade in (self.payouts, self.payments, self.tokens, self.cards, self.mobile):
                bind_unobserved(facade)

    def __repr__(self) -> str:
        return f"FreedomPayClient(merchant_id={self.merchant_id!r}, base_url={self.base_url!r})"

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called; a closed client makes no more requests."""
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session in use (created on first use when the client owns it).

        Raises :class:`~freedompay_async.errors.ClientClosed` once the client is closed: it
        never opens a new session that nobody would close.
        """
        if self._closed:
            raise ClientClosed(f"{self!r} is closed: make a new client")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._connection_limit,
                limit_per_host=0,
                ttl_dns_cache=300,
                # Shorter than common server idle timeouts: a request written on a connection
                # the server is closing has an unknown outcome, which for payouts is costly.
                keepalive_timeout=15,
            )
            self._session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
        return self._session

    async def __aenter__(self) -> FreedomPayClient:
        _ = self.session
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it (a borrowed session stays open); the
        client then refuses every request with :class:`~freedompay_async.errors.ClientClosed`.
        Closing twice is harmless."""
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def request(
        self,
        path: str,
        params: Params | None = None,
        *,
        key: KeyKind | None = None,
        idempotency_key: str | None = None,
    ) -> GatewayResponse:
        """Call any gateway script and return its decoded, verified answer.

        ``path`` is relative to the host (``"g2g/payout_status2"``, ``"init_payment.php"``,
        ``"v1/merchant/{merchant_id}/card/pay"``). Documented paths use the key, idempotency and
        retry rules of the endpoint table; for other paths ``key`` defaults to ``"payment"`` and
        the call is treated as moving money (an ambiguous outcome is never re-sent).
        ``pg_merchant_id``, ``pg_salt``, ``pg_sig`` (and ``pg_idempotency_key`` where the endpoint
        takes one) are added by the client.

        Raises :class:`~freedompay_async.errors.GatewayError` (by code) for ``pg_status=error``,
        :class:`~freedompay_async.errors.RequestNotSent`,
        :class:`~freedompay_async.errors.OutcomeUnknown` and
        :class:`~freedompay_async.errors.ProtocolError` subclasses for failed exchanges.
        """
        template, merchant_id = merchant_template(path)
        relative = template if merchant_id == self.merchant_id else path.lstrip("/")
        endpoint = endpoint_for_path(relative)
        if endpoint is None:
            endpoint = Endpoint(
                relative,
                relative,
                key or "payment",
                moves_money=True,
                idempotency=idempotency_key is not None,
            )
        elif key is not None and key != endpoint.key:
            endpoint = attrs.evolve(endpoint, key=key)
        return await self.call(endpoint, params or {}, idempotency_key=idempotency_key)

    def call(
        self, endpoint: Endpoint, params: Params, *, idempotency_key: str | None = None
    ) -> Coroutine[Any, Any, GatewayResponse]:
        """Call a declared endpoint (what the typed facades build on; await it).

        A plain function returning the requestor's coroutine: one frame less per call in
        flight. Invalid parameters raise here, before anything is sent.
        """
        prepared = self._requestor.prepare(endpoint, params, idempotency_key=idempotency_key)
        return self._requestor.send(self.session, prepared)

    def call_page(self, endpoint: Endpoint, params: Params) -> Coroutine[Any, Any, PageAnswer]:
        """Call a declared endpoint that answers with a page for the payer's browser."""
        prepared = self._requestor.prepare(endpoint, params)
        return self._requestor.send_page(self.session, prepared)
