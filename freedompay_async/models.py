"""Typed results shared by every endpoint."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import tzinfo
from typing import Any

import attrs

from ._convert import GATEWAY_TIMEZONE
from ._masking import mask_card_numbers

__all__ = ["GatewayResponse", "PageAnswer"]


@attrs.frozen(slots=True, repr=False)
class GatewayResponse(Mapping[str, Any]):
    """A decoded, verified gateway answer: a read-only mapping of its fields
    (``answer["pg_status"]``, ``answer.get(...)``, ``len``, iteration, ``in``).

    ``fields`` is the XML root's content (nested containers kept, repeated tags as lists, empty
    leaves as ``""``); ``raw`` the body exactly as received; ``signed`` whether it carried a
    ``pg_sig`` that verified (always true unless verification was switched off); ``timezone``
    the zone the answer's naive times are in (the client's region).
    """

    endpoint: str
    root: str
    fields: Mapping[str, Any]
    raw: bytes
    signed: bool = True
    timezone: tzinfo = GATEWAY_TIMEZONE

    @property
    def status(self) -> str | None:
        """``pg_status``: the request's status (``ok``/``error``; some payouts ``process``)."""
        status = self.fields.get("pg_status")
        return status if isinstance(status, str) else None

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    # Mapping's own get and in go through __getitem__ and an exception: the fields' are direct.
    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.fields.items() if k not in ("pg_sig", "pg_salt")}
        return mask_card_numbers(f"GatewayResponse(endpoint={self.endpoint!r}, fields={shown!r})")


@attrs.frozen(slots=True, repr=False)
class PageAnswer:
    """What a script for the payer's browser answered: a page, a redirect, or signed XML.

    Never followed or rendered here. ``location`` is set for a redirect; ``answer`` when the
    gateway answered with (verified) XML instead of a page.
    """

    endpoint: str
    http_status: int
    content_type: str
    location: str | None
    body: bytes
    answer: GatewayResponse | None = None

    @property
    def html(self) -> str | None:
        """The page's text when the answer is an HTML page."""
        if self.location is not None or self.answer is not None:
            return None
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return (
            f"PageAnswer(endpoint={self.endpoint!r}, http_status={self.http_status}, "
            f"content_type={self.content_type!r}, location={self.location!r}, "
            f"bytes={len(self.body)})"
        )
