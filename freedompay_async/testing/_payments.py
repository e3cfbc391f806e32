"""The emulator's payment scripts and payer-side drivers, one flow per module:

* :mod:`._payment_core` - state, lookups, outcomes, callbacks, status (and the choices made);
* :mod:`._payment_page` - the payment page, two-step payments, refunds, recurring;
* :mod:`._payment_mobile` - mobile balance;
* :mod:`._payment_gateway` - Gateway API charges (Token Pay, Apple Pay, Google Pay);
* :mod:`._payment_cards` - Merchant API payments with a saved card.
"""

from __future__ import annotations

from ._notifier import Notifier
from ._payment_cards import SavedCardFlow
from ._payment_core import (
    _CARD_INIT,
    MOBILE_PROCESS_PHONE,
    MOBILE_TEST_CODE,
    MOBILE_TEST_PHONE,
    Handler,
)
from ._payment_gateway import GatewayApiFlow
from ._payment_mobile import MobileFlow
from ._payment_page import PageFlow
from ._protocol import EmulatorSettings
from ._rules import RuleBook
from ._state import GatewayState

__all__ = ["MOBILE_PROCESS_PHONE", "MOBILE_TEST_CODE", "MOBILE_TEST_PHONE", "PaymentDesk"]


class PaymentDesk(PageFlow, MobileFlow, GatewayApiFlow, SavedCardFlow):
    """The payment scripts and the payer-side drivers; one per emulator."""

    def __init__(
        self, settings: EmulatorSettings, state: GatewayState, rules: RuleBook, notifier: Notifier
    ) -> None:
        super().__init__(settings, state, rules, notifier)
        self.handlers: dict[str, Handler] = {
            "init_payment.php": self._init_payment,
            "get_status2.php": self._status2,
            "get_status3.php": self._status3,
            "cancel.php": self._cancel,
            "do_capture.php": self._capture,
            "revoke.php": self._refund,
            "make_recurring_payment.php": self._recurring,
            "mfs/pay": self._mfs_pay,
            "mfs/approve": self._mfs_approve,
            "mfs/resend_code": self._mfs_resend_code,
            "g2g/payment": self._g2g_payment,
            "g2g/status_v2": self._g2g_status,
            _CARD_INIT: self._card_init,
            "v1/merchant/{merchant_id}/card/pay": self._card_pay,
            "v1/merchant/{merchant_id}/card/direct": self._card_direct,
        }
