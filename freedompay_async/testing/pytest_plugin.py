"""pytest fixtures: a running emulator and a client pointed at it.

Registered as a ``pytest11`` entry point (or ``pytest_plugins = [...]`` in a root conftest).
The fixtures are async and run under the anyio pytest plugin: mark tests ``pytest.mark.anyio``
and provide an ``anyio_backend`` fixture returning ``"asyncio"`` (aiohttp needs asyncio; the
fixtures skip on other backends). Override ``freedompay_emulator_settings`` to change the
merchant, keys or balance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .. import FreedomPayClient
from ._emulator import Emulator
from ._gateway import EmulatorSettings

__all__ = ["freedompay_client", "freedompay_emulator", "freedompay_emulator_settings"]


@pytest.fixture
def freedompay_emulator_settings() -> EmulatorSettings:
    """The emulated merchant account (override this fixture to change it)."""
    return EmulatorSettings(
        merchant_id="552893",
        secret_key="emulator-payment-key",  # noqa: S106 - a test account, not a secret
        payout_secret_key="emulator-payout-key",  # noqa: S106
    )


@pytest.fixture
async def freedompay_emulator(
    anyio_backend_name: str, freedompay_emulator_settings: EmulatorSettings
) -> AsyncIterator[Emulator]:
    """A running emulator on a free loopback port, closed after the test."""
    if anyio_backend_name != "asyncio":
        pytest.skip("the FreedomPay emulator runs on aiohttp, which needs the asyncio backend")
    async with Emulator.from_settings(freedompay_emulator_settings) as emulator:
        yield emulator


@pytest.fixture
async def freedompay_client(freedompay_emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    """A client for the emulated merchant: short timeout, no re-sends (one attempt per call)."""
    async with freedompay_emulator.client() as client:
        yield client
