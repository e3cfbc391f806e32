"""Merchant API payments with a saved card (``card/init``, ``card/pay``, ``card/direct``).

A flow of the emulator's payment desk (:mod:`._payment_core` has the choices all flows share).
Choices where the documentation is silent:

* paying with a saved card (``card/init``, then ``card/pay`` or ``card/direct``): the token
  must be a card saved *for payments* of ``pg_user_id`` (:attr:`ErrorCode.CARD_NOT_FOUND`);
  ``card/init`` charges nothing (``new``) and honours ``pg_idempotency_key``; ``card/pay``
  answers the payer's CVC page (HTML, unsigned; the payer submitting it is ``Emulator.pay``);
  ``card/direct`` charges by ``emu.rules`` and answers ``pg_status=ok`` with
  ``pg_payment_status`` ``success`` / ``process`` / ``error`` (and the failure code). Both
  refuse a payment that is not a ``new`` card-token payment with
  :attr:`ErrorCode.INVALID_STATE`.
"""

from __future__ import annotations

import html

from ._payment_core import _PARAMS, PaymentCore, _merchant_fields
from ._protocol import (
    EMULATOR_HOST,
    Answer,
    AnswerFields,
    ErrorCode,
    Fields,
    Handler,
    _amount,
    _money,
    _optional,
    _optional_text,
    _refuse,
    _text,
    _url,
    _user_id,
)
from ._state import Payment

__all__ = ["SavedCardFlow"]

_CARD_INIT = "v1/merchant/{merchant_id}/card/init"
_CARD_INIT_URLS = ("pg_result_url", "pg_success_url", "pg_failure_url")
# The payer's CVC page of card/pay; it posts to the emulator's never-resolving host.
_CVC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Payment confirmation</title></head>
<body>
<form method="post" action="{action}">
<p>{description}: {amount} {currency}, card {card}</p>
<input type="hidden" name="pg_payment_id" value="{payment_id}">
<label>CVC <input name="cvc" inputmode="numeric" pattern="[0-9]{{3,4}}" maxlength="4"
 autocomplete="cc-csc" required></label>
<button type="submit">Pay</button>
</form>
</body>
</html>
"""


class SavedCardFlow:
    """Merchant API payments with a saved card (``card/init``, ``card/pay``, ``card/direct``)."""

    def __init__(self, core: PaymentCore) -> None:
        self.core = core
        self.handlers: dict[str, Handler] = {
            _CARD_INIT: self._card_init,
            "v1/merchant/{merchant_id}/card/pay": self._card_pay,
            "v1/merchant/{merchant_id}/card/direct": self._card_direct,
        }

    # -- Merchant API: paying with a saved card ----------------------------------------------

    def _card_init(self, fields: Fields) -> Answer:
        order_id = _text(fields, "pg_order_id", 50)
        amount = _amount(fields)
        description = _text(fields, "pg_description", 1024)
        user_id = _user_id(fields, required=True) or ""
        token = _text(fields, "pg_card_token", 255)
        currency = self.core.currency(fields)
        urls = {name: _url(fields, name) for name in _CARD_INIT_URLS}
        for name in _PARAMS:
            _optional_text(fields, name, 255)
        card = self.core.state.find_card(user_id, token, None, "payment")
        if card is None:
            raise _refuse(
                ErrorCode.CARD_NOT_FOUND,
                "Card not found: pg_card_token is no payment card of pg_user_id",
            )
        payment = self.core.state.add_payment(
            Payment(
                self.core.state.next_payment_id(),
                order_id,
                amount,
                description,
                currency,
                method="card_token",
                endpoint=_CARD_INIT,
                user_id=user_id,
                user_phone=_optional(fields, "pg_user_phone"),
                user_email=_optional(fields, "pg_user_email"),
                card_pan=card.card_hash,
                card_token=card.token,
                result_url=urls["pg_result_url"],
                success_url=urls["pg_success_url"],
                failure_url=urls["pg_failure_url"],
                merchant_fields=_merchant_fields(fields),
            )
        )
        return Answer(
            {
                "pg_status": "ok",
                "pg_payment_id": str(payment.payment_id),
                "pg_merchant_id": self.core.settings.merchant_id,
                "pg_order_id": order_id,
            }
        )

    def _card_payment(self, fields: Fields) -> Payment:
        """A ``new`` payment made by ``card/init``, named by ``pg_payment_id``."""
        payment = self.core.find(fields)
        if payment.endpoint != _CARD_INIT or payment.status != "new":
            raise _refuse(
                ErrorCode.INVALID_STATE,
                f"Payment is a {payment.status} payment of {payment.endpoint}: only a new "
                "card/init payment is confirmed",
            )
        return payment

    def _card_pay(self, fields: Fields) -> Answer:
        payment = self._card_payment(fields)
        merchant_id = self.core.settings.merchant_id
        page = _CVC_PAGE.format(
            action=f"{EMULATOR_HOST}/v1/merchant/{merchant_id}/card/pay/confirm",
            description=html.escape(payment.description),
            amount=_money(payment.amount),
            currency=html.escape(payment.currency),
            card=html.escape(payment.card_pan or ""),
            payment_id=payment.payment_id,
        )
        return Answer({}, html=page)

    def _card_direct(self, fields: Fields) -> Answer:
        payment = self._card_payment(fields)
        card = self.core.state.cards.get(payment.card_token or "")
        if card is None:
            raise _refuse(ErrorCode.CARD_NOT_FOUND, "Card not found: the saved card was removed")
        self.core.decide(
            payment, self.core.rules.resolve(payment.order_id, payment.amount, card.pan)
        )
        answer: AnswerFields = {
            "pg_status": "ok",
            "pg_payment_id": str(payment.payment_id),
            "pg_payment_status": payment.status,
        }
        if payment.failure_code is not None:
            answer["pg_failure_code"] = str(int(payment.failure_code))
            answer["pg_failure_description"] = payment.failure_description
        return Answer(answer)
