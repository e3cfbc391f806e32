"""A stateful FreedomPay gateway emulator for tests: payouts, payments, callbacks, faults.

Run it in-process (:class:`Emulator`), through the pytest plugin
(``freedompay_async.testing.pytest_plugin``: ``freedompay_emulator`` / ``freedompay_client``
fixtures) or standalone (``python -m freedompay_async.testing``). It signs and checks exactly as
the client does (it reuses :mod:`freedompay_async.signing`), so a test against it exercises the
real wire format.

Served: payouts and balance (Gateway and Merchant API), payments (``init_payment.php``, status,
cancel, capture, refund, recurring), mobile balance (``mfs/*``), token and wallet payments
(``g2g/payment``, ``g2g/status_v2``), saved cards and card-token payments
(``v1/merchant/{id}/cardstorage*``, ``card/*``) - see :data:`SERVED_PATHS`. Tests play the
payer with :meth:`Emulator.pay` and :meth:`Emulator.complete_card_save`, decide outcomes with
``emulator.rules`` and misbehaviour with ``emulator.faults``. Every choice the emulator makes
where the gateway's docs are silent (status words, its own error codes, test phones, the ECI
rule, callback fields) is written down in the module that makes it: ``_gateway`` (payouts),
``_payments``, ``_cards``, ``_state`` (payment states) and ``_protocol`` (:class:`ErrorCode`).
"""

from __future__ import annotations

from ._cards import PAYOUT_CARD_SAVE_PATHS, PAYOUT_CARD_SAVE_VARIANTS
from ._emulator import Emulator
from ._faults import Fault, FaultKind, FaultPlan, FaultRecord
from ._gateway import SERVED_PATHS
from ._notifier import GATEWAY_RETRY_DELAYS, TEST_RETRY_DELAYS, Delivery, DeliveryKind
from ._payment_acs import THREE_DS_CARDS, THREE_DS_FAILED, ThreeDSReturn
from ._payments import MOBILE_PROCESS_PHONE, MOBILE_TEST_CODE, MOBILE_TEST_PHONE
from ._protocol import EmulatorSettings, ErrorCode, PayoutCardSave
from ._proxy import OutageProxy
from ._rules import TEST_CARD_RULES, Outcome, Rule, RuleBook
from ._state import (
    CardPurpose,
    CardSave,
    CardToken,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Payout,
    PayoutStatus,
    RecurringProfile,
    Refund,
)

__all__ = [
    "GATEWAY_RETRY_DELAYS",
    "MOBILE_PROCESS_PHONE",
    "MOBILE_TEST_CODE",
    "MOBILE_TEST_PHONE",
    "PAYOUT_CARD_SAVE_PATHS",
    "PAYOUT_CARD_SAVE_VARIANTS",
    "SERVED_PATHS",
    "TEST_CARD_RULES",
    "TEST_RETRY_DELAYS",
    "THREE_DS_CARDS",
    "THREE_DS_FAILED",
    "CardPurpose",
    "CardSave",
    "CardToken",
    "Delivery",
    "DeliveryKind",
    "Emulator",
    "EmulatorSettings",
    "ErrorCode",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultRecord",
    "OutageProxy",
    "Outcome",
    "Payment",
    "PaymentMethod",
    "PaymentStatus",
    "Payout",
    "PayoutCardSave",
    "PayoutStatus",
    "RecurringProfile",
    "Refund",
    "Rule",
    "RuleBook",
    "ThreeDSReturn",
]
