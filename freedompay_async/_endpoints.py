"""The endpoint table: what the client knows about each gateway script, declared once.

Each entry says where the script lives, which secret key signs it, whether it moves money
(which decides whether an ambiguous outcome may be retried) and whether the gateway honours
``pg_idempotency_key`` on it. Facades are thin declarations over these entries; the low-level
:meth:`FreedomPayClient.request` looks paths up here too.

Where the documentation contradicts itself the choice is recorded next to the entry.
"""

from __future__ import annotations

import re
from typing import Literal, TypeAlias

import attrs

from .signing import script_name

__all__ = [
    "CALLS",
    "ENDPOINTS",
    "UNSUPPORTED",
    "Endpoint",
    "KeyKind",
    "declared",
    "endpoint_for_path",
    "endpoint_table_markdown",
    "merchant_template",
]

KeyKind: TypeAlias = Literal["payment", "payout"]


@attrs.frozen(slots=True)
class Endpoint:
    """One gateway script.

    ``path`` is relative to the host and may contain ``{merchant_id}``. ``script`` (the name
    the signature starts with) is the path's last segment unless the docs say otherwise.
    ``status_is_outcome`` marks the answers whose ``pg_status`` describes a transaction rather
    than the request (``payout_status`` v1), so ``error`` there is a result, not a
    :class:`GatewayError`. ``answers_page`` marks the scripts that answer with a page for the
    payer's browser (HTML or a redirect) instead of signed XML.
    """

    name: str
    path: str
    key: KeyKind
    moves_money: bool
    idempotency: bool = False
    status_is_outcome: bool = False
    answers_page: bool = False
    script: str = attrs.field(kw_only=True)

    @script.default
    def _script(self) -> str:
        return script_name("/" + self.path)

    @property
    def retry_ambiguous(self) -> bool:
        """Whether an attempt with an unknown outcome may be sent again as it is.

        True for reads, and for money movement the gateway deduplicates by idempotency key.
        """
        return not self.moves_money or self.idempotency


def _payout(
    name: str, path: str, *, moves_money: bool = True, status_is_outcome: bool = False
) -> Endpoint:
    # The payout key signs every payout endpoint (shared/api/payouts.md 1.4 recommendation).
    return Endpoint(name, path, "payout", moves_money, status_is_outcome=status_is_outcome)


def _payment(
    name: str,
    path: str,
    *,
    moves_money: bool = True,
    idempotency: bool = False,
    answers_page: bool = False,
) -> Endpoint:
    return Endpoint(
        name, path, "payment", moves_money, idempotency=idempotency, answers_page=answers_page
    )


_MERCHANT = "v1/merchant/{merchant_id}/"


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
    # M7 "Status by Payment ID": the path and script follow the PHP SDK (inferred); the answer
    # is read like payment_status2's when it carries pg_payment_status, else like v1's.
    _payout(
        "payouts.payment_status", "api/payment_status", moves_money=False, status_is_outcome=True
    ),
    # Payments (acquiring), Merchant API. cancel / do_capture / revoke / make_recurring_payment
    # are the paths the gateway's SDKs use (the doc pages name the operations, not the paths).
    _payment("payments.init", "init_payment.php", idempotency=True),
    _payment("payments.status2", "get_status2.php", moves_money=False),
    _payment("payments.status3", "get_status3.php", moves_money=False),
    _payment("payments.cancel", "cancel.php"),
    _payment("payments.clearing", "do_capture.php"),
    _payment("payments.refund", "revoke.php"),
    _payment("payments.recurring", "make_recurring_payment.php"),
    # Mobile balance. Init is payments.init; "Resend code" has no retrievable page, its path
    # follows mfs/pay and mfs/approve (inferred).
    _payment("mobile.pay", "mfs/pay"),
    _payment("mobile.approve", "mfs/approve"),
    _payment("mobile.resend_code", "mfs/resend_code", moves_money=False),
    # Tokens, Gateway API: Token Pay, Apple Pay and Google Pay share g2g/payment.
    _payment("tokens.pay", "g2g/payment"),
    _payment("tokens.status", "g2g/status_v2", moves_money=False),
    # Saved cards, Merchant API. Saving only opens the hosted card form; nothing is charged.
    # Saving for payouts: the documented default (EN page: cardstoragepayout/add signed as
    # "add2"); PayoutCardStorage in the client selects the other published variants.
    _payment("cards.add", _MERCHANT + "cardstorage/add", moves_money=False),
    _payment("cards.list", _MERCHANT + "cardstorage/list", moves_money=False),
    _payment("cards.remove", _MERCHANT + "cardstorage/remove", moves_money=False),
    Endpoint(
        "cards.add_for_payouts",
        _MERCHANT + "cardstoragepayout/add",
        "payment",
        moves_money=False,
        script="add2",
    ),
    _payment("cards.list_for_payouts", _MERCHANT + "cardstoragepayout/list", moves_money=False),
    _payment("cards.remove_for_payouts", _MERCHANT + "cardstoragepayout/remove", moves_money=False),
    # Paying with a saved card: init, then card/pay (the payer's CVC page) or card/direct.
    _payment("cards.init", _MERCHANT + "card/init", idempotency=True),
    _payment("cards.pay", _MERCHANT + "card/pay", moves_money=False, answers_page=True),
    _payment("cards.direct", _MERCHANT + "card/direct"),
)

