"""Gateway callbacks as a plain ASGI application (Starlette, FastAPI, Litestar, bare uvicorn).

No framework dependency. In Starlette or FastAPI give the application its exact route (a
``Route`` whose endpoint is an ASGI application)::

    from starlette.routing import Route
    from freedompay_async.callbacks.asgi import callback_app

    result_app = callback_app(ResultNotification, on_result, secret_key=PAYMENT_KEY)
    routes = [Route("/freedompay/result", result_app, methods=["GET", "POST"])]
    # FastAPI: app.router.routes.append(Route(...)), or app.mount("/freedompay/result", result_app)
    # when the gateway calls a URL below the mount point (mounts answer "/path/" only).

The script name is the last segment of the path as requested (``raw_path``, falling back to
``root_path`` + ``path``); ``script=`` overrides it behind a proxy that rewrites paths. HTTP
statuses and logging are those of :class:`~freedompay_async.callbacks.CallbackEndpoint`, plus
413 for bodies over ``MAX_BODY_BYTES``. See ``examples/asgi_callbacks.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Generic, TypeAlias, TypeVar
from urllib.parse import quote

from .._wire import MAX_BODY_BYTES
from ._answer import CallbackAnswer
from ._endpoint import CallbackEndpoint, CallbackReply
from ._endpoint import logger as default_logger
from ._models import GatewayCallback

__all__ = ["CallbackApp", "callback_app"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]

C = TypeVar("C", bound=GatewayCallback)

_TOO_LARGE = CallbackReply(413, b"callback body too large\n")


def _request_url(scope: Scope) -> str:
    """The requested path (raw, as the client sent it) and query string."""
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, (bytes, bytearray)) and raw_path:
        path = bytes(raw_path).decode("latin-1").partition("?")[0]
    else:
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        if root and not path.startswith(root):  # servers that strip root_path from path
            path = root + path
        path = quote(path, safe="/:@!$&'()*+,;=~%")
    query = scope.get("query_string", b"")
    if isinstance(query, (bytes, bytearray)) and query:
        return f"{path}?{bytes(query).decode('utf-8', 'surrogateescape')}"
    return path


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None


class _TooLarge(Exception):
    pass


async def _body(receive: Receive) -> bytes | None:
    """The whole request body; ``None`` when the client went away."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class CallbackApp(Generic[C]):
    """The ASGI application serving one callback URL (see :func:`callback_app`)."""

    def __init__(self, endpoint: CallbackEndpoint[C]) -> None:
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return f"CallbackApp({self.endpoint!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        try:
            body = await _body(receive)
        except _TooLarge:
            await _send(send, _TOO_LARGE)
            return
        if body is None:
            return
        reply = await self.endpoint.respond(
            str(scope.get("method", "")),
            _request_url(scope),
            body,
            _header(scope, b"content-type"),
            peer=_peer(scope),
        )
        await _send(send, reply)


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    if isinstance(client, (list, tuple)) and client:
        return str(client[0])
    return None


async def _send(send: Send, reply: CallbackReply) -> None:
    headers = [
        (b"content-type", reply.content_type.encode("latin-1")),
        (b"content-length", str(len(reply.body)).encode("ascii")),
    ]
    headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers
    )
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


def callback_app(
    kind: type[C],
    handler: Callable[[C], Awaitable[CallbackAnswer]],
    *,
    secret_key: str,
    payout_secret_key: str | None = None,
    script: str | None = None,
    logger: logging.Logger = default_logger,
    region: str = "kz",
) -> CallbackApp[C]:
    """An ASGI application for one callback URL: ``handler`` receives each verified callback
    of ``kind`` and returns the answer. Arguments as in
    :func:`freedompay_async.callbacks.aiohttp.callback_handler`."""
    return CallbackApp(
        CallbackEndpoint(
            kind,
            handler,
            secret_key=secret_key,
            payout_secret_key=payout_secret_key,
            script=script,
            logger=logger,
            region=region,
        )
    )
