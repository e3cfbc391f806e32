"""The exceptions this library raises.

Everything derives from :class:`FreedomPayError`. The split that matters for money is:

* :class:`ValidationError` / :class:`ConfigurationError` - raised before anything is sent.
* :class:`RequestNotSent` - the request certainly never reached the gateway: safe to send again.
* :class:`OutcomeUnknown` - the request may have reached the gateway: never re-send blindly,
  ask the status endpoint.
* :class:`ProtocolError` - an answer arrived but cannot be trusted (malformed, unsigned, wrongly
  signed, unexpected HTTP status). For money movement this is as ambiguous as a lost answer.
* :class:`GatewayError` - a signed, final "error" answer from the gateway.
* :class:`CallbackError` - a callback from the gateway (result, check, payout notification) that
  must not reach your code: unsigned, wrongly signed or malformed.

Messages never contain secrets or full card numbers; raw bodies are kept on the exception
(``.raw``) for diagnosis, not in its message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ._masking import mask_card_numbers

if TYPE_CHECKING:
    from .payouts import Payout

__all__ = [
    "AMBIGUOUS",
    "AnswerMismatch",
    "BadSignature",
    "CallbackError",
    "CallbackSignatureError",
    "CannotBeCancelled",
    "ClientClosed",
    "ConfigurationError",
    "CustomerError",
    "FreedomPayError",
    "GatewayError",
    "GatewayOutcomeUnknown",
    "InternalGatewayError",
    "InvalidParameter",
    "LimitExceeded",
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
    "TransactionCancelled",
    "TransactionExpired",
    "TransactionLocked",
    "TransactionNotFound",
    "TransportError",
    "UnexpectedHTTPStatus",
    "UnknownMerchant",
    "UnsignedResponse",
    "UnsupportedValueType",
    "ValidationError",
]


_E = TypeVar("_E", bound="FreedomPayError")


def _restore(cls: type[_E], args: tuple[Any, ...]) -> _E:
    error = Exception.__new__(cls)
    error.args = args
    return error


class FreedomPayError(Exception):
    """Base class of every error raised by freedompay_async.

    Every error pickles with its fields (Celery results, ``multiprocessing``, ``concurrent``
    executors), whatever its constructor's signature: it is restored as it is - its (masked)
    message and its attributes - without calling the constructor again. Subclasses need
    nothing for that.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args), self.__dict__ or None)


class ClientClosed(FreedomPayError, RuntimeError):
    """The client was closed: a closed client never opens a new session behind your back
    (as aiohttp's and httpx's closed clients refuse too). Make a new client."""


class ConfigurationError(FreedomPayError, ValueError):
    """The client was configured wrongly (missing key, unknown region, bad URL)."""


class ValidationError(FreedomPayError, ValueError):
    """A request parameter is invalid; raised before anything is sent.

    ``field`` names the offending parameter (flattened, e.g. ``pg_receipt_positions[0][price]``).
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {mask_card_numbers(message)}")


class UnsupportedValueType(ValidationError, TypeError):
    """A value has a type the wire format cannot carry exactly (float, bool, None...)."""


class TransportError(FreedomPayError):
    """The exchange with the gateway failed below the gateway's own answer."""

    def __init__(self, message: str, *, endpoint: str, order_id: str | None = None) -> None:
        self.endpoint = endpoint
        self.order_id = order_id
        where = f"{endpoint}" + (f" (order {order_id})" if order_id else "")
        super().__init__(f"{where}: {message}")


class RequestNotSent(TransportError):
    """The request certainly did not reach the gateway (connection refused, DNS, connect timeout).

    Sending it again cannot create a duplicate.
    """


class OutcomeUnknown(TransportError):
    """The request may have reached the gateway, but no trustworthy answer came back.

    For anything that moves money, resolve it through the status endpoint with ``order_id``;
    never send it again blindly.
    """


class ProtocolError(FreedomPayError):
    """The gateway's answer cannot be trusted or understood. ``raw`` keeps the body as received."""

    def __init__(self, message: str, *, raw: bytes, endpoint: str = "") -> None:
        self.raw = raw
        self.endpoint = endpoint
        prefix = f"{endpoint}: " if endpoint else ""
        super().__init__(prefix + mask_card_numbers(message))