_BY_PATH: dict[str, Endpoint] = {endpoint.path: endpoint for endpoint in ENDPOINTS}

#: Documented scripts the typed API does not call, and why (``shared/api/*.md``). They stay
#: reachable through :meth:`FreedomPayClient.request`.
UNSUPPORTED: dict[str, str] = {
    "g2g/cardstorage/add": "Gateway API card storage carries the PAN and CVC (PCI DSS); "
    "saving cards goes through the hosted form (cards.add) instead - not yet typed",
    "g2g/cardstorage/payment_acs": "completes g2g/cardstorage/add's 3-D Secure - not yet typed",
    "g2g/cardstorage/list": "Gateway API card storage - not yet typed; cards.list covers it",
    "g2g/cardstorage/remove": "Gateway API card storage - not yet typed; cards.remove covers it",
    "api/iban_payout": "the PHP SDK's IBAN path; the V2 docs' api/to_iban is used instead",
    "api/iban_payout/payment_status": "PHP SDK only, no documented request or answer",
    "v5/merchant/invoice/init": "invoices: pages not retrieved (XML and JSON variants disagree)",
    "v5/merchant/invoice/info": "invoices: path inferred, page not retrieved",
    "v5/merchant/invoice/pay": "invoices: path inferred, page not retrieved",
    "v5/merchant/invoice/status": "invoices: path inferred, page not retrieved",
}


#: The public method behind each endpoint where it differs from the endpoint's name.
CALLS: dict[str, str] = {
    "payouts.status": "payouts.status(version=1)",
    "payouts.status2": "payouts.status",
    "payouts.to_token_merchant": 'payouts.to_token(api="merchant")',
    "payouts.to_iban_merchant": 'payouts.to_iban(api="merchant")',
    "payouts.balance_merchant": 'payouts.balance(api="merchant")',
    "payouts.payment_status2": 'payouts.status(api="merchant")',
    "payouts.payment_status": "payouts.status_by_payment",
    "payments.init": "payments.create, mobile.init",
    "payments.status2": "payments.order_status",
    "payments.status3": "payments.status",
    "payments.clearing": "payments.capture",
    "payments.recurring": "payments.charge_recurring",
    "tokens.pay": "tokens.pay, tokens.apple_pay, tokens.google_pay",
    "cards.list_for_payouts": "cards.list(for_payouts=True)",
    "cards.remove_for_payouts": "cards.remove(for_payouts=True)",
    "cards.init": "cards.create_payment",
    "cards.pay": "cards.cvc_page",
    "cards.direct": "cards.charge",
}


def endpoint_table_markdown() -> str:
    """The endpoint table as Markdown (``docs/endpoints.md``): every documented script, the
    method that calls it, its key, and the scripts not called with the reason."""
    lines = [
        "| Script | Path | Method | Key | Moves money | Idempotency key |",
        "|---|---|---|---|---|---|",
    ]
    for endpoint in ENDPOINTS:
        lines.append(
            f"| `{endpoint.script}` | `{endpoint.path}` | "
            + ", ".join(
                f"`client.{call}`" for call in CALLS.get(endpoint.name, endpoint.name).split(", ")
            )
            + " "
            f"| {endpoint.key} | {'yes' if endpoint.moves_money else 'no'} "
            f"| {'yes' if endpoint.idempotency else 'no'} |"
        )
    lines += ["", "Not called by the typed API (reachable through `client.request`):", ""]
    lines += ["| Path | Why |", "|---|---|"]
    lines += [f"| `{path}` | {why} |" for path, why in UNSUPPORTED.items()]
    return "\n".join(lines) + "\n"


def endpoint_for_path(path: str) -> Endpoint | None:
    """The declared endpoint for ``path`` (leading ``/`` optional), if any."""
    return _BY_PATH.get(path.lstrip("/"))


def declared(path: str) -> Endpoint:
    """The table's entry for ``path``, for facades that declare what they call."""
    return _BY_PATH[path]


# "v1/merchant/552893/card/init": the Merchant API puts the merchant id in the path.
_MERCHANT_SEGMENT = re.compile(r"(v\d+/merchant/)(\d+)/")


def merchant_template(path: str) -> tuple[str, str | None]:
    """Split a concrete Merchant API path into its endpoint-table template and merchant id.

    ``/v1/merchant/552893/card/init`` -> ``("v1/merchant/{merchant_id}/card/init", "552893")``.
    Any other path comes back without its leading ``/`` and with ``None``.
    """
    relative = path.lstrip("/")
    match = _MERCHANT_SEGMENT.match(relative)
    if match is None:
        return relative, None
    return f"{match[1]}{{merchant_id}}/{relative[match.end() :]}", match[2]
