"""The Merchant API status scripts of payments (``get_status3.php``, ``get_status2.php``).

A flow of the emulator's payment desk; :mod:`._payment_core` has the choices (status
vocabulary, ``pg_transaction_status`` mapping, polls that settle a ``process`` payment).
"""

from __future__ import annotations

from ._payment_core import PaymentCore, _flag_text
from ._protocol import Answer, AnswerFields, ErrorCode, Fields, Handler, _required
from ._state import Payment, PaymentStatus

__all__ = ["StatusFlow"]

_TRANSACTION_STATUS: dict[PaymentStatus, str] = {
    "new": "partial",
    "process": "pending",
    "success": "ok",
    "refunded": "ok",
    "error": "failed",
    "revoked": "failed",
}


class StatusFlow:
    """``get_status3.php`` (the payment by id) and ``get_status2.php`` (by order id)."""

    def __init__(self, core: PaymentCore) -> None:
        self.core = core
        self.handlers: dict[str, Handler] = {
            "get_status2.php": self._status2,
            "get_status3.php": self._status3,
        }

    def _status3(self, fields: Fields) -> Answer:
        return self.core.answer_poll(self.core.find(fields), self.core.status_fields)

    def _status2(self, fields: Fields) -> Answer:
        payment = self.core.find_by_order(_required(fields, "pg_order_id"))
        return self.core.answer_poll(payment, _transaction_fields)


def _transaction_fields(payment: Payment, status: PaymentStatus) -> AnswerFields:
    expired = payment.failure_code == ErrorCode.PAYMENT_EXPIRED
    return {
        "pg_status": "ok",
        "pg_payment_id": str(payment.payment_id),
        "pg_transaction_status": "incomplete" if expired else _TRANSACTION_STATUS[status],
        "pg_can_reject": _flag_text(payment.can_reject),
        "pg_testing_mode": _flag_text(payment.testing_mode),
        "pg_captured": _flag_text(payment.captured),
        "pg_create_date": payment.created_at,
    }
