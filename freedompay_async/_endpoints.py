"""The endpoint table: what the client knows about each gateway script, declared once.

Each entry says where the script lives, which secret key signs it, whether it moves money
(which decides whether an ambiguous outcome may be retried) and whether the gateway honours
``pg_idempotency_key`` on it. Facades are thin declarations over these entries; the low-level
:meth:`FreedomPayClient.request` looks paths up here too.

Where the documentation contradicts itself the choice is recorded next to the entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal, TypeAlias

import attrs

from ._fields import Field, encode_fields
from .signing import script_name

__all__ = [
    "BUTTON_METHODS",
    "CALLBACK_METHODS",
    "CALLS",
    "ECI_VALUES",
    "ENDPOINTS",
    "LANGUAGES",
    "OPERATORS",
    "RECEIPT_FIELDS",
    "UNSUPPORTED",
    "Endpoint",
    "KeyKind",
    "declared",
    "endpoint_for_path",
    "endpoint_table_markdown",
    "merchant_template",
]

KeyKind: TypeAlias = Literal["payment", "payout"]

#: Documented values of the enumerated fields.
LANGUAGES = ("ru", "en", "kz", "kk", "kg", "uz")
CALLBACK_METHODS = ("GET", "POST", "XML")
#: How the payer's browser goes to the success / failure URL.
BUTTON_METHODS = ("GET", "POST")
OPERATORS = ("TELE2KZT", "ALTELKZT", "BEELINEKZT", "KCELLKZT", "ACTIVKZT")
#: The ECI values a decrypted Apple Pay / Google Pay token carries.
ECI_VALUES = ("00", "01", "02", "05", "06", "07")


@attrs.frozen(slots=True)
class Endpoint:
    """One gateway script.

    ``path`` is relative to the host and may contain ``{merchant_id}``. ``script`` (the name
    the signature starts with) is the path's last segment unless the docs say otherwise.
    ``status_is_outcome`` marks the answers whose ``pg_status`` describes a transaction rather
    than the request (``payout_status`` v1), so ``error`` there is a result, not a
    :class:`GatewayError`. ``answers_page`` marks the scripts that answer with a page for the
    payer's browser (HTML or a redirect) instead of signed XML.

    ``fields`` are the request fields a facade may send (the client adds ``pg_merchant_id``,
    ``pg_salt``, ``pg_sig`` and, where honoured, ``pg_idempotency_key``); ``answer`` the
    documented answer fields besides the envelope (``pg_status``, ``pg_error_*``,
    ``pg_datetime``, ``pg_salt``, ``pg_sig``). ``deviations`` says, per field, why the table
    parts from the documentation; ``not_sent`` names documented fields the typed API does not
    send, and why. ``open_fields``: the script echoes the merchant's own fields.
    """

    name: str
    path: str
    key: KeyKind
    moves_money: bool
    idempotency: bool = False
    status_is_outcome: bool = False
    answers_page: bool = False
    script: str = attrs.field(kw_only=True)
    fields: tuple[Field, ...] = attrs.field(default=(), kw_only=True)
    answer: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    deviations: Mapping[str, str] = attrs.field(factory=dict, kw_only=True)
    not_sent: Mapping[str, str] = attrs.field(factory=dict, kw_only=True)
    open_fields: bool = attrs.field(default=False, kw_only=True)
    _by_name: Mapping[str, Field] = attrs.field(init=False, repr=False, eq=False)
    _required: tuple[str, ...] = attrs.field(init=False, repr=False, eq=False)

    @script.default
    def _script(self) -> str:
        return script_name("/" + self.path)

    @_by_name.default
    def _index(self) -> Mapping[str, Field]:
        return {field.name: field for field in self.fields}

    @_required.default
    def _required_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields if field.required)

    @property
    def retry_ambiguous(self) -> bool:
        """Whether an attempt with an unknown outcome may be sent again as it is.

        True for reads, and for money movement the gateway deduplicates by idempotency key.
        """
        return not self.moves_money or self.idempotency

    def field(self, name: str) -> Field:
        return self._by_name[name]

    def encode(self, **values: object) -> dict[str, object]:
        """The request's fields checked against this table and encoded for the wire.

        ``None`` means "not given". Raises :class:`~freedompay_async.errors.ValidationError`
        naming the field, before anything is sent.
        """
        return encode_fields(
            self._by_name, self._required, values, script=self.script, open_fields=self.open_fields
        )


# -- the fields, once ---------------------------------------------------------------------

_R = True  # readability: Field(name, kind, _R) is a required field

ORDER_ID = Field("pg_order_id", "order_id", _R)
AMOUNT = Field("pg_amount", "amount", _R)
DESCRIPTION = Field("pg_description", "text", _R)
CURRENCY = Field("pg_currency", "currency")
POST_LINK = Field("pg_post_link", "url", _R)
PAYMENT_ID = Field("pg_payment_id", "id", _R)
USER_ID = Field("pg_user_id", "user_id")
USER_ID_R = Field("pg_user_id", "user_id", _R)
TIME_LIMIT = Field("pg_order_time_limit", "datetime", _R)
RESULT_URL = Field("pg_result_url", "url")
FREE_PARAMS = tuple(Field(f"pg_param{n}", "text", length=(1, 255)) for n in (1, 2, 3))
RECEIPT = Field("pg_receipt_positions", "receipt")
#: One fiscal receipt line (``pg_receipt_positions[i][...]``), card/init's bounds.
RECEIPT_FIELDS = (
    Field("count", "int", _R, values=(Decimal(1), Decimal(10**9))),
    Field("name", "text", _R),
    Field("tax_type", "int", _R, values=(Decimal(0), Decimal(9))),
    Field("price", "amount", _R, values=(Decimal("0.01"), Decimal("9999999"))),
)
PAYER = (
    Field("pg_user_phone", "phone"),
    Field("pg_user_ip", "ip"),
    RESULT_URL,
    Field("pg_success_url", "url"),
    Field("pg_failure_url", "url"),
    RECEIPT,
    *FREE_PARAMS,
)
_TOKEN_PAYOUT = (
    ORDER_ID,
    AMOUNT,
    DESCRIPTION,
    USER_ID_R,
    POST_LINK,
    TIME_LIMIT,
    Field("pg_card_token_to", "text", length=(1, 255)),
    Field("pg_card_id_to", "id"),
)
_PAYOUT_ANSWER = ("pg_payment_id", "pg_merchant_id", "pg_order_id", "pg_balance")
_TOKEN_PAYOUT_ANSWER = (
    *_PAYOUT_ANSWER,
    "pg_card_hash",
    "pg_card_token",
    "pg_card_id",
    "pg_payment_amount",
    "pg_payment_date",
    "pg_payment_status",
    "pg_reference",  # the bank reference, as p2p2nonreg's V1/V2 answer
)
_IBAN_ANSWER = (
    *_PAYOUT_ANSWER,
    "pg_payment_amount",
    "pg_payment_date",
    "pg_reference",
)
_IBAN_PAYOUT = (
    ORDER_ID,
    AMOUNT,
    DESCRIPTION,
    Field("pg_recipient_iban", "iban", _R),
    Field("pg_recipient_iin", "digits", _R, length=(12, 12)),
    Field("pg_recipient_name", "text", _R),
    Field("pg_recipient_kbe", "digits", _R, length=(2, 2)),
    Field("pg_knp", "digits", _R, length=(3, 3)),
    Field("pg_bank_bik", "text", _R, length=(1, 11)),
    POST_LINK,
)
_STATUS_BY_ORDER = (Field("pg_payment_id", "id"), ORDER_ID)
_PAYOUT_STATUS_ANSWER = ("pg_payment_id", "pg_merchant_id", "pg_order_id", "pg_amount")
_CARD_FORM = (
    USER_ID_R,
    Field("pg_post_link", "url", _R),
    Field("pg_back_link", "url", _R),
    Field("pg_order_id", "order_id"),
)
_CARD_FORM_ANSWER = ("pg_payment_id", "pg_merchant_id", "pg_order_id", "pg_redirect_url", "pg_type")
_CARD_LIST_ANSWER = (
    "card",
    "pg_merchant_id",
    "pg_card_id",
    "pg_card_token",
    "pg_card_hash",
    "pg_card_hhash",
    "pg_recurring_profile_id",
    "pg_is_filled",
    "created_at",
    "bank_alias",
    "brand_alias",
    "expiry_year",
    "expiry_month",
)
_CARD_LIST = (USER_ID_R, Field("pg_extend_data", "flag"))
_CARD_REMOVE = (USER_ID_R, Field("pg_card_token", "text", _R, length=(1, 255)))
# Gateway API: pg_status/deleted_at at the root; Merchant API: a <card> with M4's fields (SDKs).
_CARD_REMOVE_ANSWER = ("card", "pg_card_token", "pg_card_hash", "deleted_at")
_STATUS_ANSWER = (
    "pg_payment_id",
    "pg_order_id",
    "pg_payment_status",
    "pg_currency",
    "pg_amount",
    "pg_clearing_amount",
    "pg_refund_amount",
    "pg_revoke_amount",
    "pg_net_amount",
    "pg_can_reject",
    "pg_captured",
    "pg_create_date",
    "pg_payment_date",
    "pg_payment_method",
    "pg_user_email",
    "pg_user_phone",
    "pg_card_name",
    "pg_card_id",
    "pg_card_token",
    "pg_card_pan",
    "pg_card_exp",
    "pg_card_brand",
    "pg_auth_code",
    "pg_reference",
    "pg_intreference",
    "pg_failure_code",
    "pg_failure_description",
    "pg_refund_payments",
    "pg_refund_payment",
    "pg_revoked_payments",
    "pg_recurring_profile_id",
    "pg_recurring_profile_expiry_date",
)
_THREE_DS_ANSWER = ("pg_3ds", "pg_3d_acsurl", "pg_3d_md", "pg_3d_pareq")
_CHARGE_ANSWER = ("pg_payment_id", "pg_merchant_id", "pg_order_id", "pg_payment_status")
_RECEIPT_ONLY = (PAYMENT_ID, RECEIPT)


def _payout(
    name: str,
    path: str,
    fields: tuple[Field, ...],
    answer: tuple[str, ...],
    *,
    moves_money: bool = True,
    status_is_outcome: bool = False,
    deviations: Mapping[str, str] | None = None,
) -> Endpoint:
    # The payout key signs every payout endpoint (shared/api/payouts.md 1.4 recommendation).
    return Endpoint(
        name,
        path,
        "payout",
        moves_money,
        status_is_outcome=status_is_outcome,
        fields=fields,
        answer=answer,
        deviations=deviations or {},
    )


def _payment(
    name: str,
    path: str,
    fields: tuple[Field, ...],
    answer: tuple[str, ...],
    *,
    moves_money: bool = True,
    idempotency: bool = False,
    answers_page: bool = False,
    script: str | None = None,
    deviations: Mapping[str, str] | None = None,
    not_sent: Mapping[str, str] | None = None,
    open_fields: bool = False,
) -> Endpoint:
    return Endpoint(
        name,
        path,
        "payment",
        moves_money,
        idempotency=idempotency,
        answers_page=answers_page,
        script=script or script_name("/" + path),
        fields=fields,
        answer=answer,
        deviations=deviations or {},
        not_sent=not_sent or {},
        open_fields=open_fields,
    )


_MERCHANT = "v1/merchant/{merchant_id}/"
_EITHER_ID = "either id finds the payment (legacy page); the K1/X pages list both as required"
_CARD_TO_EITHER = "required unless the other is given: the facade asks for exactly one"


ENDPOINTS: tuple[Endpoint, ...] = (
    # Payouts, Gateway API (g2g/*).
    _payout(
        "payouts.to_card",
        "g2g/p2p2nonreg",
        (
            ORDER_ID,
            AMOUNT,
            CURRENCY,
            DESCRIPTION,
            # The V1 payout docs allow 13..20 digits; card forms stop at 19.
            Field("pg_payment_to", "card_number", _R, length=(13, 20)),
            POST_LINK,
            USER_ID,
            Field("pg_card_name", "text", length=(1, 255)),
        ),
        # pg_card_hash as in the payout notification (the emulator answers it too).
        (
            *_PAYOUT_ANSWER,
            "pg_payment_amount",
            "pg_payment_date",
            "pg_reference",
            "pg_card_token",
            "pg_card_hash",
        ),
    ),
    _payout("payouts.to_token", "g2g/reg2reg", _TOKEN_PAYOUT, _TOKEN_PAYOUT_ANSWER),
    _payout(
        "payouts.to_iban",
        "g2g/to_iban",
        _IBAN_PAYOUT,
        _IBAN_ANSWER,
    ),
    _payout(
        "payouts.status",
        "g2g/payout_status",
        _STATUS_BY_ORDER,
        _PAYOUT_STATUS_ANSWER,
        moves_money=False,
        status_is_outcome=True,
    ),
    _payout(
        "payouts.status2",
        "g2g/payout_status2",
        _STATUS_BY_ORDER,
        (*_PAYOUT_STATUS_ANSWER, "pg_payment_status", "pg_net_amount"),
        moves_money=False,
    ),
    _payout(
        "payouts.balance",
        "g2g/balance_status",
        (CURRENCY,),
        ("pg_balance", "pg_currency"),
        moves_money=False,
    ),
    # Payouts, Merchant API (api/*). IBAN: the V2 docs' api/to_iban is used, not the SDK's
    # api/iban_payout (different field set, no KBe/KNP).
    _payout(
        "payouts.page",
        "api/reg2nonreg",
        (
            ORDER_ID,
            AMOUNT,
            Field("pg_description", "text", _R, length=(1, 255)),
            TIME_LIMIT,
            Field("pg_back_link", "url", _R),
            POST_LINK,
            USER_ID,
            Field("pg_user_email", "email"),
            Field("pg_payment_route", "choice", choices=("frame",)),
        ),
        ("pg_payment_id", "pg_merchant_id", "pg_order_id", "pg_redirect_url"),
    ),
    _payout(
        "payouts.to_token_merchant",
        "api/reg2reg",
        _TOKEN_PAYOUT,
        _TOKEN_PAYOUT_ANSWER,
        deviations={"pg_card_token_to": _CARD_TO_EITHER},
    ),
    _payout("payouts.to_iban_merchant", "api/to_iban", _IBAN_PAYOUT, _IBAN_ANSWER),
    _payout(
        "payouts.balance_merchant",
        "api/balance_status",
        (CURRENCY,),
        ("pg_balance", "pg_currency"),
        moves_money=False,
    ),
    _payout(
        "payouts.payment_status2",
        "api/payment_status2",
        _STATUS_BY_ORDER,
        (*_PAYOUT_STATUS_ANSWER, "pg_payment_status", "pg_net_amount"),
        moves_money=False,
    ),
    # M7 "Status by Payment ID": the path and script follow the PHP SDK (inferred); the answer
    # is read like payment_status2's when it carries pg_payment_status, else like v1's.
    _payout(
        "payouts.payment_status",
        "api/payment_status",
        (PAYMENT_ID, Field("pg_order_id", "order_id")),
        (*_PAYOUT_STATUS_ANSWER, "pg_payment_status", "pg_net_amount"),
        moves_money=False,
        status_is_outcome=True,
    ),
    # Payments (acquiring), Merchant API. cancel / do_capture / revoke / make_recurring_payment
    # are the paths the gateway's SDKs use (the doc pages name the operations, not the paths).
    _payment(
        "payments.init",
        "init_payment.php",
        (
            Field("pg_order_id", "order_id"),
            AMOUNT,
            CURRENCY,
            DESCRIPTION,
            Field("pg_testing_mode", "flag"),
            Field("pg_lifetime", "int", values=(Decimal(300), Decimal(604800))),
            Field("pg_language", "choice", choices=LANGUAGES),
            Field("pg_auto_clearing", "flag"),
            Field("pg_recurring_start", "flag"),
            Field("pg_recurring_lifetime", "int", values=(Decimal(1), Decimal(156))),
            Field("pg_timeout_after_payment", "int", values=(Decimal(1), Decimal(86400))),
            Field("pg_3ds_challenge", "flag"),
            USER_ID,
            Field("pg_user_contact_email", "email"),
            Field("pg_payment_method", "text", length=(1, 64)),
            Field("pg_payment_system", "text", length=(1, 64)),
            Field("pg_request_method", "choice", choices=CALLBACK_METHODS),
            Field("pg_check_url", "url"),
            Field("pg_success_url_method", "choice", choices=BUTTON_METHODS),
            Field("pg_failure_url_method", "choice", choices=BUTTON_METHODS),
            Field("pg_site_url", "url"),
            Field("pg_state_url", "url"),
            Field("pg_state_url_method", "choice", choices=("GET",)),
            Field("pg_postpone_payment", "flag"),
            Field("pg_payment_route", "choice", choices=("frame",)),
            Field("pg_generate_qr", "flag"),
            Field("pg_commission_discount", "flag"),
            Field("pg_commission_discount_fix", "amount", values=(Decimal(1), Decimal(99999999))),
            Field("pg_commission_discount_percentage", "int", values=(Decimal(1), Decimal(100))),
            *PAYER,
        ),
        (
            "pg_payment_id",
            "pg_order_id",
            "pg_redirect_url",
            "pg_redirect_url_type",
            "pg_redirect_qr",
        ),
        idempotency=True,
        not_sent={
            "pg_template_params": "payment page customisation: its keys are not documented",
        },
        open_fields=True,
    ),
    _payment(
        "payments.status2",
        "get_status2.php",
        (ORDER_ID,),
        (
            "pg_payment_id",
            "pg_transaction_status",
            "pg_can_reject",
            "pg_testing_mode",
            "pg_captured",
            "pg_create_date",
        ),
        moves_money=False,
    ),
    _payment(
        "payments.status3",
        "get_status3.php",
        (PAYMENT_ID, Field("pg_order_id", "order_id")),
        _STATUS_ANSWER,
        moves_money=False,
    ),
    _payment("payments.cancel", "cancel.php", _RECEIPT_ONLY, ("pg_payment_id",)),
    _payment(
        "payments.clearing",
        "do_capture.php",
        (*_RECEIPT_ONLY, Field("pg_clearing_amount", "amount")),
        ("pg_payment_id", "pg_clearing_amount", "pg_captured"),
    ),
    _payment(
        "payments.refund",
        "revoke.php",
        (*_RECEIPT_ONLY, Field("pg_refund_amount", "amount")),
        ("pg_payment_id", "pg_refund_amount", "pg_amount", "pg_refund_payments"),
    ),
    _payment(
        "payments.recurring",
        "make_recurring_payment.php",
        (
            Field("pg_recurring_profile", "text", _R, length=(1, 64)),
            AMOUNT,
            DESCRIPTION,
            Field("pg_order_id", "order_id"),
            RESULT_URL,
        ),
        (
            "pg_payment_id",
            "pg_order_id",
            "pg_payment_status",
            "pg_amount",
            "pg_currency",
            "pg_recurring_profile",
            "pg_recurring_lifetime",
            "pg_recurring_start",
            "pg_recurring_profile_expiry_date",
        ),
    ),
    # Mobile balance. Init is payments.init; "Resend code" has no retrievable page, its path
    # follows mfs/pay and mfs/approve (inferred).
    _payment(
        "mobile.pay",
        "mfs/pay",
        (
            PAYMENT_ID,
            Field("pg_abonent_phone", "phone", _R),
            Field("pg_payment_system_code", "choice", choices=OPERATORS),
        ),
        _CHARGE_ANSWER,
    ),
    _payment(
        "mobile.approve",
        "mfs/approve",
        (PAYMENT_ID, Field("pg_approval_code", "digits", _R, length=(4, 8))),
        _CHARGE_ANSWER,
    ),
    _payment(
        "mobile.resend_code",
        "mfs/resend_code",
        (PAYMENT_ID,),
        ("pg_payment_id",),
        moves_money=False,
    ),
    # Tokens, Gateway API: Token Pay, Apple Pay and Google Pay share g2g/payment (the facade
    # requires each variant's own fields).
    _payment(
        "tokens.pay",
        "g2g/payment",
        (
            ORDER_ID,
            AMOUNT,
            CURRENCY,
            DESCRIPTION,
            Field("pg_language", "choice", choices=LANGUAGES),
            USER_ID,
            Field("pg_card_token", "text", length=(1, 255)),
            *FREE_PARAMS,
            Field("pg_auto_clearing", "flag"),
            Field("pg_payment_method", "choice", choices=("apple_pay", "google_pay")),
            # A device PAN (DPAN): 13..20 digits, not checked with Luhn.
            Field("pg_card_pan", "digits", length=(13, 20)),
            Field("pg_card_year", "digits", length=(2, 2)),
            Field("pg_card_month", "digits", length=(2, 2), values=(Decimal(1), Decimal(12))),
            Field("pg_card_name", "text", length=(1, 255)),
            Field("pg_online_payment_cryptogram", "text", length=(1, 512)),
            Field("pg_eci_indicator", "choice", choices=ECI_VALUES),
            Field("pg_user_ip", "ip"),
        ),
        (
            *_CHARGE_ANSWER,
            *_THREE_DS_ANSWER,
            "pg_recurring_profile",
            "pg_card_id",
            "pg_card_token",
            "pg_auth_code",
            "pg_reference",
        ),
    ),
    # The 3-D Secure step of an Apple Pay / Google Pay charge that answered pg_3ds=1: the
    # token pages send it to the Purchase 3DSecure call (inferred, shared/api §7 question 8).
    _payment(
        "tokens.complete_3ds",
        "g2g/paymentAcs",
        (PAYMENT_ID, Field("pg_md", "text", _R), Field("pg_pares", "text", _R, length=(1, 65536))),
        (*_CHARGE_ANSWER, *_THREE_DS_ANSWER, "pg_auth_code", "pg_reference"),
    ),
    _payment(
        "tokens.status",
        "g2g/status_v2",
        (Field("pg_payment_id", "id"), Field("pg_order_id", "order_id")),
        _STATUS_ANSWER,
        moves_money=False,
        deviations={"pg_payment_id": _EITHER_ID, "pg_order_id": _EITHER_ID},
    ),
    # Card storage, Gateway API (PCI DSS: the card data passes through the merchant). Saving
    # verifies the card (a small amount held and released); nothing is paid.
    _payment(
        "tokens.save_card",
        "g2g/cardstorage/add",
        (
            USER_ID_R,
            Field("pg_order_id", "order_id"),
            Field("pg_description", "text"),
            Field("pg_card_pan", "card_number"),
            Field("pg_card_token", "text", length=(1, 255)),
            Field("pg_card_cvc", "digits", _R, length=(3, 3)),
            Field("pg_card_year", "digits", _R, length=(2, 2)),
            Field("pg_card_month", "digits", _R, length=(2, 2), values=(Decimal(1), Decimal(12))),
            Field("pg_card_name", "text", _R, length=(1, 255)),
        ),
        (
            "pg_payment_id",
            "pg_order_id",
            "pg_user_id",
            "pg_card_token",
            "pg_card_mask",
            "pg_3ds",
            "pg_3d_acsurl",
            "pg_3d_md",
            "pg_3d_pareq",
            "pg_secure_details",
        ),
        moves_money=False,
    ),
    _payment(
        "tokens.complete_card_3ds",
        "g2g/cardstorage/payment_acs",
        (PAYMENT_ID, Field("pg_md", "text", _R), Field("pg_pares", "text", _R, length=(1, 65536))),
        (
            "pg_payment_id",
            "pg_order_id",
            "pg_user_id",
            "pg_card_token",
            "pg_card_mask",
            "pg_3ds",
            "pg_3d_acsurl",
        ),
        moves_money=False,
    ),
    _payment(
        "tokens.list_cards",
        "g2g/cardstorage/list",
        (USER_ID_R,),
        _CARD_LIST_ANSWER,
        moves_money=False,
    ),
    _payment(
        "tokens.remove_card",
        "g2g/cardstorage/remove",
        _CARD_REMOVE,
        _CARD_REMOVE_ANSWER,
        moves_money=False,
    ),
    # Saved cards, Merchant API. Saving only opens the hosted card form; nothing is charged.
    # Saving for payouts: the documented default (EN page: cardstoragepayout/add signed as
    # "add2"); PayoutCardStorage in the client selects the other published variants.
    _payment(
        "cards.add",
        _MERCHANT + "cardstorage/add",
        _CARD_FORM,
        _CARD_FORM_ANSWER,
        moves_money=False,
        deviations={
            "pg_post_link": "the token arrives only there: the facade requires it",
            "pg_back_link": "present in every example; the facade requires it",
        },
    ),
    _payment(
        "cards.list",
        _MERCHANT + "cardstorage/list",
        _CARD_LIST,
        _CARD_LIST_ANSWER,
        moves_money=False,
    ),
    _payment(
        "cards.remove",
        _MERCHANT + "cardstorage/remove",
        _CARD_REMOVE,
        _CARD_REMOVE_ANSWER,
        moves_money=False,
    ),
    _payment(
        "cards.add_for_payouts",
        _MERCHANT + "cardstoragepayout/add",
        _CARD_FORM,
        _CARD_FORM_ANSWER,
        moves_money=False,
        script="add2",
    ),
    _payment(
        "cards.list_for_payouts",
        _MERCHANT + "cardstoragepayout/list",
        _CARD_LIST,
        _CARD_LIST_ANSWER,
        moves_money=False,
    ),
    _payment(
        "cards.remove_for_payouts",
        _MERCHANT + "cardstoragepayout/remove",
        _CARD_REMOVE,
        _CARD_REMOVE_ANSWER,
        moves_money=False,
    ),
    # Paying with a saved card: init, then card/pay (the payer's CVC page) or card/direct.
    _payment(
        "cards.init",
        _MERCHANT + "card/init",
        (
            ORDER_ID,
            AMOUNT,
            DESCRIPTION,
            USER_ID_R,
            Field("pg_card_token", "text", _R, length=(1, 255)),
            Field("pg_user_email", "email"),
            *PAYER,
            Field("pg_loyalty_id", "id"),
            Field("pg_loyalty_amount", "amount"),
            Field("pg_freedom_id", "text", length=(1, 255)),
        ),
        ("pg_payment_id", "pg_merchant_id", "pg_order_id"),
        idempotency=True,
        not_sent={"pg_card_id": "deprecated (kg only): cards are named by pg_card_token"},
    ),
    _payment(
        "cards.pay",
        _MERCHANT + "card/pay",
        (PAYMENT_ID,),
        ("pg_payment_id", "pg_merchant_id", "pg_order_id"),
        moves_money=False,
        answers_page=True,
    ),
    _payment(
        "cards.direct",
        _MERCHANT + "card/direct",
        (PAYMENT_ID,),
        (*_CHARGE_ANSWER, "pg_amount", "pg_currency"),
    ),
)

_BY_PATH: dict[str, Endpoint] = {endpoint.path: endpoint for endpoint in ENDPOINTS}

#: Documented scripts the typed API does not call, and why (``shared/api/*.md``). They stay
#: reachable through :meth:`FreedomPayClient.request`.
UNSUPPORTED: dict[str, str] = {
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


def endpoint_fields_markdown() -> str:
    """Each endpoint's request fields as Markdown: required or not, type and bounds, as the
    client checks them before sending, and the documented fields it does not send."""
    lines: list[str] = []
    for endpoint in ENDPOINTS:
        lines += [f"### `{endpoint.path}`", ""]
        if endpoint.fields:
            lines += ["| Field | Required | Type and bounds |", "|---|---|---|"]
            lines += [
                f"| `{field.name}` | {'yes' if field.required else 'no'} | {field.describe()} |"
                for field in endpoint.fields
            ]
        else:
            lines.append("No fields besides the merchant id and the signature.")
        notes = {**endpoint.deviations, **endpoint.not_sent}
        if notes:
            lines.append("")
            lines += [f"- `{name}`: {why}" for name, why in notes.items()]
        if endpoint.answer:
            lines += ["", "Answer: " + ", ".join(f"`{name}`" for name in endpoint.answer)]
        lines.append("")
    return "\n".join(lines)


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
