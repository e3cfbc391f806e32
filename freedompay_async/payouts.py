"""``client.payouts``: payouts as typed coroutines with money-safe reconciliation.

Rules (shared/API-NOTES.md sections 3, 5, 6):

* a create call is sent once. It is sent again only when it certainly did not reach the gateway
  (the requestor's own retries of ``RequestNotSent``); a single call never re-sends after an
  ambiguous outcome, whatever the status endpoint says - a signed "not found" can lag the
  create. Only the batch journal may send a row again (see :mod:`freedompay_async.batch`);
* an ambiguous outcome (lost or untrustworthy answer, "outcome unknown", "order exists") is
  resolved by asking the status endpoint by order id; if that cannot be learnt before the
  deadline, :class:`PayoutOutcomeUnknown` is raised - never a refusal, never "not sent";
* a :class:`~freedompay_async.errors.GatewayError` from a create call means the gateway refused
  the create, or (:class:`~freedompay_async.errors.PayoutDeclined`) the payout ended in
  ``error``: final, nothing was paid;
* ``process`` is not final: :meth:`Payouts.wait` polls with backoff until the payout is final or
  the deadline passes (:class:`PayoutPending`, never a failure).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio
import attrs

from ._convert import WordEnum, to_datetime, to_decimal, to_int, to_text
from ._endpoints import Endpoint, declared
from ._masking import mask_card_numbers
from ._polling import WaitClock
from ._telemetry import operation
from ._wire import Params, parse_xml
from .errors import (
    AnswerMismatch,
    BadSignature,
    FreedomPayError,
    GatewayError,
    GatewayOutcomeUnknown,
    MalformedResponse,
    OrderExists,
    OutcomeUnknown,
    PayoutDeclined,
    ProtocolError,
    RequestNotSent,
    SecretKeyRejected,
    SignatureMismatch,
    TransactionNotFound,
    TransportError,
    UnexpectedHTTPStatus,
    UnknownMerchant,
    ValidationError,
)
from .models import GatewayResponse

if TYPE_CHECKING:
    from ._caller import Caller
    from .callbacks import PayoutNotification

__all__ = [
    "Balance",
    "Payout",
    "PayoutOutcomeUnknown",
    "PayoutPage",
    "PayoutPending",
    "PayoutPolicy",
    "PayoutState",
    "Payouts",
]

logger = logging.getLogger("freedompay_async")


class PayoutState(WordEnum):
    """Where a payout stands. ``PROCESS`` is not final; ``UNKNOWN`` is an unexpected word."""

    SUCCESS = "success"
    ERROR = "error"
    PROCESS = "process"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        return self is PayoutState.SUCCESS or self is PayoutState.ERROR

    @classmethod
    def _aliases(cls) -> dict[str, PayoutState]:
        # Create calls answer ok/error/process, status calls success/error/process.
        return {"ok": cls.SUCCESS}


class PayoutOutcomeUnknown(OutcomeUnknown):
    """The payout may or may not exist and the status endpoint could not tell before the
    deadline. Do not create it again under another order id; ask again later."""


class PayoutPending(FreedomPayError):
    """The payout is still ``process`` at the deadline: pending, not failed."""

    def __init__(self, order_id: str, payment_id: int | None) -> None:
        self.order_id = order_id
        self.payment_id = payment_id
        super().__init__(f"payout {order_id} (payment {payment_id}) is still in process")


def _card_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The recipient card and merchant ids an answer or notification carries."""
    return {
        "card_token": to_text(fields.get("pg_card_token")),
        "card_id": to_int(fields.get("pg_card_id")),
        "merchant_id": to_text(fields.get("pg_merchant_id")),
    }


