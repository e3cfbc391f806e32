"""A merchant's web site for emulator tests: callback URLs that record and answer like a shop.

Every URL is ``{base}/shop/{script}?shop=kz`` (the query takes part in the signature). The
``check`` script answers with :attr:`MerchantSite.check_status` and ``check_http_status``;
every other script answers a signed ``ok`` with HTTP 200 (answers are unsigned when
``sign_answers`` is off).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import attrs
from aiohttp import web

from freedompay_async._wire import parse_form, render_xml
from freedompay_async.signing import sign_xml

PAYMENT_KEY = "emulator-payment-key"


@attrs.define
class MerchantSite:
    base: str = ""
    key: str = PAYMENT_KEY
    check_status: str = "ok"
    check_description: str = ""
    sign_answers: bool = True
    check_http_status: int = 200
    received: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)

    def url(self, script: str) -> str:
        return f"{self.base}/shop/{script}?shop=kz"

    def got(self, script: str) -> list[dict[str, Any]]:
        return self.received.get(script, [])

    async def handle(self, request: web.Request) -> web.Response:
        pairs = parse_qsl(request.query_string, keep_blank_values=True)
        pairs += parse_qsl((await request.read()).decode(), keep_blank_values=True)
        script = request.match_info["script"]
        self.received.setdefault(script, []).append(parse_form(pairs))
        answer = {"pg_status": "ok", "pg_description": ""}
        status = 200
        if script == "check":
            answer = {"pg_status": self.check_status, "pg_description": self.check_description}
            status = self.check_http_status
        body = (
            sign_xml(script, answer, self.key)
            if self.sign_answers
            else render_xml("response", answer)
        )
        return web.Response(status=status, body=body, content_type="application/xml")


@asynccontextmanager
async def merchant_site() -> AsyncIterator[MerchantSite]:
    site = MerchantSite()
    app = web.Application()
    app.router.add_route("*", "/shop/{script}", site.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield site
    finally:
        await runner.cleanup()
