"""What the typed facades need from a client, and nothing more: the narrow interface they are
built on, so that the facades never import the client (the import graph is one-way)."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from ._endpoints import Endpoint
from ._wire import Params
from .models import GatewayResponse, PageAnswer

if TYPE_CHECKING:
    from ._telemetry import Recorder

__all__ = ["Caller"]


class Caller(Protocol):
    """Sends declared endpoints (``FreedomPayClient`` is one)."""

    @property
    def merchant_id(self) -> str: ...

    @property
    def timezone(self) -> datetime.tzinfo: ...  # the gateway's time zone for this region

    @property
    def _telemetry(self) -> Recorder: ...  # what the facades' operations report to

    def call(
        self, endpoint: Endpoint, params: Params, *, idempotency_key: str | None = None
    ) -> Awaitable[GatewayResponse]: ...

    def call_page(self, endpoint: Endpoint, params: Params) -> Awaitable[PageAnswer]: ...
