"""The payment page: ``init_payment.php``, two-step payments, refunds and recurring charges.

A flow of the emulator's payment desk (:mod:`._payment_core` has the choices all flows share).
Choices where the documentation is silent:

* two-step (``pg_auto_clearing=0``): ``success`` while held (``pg_captured=0``), captured by
  ``do_capture.php`` (optionally partially), voided by ``cancel.php`` (``revoked``); refunds
  (``revoke.php``) only of captured money, each with its own payment id, up to the captured
  amount; the last one makes the payment ``refunded``;
* a recurring profile (``pg_recurring_start=1``) is created when the payment succeeds and
  lives ``pg_recurring_lifetime`` months (default 36); the status answers of the payment that
  created it and of its charges carry ``pg_recurring_profile_id`` and
  ``pg_recurring_profile_expiry_date`` (the status docs are silent, the Result has them); a
  recurring charge is decided by ``emu.rules`` like a payout (``process`` settles after status
  polls or seconds); it refuses an order id already used with :attr:`ErrorCode.ORDER_EXISTS`,
  and answers ``pg_status=ok`` both for a charged and a still-``process`` payment (the status
  endpoints tell them apart).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import time
from decimal import Decimal

from ._payment_core import _PARAMS, PaymentCore, _error_answer, _merchant_fields
from ._protocol import (
    EMULATOR_HOST,
    Answer,
    AnswerFields,
    ErrorCode,
    Fields,
    Handler,
    _amount,
    _choice,
    _flag,
    _int_between,
    _money,
    _optional,
    _optional_amount,
    _optional_text,
    _refuse,
    _required,
    _text,
    _url,
    _user_id,
)
from ._state import Payment, PaymentMethod

__all__ = ["PageFlow"]

_LANGUAGES = frozenset({"ru", "en", "kz", "kk", "kg", "uz"})
_INIT_METHODS: dict[str, PaymentMethod] = {
    "bankcard": "bankcard",
    "mobile_commerce": "mobile_commerce",
    "apple_pay": "apple_pay",
    "google_pay": "google_pay",
}
_INIT_METHOD_NAMES = frozenset(_INIT_METHODS)
_INIT_URLS = (
    "pg_check_url",
    "pg_result_url",
    "pg_success_url",
    "pg_failure_url",
    "pg_site_url",
    "pg_state_url",
)
_REQUEST_METHODS = frozenset({"GET", "POST", "XML"})
_DEFAULT_LIFETIME = 86400
# The first bytes of a PNG file: what a base64 QR image starts with.
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PageFlow:
    """The payment page: ``init_payment.php``, two-step payments, refunds and recurring charges."""

    def __init__(self, core: PaymentCore) -> None:
        self.core = core
        self.handlers: dict[str, Handler] = {
            "init_payment.php": self._init_payment,
            "cancel.php": self._cancel,
            "do_capture.php": self._capture,
            "revoke.php": self._refund,
            "make_recurring_payment.php": self._recurring,
        }

    # -- init_payment.php --------------------------------------------------------------------

    def _init_payment(self, fields: Fields) -> Answer:
        amount = _amount(fields)
        description = _text(fields, "pg_description", 1024)
        order_id = _optional_text(fields, "pg_order_id", 50) or ""
        currency = self.core.currency(fields)
        lifetime = _int_between(fields, "pg_lifetime", 300, 604800) or _DEFAULT_LIFETIME
        _choice(fields, "pg_language", _LANGUAGES)
        user_id = _user_id(fields, required=False)
        urls = {name: _url(fields, name) for name in _INIT_URLS}
        method = _choice(fields, "pg_payment_method", _INIT_METHOD_NAMES) or "bankcard"
        _choice(fields, "pg_request_method", _REQUEST_METHODS)
        auto_clearing = _flag(fields, "pg_auto_clearing", True)
        recurring_start = _flag(fields, "pg_recurring_start", False)
        generate_qr = _flag(fields, "pg_generate_qr", False)
        testing_mode = _flag(fields, "pg_testing_mode", False)
        recurring_lifetime = _int_between(fields, "pg_recurring_lifetime", 1, 156)
        for name in _PARAMS:
            _optional_text(fields, name, 255)
        payment = Payment(
            self.core.state.next_payment_id(),
            order_id,
            amount,
            description,
            currency,
            method=_INIT_METHODS[method],
            auto_clearing=auto_clearing,
            recurring_start=recurring_start,
            recurring_lifetime=recurring_lifetime,
            check_url=urls["pg_check_url"],
            result_url=urls["pg_result_url"],
            success_url=urls["pg_success_url"],
            failure_url=urls["pg_failure_url"],
            user_id=user_id,
            user_phone=_optional(fields, "pg_user_phone"),
            user_email=_optional(fields, "pg_user_contact_email"),
            testing_mode=testing_mode,
            merchant_fields=_merchant_fields(fields),
            can_reject=urls["pg_check_url"] is not None,
            expires_at=time.monotonic() + lifetime,
        )
        self.core.state.add_payment(payment)
        redirect = f"{EMULATOR_HOST}/pay.html?customer={secrets.token_hex(16)}"
        answer: AnswerFields = {
            "pg_status": "ok",
            "pg_payment_id": str(payment.payment_id),
            "pg_redirect_url": redirect,
            "pg_redirect_url_type": "need data",
        }
        if generate_qr:
            image = _PNG_MAGIC + hashlib.sha256(redirect.encode()).digest()
            answer["pg_redirect_qr"] = base64.b64encode(image).decode("ascii")
        return Answer(answer)

    # -- two-step, refunds -------------------------------------------------------------------

    def _cancel(self, fields: Fields) -> Answer:
        payment = self.core.find(fields)
        if not payment.held:
            raise _refuse(ErrorCode.CANNOT_CANCEL, "Payment cannot be cancelled")
        payment.status = "revoked"
        return Answer({"pg_status": "ok", "pg_payment_id": str(payment.payment_id)})

    def _capture(self, fields: Fields) -> Answer:
        payment = self.core.find(fields)
        amount = _optional_amount(fields, "pg_clearing_amount")
        if not payment.held:
            raise _refuse(
                ErrorCode.INVALID_STATE,
                f"Payment is {payment.status}: only a held two-step payment can be captured",
            )
        if amount is not None and amount > payment.amount:
            raise _refuse(
                ErrorCode.INVALID_PARAMETER,
                "Invalid parameter pg_clearing_amount: more than the payment amount "
                f"{_money(payment.amount)}",
            )
        payment.captured = True
        payment.clearing_amount = payment.amount if amount is None else amount
        return Answer(
            {
                "pg_status": "ok",
                "pg_payment_id": str(payment.payment_id),
                "pg_clearing_amount": _money(payment.clearing_amount),
            }
        )

    def _refund(self, fields: Fields) -> Answer:
        payment = self.core.find(fields)
        amount = _optional_amount(fields, "pg_refund_amount", zero_is_none=True)
        if payment.status != "success" or not payment.captured:
            raise _refuse(
                ErrorCode.INVALID_STATE,
                f"Payment is {payment.status}"
                + ("" if payment.captured else ", not captured")
                + ": only captured money can be refunded",
            )
        captured = payment.clearing_amount or Decimal(0)
        remaining = captured - payment.refunded_amount
        if amount is None:
            amount = remaining
        elif amount > remaining:
            raise _refuse(
                ErrorCode.INVALID_PARAMETER,
                "Invalid parameter pg_refund_amount: more than the captured amount not yet "
                f"refunded ({_money(remaining)})",
            )
        refund = self.core.state.add_refund(payment, amount)
        if payment.refunded_amount >= captured:
            payment.status = "refunded"
        return Answer(
            {
                "pg_status": "ok",
                "pg_payment_id": str(refund.payment_id),
                "pg_refund_amount": _money(amount),
            }
        )

    # -- recurring ---------------------------------------------------------------------------

    def _recurring(self, fields: Fields) -> Answer:
        profile_id = _required(fields, "pg_recurring_profile")
        amount = _amount(fields)
        description = _text(fields, "pg_description", 1024)
        order_id = _optional_text(fields, "pg_order_id", 50) or ""
        result_url = _url(fields, "pg_result_url")
        profile = self.core.state.recurring.get(profile_id)
        if profile is None or profile.expires_on < datetime.date.today():
            raise _refuse(
                ErrorCode.RECURRING_PROFILE_NOT_FOUND, "Recurring profile not found or expired"
            )
        if order_id:
            self.core.refuse_duplicate(order_id)
        parent = self.core.state.payments[profile.payment_id]
        payment = self.core.state.add_payment(
            Payment(
                self.core.state.next_payment_id(),
                order_id,
                amount,
                description,
                parent.currency,
                method=parent.method,
                endpoint="make_recurring_payment.php",
                status="process",
                recurring_profile_id=profile.profile_id,
                result_url=result_url or parent.result_url,
                user_id=parent.user_id,
                user_phone=parent.user_phone,
                user_email=parent.user_email,
                testing_mode=parent.testing_mode,
                card_pan=parent.card_pan,
                card_token=parent.card_token,
            )
        )
        self.core.decide(payment, self.core.rules.resolve(order_id, amount, profile.pan))
        common = {
            "pg_payment_id": str(payment.payment_id),
            "pg_amount": _money(amount),
            "pg_currency": payment.currency,
            "pg_recurring_profile": profile.profile_id,
            "pg_recurring_profile_expiry_date": profile.expiry_date,
        }
        if payment.status == "error":
            return _error_answer(payment, common)
        return Answer({"pg_status": "ok", **common})
