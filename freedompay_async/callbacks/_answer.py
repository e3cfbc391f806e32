"""The merchant's signed XML answer to a callback: ``ok``, ``rejected`` or ``error``."""

from __future__ import annotations

import enum
import re

import attrs

from ..errors import RejectionNotAllowed, ValidationError
from ..signing import sign_xml
from ._models import GatewayCallback, secret_for

__all__ = ["AnswerStatus", "CallbackAnswer"]

# Characters XML 1.0 cannot carry at all.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class AnswerStatus(enum.Enum):
    """``pg_status`` of the merchant's answer."""

    OK = "ok"
    REJECTED = "rejected"
    ERROR = "error"


def _description(text: str) -> str:
    if not isinstance(text, str):
        raise ValidationError("pg_description", "must be a string")
    # An XML parser reads "\r\n" and "\r" as "\n": sign what the gateway will read.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _NOT_XML.search(text):
        raise ValidationError("pg_description", "contains characters XML cannot carry")
    return text


@attrs.frozen(slots=True)
class CallbackAnswer:
    """What to tell the gateway; build it with :meth:`ok`, :meth:`rejected` or :meth:`error`.

    * ``ok`` - accepted (check: take the money; result: the payment is recorded);
    * ``rejected`` - refused (check: do not take the money; result: cancel the payment, honoured
      only when the notification allows it - ``can_reject``); ``description`` is shown to the
      payer;
    * ``error`` - the merchant could not interpret the callback.
    """

    status: AnswerStatus
    description: str = attrs.field(default="", converter=_description)

    @classmethod
    def ok(cls, description: str = "") -> CallbackAnswer:
        return cls(AnswerStatus.OK, description)

    @classmethod
    def rejected(cls, description: str) -> CallbackAnswer:
        return cls(AnswerStatus.REJECTED, description)

    @classmethod
    def error(cls, description: str = "") -> CallbackAnswer:
        return cls(AnswerStatus.ERROR, description)

    def render(
        self,
        callback: GatewayCallback,
        *,
        secret_key: str,
        payout_secret_key: str | None = None,
    ) -> bytes:
        """The signed XML body answering ``callback``.

        ``<response><pg_status/><pg_description/><pg_salt/><pg_sig/></response>``, signed with
        the callback's script name and the key that signs its kind (as in
        :func:`~freedompay_async.callbacks.parse_callback`), with a fresh salt every time.
        Raises :class:`~freedompay_async.errors.RejectionNotAllowed` for ``rejected`` when the
        callback cannot be rejected (a result notification without ``pg_can_reject=1``, a payout
        or card-saved notification).
        """
        if self.status is AnswerStatus.REJECTED and not callback.can_reject:
            raise RejectionNotAllowed(
                f"this {callback.kind} callback cannot be rejected (pg_can_reject is not 1); "
                "answer ok, or error if it cannot be processed"
            )
        key = secret_for(type(callback), secret_key, payout_secret_key)
        fields = {"pg_status": self.status.value, "pg_description": self.description}
        return sign_xml(callback.script, fields, key)
