"""``client.payments``: payment pages, status, cancel, capture, refund and recurring charges.

Also the types every paying facade shares (:class:`Payment`, :class:`PaymentState`,
:class:`ReceiptPosition`) and the rule they all follow for an ambiguous outcome: a request
that moves money is never sent twice; when its answer is lost the payment's status is asked,
and if the status cannot tell, :class:`PaymentOutcomeUnknown` carries the order / payment id.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import attrs
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_random_exponential,
)

from . import _validation as check
from ._convert import GATEWAY_TIMEZONE, WordEnum, to_bool, to_datetime, to_decimal, to_int, to_text
from ._endpoints import RECEIPT_FIELDS, Endpoint, declared
from ._masking import mask_card_numbers
from .errors import AMBIGUOUS, FreedomPayError, OutcomeUnknown, ProtocolError, ValidationError
from .models import GatewayResponse

if TYPE_CHECKING:
    from ._caller import Caller

__all__ = [
    "OrderStatus",
    "Payment",
    "PaymentOperation",
    "PaymentOutcomeUnknown",
    "PaymentPage",
    "PaymentPending",
    "PaymentState",
    "Payments",
    "ReceiptPosition",
    "Refund",
    "TaxType",
    "ThreeDSChallenge",
    "TransactionState",
]

T = TypeVar("T")


class PaymentState(WordEnum):
    """Where a payment stands (``pg_payment_status``; create answers' ``pg_status``).

    ``NEW`` (created, the payer has not paid), ``NEED_APPROVE`` (waiting for an SMS code) and
    ``PROCESS`` are not final. ``UNKNOWN`` stands for a word this version does not know; the
    word itself is in :attr:`Payment.status_text`.
    """

    NEW = "new"
    PENDING = "pending"
    NEED_APPROVE = "need_approve"
    PROCESS = "process"
    SUCCESS = "success"
    ERROR = "error"
    FAILED = "failed"
    REVOKED = "revoked"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"

    @classmethod
    def _aliases(cls) -> dict[str, PaymentState]:
        return {"ok": cls.SUCCESS}  # create answers' pg_status

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATES


_FINAL_STATES = frozenset(
    {
        PaymentState.SUCCESS,
        PaymentState.ERROR,
        PaymentState.FAILED,
        PaymentState.REVOKED,
        PaymentState.REFUNDED,
    }
)


class TransactionState(WordEnum):
    """``pg_transaction_status`` of ``get_status2.php``."""

    PARTIAL = "partial"  # created, not paid
    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # expired unpaid
    UNKNOWN = "unknown"


class TaxType(enum.IntEnum):
    """``tax_type`` of a fiscal receipt line."""

    NONE = 0
    VAT_0 = 1
    VAT_12 = 2
    VAT_12_112 = 3
    VAT_18 = 4
    VAT_18_118 = 5
    VAT_10 = 6
    VAT_10_110 = 7
    VAT_20 = 8
    VAT_20_120 = 9


@attrs.frozen(slots=True)
class ReceiptPosition:
    """One line of the fiscal receipt (``pg_receipt_positions``)."""

    name: str
    count: int
    price: Decimal | str
    tax_type: TaxType = TaxType.NONE

    def to_params(self, index: int) -> dict[str, str]:
        """This line's fields, checked by the endpoint table's :data:`RECEIPT_FIELDS`."""
        prefix = f"pg_receipt_positions[{index}]"
        if not isinstance(self.tax_type, TaxType):
            raise ValidationError(f"{prefix}[tax_type]", "must be a TaxType")
        values = {
            "count": self.count,
            "name": self.name,
            "tax_type": int(self.tax_type),
            "price": self.price,
        }
        try:
            return {spec.name: str(spec.encode(values[spec.name])) for spec in RECEIPT_FIELDS}
        except ValidationError as exc:
            reason = str(exc).split(": ", 1)[1]
            raise ValidationError(f"{prefix}[{exc.field}]", reason) from None


@attrs.frozen(slots=True)
class ThreeDSChallenge:
    """The payer must pass 3-D Secure: send them to ``acs_url`` (never followed here)."""

    acs_url: str
    md: str | None
    pareq: str | None = attrs.field(repr=False)


@attrs.frozen(slots=True)
class Refund:
    """One refund of a payment, as the status endpoint lists it (amounts are negative)."""

    payment_id: int | None
    state: PaymentState
    amount: Decimal | None
    payment_date: datetime | None
    reference: str | None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], zone: tzinfo = GATEWAY_TIMEZONE) -> Refund:
        return cls(
            to_int(fields.get("pg_payment_id")),
            PaymentState(fields.get("pg_payment_status") or fields.get("pg_status")),
            to_decimal(fields.get("pg_amount")),
            to_datetime(fields.get("pg_payment_date"), zone),
            to_text(fields.get("pg_reference")),
        )


def items(container: object, tag: str) -> list[Mapping[str, Any]]:
    """Repeated children: XML gives one as a mapping, several as a list, none as ``""``."""
    if not isinstance(container, Mapping):
        return []
    items = container.get(tag)
    if isinstance(items, Mapping):
        return [items]
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


@attrs.frozen(slots=True, repr=False)
class Payment:
    """A payment as the gateway last described it, from a charge or a status answer.

    Fields an answer does not carry are ``None``; ``raw`` is the answer with every field.
    ``status_text`` is the gateway's own word behind ``state``.
    """

    order_id: str | None
    payment_id: int | None
    state: PaymentState
    status_text: str
    amount: Decimal | None
    currency: str | None
    payment_method: str | None
    captured: bool | None
    clearing_amount: Decimal | None
    refund_amount: Decimal | None
    refunds: tuple[Refund, ...]
    can_reject: bool | None
    card_pan: str | None
    card_token: str | None
    auth_code: str | None
    reference: str | None
    three_ds: ThreeDSChallenge | None
    recurring_profile: str | None
    payment_date: datetime | None
    failure_code: int | None
    failure_description: str | None
    raw: GatewayResponse

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @classmethod
    def from_answer(
        cls,
        answer: GatewayResponse,
        order_id: str | None = None,
        amount: Decimal | None = None,
    ) -> Payment:
        """``order_id`` and ``amount`` (what the call knows) fill in when the answer lacks them."""
        fields = answer.fields
        word = fields.get("pg_payment_status") or fields.get("pg_status") or ""
        three_ds = None
        if fields.get("pg_3ds") == "1" and to_text(fields.get("pg_3d_acsurl")):
            three_ds = ThreeDSChallenge(
                fields["pg_3d_acsurl"],
                to_text(fields.get("pg_3d_md")),
                to_text(fields.get("pg_3d_pareq")),
            )
        state = PaymentState(word)
        if three_ds is not None and "pg_payment_status" not in fields:
            state = PaymentState.PROCESS  # authorised only once the payer passes 3-D Secure
        refunds = items(fields.get("pg_refund_payments"), "pg_refund_payment")
        return cls(
            order_id=to_text(fields.get("pg_order_id")) or order_id,
            payment_id=to_int(fields.get("pg_payment_id")),
            state=state,
            status_text=word if isinstance(word, str) else "",
            amount=to_decimal(fields.get("pg_amount")) or amount,
            currency=to_text(fields.get("pg_currency")),
            payment_method=to_text(fields.get("pg_payment_method")),
            captured=to_bool(fields.get("pg_captured")),
            clearing_amount=to_decimal(fields.get("pg_clearing_amount")),
            refund_amount=to_decimal(fields.get("pg_refund_amount")),
            refunds=tuple(Refund.from_fields(item, answer.timezone) for item in refunds),
            can_reject=to_bool(fields.get("pg_can_reject")),
            card_pan=to_text(fields.get("pg_card_pan")),
            card_token=to_text(fields.get("pg_card_token")),
            auth_code=to_text(fields.get("pg_auth_code")),
            reference=to_text(fields.get("pg_reference")),
            three_ds=three_ds,
            recurring_profile=to_text(
                fields.get("pg_recurring_profile") or fields.get("pg_recurring_profile_id")
            ),
            payment_date=to_datetime(fields.get("pg_payment_date"), answer.timezone),
            failure_code=to_int(fields.get("pg_failure_code")),
            failure_description=to_text(fields.get("pg_failure_description")),
            raw=answer,
        )

    def __repr__(self) -> str:
        return mask_card_numbers(
            f"Payment(order_id={self.order_id!r}, payment_id={self.payment_id!r}, "
            f"state={self.state.name}, amount={self.amount!s})"
        )


@attrs.frozen(slots=True)
class PaymentPage:
    """A created payment: send the payer to ``redirect_url`` (never followed here).

    ``redirect_url_type`` is ``"need data"`` (FreedomPay asks the payer for details) or
    ``"payment system"``; ``qr`` the base64 QR image when ``generate_qr`` was asked.
    """

    order_id: str | None
    payment_id: int
    redirect_url: str
    redirect_url_type: str | None
    qr: str | None = attrs.field(repr=False)
    raw: GatewayResponse = attrs.field(repr=False)
    #: The amount the payment was created for.
    amount: Decimal | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(slots=True)
class OrderStatus:
    """``get_status2.php``: a payment looked up by order id (deprecated by the gateway).

    ``payment_id`` is None while the gateway answers 0; if that lasts about a minute, the
    payment does not exist.
    """

    order_id: str
    payment_id: int | None
    state: TransactionState
    status_text: str
    can_reject: bool | None
    testing_mode: bool | None
    captured: bool | None
    create_date: datetime | None
    raw: GatewayResponse = attrs.field(repr=False)


@attrs.frozen(slots=True)
class PaymentOperation:
    """The gateway's answer to cancel, capture or refund.

    ``payment_id`` is the refund's own id for a refund, the payment's otherwise; ``amount``
    what was captured or refunded when the answer says.
    """

    kind: Literal["cancel", "capture", "refund"]
    payment_id: int | None
    amount: Decimal | None
    raw: GatewayResponse = attrs.field(repr=False)


class PaymentOutcomeUnknown(OutcomeUnknown):
    """A request that moves money may or may not have taken effect, and the payment's status
    could not tell. Never repeat it blindly: ask the status later."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        order_id: str | None = None,
        payment_id: int | None = None,
    ) -> None:
        self.payment_id = payment_id
        super().__init__(message, endpoint=endpoint, order_id=order_id)


