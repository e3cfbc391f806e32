"""``Emulator``: the stateful gateway served on a local port, plus the handles tests need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from freedompay_async.client import FreedomPayClient
from freedompay_async.retry import RetryPolicy

from ._app import build_app
from ._faults import FaultPlan, FaultRecord
from ._gateway import Gateway
from ._notifier import TEST_RETRY_DELAYS, Delivery, Notifier
from ._payment_acs import ThreeDSReturn
from ._protocol import EmulatorSettings, PayoutCardSave
from ._rules import RuleBook
from ._state import CardSave, CardToken, GatewayState, Payment, Payout

__all__ = ["Emulator"]


class Emulator:
    """A FreedomPay gateway for tests, served by aiohttp on ``host:port`` (0 = a free port).

    ::

        async with Emulator(merchant_id="552893", secret_key=k, payout_secret_key=pk) as emu:
            async with emu.client() as client: ...
            assert emu.created_count("order-7") == 1

    Configure outcomes with :attr:`rules`, misbehaviour with :attr:`faults`; inspect
    :attr:`payouts`, :attr:`payments`, :attr:`cards`, :attr:`balance`, :attr:`notifications`;
    play the payer with :meth:`pay` and :meth:`complete_card_save`. :attr:`app` is the aiohttp
    application, for use with ``aiohttp.test_utils`` instead of :meth:`start`.
    """

    def __init__(
        self,
        *,
        merchant_id: str | int,
        secret_key: str,
        payout_secret_key: str | None = None,
        balance: Decimal | int | str = Decimal("1000000.00"),
        currency: str = "KZT",
        api_root: str = "root",
        mfs_root: str = "root",
        payout_card_save: PayoutCardSave = "documented",
        notify_retry_delays: Sequence[float] = TEST_RETRY_DELAYS,
        notify_timeout: float = 5.0,
        refuse_duplicate_orders: bool = True,
        region: str = "kz",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.settings = EmulatorSettings(
            merchant_id=str(merchant_id),
            secret_key=secret_key,
            payout_secret_key=payout_secret_key,
            balance=balance,
            currency=currency,
            api_root=api_root,
            mfs_root=mfs_root,
            payout_card_save=payout_card_save,
            notify_retry_delays=notify_retry_delays,
            notify_timeout=notify_timeout,
            refuse_duplicate_orders=refuse_duplicate_orders,
            region=region,
        )
        self.host = host
        self.port = port
        self.state = GatewayState(self.settings.balance)
        self.rules = RuleBook()
        self.faults = FaultPlan()
        self._notifier = Notifier(self.settings.notify_retry_delays, notify_timeout)
        self.gateway = Gateway(self.settings, self.state, self.rules, self._notifier)
        self.app = build_app(self.gateway, self.faults)
        self._runner: web.AppRunner | None = None

    @classmethod
    def from_settings(
        cls, settings: EmulatorSettings, *, host: str = "127.0.0.1", port: int = 0
    ) -> Emulator:
        """An emulator for an account described by ``settings``."""
        return cls(**attrs.asdict(settings, recurse=False), host=host, port=port)

    def __repr__(self) -> str:
        return f"Emulator(merchant_id={self.settings.merchant_id!r}, url={self.url!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve; ``port=0`` picks a free port (see :attr:`url`)."""
        # handler_cancellation: a client that gives up on a held answer frees its handler.
        runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:  # the port is taken: leave nothing open (the notifier's session)
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving, abandon notification re-sends and ``process`` timers."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """Base URL to give the client (``base_url=emulator.url``)."""
        return f"http://{self.host}:{self.port}"

    def client(self, **overrides: Any) -> FreedomPayClient:
        """A client for the emulated merchant: 5 s timeout and one attempt per call unless
        ``overrides`` (any :class:`FreedomPayClient` keyword argument) say otherwise."""
        options: dict[str, Any] = {
            "payout_secret_key": self.settings.payout_secret_key,
            "base_url": self.url,
            "timeout": aiohttp.ClientTimeout(total=5),
            "retry": RetryPolicy(attempts=1),
            "region": self.settings.region,
            **overrides,
        }
        return FreedomPayClient(self.settings.merchant_id, self.settings.secret_key, **options)

    # -- state -------------------------------------------------------------------------------

    @property
    def balance(self) -> Decimal:
        """The merchant's payout balance; payouts reduce it."""
        return self.state.balance

    @balance.setter
    def balance(self, value: Decimal) -> None:
        self.state.balance = value

    @property
    def payouts(self) -> Mapping[str, Payout]:
        """Payouts by ``pg_order_id``."""
        return self.state.payouts

    @property
    def payments(self) -> Mapping[int, Payment]:
        """Payments (acquiring) by payment id, whatever script created them."""
        return self.state.payments

    def payments_for(self, order_id: str) -> Sequence[Payment]:
        """The payments created with ``order_id``, oldest first."""
        return self.state.payments_by_order.get(order_id, [])

    def payment_count(self, order_id: str) -> int:
        """How many payments were created with ``order_id`` (0: none; refused creates are not
        payments, they show in :attr:`Payment.create_requests`)."""
        return len(self.payments_for(order_id))

    async def pay(
        self,
        payment_id: int,
        *,
        card_number: str = "4405645000006150",
        succeed: bool = True,
        error_code: int = 10007,
        error_description: str = "Declined by issuer",
    ) -> Payment:
        """Play the payer completing the payment page of a ``new`` payment.

        With a check URL, the Check request goes first and the merchant's answer decides
        whether money is taken (see :mod:`freedompay_async.testing._payments`). Then the
        payment succeeds with ``card_number`` (one-step: captured; ``pg_auto_clearing=0``:
        held) or, with ``succeed=False``, fails with ``error_code`` / ``error_description``;
        a recurring profile is created if asked for; the Result notification goes to the
        result URL. Card-token payments (``card/init``) use the saved card whatever
        ``card_number`` says; a wallet payment waiting for 3-D Secure completes it. Returns
        the payment; raises ``KeyError`` for an unknown id and ``ValueError`` for a payment
        that is not waiting for the payer. The emulator must be running.
        """
        return await self.gateway.payments.core.pay(
            payment_id,
            card_number=card_number,
            succeed=succeed,
            error_code=error_code,
            error_description=error_description,
        )

    def pass_3ds(self, payment_id: int, *, passed: bool = True) -> ThreeDSReturn:
        """Play the payer on the issuer's 3-D Secure page of a wallet charge or a Gateway API
        card save that answered ``pg_3ds=1``: returns the ``md`` and ``pares`` the page posts
        back to the merchant, for ``client.tokens.complete_3ds`` / ``complete_card_3ds``.
        ``passed=False`` fails the challenge (the completion then declines with 10004).
        Raises ``KeyError`` when ``payment_id`` is not waiting for 3-D Secure.
        """
        return self.gateway.payments.acs.pass_3ds(payment_id, passed=passed)

    @property
    def calls(self) -> Mapping[str, int]:
        """How many requests each path received (faulted ones included), by the path as called:
        Merchant API paths with the merchant id (``v1/merchant/552893/card/direct``)."""
        return self.state.calls

    def created_count(self, order_id: str) -> int:
        """Create requests for ``order_id`` that reached processing (0: never created).

        1 means created exactly once; more means the payout was sent again (and refused).
        """
        payout = self.state.payouts.get(order_id)
        return 0 if payout is None else payout.create_requests

    def save_card(self, user_id: str, pan: str, *, for_payouts: bool = True) -> str:
        """Save a card of ``user_id`` as the card-saving flow would; returns its token.

        The card is for payouts (``reg2reg``) unless ``for_payouts=False``, which saves it for
        payments (Token Pay, ``card/init``). A card is usable for its purpose only.
        """
        return self.state.save_card(user_id, pan, "payout" if for_payouts else "payment").token

    @property
    def cards(self) -> Mapping[str, CardToken]:
        """The saved cards (the vault) by token."""
        return self.state.cards

    @property
    def card_saves(self) -> Mapping[int, CardSave]:
        """Card-saving sessions (``cardstorage/add`` and its payout twin) by payment id."""
        return self.state.card_saves

    async def complete_card_save(
        self, payment_id: int, *, card_number: str = "4405645000006150", succeed: bool = True
    ) -> CardToken | None:
        """Play the payer filling in the card form of a card-saving session.

        On success the card is saved (for payments after ``cardstorage/add``, for payouts after
        the payout variant) and returned; with ``succeed=False`` nothing is saved and ``None``
        is returned. Either way the card-save result goes to the session's ``pg_post_link``.
        Raises ``KeyError`` for an unknown session and ``ValueError`` for a finished one. The
        emulator must be running.
        """
        return self.gateway.cards.complete_card_save(
            payment_id, card_number=card_number, succeed=succeed
        )

    def card_id(self, token: str) -> int:
        """The legacy numeric id (``pg_card_id_to``) of a saved card."""
        return self.state.cards[token].card_id

    @property
    def notifications(self) -> Sequence[Delivery]:
        """Every notification delivery attempt so far, in order."""
        return self._notifier.deliveries

    async def wait_notifications(self, timeout: float = 5.0) -> None:
        """Wait until pending notifications are delivered or out of re-sends."""
        await self._notifier.wait(timeout)

    @property
    def fault_records(self) -> Sequence[FaultRecord]:
        """Every fault applied so far (same list as ``faults.records``)."""
        return self.faults.records