@attrs.frozen(slots=True, repr=False)
class Payout:
    """A payout as the gateway last reported it; ``raw`` is that answer, extra fields included."""

    order_id: str
    payment_id: int | None
    state: PayoutState
    amount: Decimal | None
    balance: Decimal | None
    card_hash: str | None
    payment_date: datetime | None
    error_code: int | None
    error_description: str | None
    raw: GatewayResponse
    #: The recipient's saved card as the answer names it: ``pg_card_token`` (g2g/reg2reg,
    #: seed 003) or ``pg_card_id`` (api/reg2reg, seed 004), and the merchant the answer is for.
    card_token: str | None = attrs.field(default=None, kw_only=True)
    card_id: int | None = attrs.field(default=None, kw_only=True)
    merchant_id: str | None = attrs.field(default=None, kw_only=True)

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @classmethod
    def from_answer(
        cls, order_id: str, answer: GatewayResponse, *, state_field: str = "pg_status"
    ) -> Payout:
        """From a create answer or a status answer; ``state_field`` names the field holding
        the payout's state (``pg_payment_status`` in ``payout_status2``-style answers, where
        ``pg_status`` is only the request's status).

        An answer without that field is malformed, never a success.
        """
        fields = answer.fields
        word = fields.get(state_field)
        if not isinstance(word, str) or not word:
            raise MalformedResponse(
                f"payout answer has no {state_field}", raw=answer.raw, endpoint=answer.endpoint
            )
        amount = fields.get("pg_payment_amount") or fields.get("pg_amount")
        description = fields.get("pg_error_description")
        return cls(
            order_id=str(fields.get("pg_order_id") or order_id),
            payment_id=to_int(fields.get("pg_payment_id")),
            state=PayoutState.of(word),
            amount=to_decimal(amount),
            balance=to_decimal(fields.get("pg_balance")),
            card_hash=fields.get("pg_card_hash") or None,
            payment_date=to_datetime(fields.get("pg_payment_date"), answer.timezone),
            error_code=to_int(fields.get("pg_error_code")) or None,
            error_description=description if isinstance(description, str) and description else None,
            raw=answer,
            **_card_fields(fields),
        )

    @classmethod
    def from_notification(cls, order_id: str, notification: PayoutNotification) -> Payout:
        """From a verified payout notification (``pg_post_link``); ``raw`` holds its fields."""
        fields = dict(notification.fields)
        return cls(
            order_id=notification.order_id or order_id,
            payment_id=notification.payment_id,
            state=notification.state,
            amount=notification.amount,
            balance=notification.balance,
            card_hash=notification.card_hash,
            payment_date=notification.payment_date,
            error_code=notification.error_code or None,
            error_description=notification.error_description,
            raw=GatewayResponse("pg_post_link", "notification", fields, b""),
            **_card_fields(fields),
        )

    def __repr__(self) -> str:
        return mask_card_numbers(
            f"Payout(order_id={self.order_id!r}, payment_id={self.payment_id!r}, "
            f"state={self.state.name}, amount={self.amount!s})"
        )


@attrs.frozen(slots=True)
class PayoutPage:
    """A hosted payout page: send the recipient to ``redirect_url`` (never followed here)."""

    order_id: str
    payment_id: int | None
    redirect_url: str
    raw: GatewayResponse = attrs.field(repr=False)


@attrs.frozen(slots=True)
class Balance:
    """The merchant's payout balance."""

    amount: Decimal
    currency: str | None
    raw: GatewayResponse = attrs.field(repr=False)


@attrs.frozen(slots=True)
class PayoutPolicy:
    """Patience for payouts: status polling of ``process`` payouts and of ambiguous outcomes.

    A ``process`` payout is polled after about ``poll_initial`` seconds, then ever more rarely
    (fifteen times longer each time, 75-100% of it at random) up to ``poll_max``: the payout
    notification (:meth:`Payouts.notify`) is what normally ends a wait, polls are the fallback
    (the docs ask for 1.5-2 s at least between calls about one payment). Ambiguous outcomes are
    polled at random up to ``poll_initial * 2**n``, capped at ``poll_max``. ``wait_deadline``
    bounds waiting for a ``process`` payout, ``reconcile_deadline`` learning an ambiguous
    outcome.

    ``not_found_grace`` is used only by the batch journal's resume: a row may be sent again
    when the gateway says (signed, freshly) that it does not know the order *and* the row's
    last send started longer ago than this. A status endpoint can lag a create, so the default
    is long (15 minutes); a single call never re-sends at all.
    """

    poll_initial: float = 2.0
    poll_max: float = 300.0
    wait_deadline: float = 300.0
    reconcile_deadline: float = 120.0
    not_found_grace: float = 900.0


