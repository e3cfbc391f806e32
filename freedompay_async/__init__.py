"""Asyncio client for the FreedomPay (ex-PayBox.money) payment gateway.

Start with :class:`FreedomPayClient`; errors live in :mod:`freedompay_async.errors`, the
signature algorithm in :mod:`freedompay_async.signing`.
"""

from __future__ import annotations

from . import errors, signing
from ._endpoints import ENDPOINTS, Endpoint, KeyKind
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
    "BadSignature",
    "Balance",
    "ConfigurationError",
    "Endpoint",
    "Environment",
    "FreedomPayClient",
    "FreedomPayError",
    "GatewayError",
    "GatewayOutcomeUnknown",
    "GatewayResponse",
    "KeyKind",
    "MalformedResponse",
    "OutcomeUnknown",
    "Payout",
    "PayoutOutcomeUnknown",
    "PayoutPage",
    "PayoutPending",
    "PayoutPolicy",
    "PayoutState",
    "Payouts",
    "ProtocolError",
    "Region",
    "RequestNotSent",
    "RetryPolicy",
    "SignatureMismatch",
    "TransportError",
    "UnexpectedHTTPStatus",
    "UnknownMerchant",
    "UnsignedResponse",
    "UnsupportedValueType",
    "ValidationError",
    "__version__",
    "errors",
    "signing",
]
