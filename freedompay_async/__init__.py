"""Asyncio client for the FreedomPay (ex-PayBox.money) payment gateway.

Start with :class:`FreedomPayClient`; errors live in :mod:`freedompay_async.errors`, the
signature algorithm in :mod:`freedompay_async.signing`.
"""

from __future__ import annotations

from . import batch, errors, signing
from ._endpoints import ENDPOINTS, Endpoint, KeyKind
from .batch import (
    BadRows,
    BatchReport,
    Journal,
    JournalBusy,
    JournalError,
    JournalMismatch,
    PayoutRow,
    PreflightError,
    RowProblem,
    RowResult,
    RowState,
    read_payout_rows,
    run_payout_batch,
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
    "BadRows",
    "BadSignature",
    "Balance",
    "BatchReport",
    "ConfigurationError",
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
    "MalformedResponse",
    "OutcomeUnknown",
    "Payout",
    "PayoutOutcomeUnknown",
    "PayoutPage",
    "PayoutPending",
    "PayoutPolicy",
    "PayoutRow",
    "PayoutState",
    "Payouts",
    "PreflightError",
    "ProtocolError",
    "Region",
    "RequestNotSent",
    "RetryPolicy",
    "RowProblem",
    "RowResult",
    "RowState",
    "SignatureMismatch",
    "TransportError",
    "UnexpectedHTTPStatus",
    "UnknownMerchant",
    "UnsignedResponse",
    "UnsupportedValueType",
    "ValidationError",
    "__version__",
    "batch",
    "errors",
    "read_payout_rows",
    "run_payout_batch",
    "signing",
]
