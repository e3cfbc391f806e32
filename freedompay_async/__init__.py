"""Asyncio client for the FreedomPay (ex-PayBox.money) payment gateway.

Start with :class:`FreedomPayClient`; errors live in :mod:`freedompay_async.errors`, the
signature algorithm in :mod:`freedompay_async.signing`.
"""

from __future__ import annotations

from . import errors, signing
from ._endpoints import ENDPOINTS, Endpoint, KeyKind
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
    BadSignature,
    ConfigurationError,
    FreedomPayError,
    GatewayError,
    GatewayOutcomeUnknown,
    MalformedResponse,
    OutcomeUnknown,
    ProtocolError,
    RequestNotSent,
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
from .tokens import Tokens, WalletToken

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENDPOINTS",
    "HOSTS",
    "BadSignature",
    "Balance",
    "CardForm",
    "CardPayment",
    "CardState",
    "Cards",
    "ConfigurationError",
    "CvcPage",
    "Endpoint",
    "Environment",
    "FreedomPayClient",
    "FreedomPayError",
    "GatewayError",
    "GatewayOutcomeUnknown",
    "GatewayResponse",
    "KeyKind",
    "MalformedResponse",
    "Mobile",
    "OrderStatus",
    "OutcomeUnknown",
    "PageAnswer",
    "Payment",
    "PaymentOperation",
    "PaymentOutcomeUnknown",
    "PaymentPage",
    "PaymentPending",
    "PaymentState",
    "Payments",
    "Payout",
    "PayoutCardStorage",
    "PayoutOutcomeUnknown",
    "PayoutPage",
    "PayoutPending",
    "PayoutPolicy",
    "PayoutState",
    "Payouts",
    "ProtocolError",
    "ReceiptPosition",
    "Refund",
    "Region",
    "RemovedCard",
    "RequestNotSent",
    "RetryPolicy",
    "SavedCard",
    "SignatureMismatch",
    "TaxType",
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
    "errors",
    "signing",
]
