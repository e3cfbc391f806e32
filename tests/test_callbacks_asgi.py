"""The ASGI helper: the Starlette example driven through httpx, and the bare ASGI protocol."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from callback_helpers import FORM, deliver, notification
from starlette.applications import Starlette
from starlette.routing import Mount

from freedompay_async import signing
from freedompay_async._wire import MAX_BODY_BYTES, encode_form, parse_xml
from freedompay_async.callbacks import CallbackAnswer, ResultNotification
from freedompay_async.callbacks.asgi import callback_app

sys.path.insert(0, str(Path(__file__).parent.parent / "examples"))
from asgi_callbacks import Store, create_app

pytestmark = pytest.mark.anyio

KEY = "payment-key"
PAYOUT_KEY = "payout-key"
BASE = "https://shop.example"
CHECK = {
    "pg_order_id": "order-7",
    "pg_payment_id": "1234567",
    "pg_amount": "500.00",
    "pg_currency": "KZT",
    "pg_ps_amount": "500.00",
    "pg_ps_currency": "KZT",
    "pg_ps_full_amount": "500.00",
}
RESULT = {**CHECK, "pg_result": "1", "pg_can_reject": "1", "pg_net_amount": "482.50"}
PAYOUT = {"pg_payment_id": "98765", "pg_order_id": "p-1", "pg_merchant_id": "1", "pg_status": "ok"}


@pytest.fixture
def store() -> Store:
    return Store(orders={"order-7": Decimal("500.00")})


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store, secret_key=KEY, payout_secret_key=PAYOUT_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


async def _send(
    client: httpx.AsyncClient, path: str, fields: dict[str, str], key: str = KEY, **kw: Any
) -> httpx.Response:
    url = f"{BASE}{path}"
    request_url, body, content_type = deliver(
        kw.get("transport", "form"), url, notification(url, fields, key)
    )
    if content_type is None:
        return await client.get(request_url)
    return await client.post(request_url, content=body, headers={"Content-Type": content_type})


def _status(answer: httpx.Response, script: str, key: str = KEY) -> str:
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    assert signing.verify_xml(script, answer.content, key)
    status = parse_xml(answer.content).fields["pg_status"]
    assert isinstance(status, str)
    return status


async def test_example_check_result_and_payout(client: httpx.AsyncClient, store: Store) -> None:
    assert _status(await _send(client, "/freedompay/check", CHECK), "check") == "ok"
    wrong = {**CHECK, "pg_amount": "1.00"}
    assert _status(await _send(client, "/freedompay/check", wrong), "check") == "rejected"

    # The gateway re-sends the result until HTTP 200: recorded once, answered alike.
    for transport in ("form", "multipart", "query", "pg_xml"):
        answer = await _send(client, "/freedompay/result", RESULT, transport=transport)
        assert _status(answer, "result") == "ok"
    assert list(store.payments) == [1234567]
    assert store.paid_orders == {"order-7"}
    assert _status(await _send(client, "/freedompay/check", CHECK), "check") == "rejected"

    answer = await _send(client, "/freedompay/payouts", PAYOUT, PAYOUT_KEY)
    assert _status(answer, "payouts", PAYOUT_KEY) == "ok"
    assert store.payouts[98765].order_id == "p-1"


async def test_example_refuses_wrong_keys_and_garbage(
    client: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="freedompay_async.callbacks"):
        payout_with_payment_key = await _send(client, "/freedompay/payouts", PAYOUT, KEY)
        result_with_payout_key = await _send(client, "/freedompay/result", RESULT, PAYOUT_KEY)
        garbage = await client.post(
            "/freedompay/result", content=b"{}", headers={"Content-Type": "application/json"}
        )
    assert payout_with_payment_key.status_code == 403
    assert payout_with_payment_key.text == "bad signature\n"
    assert result_with_payout_key.status_code == 403
    assert garbage.status_code == 400
    assert (await client.delete("/freedompay/result")).status_code == 405
    assert store.payments == {}
    assert store.payouts == {}
    assert len(caplog.records) == 3
    assert all(
        KEY not in r.getMessage() and PAYOUT_KEY not in r.getMessage() for r in caplog.records
    )


async def test_query_of_the_merchant_url_counts(client: httpx.AsyncClient) -> None:
    path = "/freedompay/result?lang=ru"
    assert _status(await _send(client, path, RESULT), "result") == "ok"
    # Signed for the URL with its query, delivered without it: refused.
    url = f"{BASE}{path}"
    body = encode_form(notification(url, RESULT, KEY))
    answer = await client.post("/freedompay/result", content=body, headers={"Content-Type": FORM})
    assert answer.status_code == 403


async def test_mounted_app_uses_the_last_segment_of_the_full_path() -> None:
    seen: list[ResultNotification] = []

    async def on_result(result: ResultNotification) -> CallbackAnswer:
        seen.append(result)
        return CallbackAnswer.ok()

    app = Starlette(
        routes=[Mount("/hooks", app=callback_app(ResultNotification, on_result, secret_key=KEY))]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        assert _status(await _send(c, "/hooks/fp/result", RESULT), "result") == "ok"
        assert _status(await _send(c, "/hooks/", RESULT), "") == "ok"
    assert [n.script for n in seen] == ["result", ""]


# -- the bare ASGI protocol ------------------------------------------------------------------


async def _ok(result: ResultNotification) -> CallbackAnswer:
    return CallbackAnswer.ok()


class _Conversation:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.incoming = messages
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: Any) -> None:
        self.sent.append(dict(message))

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None


def _scope(**changes: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/result",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", FORM.encode())],
        "client": ("203.0.113.9", 5000),
        **changes,
    }


async def test_body_in_chunks_and_paths_without_raw_path() -> None:
    app = callback_app(ResultNotification, _ok, secret_key=KEY)
    url = f"{BASE}/prefix/result?lang=ru"
    body = encode_form(notification(url, RESULT, KEY))
    talk = _Conversation(
        [
            {"type": "http.request", "body": body[:10], "more_body": True},
            {"type": "http.request", "body": body[10:], "more_body": False},
        ]
    )
    # A server that strips root_path from path, and sends no raw_path.
    await app(_scope(root_path="/prefix", query_string=b"lang=ru"), talk.receive, talk.send)
    assert talk.status == 200
    assert signing.verify_xml("result", talk.sent[1]["body"], KEY)


async def test_oversized_disconnected_and_other_scopes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = callback_app(ResultNotification, _ok, secret_key=KEY)
    chunk = b"a" * (MAX_BODY_BYTES // 2 + 1)
    big = _Conversation([{"type": "http.request", "body": chunk, "more_body": True}] * 2)
    await app(_scope(), big.receive, big.send)
    assert big.status == 413

    gone = _Conversation([{"type": "http.disconnect"}])
    await app(_scope(), gone.receive, gone.send)
    assert gone.sent == []

    life = _Conversation([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    await app({"type": "lifespan"}, life.receive, life.send)
    assert [m["type"] for m in life.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]

    socket = _Conversation([])
    await app({"type": "websocket"}, socket.receive, socket.send)
    assert socket.sent == [{"type": "websocket.close", "code": 1008}]

    forged = _Conversation([{"type": "http.request", "body": b"pg_payment_id=1&pg_sig=x"}])
    with caplog.at_level(logging.WARNING, logger="freedompay_async.callbacks"):
        await app(_scope(), forged.receive, forged.send)
    assert forged.status == 403
    [record] = caplog.records
    assert "203.0.113.9" in record.getMessage()
    assert "'1'" in record.getMessage()