class PaymentPending(FreedomPayError):
    """The payment is still not final at the deadline: pending, not failed."""

    def __init__(self, payment: Payment | None, payment_id: int) -> None:
        self.payment = payment
        self.payment_id = payment_id
        state = payment.state.name if payment is not None else "unknown"
        super().__init__(f"payment {payment_id} is not final yet ({state})")


async def settle(
    attempt: Awaitable[T],
    probe: Callable[[], Awaitable[T | None]] | None,
    *,
    endpoint: Endpoint,
    order_id: str | None = None,
    payment_id: int | None = None,
) -> T:
    """Run a request that moves money once; resolve an ambiguous outcome with ``probe``.

    ``probe`` asks the status endpoint and returns the result the request would have given,
    or None when the status does not show it happened. Anything but a clear answer becomes
    :class:`PaymentOutcomeUnknown`; the request itself is never sent again.
    """
    try:
        return await attempt
    except AMBIGUOUS as exc:
        lost: FreedomPayError = exc
    found: T | None = None
    if probe is not None:
        try:
            found = await probe()
        except FreedomPayError:
            found = None
    if found is None:
        raise PaymentOutcomeUnknown(
            f"{endpoint.path}: the outcome is unknown ({type(lost).__name__}) and the status "
            "does not show it; ask the status later, do not repeat the request",
            endpoint=endpoint.path,
            order_id=order_id,
            payment_id=payment_id,
        ) from lost
    return found


