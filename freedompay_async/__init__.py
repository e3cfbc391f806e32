"""Asyncio client for the FreedomPay (ex-PayBox.money) payment gateway.

Start with :class:`FreedomPayClient`; errors live in :mod:`freedompay_async.errors`, the
signature algorithm in :mod:`freedompay_async.signing`, the gateway's callbacks (result, check
and payout notifications) in :mod:`freedompay_async.callbacks`.

Names are imported on first use (PEP 562): ``import freedompay_async`` (and so the
``freedompay`` command's ``--help``) does not load aiohttp until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import batch, callbacks, errors, signing
    from ._endpoints import ENDPOINTS, Endpoint, KeyKind
    from .batch import (
        BadRows,
        BatchReport,
        Journal,
        JournalBusy,
        JournalError,
        JournalMismatch,
        PayoutRow,
        PayoutWorker,
        PostgresJournal,
        PreflightError,
        RowProblem,
        RowResult,
        RowState,
        read_payout_rows,
        run_payout_batch,
        submit_payout_batch,
    )
    from .callbacks import (
        AnswerStatus,
        CallbackAnswer,
        CardSavedNotification,
        CheckRequest,
        PaymentResult,
        PayoutNotification,
        ResultNotification,
        parse_callback,
    )
    from .cards import (
        CardForm,
        CardPayment,
        Cards,
        CardState,
        CvcPage,
        PayoutCardStorage,
        RemovedCard,
        SavedCard,
    )
    from .client import DEFAULT_TIMEOUT, HOSTS, Environment, FreedomPayClient, Region
    from .errors import (
        AnswerMismatch,
        BadSignature,
        CallbackError,
        CallbackSignatureError,
        ClientClosed,
        ConfigurationError,
        FreedomPayError,
        GatewayError,
        GatewayOutcomeUnknown,
        MalformedCallback,
        MalformedResponse,
        OrderExists,
        OutcomeUnknown,
        PayoutDeclined,
        ProtocolError,
        RejectionNotAllowed,
        RequestNotSent,
        SecretKeyRejected,
        SignatureMismatch,
        TransportError,
        UnexpectedHTTPStatus,
        UnknownMerchant,
        UnsignedResponse,
        UnsupportedValueType,
        ValidationError,
    )
    from .mobile import Mobile
    from .models import GatewayResponse, PageAnswer
    from .payments import (
        OrderStatus,
        Payment,
        PaymentOperation,
        PaymentOutcomeUnknown,
        PaymentPage,
        PaymentPending,
        Payments,
        PaymentState,
        ReceiptPosition,
        Refund,
        TaxType,
        ThreeDSChallenge,
        TransactionState,
    )
    from .payouts import (
        Balance,
        Payout,
        PayoutOutcomeUnknown,
        PayoutPage,
        PayoutPending,
        PayoutPolicy,
        Payouts,
        PayoutState,
    )
    from .retry import RetryPolicy
    from .telemetry import Telemetry
    from .tokens import CardSave, Tokens, WalletToken

#: Where each public name lives: imported from there on first access.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "_endpoints": (
        "ENDPOINTS",
        "Endpoint",
        "KeyKind",
    ),
    "batch": (
        "BadRows",
        "BatchReport",
        "Journal",
        "JournalBusy",
        "JournalError",
        "JournalMismatch",
        "PayoutRow",
        "PayoutWorker",
        "PostgresJournal",
        "PreflightError",
        "RowProblem",
        "RowResult",
        "RowState",
        "read_payout_rows",
        "run_payout_batch",
        "submit_payout_batch",
    ),
    "callbacks": (
        "AnswerStatus",
        "CallbackAnswer",
        "CardSavedNotification",
        "CheckRequest",
        "PaymentResult",
        "PayoutNotification",
        "ResultNotification",
        "parse_callback",
    ),
    "cards": (
        "CardForm",
        "CardPayment",
        "Cards",
        "CardState",
        "CvcPage",
        "PayoutCardStorage",
        "RemovedCard",
        "SavedCard",
    ),
    "client": (
        "DEFAULT_TIMEOUT",
        "HOSTS",
        "Environment",
        "FreedomPayClient",
        "Region",
    ),
    "errors": (
        "AnswerMismatch",
        "BadSignature",
        "CallbackError",
        "CallbackSignatureError",
        "ClientClosed",
        "ConfigurationError",
        "FreedomPayError",
        "GatewayError",
        "GatewayOutcomeUnknown",
        "MalformedCallback",
        "MalformedResponse",
        "OrderExists",
        "OutcomeUnknown",
        "PayoutDeclined",
        "ProtocolError",
        "RejectionNotAllowed",
        "RequestNotSent",
        "SecretKeyRejected",
        "SignatureMismatch",
        "TransportError",
        "UnexpectedHTTPStatus",
        "UnknownMerchant",
        "UnsignedResponse",
        "UnsupportedValueType",
        "ValidationError",
    ),
    "mobile": ("Mobile",),
    "models": (
        "GatewayResponse",
        "PageAnswer",
    ),
    "payments": (
        "OrderStatus",
        "Payment",
        "PaymentOperation",
        "PaymentOutcomeUnknown",
        "PaymentPage",
        "PaymentPending",
        "Payments",
        "PaymentState",
        "ReceiptPosition",
        "Refund",
        "TaxType",
        "ThreeDSChallenge",
        "TransactionState",
    ),
    "payouts": (
        "Balance",
        "Payout",
        "PayoutOutcomeUnknown",
        "PayoutPage",
        "PayoutPending",
        "PayoutPolicy",
        "Payouts",
        "PayoutState",
    ),
    "retry": ("RetryPolicy",),
    "telemetry": ("Telemetry",),
    "tokens": (
        "CardSave",
        "Tokens",
        "WalletToken",
    ),
}
_SUBMODULES = ("batch", "callbacks", "errors", "signing")
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENDPOINTS",
    "HOSTS",
    "AnswerMismatch",
    "AnswerStatus",
    "BadRows",
    "BadSignature",
    "Balance",
    "BatchReport",
    "CallbackAnswer",
    "CallbackError",
    "CallbackSignatureError",
    "CardForm",
    "CardPayment",
    "CardSave",
    "CardSavedNotification",
    "CardState",
    "Cards",
    "CheckRequest",
    "ClientClosed",
    "ConfigurationError",
    "CvcPage",
    "Endpoint",
    "Environment",
    "FreedomPayClient",
    "FreedomPayError",
    "GatewayError",
    "GatewayOutcomeUnknown",
    "GatewayResponse",
    "Journal",
    "JournalBusy",
    "JournalError",
    "JournalMismatch",
    "KeyKind",
    "MalformedCallback",
    "MalformedResponse",
    "Mobile",
    "OrderExists",
    "OrderStatus",
    "OutcomeUnknown",
    "PageAnswer",
    "Payment",
    "PaymentOperation",
    "PaymentOutcomeUnknown",
    "PaymentPage",
    "PaymentPending",
    "PaymentResult",
    "PaymentState",
    "Payments",
    "Payout",
    "PayoutCardStorage",
    "PayoutDeclined",
    "PayoutNotification",
    "PayoutOutcomeUnknown",
    "PayoutPage",
    "PayoutPending",
    "PayoutPolicy",
    "PayoutRow",
    "PayoutState",
    "PayoutWorker",
    "Payouts",
    "PostgresJournal",
    "PreflightError",
    "ProtocolError",
    "ReceiptPosition",
    "Refund",
    "Region",
    "RejectionNotAllowed",
    "RemovedCard",
    "RequestNotSent",
    "ResultNotification",
    "RetryPolicy",
    "RowProblem",
    "RowResult",
    "RowState",
    "SavedCard",
    "SecretKeyRejected",
    "SignatureMismatch",
    "TaxType",
    "Telemetry",
    "ThreeDSChallenge",
    "Tokens",
    "TransactionState",
    "TransportError",
    "UnexpectedHTTPStatus",
    "UnknownMerchant",
    "UnsignedResponse",
    "UnsupportedValueType",
    "ValidationError",
    "WalletToken",
    "__version__",
    "batch",
    "callbacks",
    "errors",
    "parse_callback",
    "read_payout_rows",
    "run_payout_batch",
    "signing",
    "submit_payout_batch",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value: Any = version("freedompay-async")
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0+unknown"
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
