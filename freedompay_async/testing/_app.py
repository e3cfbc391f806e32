"""The aiohttp.web application: reads forms, applies programmed faults, writes signed XML.

One catch-all route looks the path up in the gateway's route table, so per-request work is a
dict lookup, a form parse, the signature check and the answer's signature. Merchant API paths
(``v1/merchant/552893/card/init``) miss the table and are looked up once more by their
template (``v1/merchant/{merchant_id}/card/init``). An answer with ``html`` is sent as the
page it is (``card/pay``): faults that spoil XML leave a page as it is, except a cut-short one.
"""

from __future__ import annotations

import asyncio
import functools
import time
import zlib
from urllib.parse import parse_qsl

from aiohttp import web

from .._endpoints import merchant_template
from .._wire import parse_form, render_xml
from ..signing import sign_xml
from ._faults import Fault, FaultKind, FaultPlan
from ._gateway import Answer, Gateway, Route
from ._protocol import ErrorCode, _error

__all__ = ["build_app"]

_HTML_ERROR = (
    "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)

_GATEWAY_KEY = web.AppKey("gateway", Gateway)


def _drop(request: web.Request) -> web.Response:
    """Cut the connection; aiohttp then has nowhere to write the (empty) response."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response()


def _xml(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/xml", charset="utf-8")


def _html(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="text/html", charset="utf-8")


def _render(route: Route, answer: Answer, *, spoil_key: bool = False) -> bytes:
    if answer.html is not None:
        return answer.html.encode("utf-8")
    if not answer.signed:
        return render_xml(route.root, answer.fields)
    script, key = answer.sign_as or (route.endpoint.script, route.key)
    if spoil_key:
        key += "-not-the-key"
    return sign_xml(script, answer.fields, key, root=route.root)


def _respond(answer: Answer, body: bytes) -> web.Response:
    return _xml(body) if answer.html is None else _html(body)


async def _received(request: web.Request) -> list[tuple[str, str]]:
    """The request's fields in arrival order: query string first, then the body."""
    query = request.rel_url.raw_query_string
    pairs = parse_qsl(query, keep_blank_values=True) if query else []
    if request.method == "POST":
        if request.content_type == "multipart/form-data":
            form = await request.post()
            pairs.extend((name, value) for name, value in form.items() if isinstance(value, str))
        else:
            body = await request.read()
            pairs.extend(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return pairs


@functools.lru_cache(maxsize=4)
def _gzip_bomb(size: int) -> bytes:
    """A gzip stream of ``size`` zero bytes (rounded up to whole MiB), built without deflating
    them all: after a full flush deflate forgets its history, so each MiB compresses to the
    same bytes and the stream is one compressed MiB repeated, then the gzip trailer."""
    block = bytes(1 << 20)
    blocks = max(1, -(-size >> 20))
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = crc.to_bytes(4, "little") + ((blocks << 20) & 0xFFFFFFFF).to_bytes(4, "little")
    return header + piece * blocks + packer.flush() + trailer


class _Dispatcher:
    def __init__(self, gateway: Gateway, faults: FaultPlan) -> None:
        self.gateway = gateway
        self.faults = faults
        #: Per endpoint template, the last answer body of up to two orders (for replays).
        self._recent: dict[str, list[tuple[str | None, bytes]]] = {}

    def _lagging(self, fault: Fault, order_id: object) -> bool:
        payout = self.gateway.state.payouts.get(order_id) if isinstance(order_id, str) else None
        return payout is not None and time.monotonic() - payout.created_monotonic < fault.delay

    def _remember(self, template: str, order_id: str | None, body: bytes) -> None:
        recent = self._recent.setdefault(template, [])
        if recent and recent[-1][0] != order_id:
            del recent[:-1]
        else:
            recent.clear()
        recent.append((order_id, body))

    def _replayable(self, template: str, order_id: str | None) -> bytes | None:
        for seen_order, body in self._recent.get(template, ()):
            if seen_order != order_id:
                return body
        return None

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        routes = self.gateway.routes
        path = request.match_info["path"]
        route = routes.get(path)
        path_merchant: str | None = None
        if route is None:
            template, path_merchant = merchant_template(path)
            route = routes.get(template) if path_merchant is not None else None
            if route is None:
                raise web.HTTPNotFound()
        pairs = await _received(request)
        fields = parse_form(pairs)
        order_id = fields.get("pg_order_id")
        call_number = self.gateway.state.count_call(path)
        order = order_id if isinstance(order_id, str) else None
        template = route.endpoint.path
        fault: Fault | None = None
        lagging = False
        for applied in self.faults.take(path, order, call_number, template=template):
            if applied.kind is FaultKind.LATENCY:
                await asyncio.sleep(applied.delay)
            elif applied.kind is FaultKind.STATUS_LAG:
                lagging = lagging or self._lagging(applied, order_id)
            else:
                fault = applied
        if fault is not None and fault.kind is FaultKind.DROP_BEFORE:
            return _drop(request)
        if lagging:  # the status does not know the payout yet (nothing is counted)
            answer = _error(ErrorCode.PAYMENT_NOT_FOUND, "Payment not found.")
        else:
            answer = self.gateway.handle(route, fields, pairs, path_merchant)
        if fault is None:
            body = _render(route, answer)
            self._remember(template, order, body)
            return _respond(answer, body)
        if fault.kind is FaultKind.REPLAY:
            replayed = self._replayable(template, order)
            return _respond(answer, replayed if replayed is not None else _render(route, answer))
        return await _faulty(request, route, answer, fault)


async def _faulty(
    request: web.Request, route: Route, answer: Answer, fault: Fault
) -> web.StreamResponse:
    """The answer to a processed request, spoiled as ``fault`` says."""
    kind = fault.kind
    if kind is FaultKind.DROP_AFTER_COMMIT:
        return _drop(request)
    if kind is FaultKind.HTTP_ERROR:
        return web.Response(
            status=fault.status,
            text=_HTML_ERROR.format(status=fault.status),
            content_type="text/html",
        )
    if kind is FaultKind.SLOW_AFTER_COMMIT:
        await asyncio.sleep(fault.delay)
        return _respond(answer, _render(route, answer))
    if kind is FaultKind.MALFORMED_XML:
        body = _render(route, answer)
        return _respond(answer, body[: body.rindex(b"</")])
    if kind is FaultKind.GZIP_BOMB:
        return web.Response(
            body=_gzip_bomb(fault.size),
            headers={"Content-Encoding": "gzip"},
            content_type="application/xml",
        )
    if kind is FaultKind.ANSWER:
        fields = dict(fault.fields) if fault.replace else {**answer.fields, **dict(fault.fields)}
        lie = Answer(fields, signed=fault.signed, sign_as=answer.sign_as)
        return web.Response(
            status=fault.status,
            body=_render(route, lie),
            content_type="application/xml",
            charset="utf-8",
        )
    if answer.html is not None:  # a page carries no signature to spoil
        return _html(_render(route, answer))
    if kind is FaultKind.BAD_SIGNATURE:
        return _xml(_render(route, answer, spoil_key=True))
    assert kind is FaultKind.UNSIGNED
    return _xml(render_xml(route.root, answer.fields))


async def _start(app: web.Application) -> None:
    await app[_GATEWAY_KEY].notifier.start()


async def _stop(app: web.Application) -> None:
    gateway = app[_GATEWAY_KEY]
    gateway.close()
    await gateway.notifier.close()


def build_app(gateway: Gateway, faults: FaultPlan) -> web.Application:
    """The application serving ``gateway``; usable with aiohttp's test utilities as well."""
    app = web.Application()
    app[_GATEWAY_KEY] = gateway
    app.router.add_route("*", "/{path:.*}", _Dispatcher(gateway, faults).dispatch)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app
