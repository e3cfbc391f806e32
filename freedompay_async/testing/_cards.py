"""Saved cards on the Merchant API (``v1/merchant/{id}/cardstorage*``): save, list, remove.

Saving opens the gateway's hosted card form; the payer filling it in is the test driver
:meth:`CardDesk.complete_card_save` (``Emulator.complete_card_save``), which stores the card and
posts the card-save result (CB1) to ``pg_post_link``. Cards saved through ``cardstorage/*``
are for payments (Token Pay, ``card/init``), those saved through ``cardstoragepayout/*`` for
payouts (``reg2reg``); each is usable for its purpose only.

Choices where the documentation is silent (``shared/api/tokens-and-cards.md`` sections 4-6):

* list and remove answer without a root ``pg_status`` (as documented): the list is zero, one
  or many ``<card>`` elements (``pg_status`` ``approved``; ``pg_card_hhash`` is the MD5 of the
  masked number; with ``pg_extend_data=1`` also ``bank_alias`` ``EMULATOR``, ``brand_alias``
  from the first digit, ``expiry_year`` / ``expiry_month``); remove answers one ``<card>``
  with ``pg_status`` ``deleted``; an unknown token (or another user's, or one saved for the
  other purpose) is :attr:`ErrorCode.CARD_NOT_FOUND`;
* the card-save result carries ``pg_type=approve``, ``pg_status`` ``success`` / ``error``,
  the masked number as ``pg_card_hash``, ``pg_card_3ds=0``, and on success ``pg_card_id``,
  ``pg_card_token``, ``pg_card_month``, ``pg_card_year``; it is signed with the payment key
  (payout cards: the key of the configured variant below) and re-sent like every
  notification;
* saving for payouts follows ``EmulatorSettings.payout_card_save``; the paths of the other
  documented variants are served too and refuse with the signed code 100, as does the
  configured path signed another documented way (the refusal is then signed that other way
  so its sender can read it; the sandbox answered 1100 there, the emulator keeps 100).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from .._endpoints import Endpoint, endpoint_for_path
from .._masking import mask_pan
from ._notifier import Notifier
from ._protocol import (
    EMULATOR_HOST,
    Answer,
    AnswerFields,
    EmulatorSettings,
    ErrorCode,
    Fields,
    PayoutCardSave,
    Route,
    _flag,
    _optional_text,
    _refuse,
    _required,
    _url,
    _user_id,
)
from ._state import CardPurpose, CardSave, CardToken, GatewayState, now_text

__all__ = ["PAYOUT_CARD_SAVE_PATHS", "PAYOUT_CARD_SAVE_VARIANTS", "CardDesk"]

Handler = Callable[[Fields], Answer]

_MERCHANT = "v1/merchant/{merchant_id}/"


def _table(path: str) -> Endpoint:
    endpoint = endpoint_for_path(path)
    assert endpoint is not None, f"{path} missing from the endpoint table"
    return endpoint


#: The documented ways to save a card for payouts (``tokens-and-cards.md`` section 4, M2);
#: ``"documented"`` is the endpoint table's ``cards.add_for_payouts``.
PAYOUT_CARD_SAVE_VARIANTS: dict[PayoutCardSave, Endpoint] = {
    "documented": _table(_MERCHANT + "cardstoragepayout/add"),
    "cardstorage_add2": Endpoint(
        "cards.add_for_payouts",
        _MERCHANT + "cardstorage/add2",
        "payment",
        moves_money=False,
        script="add2",
    ),
    "payout_add": Endpoint(
        "cards.add_for_payouts",
        _MERCHANT + "cardstoragepayout/add",
        "payment",
        moves_money=False,
        script="add",
    ),
    "payout_add2_payout_key": Endpoint(
        "cards.add_for_payouts",
        _MERCHANT + "cardstoragepayout/add2",
        "payout",
        moves_money=False,
        script="add2",
    ),
}
#: Every path a variant saves payout cards at (all served, whichever variant is configured).
PAYOUT_CARD_SAVE_PATHS: tuple[str, ...] = tuple(
    dict.fromkeys(endpoint.path for endpoint in PAYOUT_CARD_SAVE_VARIANTS.values())
)

_BRANDS = {"2": "MASTERCARD", "4": "VISA", "5": "MASTERCARD"}


class CardDesk:
    """The card storage scripts and the card-form driver; one per emulator."""

    def __init__(self, settings: EmulatorSettings, state: GatewayState, notifier: Notifier) -> None:
        self.settings = settings
        self.state = state
        self.notifier = notifier
        self.payout_save = PAYOUT_CARD_SAVE_VARIANTS[settings.payout_card_save]
        self.handlers: dict[str, Handler] = {
            _MERCHANT + "cardstorage/add": self._save_payment_card,
            _MERCHANT + "cardstorage/list": self._list_payment_cards,
            _MERCHANT + "cardstorage/remove": self._remove_payment_card,
            _MERCHANT + "cardstoragepayout/list": self._list_payout_cards,
            _MERCHANT + "cardstoragepayout/remove": self._remove_payout_card,
        }

    # -- saving for payouts: the configured variant ------------------------------------------

    def payout_save_route(self, path: str, root: str) -> Route:
        """The route of one of :data:`PAYOUT_CARD_SAVE_PATHS`."""
        on_path = [v for v in PAYOUT_CARD_SAVE_VARIANTS.values() if v.path == path]
        primary = self.payout_save if self.payout_save.path == path else on_path[0]
        signing = (primary.script, self.settings.key(primary))
        alternates = tuple(
            dict.fromkeys(
                (variant.script, self.settings.key(variant))
                for variant in on_path
                if (variant.script, self.settings.key(variant)) != signing
            )
        )
        handler = self._save_payout_card if primary is self.payout_save else self._other_variant
        return Route(primary, signing[1], root, handler, alternates)

    @property
    def expected(self) -> str:
        """How this gateway wants a card saved for payouts, in words."""
        path = self.payout_save.path.replace("{merchant_id}", self.settings.merchant_id)
        return (
            f"saving a card for payouts expects /{path} signed as {self.payout_save.script!r} "
            f"with the {self.payout_save.key} key"
        )

    def _other_variant(self, fields: Fields) -> Answer:
        raise _refuse(ErrorCode.BAD_SIGNATURE, f"Invalid signature (pg_sig): {self.expected}")

    # -- save --------------------------------------------------------------------------------

    def _save_payment_card(self, fields: Fields) -> Answer:
        return self._save(fields, "payment", "cardstorage")

    def _save_payout_card(self, fields: Fields) -> Answer:
        return self._save(fields, "payout", "cardstoragepayout")

    def _save(self, fields: Fields, purpose: CardPurpose, section: str) -> Answer:
        user_id = _user_id(fields, required=True) or ""
        post_link = _url(fields, "pg_post_link", required=True) or ""
        back_link = _url(fields, "pg_back_link", required=True) or ""
        order_id = _optional_text(fields, "pg_order_id", 50) or ""
        save = CardSave(
            self.state.next_payment_id(), user_id, purpose, order_id, post_link, back_link
        )
        self.state.card_saves[save.payment_id] = save
        merchant_id = self.settings.merchant_id
        return Answer(
            {
                "pg_status": "ok",
                "pg_payment_id": str(save.payment_id),
                "pg_merchant_id": merchant_id,
                "pg_order_id": order_id,
                "pg_redirect_url": f"{EMULATOR_HOST}/v1/merchant/{merchant_id}/{section}/view"
                f"?pg_payment_id={save.payment_id}",
                "pg_type": "init",
            }
        )

    def complete_card_save(
        self, payment_id: int, *, card_number: str, succeed: bool
    ) -> CardToken | None:
        """The payer fills in the card form (see ``Emulator.complete_card_save``)."""
        save = self.state.card_saves.get(payment_id)
        if save is None:
            raise KeyError(f"no card-saving session {payment_id}")
        if save.status != "new":
            raise ValueError(f"card-saving session {payment_id} is already {save.status}")
        card: CardToken | None = None
        if succeed:
            card = self.state.save_card(save.user_id, card_number, save.purpose)
            save.status, save.token = "success", card.token
        else:
            save.status = "error"
        notice = {
            "pg_type": "approve",
            "pg_payment_id": str(save.payment_id),
            "pg_order_id": save.order_id,
            "pg_user_id": save.user_id,
            "pg_status": save.status,
            "pg_card_hash": mask_pan(card_number),
            "pg_card_3ds": "0",
        }
        if card is not None:
            notice["pg_card_id"] = str(card.card_id)
            notice["pg_card_token"] = card.token
            notice["pg_card_month"] = card.expiry_month
            notice["pg_card_year"] = card.expiry_year
        key = (
            self.settings.secret_key
            if save.purpose == "payment"
            else self.settings.key(self.payout_save)
        )
        self.notifier.send(save.post_link, save.order_id, notice, key, "card_save")
        return card

    # -- list, remove ------------------------------------------------------------------------

    def _list_payment_cards(self, fields: Fields) -> Answer:
        return self._list(fields, "payment")

    def _list_payout_cards(self, fields: Fields) -> Answer:
        return self._list(fields, "payout")

    def _list(self, fields: Fields, purpose: CardPurpose) -> Answer:
        user_id = _user_id(fields, required=True) or ""
        extend = _flag(fields, "pg_extend_data", False)
        cards = [self._card_item(card, extend) for card in self.state.cards_of(purpose, user_id)]
        return Answer({"card": cards} if cards else {})

    def _card_item(self, card: CardToken, extend: bool) -> AnswerFields:
        card_hash = card.card_hash
        item: AnswerFields = {
            "pg_status": "approved",
            "pg_merchant_id": self.settings.merchant_id,
            "pg_card_id": str(card.card_id),
            "pg_card_token": card.token,
            "pg_card_hash": card_hash,
            "pg_card_hhash": hashlib.md5(card_hash.encode()).hexdigest(),
            "pg_recurring_profile_id": card.recurring_profile_id,
            "created_at": card.created_at,
        }
        if extend:
            item["bank_alias"] = "EMULATOR"
            item["brand_alias"] = _BRANDS.get(card.pan[:1], "OTHER")
            item["expiry_year"] = card.expiry_year
            item["expiry_month"] = card.expiry_month
        return item

    def _remove_payment_card(self, fields: Fields) -> Answer:
        return self._remove(fields, "payment")

    def _remove_payout_card(self, fields: Fields) -> Answer:
        return self._remove(fields, "payout")

    def _remove(self, fields: Fields, purpose: CardPurpose) -> Answer:
        user_id = _user_id(fields, required=True) or ""
        card = self.state.find_card(user_id, _required(fields, "pg_card_token"), None, purpose)
        if card is None:
            raise _refuse(
                ErrorCode.CARD_NOT_FOUND, "Card not found: pg_card_token is no card of pg_user_id"
            )
        self.state.remove_card(card)
        return Answer(
            {
                "card": {
                    "pg_status": "deleted",
                    "pg_card_token": card.token,
                    "pg_card_hash": card.card_hash,
                    "deleted_at": now_text(),
                }
            }
        )
