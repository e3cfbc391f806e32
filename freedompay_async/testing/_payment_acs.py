"""3-D Secure completions and the Gateway API's card storage (``g2g/paymentAcs``,
``g2g/cardstorage/add``, ``payment_acs``, ``list``, ``remove``).

A flow of the emulator's payment desk. The payer's side of 3-D Secure (the issuer's page and
what it posts back to the merchant) is :meth:`AcsFlow.pass_3ds` (``Emulator.pass_3ds``).

Choices where the documentation is silent (``shared/api/tokens-and-cards.md`` G1-G4, G7):

* ``g2g/cardstorage/add`` verifies the card like a payout card (``emu.rules`` by order id and
  card number: a declining rule answers ``pg_status=error`` with its code). A card number in
  :data:`THREE_DS_CARDS` answers ``pg_3ds=1``, an ACS URL on the emulator's host,
  ``pg_3d_md`` / ``pg_3d_pareq`` and ``pg_secure_details=C``, and is stored only after
  ``payment_acs``; any other card is stored at once (``pg_3ds=0``, ``pg_secure_details=F``).
  Stored cards are cards *for payments* of that ``pg_user_id`` (Token Pay finds them);
  ``pg_card_token`` instead of a number completes a card of that user (answers it again);
* ``list`` answers zero or more ``<card>`` (``pg_status=approved``, ``pg_card_token``,
  ``pg_is_filled=1``, ``pg_card_hash``, ``created_at``); ``remove`` answers
  ``pg_status=success`` and ``deleted_at`` at the root; an unknown token is
  :attr:`ErrorCode.CARD_NOT_FOUND`;
* ``g2g/paymentAcs`` and ``payment_acs`` need the payment's ``pg_md`` and the ``pg_pares``
  :meth:`AcsFlow.pass_3ds` gave; another MD or PaRes is :attr:`ErrorCode.INVALID_PARAMETER`,
  a payment not waiting for 3-D Secure :attr:`ErrorCode.INVALID_STATE`. A failed challenge
  declines with :data:`THREE_DS_FAILED` (10004, "3-D Secure failed" in a third-party list).
"""

from __future__ import annotations

import base64
import secrets
from decimal import Decimal

import attrs

from .._masking import mask_pan
from ._payment_core import Challenge, PaymentCore, _error_answer
from ._protocol import (
    Answer,
    AnswerFields,
    ErrorCode,
    Fields,
    Handler,
    _digits,
    _invalid,
    _numeric_id,
    _optional,
    _optional_text,
    _refuse,
    _required,
    _text,
    _user_id,
)
from ._state import CardToken, now_iso, now_text

__all__ = ["THREE_DS_CARDS", "THREE_DS_FAILED", "AcsFlow", "ThreeDSReturn"]

#: Card numbers whose saving asks for a 3-D Secure challenge.
THREE_DS_CARDS = frozenset({"4000000000003220"})
#: The decline code of a failed 3-D Secure challenge.
THREE_DS_FAILED = 10004


@attrs.frozen(slots=True)
class ThreeDSReturn:
    """What the issuer's page posts back to the merchant after the payer's challenge."""

    md: str
    pares: str = attrs.field(repr=False)


@attrs.define
class _PendingSave:
    payment_id: int
    user_id: str
    order_id: str
    pan: str = attrs.field(repr=False)


