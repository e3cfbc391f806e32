"""Typed results shared by every endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._masking import mask_card_numbers

__all__ = ["GatewayResponse"]


@attrs.frozen(slots=True, repr=False)
class GatewayResponse:
    """A decoded, verified gateway answer.

    ``fields`` is the XML root's content (nested containers kept, repeated tags as lists, empty
    leaves as ``""``); ``raw`` the body exactly as received; ``signed`` whether it carried a
    ``pg_sig`` that verified (always true unless verification was switched off).
    """

    endpoint: str
    root: str
    fields: Mapping[str, Any]
    raw: bytes
    signed: bool = True

    @property
    def status(self) -> str | None:
        """``pg_status``: the request's status (``ok``/``error``; some payouts ``process``)."""
        status = self.fields.get("pg_status")
        return status if isinstance(status, str) else None

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.fields.items() if k not in ("pg_sig", "pg_salt")}
        return mask_card_numbers(f"GatewayResponse(endpoint={self.endpoint!r}, fields={shown!r})")