def payer_fields(
    *,
    user_phone: str | None,
    user_ip: str | None,
    result_url: str | None,
    success_url: str | None,
    failure_url: str | None,
    receipt: Sequence[ReceiptPosition] | None,
    extra_params: Sequence[str],
) -> dict[str, object]:
    """The optional payer, URL, receipt and ``pg_param1..3`` fields every charge accepts
    (the endpoint table checks them)."""
    return {
        "pg_user_phone": user_phone,
        "pg_user_ip": user_ip,
        "pg_result_url": result_url,
        "pg_success_url": success_url,
        "pg_failure_url": failure_url,
        "pg_receipt_positions": list(receipt) if receipt else None,
        **check.free_params(extra_params),
    }


def _last_result(state: RetryCallState) -> Any:
    """What polling learnt last when it ran out of time (None if the last poll failed)."""
    outcome = state.outcome
    return None if outcome is None or outcome.failed else outcome.result()


class Payments:
    """Payment operations of one client (``client.payments``), Merchant API."""

    _INIT = declared("init_payment.php")
    _STATUS = declared("get_status3.php")
    _ORDER_STATUS = declared("get_status2.php")
    _CANCEL = declared("cancel.php")
    _CAPTURE = declared("do_capture.php")
    _REFUND = declared("revoke.php")
    _RECURRING = declared("make_recurring_payment.php")

    def __init__(self, client: Caller) -> None:
        self._client = client

    async def create(
        self,
        *,
        amount: Decimal | str,
        description: str,
        order_id: str | None = None,
        currency: str | None = None,
        payment_method: str | None = None,
        lifetime: timedelta | int | None = None,
        language: str | None = None,
        auto_clearing: bool | None = None,
        testing_mode: bool | None = None,
        user_id: str | None = None,
        user_phone: str | None = None,
        user_email: str | None = None,
        user_ip: str | None = None,
        result_url: str | None = None,
        check_url: str | None = None,
        success_url: str | None = None,
        failure_url: str | None = None,
        callback_method: str | None = None,
        success_url_method: str | None = None,
        failure_url_method: str | None = None,
        site_url: str | None = None,
        commission_discount: bool | None = None,
        commission_discount_fix: Decimal | str | int | None = None,
        commission_discount_percentage: int | None = None,
        recurring_start: bool | None = None,
        recurring_lifetime: int | None = None,
        generate_qr: bool = False,
        timeout_after_payment: int | None = None,
        three_ds_challenge: bool | None = None,
        payment_system: str | None = None,
        state_url: str | None = None,
        postpone_payment: bool | None = None,
        in_frame: bool = False,
        receipt: Sequence[ReceiptPosition] | None = None,
        extra_params: Sequence[str] = (),
        merchant_fields: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> PaymentPage:
        """Create a payment (``init_payment.php``) and return the page to send the payer to.

        Nothing is charged until the payer pays; the outcome arrives at ``result_url`` and
        through :meth:`status`. ``success_url_method`` / ``failure_url_method`` (GET or POST)
        say how the payer's browser goes to those URLs, ``site_url`` is the "back to the shop"
        link, ``commission_discount*`` the documented commission discount (flag, a fixed
        amount of 1..99999999 or a percentage of 1..100). ``auto_clearing=False`` makes a
        two-step payment (hold, then :meth:`capture` or :meth:`cancel`). ``lifetime`` is 5
        minutes to 7 days. ``merchant_fields`` (names without ``pg_``) are echoed to your
        callbacks. The request carries an idempotency key (by default derived from the order
        id and the request's content), so it is safely repeated when its outcome is unknown.
        ``order_id`` is optional (seed 001); without it the answer carries the payment's id.
        ``timeout_after_payment`` (seconds before the payer is redirected), ``three_ds_challenge``
        (force the 3-D Secure challenge), ``payment_system``, ``state_url`` (the waiting page),
        ``postpone_payment`` and ``in_frame`` (``pg_payment_route=frame``, enabled by your
        manager) are the documented page options.
        """
        params = self._INIT.encode(
            pg_order_id=order_id,
            pg_amount=amount,
            pg_description=description,
            pg_currency=currency,
            pg_payment_method=payment_method,
            pg_lifetime=lifetime_seconds(lifetime) if lifetime is not None else None,
            pg_language=language,
            pg_auto_clearing=auto_clearing,
            pg_testing_mode=testing_mode,
            pg_recurring_start=recurring_start,
            pg_recurring_lifetime=recurring_lifetime,
            pg_timeout_after_payment=timeout_after_payment,
            pg_3ds_challenge=three_ds_challenge,
            pg_user_id=user_id,
            pg_user_contact_email=user_email,
            pg_check_url=check_url,
            pg_request_method=callback_method,
            pg_success_url_method=success_url_method,
            pg_failure_url_method=failure_url_method,
            pg_site_url=site_url,
            pg_state_url=state_url,
            pg_state_url_method="GET" if state_url is not None else None,
            pg_payment_system=payment_system,
            pg_postpone_payment=postpone_payment,
            pg_payment_route="frame" if in_frame else None,
            pg_commission_discount=commission_discount,
            pg_commission_discount_fix=commission_discount_fix,
            pg_commission_discount_percentage=commission_discount_percentage,
            pg_generate_qr=True if generate_qr else None,
            **payer_fields(
                user_phone=user_phone,
                user_ip=user_ip,
                result_url=result_url,
                success_url=success_url,
                failure_url=failure_url,
                receipt=receipt,
                extra_params=extra_params,
            ),
            **(merchant_fields or {}),
        )
        answer = await self._client.call(self._INIT, params, idempotency_key=idempotency_key)
        payment_id = to_int(answer.get("pg_payment_id"))
        redirect = to_text(answer.get("pg_redirect_url"))
        if payment_id is None or redirect is None:
            raise ProtocolError(
                "init_payment.php answer lacks pg_payment_id or pg_redirect_url", raw=answer.raw
            )
        return PaymentPage(
            to_text(answer.get("pg_order_id")) or order_id,
            payment_id,
            redirect,
            to_text(answer.get("pg_redirect_url_type")),
            to_text(answer.get("pg_redirect_qr")),
            answer,
            amount=Decimal(str(params["pg_amount"])),
        )

    async def status(self, payment_id: int, *, order_id: str | None = None) -> Payment:
        """The payment's state and amounts (``get_status3.php``); reads are retried freely."""
        params = self._STATUS.encode(pg_payment_id=payment_id, pg_order_id=order_id)
        return Payment.from_answer(await self._client.call(self._STATUS, params), order_id)

    async def order_status(self, order_id: str) -> OrderStatus:
        """Look a payment up by your order id (``get_status2.php``, deprecated by the gateway)."""
        params = self._ORDER_STATUS.encode(pg_order_id=order_id)
        answer = await self._client.call(self._ORDER_STATUS, params)
        word = answer.get("pg_transaction_status")
        return OrderStatus(
            order_id,
            to_int(answer.get("pg_payment_id")) or None,
            TransactionState(word),
            word if isinstance(word, str) else "",
            to_bool(answer.get("pg_can_reject")),
            to_bool(answer.get("pg_testing_mode")),
            to_bool(answer.get("pg_captured")),
            to_datetime(answer.get("pg_create_date"), answer.timezone),
            answer,
        )

    async def wait(
        self,
        payment_id: int,
        *,
        deadline: float = 300.0,
        poll_initial: float = 1.0,
        poll_max: float = 30.0,
    ) -> Payment:
        """Poll :meth:`status` until the payment is final (``process`` is not).

        Polls back off with jitter from ``poll_initial`` to ``poll_max`` seconds. Raises
        :class:`PaymentPending` at the deadline - pending, not failed.
        """
        retrying = AsyncRetrying(
            stop=stop_after_delay(deadline),
            wait=wait_random_exponential(multiplier=poll_initial, max=poll_max),
            retry=retry_if_result(lambda current: not current.is_final)
            | retry_if_exception_type(AMBIGUOUS),
            sleep=anyio.sleep,
            retry_error_callback=_last_result,
        )
        latest: Payment | None = await retrying(self.status, payment_id)
        if latest is None or not latest.is_final:
            raise PaymentPending(latest, payment_id)
        return latest

    async def cancel(
        self, payment_id: int, *, receipt: Sequence[ReceiptPosition] | None = None
    ) -> PaymentOperation:
        """Release a held two-step payment before it is captured (``cancel.php``)."""
        params = self._CANCEL.encode(pg_payment_id=payment_id, pg_receipt_positions=receipt)

        async def revoked() -> PaymentOperation | None:
            payment = await self.status(payment_id)
            if payment.state is not PaymentState.REVOKED:
                return None
            return PaymentOperation("cancel", payment_id, None, payment.raw)

        return await settle(
            self._operation("cancel", self._CANCEL, params, "pg_amount"),
            revoked,
            endpoint=self._CANCEL,
            payment_id=payment_id,
        )

    async def capture(
        self,
        payment_id: int,
        *,
        amount: Decimal | str | None = None,
        receipt: Sequence[ReceiptPosition] | None = None,
    ) -> PaymentOperation:
        """Capture (clear) a held two-step payment, fully or ``amount`` of it (``do_capture.php``).

        Held payments not captured or cancelled within 5 days are captured by the gateway.
        """
        params = self._CAPTURE.encode(
            pg_payment_id=payment_id, pg_receipt_positions=receipt, pg_clearing_amount=amount
        )

        async def captured() -> PaymentOperation | None:
            payment = await self.status(payment_id)
            if not payment.captured:
                return None
            return PaymentOperation("capture", payment_id, payment.clearing_amount, payment.raw)

        return await settle(
            self._operation("capture", self._CAPTURE, params, "pg_clearing_amount"),
            captured,
            endpoint=self._CAPTURE,
            payment_id=payment_id,
        )

    async def refund(
        self,
        payment_id: int,
        *,
        amount: Decimal | str | None = None,
        receipt: Sequence[ReceiptPosition] | None = None,
    ) -> PaymentOperation:
        """Refund a captured payment, fully or ``amount`` of it (``revoke.php``).

        A refund whose outcome is lost raises :class:`PaymentOutcomeUnknown` at once: the
        status lists refunds but cannot say which one this request made, so compare
        ``status(payment_id).refunds`` with what you expect before refunding again.
        """
        params = self._REFUND.encode(
            pg_payment_id=payment_id, pg_receipt_positions=receipt, pg_refund_amount=amount
        )
        return await settle(
            self._operation("refund", self._REFUND, params, "pg_refund_amount"),
            None,
            endpoint=self._REFUND,
            payment_id=payment_id,
        )

    async def charge_recurring(
        self,
        *,
        recurring_profile: str,
        amount: Decimal | str,
        description: str,
        order_id: str | None = None,
        result_url: str | None = None,
    ) -> Payment:
        """Charge a recurring profile (``make_recurring_payment.php``) without the payer.

        The profile comes from a payment created with ``recurring_start=True`` (its Result
        notification carries ``pg_recurring_profile_id``). Give an ``order_id``: it is how a
        lost answer is resolved through :meth:`order_status`.
        """
        params = self._RECURRING.encode(
            pg_recurring_profile=recurring_profile,
            pg_amount=amount,
            pg_description=description,
            pg_order_id=order_id,
            pg_result_url=result_url,
        )

        async def charged() -> Payment | None:
            if order_id is None:
                return None
            found = await self.order_status(order_id)
            return await self.status(found.payment_id) if found.payment_id else None

        async def attempt() -> Payment:
            return Payment.from_answer(await self._client.call(self._RECURRING, params), order_id)

        return await settle(attempt(), charged, endpoint=self._RECURRING, order_id=order_id)

    async def _operation(
        self,
        kind: Literal["cancel", "capture", "refund"],
        endpoint: Endpoint,
        params: Mapping[str, object],
        amount_field: str,
    ) -> PaymentOperation:
        answer = await self._client.call(endpoint, params)
        return PaymentOperation(
            kind,
            to_int(answer.get("pg_payment_id")) or to_int(str(params["pg_payment_id"])),
            to_decimal(answer.get(amount_field)),
            answer,
        )


def lifetime_seconds(lifetime: timedelta | int) -> int:
    """``pg_lifetime`` in whole seconds, given as int or timedelta (the table checks the range)."""
    if isinstance(lifetime, timedelta):
        seconds = lifetime.total_seconds()
        if not seconds.is_integer():
            raise ValidationError("pg_lifetime", "must be whole seconds")
        return int(seconds)
    return lifetime
