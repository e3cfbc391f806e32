"""Gateway API charges: Token Pay, Apple Pay, Google Pay (``g2g/payment``, ``g2g/status_v2``).

A flow of the emulator's payment desk (:mod:`._payment_core` has the choices all flows share).
Choices where the documentation is silent:

* ``g2g/payment`` (Gateway API): Token Pay needs a card saved *for payments* of that
  ``pg_user_id`` (else :attr:`ErrorCode.CARD_NOT_FOUND`); Token Pay and Apple / Google Pay are
  decided by ``emu.rules`` (by order id, amount, or the card number / DPAN); an order id
  already used is refused with :attr:`ErrorCode.ORDER_EXISTS`; a decline answers
  ``pg_status=error`` with the rule's code, ``ok`` otherwise (also for ``process``).
  Wallet rule: ECI ``07`` (not authenticated) answers ``pg_3ds=1`` with an ACS URL on the
  emulator's host, ``pg_3d_md`` and ``pg_3d_pareq``, and the payment stays ``process`` until
  ``g2g/paymentAcs`` brings the issuer's answer (``Emulator.pass_3ds`` plays the payer; see
  :mod:`._payment_acs`) or ``Emulator.pay`` completes it; every other ECI answers ``pg_3ds=0``;
* ``g2g/status_v2`` finds any payment by ``pg_payment_id`` (a refund by its own id, too) or
  the latest payment of a ``pg_order_id``; it answers what ``get_status3.php`` does plus
  ``pg_datetime``.
"""

from __future__ import annotations

import base64
import secrets
from decimal import Decimal

from .._masking import mask_pan
from ._payment_core import PaymentCore, _error_answer
from ._protocol import (
    Answer,
    AnswerFields,
    ErrorCode,
    Fields,
    Handler,
    _amount,
    _choice,
    _digits,
    _flag,
    _invalid,
    _money,
    _numeric_id,
    _optional,
    _refuse,
    _required,
    _text,
    _url,
    _user_id,
)
from ._state import Payment, PaymentMethod, PaymentStatus, Refund, now_iso

__all__ = ["GatewayApiFlow"]

_WALLETS: dict[str, PaymentMethod] = {"apple_pay": "apple_pay", "google_pay": "google_pay"}
_WALLET_NAMES = frozenset(_WALLETS)
_ECI = frozenset({"00", "01", "02", "05", "06", "07"})
#: The ECI of a wallet payment that was not authenticated on the device: 3-D Secure follows.
_ECI_3DS = "07"


