"""A closed client refuses to work instead of opening a session nobody closes; answers are
read-only mappings."""

from __future__ import annotations

import pickle
from collections.abc import Mapping

import aiohttp
import pytest

from freedompay_async import ClientClosed, FreedomPayError, GatewayResponse
from freedompay_async.testing import Emulator

pytestmark = pytest.mark.anyio


async def test_a_closed_client_raises_client_closed(freedompay_emulator: Emulator) -> None:
    async with freedompay_emulator.client() as client:
        await client.payouts.balance()
    assert client.closed
    with pytest.raises(ClientClosed) as closed:
        await client.payouts.balance()
    assert isinstance(closed.value, RuntimeError)
    assert isinstance(closed.value, FreedomPayError)
    with pytest.raises(ClientClosed):
        await client.request("g2g/balance_status", {})
    with pytest.raises(ClientClosed):
        async with client:
            pass
    await client.close()  # closing twice is harmless


async def test_closing_leaves_a_borrowed_session_open(freedompay_emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with freedompay_emulator.client(session=session) as client:
            await client.payouts.balance()
        assert not session.closed
        with pytest.raises(ClientClosed):
            await client.payouts.balance()


async def test_an_answer_is_a_read_only_mapping(freedompay_emulator: Emulator) -> None:
    async with freedompay_emulator.client() as client:
        answer = await client.request("g2g/balance_status", {})
    assert isinstance(answer, GatewayResponse)
    assert isinstance(answer, Mapping)
    assert len(answer) == len(answer.fields) > 0
    assert list(answer) == list(answer.fields)
    assert dict(answer.items()) == dict(answer.fields)
    assert "pg_balance" in answer
    assert answer.get("missing", "default") == "default"
    assert answer["pg_status"] == "ok"
    with pytest.raises(TypeError):
        answer["pg_status"] = "error"  # type: ignore[index]
    copy = pickle.loads(pickle.dumps(answer))  # noqa: S301 - our own bytes
    assert copy == answer
