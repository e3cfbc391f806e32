"""Mobile balance payments (``mfs/*``).

A flow of the emulator's payment desk (:mod:`._payment_core` has the choices all flows share).
Choices where the documentation is silent:

* mobile balance (``mfs/*``): any 11-digit phone pays; the one-time code is
  :data:`MOBILE_TEST_CODE` (``111111``, the documented test code) for every phone, and
  ``mfs/resend_code`` only counts (:attr:`Payment.code_resends`). A right code settles the
  payment by ``emu.rules`` (default success), except for the documented second test phone
  :data:`MOBILE_PROCESS_PHONE` (``77027777777``): ``mfs/approve`` answers ``process`` and the
  payment turns ``success`` right after the next status poll. ``mfs/*`` send no Check request.
"""

from __future__ import annotations

from ._payment_core import PaymentCore, _error_answer
from ._protocol import (
    Answer,
    ErrorCode,
    Fields,
    Handler,
    _choice,
    _digits,
    _refuse,
    _required,
)
from ._rules import Rule
from ._state import Payment

__all__ = ["MOBILE_PROCESS_PHONE", "MOBILE_TEST_CODE", "MOBILE_TEST_PHONE", "MobileFlow"]

#: The one-time code ``mfs/approve`` accepts (the documented test code, for every phone).
MOBILE_TEST_CODE = "111111"
#: The documented Kcell test phone: paid at once after ``mfs/approve``.
MOBILE_TEST_PHONE = "77017777777"
#: The documented second test phone: ``mfs/approve`` answers ``process``; the payment turns
#: ``success`` right after the next status poll.
MOBILE_PROCESS_PHONE = "77027777777"
_PAYMENT_SYSTEMS = frozenset({"TELE2KZT", "ALTELKZT", "BEELINEKZT", "KCELLKZT", "ACTIVKZT"})


class MobileFlow:
    """Mobile balance payments (``mfs/*``)."""

    def __init__(self, core: PaymentCore) -> None:
        self.core = core
        self.handlers: dict[str, Handler] = {
            "mfs/pay": self._mfs_pay,
            "mfs/approve": self._mfs_approve,
            "mfs/resend_code": self._mfs_resend_code,
        }

    # -- mobile balance ----------------------------------------------------------------------

    def _mfs_pay(self, fields: Fields) -> Answer:
        payment = self.core.find(fields)
        phone = _digits(fields, "pg_abonent_phone", 11, 11)
        system = _choice(fields, "pg_payment_system_code", _PAYMENT_SYSTEMS)
        if payment.method != "mobile_commerce" or payment.status != "new":
            raise _refuse(
                ErrorCode.INVALID_STATE,
                f"Payment is a {payment.status} {payment.method} payment: only a new "
                "mobile_commerce payment is paid from a phone",
            )
        payment.status, payment.awaiting = "process", "approval"
        payment.abonent_phone, payment.payment_system = phone, system
        return Answer({"pg_status": "need_approve", "pg_payment_id": str(payment.payment_id)})

    def _awaiting_code(self, payment: Payment) -> None:
        if payment.awaiting != "approval":
            raise _refuse(
                ErrorCode.INVALID_STATE,
                f"Payment is {payment.status}: no one-time code is awaited (call mfs/pay first)",
            )

    def _mfs_approve(self, fields: Fields) -> Answer:
        payment = self.core.find(fields)
        code = _required(fields, "pg_approval_code")
        self._awaiting_code(payment)
        if code != MOBILE_TEST_CODE:
            raise _refuse(ErrorCode.INVALID_APPROVAL_CODE, "Invalid approval code")
        payment.awaiting = None
        if payment.user_phone is None:
            payment.user_phone = payment.abonent_phone
        if payment.abonent_phone == MOBILE_PROCESS_PHONE:
            rule = Rule.process(polls=1)
        else:
            rule = self.core.rules.resolve(payment.order_id, payment.amount, None)
        self.core.decide(payment, rule)
        common = {"pg_payment_id": str(payment.payment_id)}
        if payment.status == "error":
            return _error_answer(payment, common)
        return Answer({"pg_status": "ok" if payment.status == "success" else "process", **common})

    def _mfs_resend_code(self, fields: Fields) -> Answer:
        payment = self.core.find(fields)
        self._awaiting_code(payment)
        payment.code_resends += 1
        return Answer({"pg_status": "ok", "pg_payment_id": str(payment.payment_id)})