class MalformedResponse(ProtocolError):
    """The body is not well-formed XML, is too large, or uses a forbidden XML construct (DTD)."""


class SignatureMismatch(ProtocolError):
    """The answer's ``pg_sig`` does not match its content: forged, corrupted or a key mix-up."""


class UnsignedResponse(ProtocolError):
    """The answer has no ``pg_sig`` and is not the documented unsigned "unknown merchant" error."""


class AnswerMismatch(ProtocolError):
    """A validly signed answer about another request: its ``pg_order_id``, ``pg_merchant_id``
    or ``pg_payment_id`` is not the one asked about (a replay, a proxy mix-up, a gateway bug).

    For money movement it is as ambiguous as a lost answer: the status endpoint is asked.
    ``field`` names the identifier that differs.
    """

    def __init__(self, field: str, *, raw: bytes, endpoint: str = "") -> None:
        self.field = field
        super().__init__(f"the answer's {field} is not the request's", raw=raw, endpoint=endpoint)


class UnexpectedHTTPStatus(ProtocolError):
    """The gateway (or something in front of it) answered with a non-200 HTTP status."""

    def __init__(self, status: int, *, raw: bytes, endpoint: str = "") -> None:
        self.status = status
        super().__init__(f"HTTP {status} instead of a gateway answer", raw=raw, endpoint=endpoint)


class SecretKeyRejected(FreedomPayError):
    """The gateway refuses our signature and its answers do not verify with our key: the secret
    key (``key``: ``"payment"`` or ``"payout"``) is wrong, so nothing was done.

    Raised when a create answer and then a status answer both fail verification while carrying
    the gateway's bad-signature code: a request signed with a wrong key cannot have been
    accepted. Fix the key; the operation can then be sent again under the same order id.
    """

    def __init__(self, *, key: str, endpoint: str, order_id: str | None = None) -> None:
        self.key = key
        self.endpoint = endpoint
        self.order_id = order_id
        order = f" (order {order_id})" if order_id else ""
        super().__init__(
            f"{endpoint}{order}: the gateway refuses our signature and its answers do not "
            f"verify: check the {key} secret key (nothing was paid)"
        )


class CallbackError(FreedomPayError):
    """A callback from the gateway was refused, or cannot be answered as asked.

    ``raw`` keeps the body as received and ``fields`` the decoded ``(name, value)`` pairs (when
    decoding got that far), for diagnosis; the message never shows values, keys or signatures.
    """

    def __init__(
        self, message: str, *, raw: bytes = b"", fields: Iterable[tuple[str, str]] = ()
    ) -> None:
        self.raw = raw
        self.fields = tuple(fields)
        super().__init__(mask_card_numbers(message))


class MalformedCallback(CallbackError):
    """Not a callback this library can read: unknown content type, broken form or XML,
    oversized, DTD/entity tricks, or a documented field missing or unreadable."""


class CallbackSignatureError(CallbackError):
    """The callback's ``pg_sig`` is missing or does not match: forged, corrupted, the wrong key
    (payment vs payout) or a script name changed by a proxy (pass ``script=``)."""


class RejectionNotAllowed(CallbackError, ValueError):
    """A ``rejected`` answer to a callback that does not allow it (``pg_can_reject`` is not 1)."""


class GatewayError(FreedomPayError):
    """A final ``pg_status=error`` answer from the gateway.

    ``code`` is ``pg_error_code`` (``None`` when the gateway gave none), ``description`` its
    ``pg_error_description``, ``fields`` the decoded answer and ``raw`` the body as received.
    :meth:`class_for` gives the subclass matching a code.
    """

    codes: ClassVar[frozenset[int]] = frozenset()

    def __init__(
        self,
        code: int | None,
        description: str,
        *,
        raw: bytes = b"",
        fields: dict[str, object] | None = None,
        endpoint: str = "",
    ) -> None:
        self.code = code
        self.description = description
        self.raw = raw
        self.fields = fields if fields is not None else {}
        self.endpoint = endpoint
        prefix = f"{endpoint}: " if endpoint else ""
        super().__init__(f"{prefix}gateway error {code}: {mask_card_numbers(description)}")

    @staticmethod
    def class_for(code: int | None) -> type[GatewayError]:
        """The most specific subclass for ``code`` (``GatewayError`` itself when unknown)."""
        if code is None:
            return GatewayError
        return _BY_CODE.get(code, GatewayError)