class AcsFlow:
    """3-D Secure completions and the Gateway API's card storage."""

    def __init__(self, core: PaymentCore) -> None:
        self.core = core
        self._challenges = core.challenges
        self._saves: dict[int, _PendingSave] = {}
        self.handlers: dict[str, Handler] = {
            "g2g/paymentAcs": self._complete_payment,
            "g2g/cardstorage/add": self._save,
            "g2g/cardstorage/payment_acs": self._complete_save,
            "g2g/cardstorage/list": self._list,
            "g2g/cardstorage/remove": self._remove,
        }

    # -- the payer's side --------------------------------------------------------------------

    def pass_3ds(self, payment_id: int, *, passed: bool = True) -> ThreeDSReturn:
        """Play the payer on the issuer's 3-D Secure page: returns what the page posts back."""
        challenge = self._challenges.get(payment_id)
        if challenge is None:
            raise KeyError(f"payment {payment_id} is not waiting for 3-D Secure")
        challenge.pares = base64.b64encode(secrets.token_bytes(64)).decode("ascii")
        challenge.passed = passed
        return ThreeDSReturn(challenge.md, challenge.pares)

    def _answered(self, fields: Fields) -> tuple[int, Challenge]:
        payment_id = _numeric_id(_required(fields, "pg_payment_id")) or 0
        challenge = self._challenges.get(payment_id)
        if challenge is None:
            raise _refuse(ErrorCode.INVALID_STATE, "The payment is not waiting for 3-D Secure")
        if _required(fields, "pg_md") != challenge.md:
            raise _invalid("pg_md", "not this payment's MD")
        if challenge.pares is None or _required(fields, "pg_pares") != challenge.pares:
            raise _invalid("pg_pares", "not the issuer's answer for this payment")
        del self._challenges[payment_id]
        return payment_id, challenge

    # -- g2g/paymentAcs: a wallet charge after 3-D Secure ------------------------------------

    def _complete_payment(self, fields: Fields) -> Answer:
        payment_id, challenge = self._answered(fields)
        payment = self.core.state.payments[payment_id]
        if payment.awaiting != "3ds":
            raise _refuse(ErrorCode.INVALID_STATE, "The payment is not waiting for 3-D Secure")
        payment.awaiting = None
        common: AnswerFields = {
            "pg_payment_id": str(payment.payment_id),
            "pg_merchant_id": self.core.settings.merchant_id,
            "pg_order_id": payment.order_id,
            "pg_datetime": now_iso(),
        }
        if not challenge.passed:
            self.core.fail(payment, THREE_DS_FAILED, "3-D Secure failed")
        else:
            self.core.decide(
                payment, self.core.rules.resolve(payment.order_id, payment.amount, None)
            )
        if payment.status == "error":
            return _error_answer(payment, common)
        answer: AnswerFields = {"pg_status": "ok", **common, "pg_3ds": "0"}
        if payment.status == "success":
            answer["pg_auth_code"] = payment.auth_code or ""
            answer["pg_reference"] = payment.reference or ""
        return Answer(answer)

    # -- g2g/cardstorage/* ------------------------------------------------------------------

    def _save(self, fields: Fields) -> Answer:
        user_id = _user_id(fields, required=True) or ""
        order_id = _optional_text(fields, "pg_order_id", 50) or ""
        _optional_text(fields, "pg_description", 1024)
        _digits(fields, "pg_card_cvc", 3, 3)
        _digits(fields, "pg_card_year", 2, 2)
        if not 1 <= int(_digits(fields, "pg_card_month", 2, 2)) <= 12:
            raise _invalid("pg_card_month", "expected 01 to 12")
        _text(fields, "pg_card_name", 255)
        token = _optional(fields, "pg_card_token")
        payment_id = self.core.state.next_payment_id()
        if token is not None:
            card = self.core.state.find_card(user_id, token, None, "payment")
            if card is None:
                raise _refuse(ErrorCode.CARD_NOT_FOUND, "Card not found")
            return self._saved(payment_id, order_id, card)
        pan = _digits(fields, "pg_card_pan", 13, 19)
        rule = self.core.rules.resolve(order_id, Decimal("1"), pan)
        if rule.outcome == "error":
            return Answer(
                {
                    "pg_status": "error",
                    "pg_error_code": str(rule.error_code),
                    "pg_error_description": rule.description,
                    "pg_payment_id": str(payment_id),
                    "pg_datetime": now_iso(),
                }
            )
        if pan not in THREE_DS_CARDS:
            return self._saved(
                payment_id, order_id, self.core.state.save_card(user_id, pan, "payment")
            )
        acs_url, md = self.core.challenge(payment_id)
        self._saves[payment_id] = _PendingSave(payment_id, user_id, order_id, pan)
        return Answer(
            {
                "pg_status": "ok",
                "pg_payment_id": str(payment_id),
                "pg_order_id": order_id,
                "pg_user_id": user_id,
                "pg_card_mask": mask_pan(pan),
                "pg_3ds": "1",
                "pg_3d_acsurl": acs_url,
                "pg_3d_md": md,
                "pg_3d_pareq": base64.b64encode(secrets.token_bytes(48)).decode("ascii"),
                "pg_secure_details": "C",
                "pg_datetime": now_iso(),
            }
        )

    def _saved(self, payment_id: int, order_id: str, card: CardToken) -> Answer:
        return Answer(
            {
                "pg_status": "ok",
                "pg_payment_id": str(payment_id),
                "pg_order_id": order_id,
                "pg_user_id": card.user_id,
                "pg_card_token": card.token,
                "pg_card_mask": mask_pan(card.pan),
                "pg_3ds": "0",
                "pg_secure_details": "F",
                "pg_datetime": now_iso(),
            }
        )

    def _complete_save(self, fields: Fields) -> Answer:
        payment_id = _numeric_id(_required(fields, "pg_payment_id")) or 0
        pending = self._saves.get(payment_id)
        if pending is None:
            raise _refuse(ErrorCode.INVALID_STATE, "No card save is waiting for 3-D Secure")
        _, challenge = self._answered(fields)
        del self._saves[payment_id]
        if not challenge.passed:
            return Answer(
                {
                    "pg_status": "error",
                    "pg_error_code": str(THREE_DS_FAILED),
                    "pg_error_description": "3-D Secure failed",
                    "pg_payment_id": str(payment_id),
                    "pg_datetime": now_iso(),
                }
            )
        card = self.core.state.save_card(pending.user_id, pending.pan, "payment")
        return self._saved(payment_id, pending.order_id, card)

    def _list(self, fields: Fields) -> Answer:
        user_id = _user_id(fields, required=True) or ""
        cards: list[AnswerFields] = [
            {
                "pg_status": "approved",
                "pg_card_token": card.token,
                "pg_is_filled": "1",
                "pg_card_hash": card.card_hash,
                "created_at": card.created_at,
            }
            for card in self.core.state.cards_of("payment", user_id)
        ]
        return Answer({"card": cards} if cards else {})

    def _remove(self, fields: Fields) -> Answer:
        user_id = _user_id(fields, required=True) or ""
        card = self.core.state.find_card(
            user_id, _required(fields, "pg_card_token"), None, "payment"
        )
        if card is None:
            raise _refuse(ErrorCode.CARD_NOT_FOUND, "Card not found")
        self.core.state.remove_card(card)
        return Answer({"pg_status": "success", "deleted_at": now_text()})
