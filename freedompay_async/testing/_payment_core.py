"""Payments (acquiring) in the emulated gateway, all signed with the payment key: the payment
page (``init_payment.php``), status, cancel, capture, refunds, recurring charges, mobile balance
(``mfs/*``), Gateway API token and wallet payments (``g2g/payment``, ``g2g/status_v2``) and
payments with a saved card (``v1/merchant/{id}/card/*``).

Callbacks: the Check request carries ``pg_order_id``, ``pg_payment_id``, ``pg_amount``,
``pg_currency``, ``pg_ps_amount``, ``pg_ps_full_amount``, ``pg_ps_currency`` and the merchant's
own (non-``pg_``) fields; the Result notification (after success *and* failure) adds
``pg_net_amount``, ``pg_description``, ``pg_result`` (1 / 0), ``pg_payment_date``,
``pg_can_reject``, ``pg_testing_mode``, ``pg_captured``, ``pg_payment_method``, and when known
``pg_card_pan`` (masked), ``pg_card_token``, ``pg_user_phone``, ``pg_user_contact_email``,
``pg_auth_code`` / ``pg_reference`` (success), ``pg_recurring_profile_id`` /
``pg_recurring_profile_expiry_date``, ``pg_failure_code`` / ``pg_failure_description``
(failure). Both are POSTed form fields signed with the script name of the merchant's URL (its
query fields included) and the payment key; the Result is re-sent until HTTP 200.

Choices where the documentation is silent (``shared/api/purchase-mobile-callbacks.md``), made
here once (each flow module lists its own):

* ``pg_payment_status`` uses the vocabulary in :mod:`._state` (``new``, ``process``,
  ``success``, ``error``, ``revoked``, ``refunded``); ``get_status2.php`` maps it to its
  documented ``pg_transaction_status``: ``new`` -> ``partial``, ``process`` -> ``pending``,
  ``success`` / ``refunded`` -> ``ok``, ``error`` / ``revoked`` -> ``failed``, and a payment
  whose ``pg_lifetime`` ran out before it was paid -> ``incomplete`` (it fails with
  ``pg_failure_code`` 360 the first time it is looked at after its lifetime; no Result is
  sent for it);
* the payer's side is a test driver (:meth:`PaymentCore.pay`, ``Emulator.pay``): with a check
  URL it first sends the Check request and a ``rejected`` / ``error`` / unsigned / missing
  answer fails the payment with :attr:`ErrorCode.CHECK_REJECTED` (the merchant's
  ``pg_description`` as failure description) without charging;
* ``pg_can_reject`` is ``1`` for a payment that went through the merchant's check URL (the
  merchant had its say before money moved), else ``0``; the emulator does not act on the
  merchant's answer to a Result notification (it only re-sends until HTTP 200);
* no commission: ``pg_net_amount``, ``pg_ps_amount`` and ``pg_ps_full_amount`` equal the
  amount, ``pg_ps_currency`` the currency;
* ``pg_testing_mode`` is ``0`` unless the request sent ``1``; Check and Result go out as POST
  form fields whatever ``pg_request_method`` says;
* a ``process`` payment counts the status calls made about it (``get_status3.php``,
  ``get_status2.php``, ``g2g/status_v2``); a poll sees ``process`` and the payment settles
  right after the poll that reaches its rule's count.
"""

from __future__ import annotations

import asyncio
import datetime
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Protocol

import attrs

from .._masking import mask_pan
from .._wire import parse_xml
from ..errors import MalformedResponse
from ..signing import script_name, verify_document
from ._notifier import Notifier
from ._protocol import (
    EMULATOR_HOST,
    Answer,
    AnswerFields,
    EmulatorSettings,
    ErrorCode,
    Fields,
    Handler,
    _money,
    _numeric_id,
    _optional_text,
    _refuse,
    _required,
)
from ._rules import Rule, RuleBook
from ._state import (
    GatewayState,
    Payment,
    PaymentStatus,
    RecurringProfile,
    now_text,
)

__all__ = ["Flow", "PaymentCore"]

#: Fields the merchant may send for itself (``pg_param1`` ... ``pg_param3``).
_PARAMS = ("pg_param1", "pg_param2", "pg_param3")
_DEFAULT_RECURRING_MONTHS = 36


class Flow(Protocol):
    """One payment flow: the scripts it serves (path -> handler), built on a
    :class:`PaymentCore`."""

    @property
    def handlers(self) -> Mapping[str, Handler]: ...


def _flag_text(value: bool) -> str:
    return "1" if value else "0"


