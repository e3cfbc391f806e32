"""pytest fixtures: a running emulator and a client pointed at it.

Registered as a ``pytest11`` entry point (or ``pytest_plugins = [...]`` in a root conftest).
The fixtures run on the test's own event loop, under either async test runner:

* **pytest-asyncio** (strict or auto mode): mark tests ``@pytest.mark.asyncio`` (auto mode
  does that for every ``async def`` test);
* **anyio's plugin**: mark tests ``@pytest.mark.anyio``; the emulator needs the ``asyncio``
  backend (aiohttp), so the fixtures skip under trio.

Override ``freedompay_emulator_settings`` to change the merchant, keys or balance.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from typing import Literal

import pytest

from ..client import FreedomPayClient
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


def _runner(request: pytest.FixtureRequest) -> Literal["asyncio", "anyio"]:
    """Which plugin runs the requesting test, so that the fixtures share its event loop."""
    if request.node.get_closest_marker("asyncio") is not None:
        return "asyncio"
    if request.node.get_closest_marker("anyio") is not None:
        return "anyio"
    if "anyio_backend" in request.fixturenames:
        return "anyio"
    pytest.fail(
        "the freedompay fixtures need an async test run by pytest-asyncio "
        "(@pytest.mark.asyncio) or anyio (@pytest.mark.anyio)",
        pytrace=False,
    )


@pytest.fixture
def freedompay_emulator(request: pytest.FixtureRequest) -> Emulator:
    """A running emulator on a free loopback port, closed after the test."""
    emulator = request.getfixturevalue(f"_freedompay_emulator_{_runner(request)}")
    assert isinstance(emulator, Emulator)
    return emulator


@pytest.fixture
def freedompay_client(request: pytest.FixtureRequest) -> FreedomPayClient:
    """A client for the emulated merchant: short timeout, no re-sends (one attempt per call)."""
    client = request.getfixturevalue(f"_freedompay_client_{_runner(request)}")
    assert isinstance(client, FreedomPayClient)
    return client


async def _serving(settings: EmulatorSettings) -> AsyncIterator[Emulator]:
    async with Emulator.from_settings(settings) as emulator:
        yield emulator


async def _connected(emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with emulator.client() as client:
        yield client


# -- under anyio -----------------------------------------------------------------------------


@pytest.fixture
async def _freedompay_emulator_anyio(
    anyio_backend_name: str, freedompay_emulator_settings: EmulatorSettings
) -> AsyncIterator[Emulator]:
    if anyio_backend_name != "asyncio":
        pytest.skip("the FreedomPay emulator runs on aiohttp, which needs the asyncio backend")
    async for emulator in _serving(freedompay_emulator_settings):
        yield emulator


@pytest.fixture
async def _freedompay_client_anyio(
    freedompay_emulator: Emulator, anyio_backend_name: str
) -> AsyncIterator[FreedomPayClient]:
    async for client in _connected(freedompay_emulator):
        yield client


# -- under pytest-asyncio --------------------------------------------------------------------


if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def _freedompay_emulator_asyncio(
        freedompay_emulator_settings: EmulatorSettings,
    ) -> AsyncIterator[Emulator]:
        async for emulator in _serving(freedompay_emulator_settings):
            yield emulator

    @pytest_asyncio.fixture
    async def _freedompay_client_asyncio(
        freedompay_emulator: Emulator,
    ) -> AsyncIterator[FreedomPayClient]:
        async for client in _connected(freedompay_emulator):
            yield client
