"""The endpoint table: what the client knows about each gateway script, declared once.

Each entry says where the script lives, which secret key signs it, whether it moves money
(which decides whether an ambiguous outcome may be retried) and whether the gateway honours
``pg_idempotency_key`` on it. Facades are thin declarations over these entries; the low-level
:meth:`FreedomPayClient.request` looks paths up here too.

Where the documentation contradicts itself the choice is recorded next to the entry.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import attrs

from .signing import script_name

__all__ = ["ENDPOINTS", "Endpoint", "KeyKind", "endpoint_for_path"]

KeyKind: TypeAlias = Literal["payment", "payout"]


@attrs.frozen(slots=True)
class Endpoint:
    """One gateway script.

    ``path`` is relative to the host and may contain ``{merchant_id}``. ``status_is_outcome``
    marks the answers whose ``pg_status`` describes a transaction rather than the request
    (``payout_status`` v1), so ``error`` there is a result, not a :class:`GatewayError`.
    """

    name: str
    path: str
    key: KeyKind
    moves_money: bool
    idempotency: bool = False
    status_is_outcome: bool = False
    script: str = attrs.field(init=False)

    @script.default
    def _script(self) -> str:
        return script_name("/" + self.path)

    @property
    def retry_ambiguous(self) -> bool:
        """Whether an attempt with an unknown outcome may be sent again as it is.

        True for reads, and for money movement the gateway deduplicates by idempotency key.
        """
        return not self.moves_money or self.idempotency


def _payout(name: str, path: str, *, moves_money: bool = True, **kw: bool) -> Endpoint:
    # The payout key signs every payout endpoint (shared/api/payouts.md 1.4 recommendation).
    return Endpoint(name, path, "payout", moves_money, **kw)


def _payment(name: str, path: str, *, moves_money: bool = True, **kw: bool) -> Endpoint:
    return Endpoint(name, path, "payment", moves_money, **kw)


ENDPOINTS: tuple[Endpoint, ...] = (
    # Payouts, Gateway API (g2g/*).
    _payout("payouts.to_card", "g2g/p2p2nonreg"),
    _payout("payouts.to_token", "g2g/reg2reg"),
    _payout("payouts.to_iban", "g2g/to_iban"),
    _payout("payouts.status", "g2g/payout_status", moves_money=False, status_is_outcome=True),
    _payout("payouts.status2", "g2g/payout_status2", moves_money=False),
    _payout("payouts.balance", "g2g/balance_status", moves_money=False),
    # Payouts, Merchant API (api/*). IBAN: the V2 docs' api/to_iban is used, not the SDK's
    # api/iban_payout (different field set, no KBe/KNP).
    _payout("payouts.page", "api/reg2nonreg"),
    _payout("payouts.to_token_merchant", "api/reg2reg"),
    _payout("payouts.to_iban_merchant", "api/to_iban"),
    _payout("payouts.balance_merchant", "api/balance_status", moves_money=False),
    _payout("payouts.payment_status2", "api/payment_status2", moves_money=False),
    # Payments (acquiring).
    _payment("payments.init", "init_payment.php", idempotency=True),
    _payment("payments.status2", "get_status2.php", moves_money=False),
    _payment("payments.status3", "get_status3.php", moves_money=False),
    _payment("tokens.pay", "g2g/payment"),
    _payment("cards.init", "v1/merchant/{merchant_id}/card/init", idempotency=True),
    _payment("cards.pay", "v1/merchant/{merchant_id}/card/pay"),
    _payment("cards.direct", "v1/merchant/{merchant_id}/card/direct"),
)

_BY_PATH: dict[str, Endpoint] = {endpoint.path: endpoint for endpoint in ENDPOINTS}


def endpoint_for_path(path: str) -> Endpoint | None:
    """The declared endpoint for ``path`` (leading ``/`` optional), if any."""
    return _BY_PATH.get(path.lstrip("/"))