def _api_of(endpoint: Endpoint) -> Literal["gateway", "merchant"]:
    """Which API's status endpoint knows payouts made through ``endpoint``."""
    return "merchant" if endpoint.path.startswith("api/") else "gateway"


def _poll_delay(policy: PayoutPolicy, polls: int) -> float:
    """Before status poll ``polls + 1`` of an ambiguous outcome: jittered exponential backoff,
    never under three quarters of ``poll_initial`` (with the default 2 s, the docs' 1.5 s
    between calls about one payment), so thousands of payouts do not poll in step."""
    ceiling = min(policy.poll_max, policy.poll_initial * 2**polls)
    return random.uniform(0.75 * min(ceiling, policy.poll_initial), ceiling)  # noqa: S311


def _wait_delay(policy: PayoutPolicy, polls: int) -> float:
    """Before poll ``polls + 1`` of a ``process`` payout: steep backoff, jittered by a quarter."""
    ceiling = min(policy.poll_max, policy.poll_initial * 15**polls)
    return random.uniform(0.75 * ceiling, ceiling)  # noqa: S311


def _time_limit(limit: datetime | None, zone: tzinfo) -> str:
    """``pg_order_time_limit`` in the gateway's local time (``zone``); 24 hours from now by
    default. A naive ``limit`` is taken as already in that zone."""
    limit = limit or datetime.now(zone) + timedelta(days=1)
    if limit.tzinfo is not None:
        limit = limit.astimezone(zone)
    return limit.strftime("%Y-%m-%d %H:%M:%S")


#: HTTP statuses by which a gateway refuses ``payout_status2`` itself (the method is not
#: there): only these switch the client to ``payout_status`` v1. No gateway error code for
#: "unknown method" is documented, so no signed error switches versions.
_V2_REFUSED = frozenset({404, 405, 501})


def _says_bad_signature(exc: FreedomPayError) -> bool:
    """Whether an answer that failed verification carries the gateway's bad-signature code."""
    if not isinstance(exc, SignatureMismatch):
        return False
    try:
        fields = parse_xml(exc.raw).fields
    except ProtocolError:
        return False
    code = fields.get("pg_error_code")
    return isinstance(code, str) and code.isdigit() and int(code) in BadSignature.codes