class BadSignature(GatewayError):
    """The gateway rejected our ``pg_sig``: wrong secret key (payment vs payout?) or script name."""

    codes = frozenset({100, 1100})


class UnknownMerchant(GatewayError):
    """The gateway does not know this merchant id (unsigned answer, codes 9998 / 101)."""

    codes = frozenset({101, 9998})


class InvalidParameter(GatewayError):
    """A parameter is missing or invalid according to the gateway."""

    codes = frozenset({110, 130, 200})


class TransactionNotFound(GatewayError):
    """The gateway does not know the transaction (340, or 11068 "Payment not found")."""

    codes = frozenset({340, 11068})


class TransactionLocked(GatewayError):
    """The transaction is locked by another operation; try again later."""

    codes = frozenset({350})


class TransactionExpired(GatewayError):
    """The transaction's lifetime is over."""

    codes = frozenset({360})


class TransactionCancelled(GatewayError):
    """The transaction was cancelled."""

    codes = frozenset({400})


class LimitExceeded(GatewayError):
    """A merchant or customer limit was exceeded."""

    codes = frozenset({420})


class CannotBeCancelled(GatewayError):
    """The transaction is in a state that cannot be cancelled."""

    codes = frozenset({490})


class CustomerError(GatewayError):
    """The customer's data was refused (phone number, customer account)."""

    codes = frozenset({700, 701, 711})


class InternalGatewayError(GatewayError):
    """A general or internal error on the gateway's side (600, 1000)."""

    codes = frozenset({600, 1000})


class GatewayOutcomeUnknown(GatewayError):
    """Code 9999: the gateway itself does not know the outcome - ask the status endpoint.

    For money movement treat it exactly like :class:`OutcomeUnknown`, never as a failure.
    """

    codes = frozenset({9999})


class OrderExists(GatewayError):
    """The gateway already holds an operation with this ``pg_order_id`` (emulator code 10101;
    the real gateway's code is not published). For a create, the best evidence that the
    payout exists: the client asks the status endpoint instead of reporting a refusal."""

    codes = frozenset({10101})


class PayoutDeclined(GatewayError):
    """A payout ended in ``error`` (after ``process``, as the status endpoint reported it after
    a lost answer, or by its verified notification): final, nothing was paid.

    ``code`` / ``description`` are the gateway's ``pg_error_code`` / ``pg_error_description``
    where it gave them; ``payment_id`` and ``order_id`` name the payout; ``payout`` is the
    gateway's last report of it when it came from a status or create answer.
    """

    def __init__(
        self,
        code: int | None,
        description: str,
        *,
        payment_id: int | None = None,
        order_id: str | None = None,
        raw: bytes = b"",
        fields: dict[str, object] | None = None,
        endpoint: str = "",
        payout: Payout | None = None,
    ) -> None:
        self.payment_id = payment_id
        self.order_id = order_id
        self.payout = payout
        super().__init__(code, description, raw=raw, fields=fields, endpoint=endpoint)

    @classmethod
    def from_payout(cls, payout: Payout) -> PayoutDeclined:
        """The decline a status or create answer reported."""
        answer = payout.raw
        return cls(
            payout.error_code,
            payout.error_description or f"payout {payout.order_id} was declined",
            payment_id=payout.payment_id,
            order_id=payout.order_id,
            raw=answer.raw,
            fields=dict(answer.fields),
            endpoint=answer.endpoint,
            payout=payout,
        )


_BY_CODE: dict[int, type[GatewayError]] = {
    code: cls
    for cls in (
        BadSignature,
        UnknownMerchant,
        InvalidParameter,
        TransactionNotFound,
        TransactionLocked,
        TransactionExpired,
        TransactionCancelled,
        LimitExceeded,
        CannotBeCancelled,
        CustomerError,
        InternalGatewayError,
        GatewayOutcomeUnknown,
        OrderExists,
    )
    for code in cls.codes
}


#: Errors after which a request that moves money may or may not have taken effect: the answer
#: was lost, cannot be trusted, or the gateway itself says "check the status".
AMBIGUOUS: tuple[type[FreedomPayError], ...] = (
    OutcomeUnknown,
    ProtocolError,
    GatewayOutcomeUnknown,
)