def _merchant_fields(fields: Fields) -> dict[str, str]:
    """The merchant's own (non-``pg_``) fields, echoed in callbacks."""
    return {
        name: value
        for name, value in fields.items()
        if not name.startswith("pg_") and isinstance(value, str)
    }


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    return datetime.date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


@attrs.define
class Challenge:
    """A 3-D Secure challenge: the MD sent with it and, once the payer has been on the
    issuer's page (``Emulator.pass_3ds``), the PaRes the page posted back."""

    md: str
    pares: str | None = attrs.field(default=None, repr=False)
    passed: bool = False


class PaymentCore:
    """What every payment flow shares: the state, lookups, outcomes, callbacks, status answers
    and the payer-side driver (:meth:`pay`)."""

    def __init__(
        self, settings: EmulatorSettings, state: GatewayState, rules: RuleBook, notifier: Notifier
    ) -> None:
        self.settings = settings
        self.state = state
        self.rules = rules
        self.notifier = notifier
        self._timers: dict[int, asyncio.TimerHandle] = {}
        #: Open 3-D Secure challenges by payment id (wallet charges and card saves).
        self.challenges: dict[int, Challenge] = {}

    def challenge(self, payment_id: int) -> tuple[str, str]:
        """A new 3-D Secure challenge for ``payment_id``: its ACS URL and MD."""
        challenge = Challenge(secrets.token_hex(16))
        self.challenges[payment_id] = challenge
        return f"{EMULATOR_HOST}/3ds/{uuid.uuid4()}", challenge.md

    def close(self) -> None:
        """Stop the timers of ``process`` payments (the emulator is shutting down)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # -- lookups -----------------------------------------------------------------------------

    def find(self, fields: Fields) -> Payment:
        """The payment named by ``pg_payment_id`` (11068 when unknown)."""
        payment = self.state.payments.get(_numeric_id(_required(fields, "pg_payment_id")) or 0)
        if payment is None:
            raise _refuse(ErrorCode.PAYMENT_NOT_FOUND, "Payment not found.")
        self.expire_if_due(payment)
        return payment

    def find_by_order(self, order_id: str) -> Payment:
        payment = self.state.latest_payment(order_id)
        if payment is None:
            raise _refuse(ErrorCode.PAYMENT_NOT_FOUND, "Payment not found.")
        self.expire_if_due(payment)
        return payment

    def expire_if_due(self, payment: Payment) -> None:
        if (
            payment.status == "new"
            and payment.expires_at is not None
            and time.monotonic() >= payment.expires_at
        ):
            self.fail(payment, ErrorCode.PAYMENT_EXPIRED, "Payment lifetime expired", notify=False)

    def refuse_duplicate(self, order_id: str) -> None:
        existing = self.state.latest_payment(order_id)
        if existing is not None:
            existing.create_requests += 1
            raise _refuse(ErrorCode.ORDER_EXISTS, f"Order {order_id} already exists")

    def currency(self, fields: Fields) -> str:
        currency = _optional_text(fields, "pg_currency", 3)
        return currency or self.settings.currency

    # -- outcomes ----------------------------------------------------------------------------

    def decide(self, payment: Payment, rule: Rule) -> None:
        """Apply a rule's outcome to a payment the bank is deciding now."""
        if rule.outcome == "ok":
            self.succeed(payment)
        elif rule.outcome == "error":
            assert rule.error_code is not None
            self.fail(payment, rule.error_code, rule.description)
        else:
            payment.status, payment.rule, payment.polls = "process", rule, 0
            if rule.seconds is not None:
                loop = asyncio.get_running_loop()
                self._timers[payment.payment_id] = loop.call_later(
                    rule.seconds, self.settle, payment
                )

    def settle(self, payment: Payment) -> None:
        """A ``process`` payment reaches its rule's final state."""
        timer = self._timers.pop(payment.payment_id, None)
        if timer is not None:
            timer.cancel()
        rule = payment.rule
        if payment.status != "process" or rule is None:
            return
        if rule.then == "ok":
            self.succeed(payment)
        else:
            assert rule.error_code is not None
            self.fail(payment, rule.error_code, rule.description)

    def succeed(self, payment: Payment, pan: str | None = None) -> None:
        payment.status, payment.awaiting, payment.rule = "success", None, None
        payment.paid_at = now_text()
        payment.captured = payment.auto_clearing
        payment.clearing_amount = payment.amount if payment.captured else None
        payment.auth_code = f"{secrets.randbelow(10**6):06d}"
        payment.reference = f"{secrets.randbelow(10**12):012d}"
        if payment.recurring_start and payment.recurring_profile_id is None:
            self._start_recurring(payment, pan)
        self._notify_result(payment)

    def fail(self, payment: Payment, code: int, description: str, *, notify: bool = True) -> None:
        payment.status, payment.awaiting, payment.rule = "error", None, None
        payment.paid_at = now_text()
        payment.failure_code, payment.failure_description = code, description
        if notify:
            self._notify_result(payment)

    def _start_recurring(self, payment: Payment, pan: str | None) -> None:
        expires_on = _add_months(
            datetime.date.today(), payment.recurring_lifetime or _DEFAULT_RECURRING_MONTHS
        )
        profile = RecurringProfile(
            str(self.state.next_payment_id()),
            payment.payment_id,
            f"{expires_on.isoformat()} {now_text()[11:]}",
            expires_on,
            pan,
        )
        self.state.recurring[profile.profile_id] = profile
        payment.recurring_profile_id = profile.profile_id

    def _poll(self, payment: Payment) -> bool:
        """Count a status poll of ``payment``; whether it settles once this poll is answered."""
        rule = payment.rule
        if payment.status != "process" or rule is None:
            return False
        payment.polls += 1
        return rule.polls is not None and payment.polls >= rule.polls

    # -- callbacks ---------------------------------------------------------------------------

    def _callback_fields(self, payment: Payment) -> dict[str, str]:
        """What the Check request carries (C1)."""
        amount = _money(payment.amount)
        return {
            "pg_order_id": payment.order_id,
            "pg_payment_id": str(payment.payment_id),
            "pg_amount": amount,
            "pg_currency": payment.currency,
            "pg_ps_amount": amount,
            "pg_ps_full_amount": amount,
            "pg_ps_currency": payment.currency,
            **payment.merchant_fields,
        }

    def result_fields(self, payment: Payment) -> dict[str, str]:
        """The Result notification of a finished payment (C2)."""
        succeeded = payment.status == "success"
        amount = _money(payment.amount)
        fields = {
            "pg_order_id": payment.order_id,
            "pg_payment_id": str(payment.payment_id),
            "pg_amount": amount,
            "pg_currency": payment.currency,
            "pg_net_amount": amount,
            "pg_ps_amount": amount,
            "pg_ps_full_amount": amount,
            "pg_ps_currency": payment.currency,
            "pg_description": payment.description,
            "pg_result": _flag_text(succeeded),
            "pg_payment_date": payment.paid_at or now_text(),
            "pg_can_reject": _flag_text(payment.can_reject),
            "pg_testing_mode": _flag_text(payment.testing_mode),
            "pg_captured": _flag_text(payment.captured),
            "pg_payment_method": payment.method,
        }
        if payment.card_pan is not None:
            fields["pg_card_pan"] = payment.card_pan
        if payment.card_token is not None:
            fields["pg_card_token"] = payment.card_token
        if payment.user_phone is not None:
            fields["pg_user_phone"] = payment.user_phone
        if payment.user_email is not None:
            fields["pg_user_contact_email"] = payment.user_email
        if succeeded and payment.auth_code is not None and payment.reference is not None:
            fields["pg_auth_code"] = payment.auth_code
            fields["pg_reference"] = payment.reference
        profile = self.state.recurring.get(payment.recurring_profile_id or "")
        if profile is not None:
            fields["pg_recurring_profile_id"] = profile.profile_id
            fields["pg_recurring_profile_expiry_date"] = profile.expiry_date
        if payment.failure_code is not None:
            fields["pg_failure_code"] = str(int(payment.failure_code))
            fields["pg_failure_description"] = payment.failure_description
        fields.update(payment.merchant_fields)
        return fields

    def _notify_result(self, payment: Payment) -> None:
        if payment.result_url:
            self.notifier.send(
                payment.result_url,
                payment.order_id,
                self.result_fields(payment),
                self.settings.secret_key,
                "result",
            )

    async def _check(self, payment: Payment, url: str) -> str | None:
        """Ask the merchant's check URL; ``None`` if it accepts, else why the payment fails."""
        key = self.settings.secret_key
        record, body = await self.notifier.ask(
            url, payment.order_id, self._callback_fields(payment), key
        )
        if record.status != 200 or body is None:
            return "The merchant's check URL did not answer"
        try:
            document = parse_xml(body)
        except MalformedResponse:
            return "The merchant's check answer is not XML"
        if not verify_document(script_name(url), document, key):
            return "The merchant's check answer is not signed"
        status = document.fields.get("pg_status")
        if status == "ok":
            return None
        description = document.fields.get("pg_description")
        if isinstance(description, str) and description:
            return description
        return f"The merchant's check answered {status!r}"

    async def pay(
        self,
        payment_id: int,
        *,
        card_number: str,
        succeed: bool,
        error_code: int,
        error_description: str,
    ) -> Payment:
        """The payer completes the payment page (see ``Emulator.pay``)."""
        payment = self.state.payments.get(payment_id)
        if payment is None:
            raise KeyError(f"no payment {payment_id}")
        self.expire_if_due(payment)
        if payment.status != "new" and payment.awaiting != "3ds":
            raise ValueError(
                f"payment {payment_id} is {payment.status}: only a new payment (or one waiting "
                "for 3-D Secure) can be paid"
            )
        pan: str | None = None
        if payment.card_token is not None:
            card = self.state.cards.get(payment.card_token)
            pan = None if card is None else card.pan
        elif payment.method == "bankcard":
            pan = card_number
            payment.card_pan = mask_pan(card_number)
        payment.status, payment.awaiting = "process", None
        self.challenges.pop(payment_id, None)  # the payer went through 3-D Secure here
        if payment.check_url:
            payment.awaiting = "check"
            refusal = await self._check(payment, payment.check_url)
            if payment.status != "process" or payment.awaiting != "check":
                return payment  # decided meanwhile
            if refusal is not None:
                self.fail(payment, ErrorCode.CHECK_REJECTED, refusal)
                return payment
        if succeed:
            self.succeed(payment, pan)
        else:
            self.fail(payment, error_code, error_description)
        return payment

    # -- status ------------------------------------------------------------------------------

    def status_fields(self, payment: Payment, status: PaymentStatus) -> AnswerFields:
        """What both status scripts say about a payment (as seen before this poll settles)."""
        refunded = payment.refunded_amount
        fields: AnswerFields = {
            "pg_status": "ok",
            "pg_payment_id": str(payment.payment_id),
            "pg_order_id": payment.order_id,
            "pg_amount": _money(payment.amount),
            "pg_currency": payment.currency,
            "pg_payment_status": status,
            "pg_payment_method": payment.method,
            "pg_can_reject": _flag_text(payment.can_reject),
            "pg_captured": _flag_text(payment.captured),
            "pg_clearing_amount": _money(payment.clearing_amount or Decimal(0)),
            "pg_refund_amount": _money(-refunded) if refunded else "0.00",
        }
        if payment.refunds:
            fields["pg_refund_payments"] = {
                "pg_refund_payment": [
                    {
                        "pg_payment_id": str(refund.payment_id),
                        "pg_payment_status": refund.status,
                        "pg_amount": _money(-refund.amount),
                        "pg_payment_date": refund.date,
                    }
                    for refund in payment.refunds
                ]
            }
        if payment.card_pan is not None:
            fields["pg_card_pan"] = payment.card_pan
        if payment.card_token is not None:
            fields["pg_card_token"] = payment.card_token
        if payment.user_phone is not None:
            fields["pg_user_phone"] = payment.user_phone
        if payment.user_email is not None:
            fields["pg_user_email"] = payment.user_email
        if status == "success" and payment.reference is not None:
            fields["pg_reference"] = payment.reference
            fields["pg_auth_code"] = payment.auth_code or ""
        profile = self.state.recurring.get(payment.recurring_profile_id or "")
        if profile is not None:  # not in the status docs; the Result carries the same
            fields["pg_recurring_profile_id"] = profile.profile_id
            fields["pg_recurring_profile_expiry_date"] = profile.expiry_date
        fields["pg_create_date"] = payment.created_at
        if payment.paid_at is not None:
            fields["pg_payment_date"] = payment.paid_at
        if payment.failure_code is not None:
            fields["pg_failure_code"] = str(int(payment.failure_code))
            fields["pg_failure_description"] = payment.failure_description
        return fields

    def answer_poll(
        self, payment: Payment, build: Callable[[Payment, PaymentStatus], AnswerFields]
    ) -> Answer:
        """Answer a status poll, then settle the payment if this poll was its last."""
        due = self._poll(payment)
        answer = Answer(build(payment, payment.status))
        if due:
            self.settle(payment)
        return answer


def _error_answer(payment: Payment, extra: dict[str, str]) -> Answer:
    fields: AnswerFields = {
        "pg_status": "error",
        "pg_error_code": str(int(payment.failure_code)),  # type: ignore[arg-type]
        "pg_error_description": payment.failure_description,
        **extra,
    }
    return Answer(fields)
