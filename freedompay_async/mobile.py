"""``client.mobile``: payments from a phone's mobile balance (Kazakhstan operators).

Flow: :meth:`Mobile.init` creates the payment, :meth:`Mobile.pay` names the phone to charge,
which usually answers ``need_approve`` (an SMS code went to the phone); :meth:`Mobile.approve`
sends the code, :meth:`Mobile.resend_code` asks for a new one. ``process`` is not final:
``client.payments.wait(payment_id)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from ._endpoints import OPERATORS, Endpoint, declared
from .errors import ValidationError
from .payments import Payment, PaymentPage, Payments, PaymentState, settle

if TYPE_CHECKING:
    from ._caller import Caller

__all__ = ["OPERATORS", "Mobile"]

#: ``pg_payment_system_code`` values: the operator to charge when the phone alone is ambiguous.


class Mobile:
    """Mobile balance payments of one client (``client.mobile``)."""

    _PAY = declared("mfs/pay")
    _APPROVE = declared("mfs/approve")
    _RESEND = declared("mfs/resend_code")

    def __init__(self, client: Caller, payments: Payments) -> None:
        self._client = client
        self._payments = payments

    async def init(
        self,
        *,
        amount: Decimal | str,
        description: str,
        order_id: str | None = None,
        currency: str | None = None,
        language: str | None = None,
        user_id: str | None = None,
        user_phone: str | None = None,
        user_email: str | None = None,
        user_ip: str | None = None,
        result_url: str | None = None,
        check_url: str | None = None,
        success_url: str | None = None,
        failure_url: str | None = None,
        callback_method: str | None = None,
        lifetime: timedelta | int | None = None,
        testing_mode: bool | None = None,
        generate_qr: bool = False,
        extra_params: Sequence[str] = (),
        merchant_fields: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> PaymentPage:
        """Create a mobile balance payment (``init_payment.php``, ``mobile_commerce``).

        The fields are :meth:`Payments.create`'s, checked the same way. The payer may finish on
        ``redirect_url``, or you call :meth:`pay` with their phone.
        """
        return await self._payments.create(
            order_id=order_id,
            amount=amount,
            description=description,
            payment_method="mobile_commerce",
            currency=currency,
            language=language,
            user_id=user_id,
            user_phone=user_phone,
            user_email=user_email,
            user_ip=user_ip,
            result_url=result_url,
            check_url=check_url,
            success_url=success_url,
            failure_url=failure_url,
            callback_method=callback_method,
            lifetime=lifetime,
            testing_mode=testing_mode,
            generate_qr=generate_qr,
            extra_params=extra_params,
            merchant_fields=merchant_fields,
            idempotency_key=idempotency_key,
        )

    async def pay(
        self, payment_id: PaymentPage | int, *, phone: str, operator: str | None = None
    ) -> Payment:
        """Charge ``phone``; usually answers ``state == NEED_APPROVE`` (an SMS code was sent).

        Given the :class:`PaymentPage` from :meth:`init` (rather than its id), the result
        carries its order id and amount, which the gateway's answer does not.
        """
        number, created = _identify(payment_id)
        params = self._PAY.encode(
            pg_payment_id=number, pg_abonent_phone=phone, pg_payment_system_code=operator
        )
        return await self._charge(self._PAY, params, number, created)

    async def approve(self, payment_id: PaymentPage | int, *, code: str) -> Payment:
        """Confirm with the SMS code: ``SUCCESS`` (debited) or ``PROCESS`` (poll the status).

        As with :meth:`pay`, the :class:`PaymentPage` gives the result its order id and amount.
        """
        if not isinstance(code, str):  # an int would lose the code's leading zeros
            raise ValidationError("pg_approval_code", "must be the SMS code as a string")
        number, created = _identify(payment_id)
        params = self._APPROVE.encode(pg_payment_id=number, pg_approval_code=code)
        return await self._charge(self._APPROVE, params, number, created)

    async def resend_code(self, payment_id: int) -> None:
        """Send the SMS code again."""
        params = self._RESEND.encode(pg_payment_id=payment_id)
        await self._client.call(self._RESEND, params)

    async def status(self, payment_id: int) -> Payment:
        """The payment's state (``get_status3.php``)."""
        return await self._payments.status(payment_id)

    async def _charge(
        self,
        endpoint: Endpoint,
        params: Mapping[str, object],
        payment_id: int,
        created: PaymentPage | None,
    ) -> Payment:
        async def attempt() -> Payment:
            answer = await self._client.call(endpoint, params)
            if created is None:
                return Payment.from_answer(answer)
            return Payment.from_answer(answer, created.order_id, created.amount)

        async def charged() -> Payment | None:
            # Only a debit the status shows settles it; "new" could mean either outcome.
            payment = await self._payments.status(payment_id)
            return payment if payment.state in _SETTLED else None

        return await settle(attempt(), charged, endpoint=endpoint, payment_id=payment_id)


_SETTLED = frozenset({PaymentState.SUCCESS, PaymentState.PROCESS, PaymentState.ERROR})


def _identify(payment: PaymentPage | int) -> tuple[int, PaymentPage | None]:
    """The payment id, and the created payment when the caller has it."""
    if isinstance(payment, PaymentPage):
        return payment.payment_id, payment
    return payment, None