class GatewayApiFlow:
    """Gateway API charges: Token Pay, Apple Pay, Google Pay (``g2g/payment``,
    ``g2g/status_v2``)."""

    def __init__(self, core: PaymentCore) -> None:
        self.core = core
        self.handlers: dict[str, Handler] = {
            "g2g/payment": self._g2g_payment,
            "g2g/status_v2": self._g2g_status,
        }

    # -- Gateway API: Token Pay, Apple Pay, Google Pay ---------------------------------------

    def _g2g_payment(self, fields: Fields) -> Answer:
        method = _choice(fields, "pg_payment_method", _WALLET_NAMES)
        order_id = _text(fields, "pg_order_id", 50)
        amount = _amount(fields)
        description = _text(fields, "pg_description", 1024)
        currency = self.core.currency(fields)
        result_url = _url(fields, "pg_result_url")
        if method is None:
            user_id = _user_id(fields, required=True)
            card = self.core.state.find_card(
                user_id or "", _required(fields, "pg_card_token"), None, "payment"
            )
            if card is None:
                raise _refuse(
                    ErrorCode.CARD_NOT_FOUND,
                    "Card not found: pg_card_token is no payment card of pg_user_id",
                )
            self.core.refuse_duplicate(order_id)
            payment = self.core.state.add_payment(
                Payment(
                    self.core.state.next_payment_id(),
                    order_id,
                    amount,
                    description,
                    currency,
                    method="card_token",
                    endpoint="g2g/payment",
                    status="process",
                    user_id=user_id,
                    card_pan=card.card_hash,
                    card_token=card.token,
                    result_url=result_url,
                )
            )
            self.core.decide(payment, self.core.rules.resolve(order_id, amount, card.pan))
            common = {
                "pg_payment_id": str(payment.payment_id),
                "pg_merchant_id": self.core.settings.merchant_id,
                "pg_order_id": order_id,
                "pg_datetime": now_iso(),
            }
            if payment.status == "error":
                return _error_answer(payment, common)
            return Answer({"pg_status": "ok", **common})
        return self._wallet_payment(
            fields, _WALLETS[method], order_id, amount, description, currency, result_url
        )

    def _wallet_payment(
        self,
        fields: Fields,
        method: PaymentMethod,
        order_id: str,
        amount: Decimal,
        description: str,
        currency: str,
        result_url: str | None,
    ) -> Answer:
        pan = _digits(fields, "pg_card_pan", 13, 20)
        _digits(fields, "pg_card_year", 2, 2)
        if not 1 <= int(_digits(fields, "pg_card_month", 2, 2)) <= 12:
            raise _invalid("pg_card_month", "expected 01 to 12")
        _required(fields, "pg_online_payment_cryptogram")
        eci = _required(fields, "pg_eci_indicator")
        if eci not in _ECI:
            raise _invalid("pg_eci_indicator", f"expected one of {', '.join(sorted(_ECI))}")
        if method == "apple_pay":
            _text(fields, "pg_card_name", 255)
        auto_clearing = _flag(fields, "pg_auto_clearing", True)
        self.core.refuse_duplicate(order_id)
        payment = self.core.state.add_payment(
            Payment(
                self.core.state.next_payment_id(),
                order_id,
                amount,
                description,
                currency,
                method=method,
                endpoint="g2g/payment",
                status="process",
                auto_clearing=auto_clearing,
                card_pan=mask_pan(pan),
                result_url=result_url,
            )
        )
        answer: AnswerFields = {"pg_status": "ok", "pg_payment_id": str(payment.payment_id)}
        if eci == _ECI_3DS:
            payment.awaiting = "3ds"
            answer["pg_3ds"] = "1"
            answer["pg_3d_acsurl"], answer["pg_3d_md"] = self.core.challenge(payment.payment_id)
            answer["pg_3d_pareq"] = base64.b64encode(secrets.token_bytes(48)).decode("ascii")
            answer["pg_datetime"] = now_iso()
            return Answer(answer)
        self.core.decide(payment, self.core.rules.resolve(order_id, amount, pan))
        if payment.status == "error":
            return _error_answer(
                payment,
                {
                    "pg_payment_id": str(payment.payment_id),
                    "pg_datetime": now_iso(),
                },
            )
        answer["pg_3ds"] = "0"
        if payment.status == "success":
            answer["pg_auth_code"] = payment.auth_code or ""
            answer["pg_reference"] = payment.reference or ""
        answer["pg_datetime"] = now_iso()
        return Answer(answer)

    def _g2g_status(self, fields: Fields) -> Answer:
        id_text = _optional(fields, "pg_payment_id")
        order_id = _optional(fields, "pg_order_id")
        if id_text is None:
            if order_id is None:
                raise _refuse(
                    ErrorCode.INVALID_PARAMETER, "Missing required parameter pg_payment_id"
                )
            return self.core.answer_poll(
                self.core.find_by_order(order_id), self._gateway_status_fields
            )
        number = _numeric_id(id_text) or 0
        refunded = self.core.state.refunds.get(number)
        if refunded is not None and order_id in (None, refunded[0].order_id):
            return Answer(_refund_status(*refunded))
        payment = self.core.state.payments.get(number)
        if payment is None or order_id not in (None, payment.order_id):
            raise _refuse(ErrorCode.PAYMENT_NOT_FOUND, "Payment not found.")
        self.core.expire_if_due(payment)
        return self.core.answer_poll(payment, self._gateway_status_fields)

    def _gateway_status_fields(self, payment: Payment, status: PaymentStatus) -> AnswerFields:
        fields = self.core.status_fields(payment, status)
        fields["pg_datetime"] = now_iso()
        return fields


def _refund_status(parent: Payment, refund: Refund) -> AnswerFields:
    """``g2g/status_v2`` about a refund, asked for by the refund's own payment id."""
    return {
        "pg_status": "ok",
        "pg_payment_status": refund.status,
        "pg_payment_id": str(refund.payment_id),
        "pg_order_id": parent.order_id,
        "pg_currency": parent.currency,
        "pg_amount": _money(refund.amount),
        "pg_payment_date": refund.date,
        "pg_datetime": now_iso(),
    }
