"""Asyncio client for the FreedomPay (ex-PayBox.money) payment gateway.

Start with :class:`FreedomPayClient`; errors live in :mod:`freedompay_async.errors`, the
signature algorithm in :mod:`freedompay_async.signing`, the gateway's callbacks (result, check
and payout notifications) in :mod:`freedompay_async.callbacks`.
"""

from __future__ import annotations

from . import callbacks, errors, signing
from ._endpoints import ENDPOINTS, Endpoint, KeyKind
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
from .client import DEFAULT_TIMEOUT, HOSTS, Environment, FreedomPayClient, Region
from .errors import (
    BadSignature,
    CallbackError,
    CallbackSignatureError,
    ConfigurationError,
    FreedomPayError,
    GatewayError,
    GatewayOutcomeUnknown,
    MalformedCallback,
    MalformedResponse,
    OutcomeUnknown,
    ProtocolError,
    RejectionNotAllowed,
    RequestNotSent,
    SignatureMismatch,
    TransportError,
    UnexpectedHTTPStatus,
    UnknownMerchant,
    UnsignedResponse,
    UnsupportedValueType,
    ValidationError,
)
from .models import GatewayResponse
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

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENDPOINTS",
    "HOSTS",
    "AnswerStatus",
    "BadSignature",
    "Balance",
    "CallbackAnswer",
    "CallbackError",
    "CallbackSignatureError",
    "CardSavedNotification",
    "CheckRequest",
    "ConfigurationError",
    "Endpoint",
    "Environment",
    "FreedomPayClient",
    "FreedomPayError",
    "GatewayError",
    "GatewayOutcomeUnknown",
    "GatewayResponse",
    "KeyKind",
    "MalformedCallback",
    "MalformedResponse",
    "OutcomeUnknown",
    "PaymentResult",
    "Payout",
    "PayoutNotification",
    "PayoutOutcomeUnknown",
    "PayoutPage",
    "PayoutPending",
    "PayoutPolicy",
    "PayoutState",
    "Payouts",
    "ProtocolError",
    "Region",
    "RejectionNotAllowed",
    "RequestNotSent",
    "ResultNotification",
    "RetryPolicy",
    "SignatureMismatch",
    "TransportError",
    "UnexpectedHTTPStatus",
    "UnknownMerchant",
    "UnsignedResponse",
    "UnsupportedValueType",
    "ValidationError",
    "__version__",
    "callbacks",
    "errors",
    "parse_callback",
    "signing",
]
