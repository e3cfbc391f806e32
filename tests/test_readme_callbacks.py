"""The callbacks guide's code blocks (docs/callbacks.md) run as written: served and driven over
HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from callback_helpers import FORM, notification

from freedompay_async import signing
from freedompay_async._wire import encode_form, parse_xml

pytestmark = pytest.mark.anyio

SECTION = (Path(__file__).parent.parent / "docs" / "callbacks.md").read_text("utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)

KEY, PAYOUT_KEY = "readme-payment-key", "readme-payout-key"
CHECK = {"pg_order_id": "order-7", "pg_payment_id": "11", "pg_amount": "500.00"}
RESULT = {**CHECK, "pg_result": "1", "pg_can_reject": "0", "pg_currency": "KZT"}
PAYOUT = {"pg_payment_id": "12", "pg_merchant_id": "1", "pg_status": "ok"}


@pytest.fixture
def readme(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("FREEDOMPAY_SECRET_KEY", KEY)
    monkeypatch.setenv("FREEDOMPAY_PAYOUT_SECRET_KEY", PAYOUT_KEY)
    assert len(BLOCKS) == 2
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in BLOCKS:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace


@pytest.fixture
async def served(readme: dict[str, Any]) -> AsyncIterator[str]:
    runner = web.AppRunner(readme["app"], access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def _answer(status: int, body: bytes, script: str, key: str = KEY) -> str:
    assert status == 200
    assert signing.verify_xml(script, body, key)
    answer = parse_xml(body).fields["pg_status"]
    assert isinstance(answer, str)
    return answer


async def test_aiohttp_block(served: str, readme: dict[str, Any]) -> None:
    async def post(path: str, fields: dict[str, str], key: str = KEY) -> tuple[int, bytes]:
        url = served + path
        body = encode_form(notification(url, fields, key))
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers={"Content-Type": FORM}) as answer,
        ):
            return answer.status, await answer.read()

    assert _answer(*await post("/freedompay/check", CHECK), "check") == "ok"
    wrong = {**CHECK, "pg_amount": "1.00"}
    assert _answer(*await post("/freedompay/check", wrong), "check") == "rejected"
    for _ in range(2):
        assert _answer(*await post("/freedompay/result", RESULT), "result") == "ok"
    assert list(readme["payments"]) == [11]
    answer = await post("/freedompay/payouts", PAYOUT, PAYOUT_KEY)
    assert _answer(*answer, "payouts", PAYOUT_KEY) == "ok"
    assert (await post("/freedompay/payouts", PAYOUT, KEY))[0] == 403


async def test_starlette_block(readme: dict[str, Any]) -> None:
    transport = httpx.ASGITransport(app=readme["asgi_app"])
    async with httpx.AsyncClient(transport=transport, base_url="https://shop.example") as client:
        url = "https://shop.example/freedompay/result"
        body = encode_form(notification(url, RESULT, KEY))
        answer = await client.post(url, content=body, headers={"Content-Type": FORM})
    assert _answer(answer.status_code, answer.content, "result") == "ok"
    assert list(readme["payments"]) == [11]