class Payouts:
    """Payout operations of one client (``client.payouts``)."""

    _TO_CARD = declared("g2g/p2p2nonreg")
    _TO_TOKEN: ClassVar[Mapping[str, Endpoint]] = {
        "gateway": declared("g2g/reg2reg"),
        "merchant": declared("api/reg2reg"),
    }
    _TO_IBAN: ClassVar[Mapping[str, Endpoint]] = {
        "gateway": declared("g2g/to_iban"),
        "merchant": declared("api/to_iban"),
    }
    _PAGE = declared("api/reg2nonreg")
    _STATUS = declared("g2g/payout_status")
    _STATUS2 = declared("g2g/payout_status2")
    _MERCHANT_STATUS2 = declared("api/payment_status2")
    _BALANCE: ClassVar[Mapping[str, Endpoint]] = {
        "gateway": declared("g2g/balance_status"),
        "merchant": declared("api/balance_status"),
    }
    _STATUS_BY_PAYMENT = declared("api/payment_status")

    def __init__(self, client: Caller, policy: PayoutPolicy | None = None) -> None:
        self._client = client
        self.policy = policy if policy is not None else PayoutPolicy()
        self._status_v2_refused = False
        self._clock: WaitClock[PayoutNotification] = WaitClock()

    @operation("payouts.to_card", payout=True)
    async def to_card(
        self,
        *,
        order_id: str,
        amount: Decimal | str,
        card_number: str,
        description: str,
        post_link: str,
        currency: str | None = None,
        user_id: str | None = None,
        card_name: str | None = None,
        wait: bool = True,
    ) -> Payout:
        """Pay ``amount`` out to a card number (``g2g/p2p2nonreg``).

        With ``wait`` (default) a ``process`` answer is polled until final; at the deadline
        :class:`PayoutPending` is raised. ``wait=False`` returns the ``process`` payout.
        """
        params = self._TO_CARD.encode(
            pg_order_id=order_id,
            pg_amount=amount,
            pg_description=description,
            pg_payment_to=card_number,
            pg_post_link=post_link,
            pg_currency=currency,
            pg_user_id=user_id,
            pg_card_name=card_name,
        )
        return await self._create_and_wait(self._TO_CARD, params, order_id, wait)

    @operation("payouts.to_token", payout=True)
    async def to_token(
        self,
        *,
        order_id: str,
        amount: Decimal | str,
        user_id: str,
        description: str,
        post_link: str,
        card_token: str | None = None,
        card_id: int | None = None,
        order_time_limit: datetime | None = None,
        api: Literal["gateway", "merchant"] = "gateway",
        wait: bool = True,
    ) -> Payout:
        """Pay out to a saved card (``g2g/reg2reg``, or ``api/reg2reg`` with ``api="merchant"``).

        Give exactly one of ``card_token`` (``pg_card_token_to``) or ``card_id``
        (``pg_card_id_to``, legacy). ``order_time_limit`` defaults to 24 hours from now.
        """
        if (card_token is None) == (card_id is None):
            raise ValidationError("pg_card_token_to", "give exactly one of card_token, card_id")
        if api not in self._TO_TOKEN:
            raise ValidationError("api", "must be 'gateway' or 'merchant'")
        endpoint = self._TO_TOKEN[api]
        params = endpoint.encode(
            pg_order_id=order_id,
            pg_amount=amount,
            pg_description=description,
            pg_user_id=user_id,
            pg_post_link=post_link,
            pg_order_time_limit=_time_limit(order_time_limit, self._client.timezone),
            pg_card_token_to=card_token,
            pg_card_id_to=card_id,
        )
        return await self._create_and_wait(endpoint, params, order_id, wait)

    @operation("payouts.to_iban", payout=True)
    async def to_iban(
        self,
        *,
        order_id: str,
        amount: Decimal | str,
        iban: str,
        recipient_iin: str,
        recipient_name: str,
        recipient_kbe: str,
        knp: str,
        bank_bik: str,
        description: str,
        post_link: str,
        api: Literal["gateway", "merchant"] = "gateway",
        wait: bool = True,
    ) -> Payout:
        """Pay out to a bank account by IBAN (``g2g/to_iban``, or ``api/to_iban`` with
        ``api="merchant"``; Kazakhstan's KBe / KNP codes)."""
        if api not in self._TO_IBAN:
            raise ValidationError("api", "must be 'gateway' or 'merchant'")
        endpoint = self._TO_IBAN[api]
        params = endpoint.encode(
            pg_order_id=order_id,
            pg_amount=amount,
            pg_description=description,
            pg_recipient_iban=iban,
            pg_recipient_iin=recipient_iin,
            pg_recipient_name=recipient_name,
            pg_recipient_kbe=recipient_kbe,
            pg_knp=knp,
            pg_bank_bik=bank_bik,
            pg_post_link=post_link,
        )
        return await self._create_and_wait(endpoint, params, order_id, wait)

    @operation("payouts.page")
    async def page(
        self,
        *,
        order_id: str,
        amount: Decimal | str,
        description: str,
        back_link: str,
        post_link: str,
        order_time_limit: datetime | None = None,
        user_id: str | None = None,
        user_email: str | None = None,
        in_frame: bool = False,
    ) -> PayoutPage:
        """Create a hosted payout page (``api/reg2nonreg``) for a recipient without a saved card.

        The recipient types their card on FreedomPay's page; the outcome arrives at
        ``post_link`` and through :meth:`status` with ``api="merchant"``. An ambiguous outcome
        raises :class:`~freedompay_async.errors.OutcomeUnknown` (never re-sent): ask the status.
        """
        params = self._PAGE.encode(
            pg_order_id=order_id,
            pg_amount=amount,
            pg_description=description,
            pg_order_time_limit=_time_limit(order_time_limit, self._client.timezone),
            pg_back_link=back_link,
            pg_post_link=post_link,
            pg_user_id=user_id,
            pg_user_email=user_email,
            pg_payment_route="frame" if in_frame else None,
        )
        answer = await self._client.call(self._PAGE, params)
        redirect = answer.get("pg_redirect_url")
        if not isinstance(redirect, str) or not redirect:
            raise ProtocolError("payout page answer has no pg_redirect_url", raw=answer.raw)
        return PayoutPage(order_id, to_int(answer.get("pg_payment_id")), redirect, answer)

    @operation("payouts.status", poll=True)
    async def status(
        self,
        order_id: str,
        *,
        payment_id: int | None = None,
        version: int | None = None,
        api: Literal["gateway", "merchant"] = "gateway",
    ) -> Payout:
        """The payout's current state, as the gateway reports it (a failed payout is returned
        with ``state=ERROR``, not raised).

        ``api="merchant"`` asks the Merchant API's ``api/payment_status2`` (for payouts made
        through ``api/*``); the rest of this describes the Gateway API.

        By default ``payout_status2``, falling back to ``payout_status`` for good only when the
        gateway refuses v2 itself (HTTP 404/405/501); ``version=1`` or ``2`` forces one. Raises
        :class:`~freedompay_async.errors.TransactionNotFound` when the gateway does not know the
        order (weak evidence: the status can lag a create), and
        :class:`~freedompay_async.errors.AnswerMismatch` when the answer is about another
        order, merchant or payment.
        """
        if version not in (None, 1, 2):
            raise ValidationError("version", "payout status versions are 1 and 2")
        params = self._STATUS2.encode(pg_order_id=order_id, pg_payment_id=payment_id)
        answer, state_field = await self._status_answer(params, version, api)
        payout = Payout.from_answer(order_id, answer, state_field=state_field)
        return _same_payment(payout, payment_id)

    async def _status_answer(
        self, params: Params, version: int | None, api: Literal["gateway", "merchant"]
    ) -> tuple[GatewayResponse, str]:
        """The status answer from the script that knows the payout, and the field that holds
        the payout's state there (v2 answers: ``pg_status`` is only the request's status)."""
        if api == "merchant":
            answer = await self._client.call(self._MERCHANT_STATUS2, params)
            if answer.get("pg_payment_id") == "0":  # M8: 0 means "not found (yet)"
                raise TransactionNotFound(
                    None,
                    "payment id 0: not found",
                    raw=answer.raw,
                    fields=dict(answer.fields),
                    endpoint=answer.endpoint,
                )
            return answer, "pg_payment_status"
        if version == 1 or (version is None and self._status_v2_refused):
            return await self._client.call(self._STATUS, params), "pg_status"
        try:
            return await self._client.call(self._STATUS2, params), "pg_payment_status"
        except UnexpectedHTTPStatus as exc:
            if version == 2 or exc.status not in _V2_REFUSED:
                raise
            self._status_v2_refused = True
            return await self._client.call(self._STATUS, params), "pg_status"

    @operation("payouts.status_by_payment")
    async def status_by_payment(self, payment_id: int, *, order_id: str | None = None) -> Payout:
        """A Merchant API payout's state by its payment id (``api/payment_status``, M7).

        The docs publish no answer for this script (the path follows the gateway's PHP SDK):
        a ``pg_payment_status`` is read as in ``payment_status2``, else ``pg_status``.
        """
        params = self._STATUS_BY_PAYMENT.encode(pg_payment_id=payment_id, pg_order_id=order_id)
        answer = await self._client.call(self._STATUS_BY_PAYMENT, params)
        state_field = "pg_payment_status" if "pg_payment_status" in answer.fields else "pg_status"
        payout = Payout.from_answer(order_id or "", answer, state_field=state_field)
        return _same_payment(payout, payment_id)

    @operation("payouts.balance")
    async def balance(
        self, currency: str | None = None, *, api: Literal["gateway", "merchant"] = "gateway"
    ) -> Balance:
        """The merchant's payout balance (``g2g/balance_status``; ``api/balance_status`` with
        ``api="merchant"``)."""
        if api not in self._BALANCE:
            raise ValidationError("api", "must be 'gateway' or 'merchant'")
        endpoint = self._BALANCE[api]
        answer = await self._client.call(endpoint, endpoint.encode(pg_currency=currency))
        amount = to_decimal(answer.get("pg_balance"))
        if amount is None:
            raise ProtocolError("balance answer has no pg_balance", raw=answer.raw)
        currency_field = answer.get("pg_currency")
        return Balance(amount, currency_field if isinstance(currency_field, str) else None, answer)

    @operation("payouts.wait", payout=True)
    async def wait(
        self,
        order_id: str,
        *,
        payout: Payout | None = None,
        api: Literal["gateway", "merchant"] = "gateway",
    ) -> Payout:
        """Wait until an existing payout is final (``process`` is not), polling its status.

        ``api`` is the API the payout was made through (see :meth:`status`). A verified payout
        notification passed to :meth:`notify` ends the wait at once. "Not found", transient
        signed errors and failed or untrustworthy exchanges while waiting only mean "ask again".
        Returns the successful payout; raises :class:`~freedompay_async.errors.PayoutDeclined`
        when it ends in ``error`` and :class:`PayoutPending` at the policy's ``wait_deadline``.
        """
        if payout is not None and payout.is_final:
            return _final(payout)
        # Between polls only the payment id is kept (10,000 waiters must stay small).
        payment_id = payout.payment_id if payout is not None else None
        del payout
        policy, clock = self.policy, self._clock
        deadline = time.monotonic() + policy.wait_deadline
        polls = 0
        with clock.watch(order_id):
            while True:
                notification = clock.arrived(order_id)
                if notification is None:
                    left = deadline - time.monotonic()
                    await clock.sleep(order_id, min(_wait_delay(policy, polls), max(left, 0.0)))
                    polls += 1
                    notification = clock.arrived(order_id)
                if notification is not None and _same_or_unknown(
                    notification.payment_id, payment_id
                ):
                    return _final(Payout.from_notification(order_id, notification))
                try:
                    current = await self.status(order_id, payment_id=payment_id, api=api)
                except _POLL_FAILURES:
                    pass  # says nothing about the payout: ask again
                else:
                    if current.is_final:
                        return _final(current)
                    payment_id = current.payment_id or payment_id
                if time.monotonic() >= deadline:
                    raise PayoutPending(order_id, payment_id)

    def notify(self, notification: PayoutNotification) -> bool:
        """Feed a payout notification (``pg_post_link``) to :meth:`wait`: its waiters end now.

        Only a notification whose signature was verified (``callback_handler`` /
        ``parse_callback`` give no other) and that is for this client's merchant counts; a
        notification that is not final (``UNKNOWN``) is ignored. Returns whether a
        :meth:`wait` was waiting for its order.
        """
        order_id = notification.order_id
        merchant_id = notification.merchant_id
        if not notification.verified or order_id is None or not notification.state.is_final:
            return False
        if merchant_id is not None and merchant_id != self._client.merchant_id:
            logger.warning("payout notification for merchant %s ignored", merchant_id)
            return False
        return self._clock.notify(order_id, notification)

    async def _create_and_wait(
        self, endpoint: Endpoint, params: Mapping[str, Any], order_id: str, wait: bool
    ) -> Payout:
        """Send the create call once; resolve an ambiguous outcome through the status; with
        ``wait``, wait for a ``process`` payout to be final. One frame (thousands of payouts in
        flight each hold it)."""
        ambiguous: FreedomPayError | None = None
        try:
            answer = await self._client.call(endpoint, params)
            # (Not one expression: the frame would hold the bound from_answer while it waits.)
            payout = _final(Payout.from_answer(order_id, answer))
        except (OrderExists, GatewayOutcomeUnknown, UnknownMerchant) as exc:
            # "Order exists" says the payout is there; 9999 says "ask the status"; an unsigned
            # "unknown merchant" proves nothing. None of them is a refusal of this create.
            ambiguous = exc
        except GatewayError as exc:
            if exc.fields.get("pg_order_id") == order_id:
                raise  # a signed refusal of this very order
            payout = await self._confirm_refusal(endpoint, order_id, exc)
        except RequestNotSent:
            raise  # certainly not sent (on every attempt)
        except (OutcomeUnknown, ProtocolError) as exc:
            ambiguous = exc
        if ambiguous is not None:
            payout = await self._reconcile(endpoint, order_id, ambiguous)
        if wait and not payout.is_final:
            payout = await self.wait(order_id, payout=payout, api=_api_of(endpoint))
        if payout.amount is None:
            # An answer without the amount paid the one asked for (the create names it).
            payout = attrs.evolve(payout, amount=Decimal(str(params["pg_amount"])))
        return payout

    async def _confirm_refusal(
        self, endpoint: Endpoint, order_id: str, refusal: GatewayError
    ) -> Payout:
        """A signed refusal that names no order could be a replayed refusal of another request
        (a signature proves who wrote an answer, not which request it answers): one status
        question tells. The payout there -> what it shows; a signed "not found" -> the
        refusal stands; no answer -> the outcome is unknown."""
        try:
            payout = await self.status(order_id, api=_api_of(endpoint))
        except TransactionNotFound:
            raise refusal from None
        except _POLL_FAILURES as exc:
            raise PayoutOutcomeUnknown(
                f"refused by an answer naming no order ({type(refusal).__name__} "
                f"{refusal.code}), and the status could not confirm it ({type(exc).__name__})",
                endpoint=endpoint.path,
                order_id=order_id,
            ) from refusal
        return _final(payout)

    async def _reconcile(
        self, endpoint: Endpoint, order_id: str, ambiguous: FreedomPayError
    ) -> Payout:
        """Ask the status until it shows the payout; never send the create again.

        A poll that failed (not sent, unanswered, untrustworthy, "not found", a transient
        error) says nothing about the payout, so asking goes on until the deadline, then
        :class:`PayoutOutcomeUnknown`. Only a wrong key is concluded early: when the create's
        answer and a status answer both fail verification carrying the bad-signature code,
        the gateway refused requests signed with our key - nothing was paid.
        """
        self._client._telemetry.reconciling(endpoint.path)
        policy = self.policy
        api = _api_of(endpoint)
        deadline = time.monotonic() + policy.reconcile_deadline
        key_refused = _says_bad_signature(ambiguous)
        last = ambiguous
        polls = 0
        while time.monotonic() < deadline:
            await anyio.sleep(_poll_delay(policy, polls))
            polls += 1
            try:
                payout = await self.status(order_id, api=api)
            except _POLL_FAILURES as exc:
                if key_refused and _says_bad_signature(exc):
                    raise SecretKeyRejected(
                        key=endpoint.key, endpoint=endpoint.path, order_id=order_id
                    ) from ambiguous
                last = exc
                continue
            return _final(payout)
        raise PayoutOutcomeUnknown(
            "the status endpoint could not confirm the payout before the deadline "
            f"(first: {type(ambiguous).__name__}; last: {type(last).__name__})",
            endpoint=endpoint.path,
            order_id=order_id,
        ) from last


def _same_or_unknown(reported: int | None, known: int | None) -> bool:
    """Whether a reported payment id can be the one known (either may be missing)."""
    return reported is None or known is None or reported == known


def _same_payment(payout: Payout, payment_id: int | None) -> Payout:
    """``payout``, if it is the payment asked about (the order id is checked on every answer)."""
    if not _same_or_unknown(payout.payment_id, payment_id):
        raise AnswerMismatch("pg_payment_id", raw=payout.raw.raw, endpoint=payout.raw.endpoint)
    return payout


#: What a status poll can fail with without saying anything about the payout.
_POLL_FAILURES = (TransportError, ProtocolError, GatewayError)


def _final(payout: Payout) -> Payout:
    """``payout``, unless it ended in ``error``: declines have one channel, the exception."""
    if payout.state is PayoutState.ERROR:
        raise PayoutDeclined.from_payout(payout)
    return payout
