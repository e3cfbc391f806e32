"""The session pipeline: one logical call -> signed attempts over aiohttp -> a verified answer.

* :class:`_Call` is one operation. Its parameters are validated and flattened once; its
  idempotency key is fixed once. Its :meth:`_Call.sign` is an aiohttp client middleware that,
  for every attempt, adds ``pg_merchant_id``, a fresh ``pg_salt`` and ``pg_sig`` over exactly
  the body it puts on the wire.
* :class:`Requestor` sends attempts, sorts failures into "certainly not sent" /
  "outcome unknown" / "untrustworthy answer", verifies and decodes answers, logs one line per
  attempt and lets tenacity repeat only what is safe to repeat.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import tzinfo
from typing import Any, TypeVar

import aiohttp
import anyio
from aiohttp import ClientHandlerType, ClientMiddlewareType, ClientRequest, ClientResponse
from multidict import CIMultiDict, CIMultiDictProxy
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)
from yarl import URL

from ._convert import GATEWAY_TIMEZONE
from ._endpoints import Endpoint, KeyKind
from ._idempotency import default_idempotency_key
from ._telemetry import Recorder, _AttemptProbe, attempt_outcome
from ._wire import (
    POSITION,
    FlatPlan,
    FlatShape,
    Params,
    decode_answer,
    encode_form,
    flatten,
    signature_of,
)
from .errors import (
    AnswerMismatch,
    ConfigurationError,
    FreedomPayError,
    GatewayError,
    MalformedResponse,
    OutcomeUnknown,
    ProtocolError,
    RequestNotSent,
    SignatureMismatch,
    UnexpectedHTTPStatus,
    UnknownMerchant,
    UnsignedResponse,
    ValidationError,
)
from .models import GatewayResponse, PageAnswer
from .retry import RetryPolicy
from .signing import new_salt, sign_parts, signing_parts, verify_signed

__all__ = ["Requestor", "default_idempotency_key"]

logger = logging.getLogger("freedompay_async")

T = TypeVar("T")
#: Turns one exchange (call, the response - its status and headers -, body) into a result.
Decoder = Callable[["_Call", ClientResponse, bytes], T]
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

# A multidict already: aiohttp copies it as it is (a dict it converts first, on every request).
_FORM_HEADERS = CIMultiDictProxy(
    CIMultiDict({"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
)
# The client adds these itself; a caller passing them is a mistake worth stopping early.
_RESERVED = frozenset({"pg_merchant_id", "pg_salt", "pg_sig", "pg_idempotency_key"})
# The client's fields after the caller's, by whether the call carries an idempotency key.
_TAIL = ("pg_merchant_id",)
_TAIL_WITH_KEY = ("pg_merchant_id", "pg_idempotency_key")
_MAX_EXPECTED_SHAPES = 256


def _connect_failure(exc: aiohttp.ClientError, url: URL) -> str:
    """Why no connection came about, naming host and port: "cannot connect to
    api.freedompay.kz:443: connection refused"."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve host {exc.host} (DNS)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        reason = os.strerror(error.errno) if error.errno else str(error) or type(error).__name__
        return f"cannot connect to {exc.host}:{exc.port}: {reason[:1].lower()}{reason[1:]}"
    return f"cannot connect to {url.host}:{url.port}: connect timeout"


class _Gate:
    """At most ``size`` holders at a time; the others wait in order.

    Passing a free gate is one check (an ``asyncio.Semaphore`` costs three coroutines and a
    generator per pass even then): ``if not gate.enter(): await gate.wait()``, then
    ``gate.leave()`` once done, whatever happened.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def enter(self) -> bool:
        """Take a place if one is free and nobody is waiting for one; whether it did."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def wait(self) -> None:
        """Wait until :meth:`leave` hands this caller a place."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # handed a place, then cancelled before taking it: pass it on
            else:
                with contextlib.suppress(ValueError):  # a leave() may have dropped it already
                    self._waiters.remove(waiter)
            raise

    def leave(self) -> None:
        """Give the place back: to the first caller still waiting, else to the free ones."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class _Call:
    """One logical operation; every attempt of it is signed anew by :meth:`sign`."""

    __slots__ = (
        "_body",
        "_head_size",
        "_sign_head",
        "_sign_tail",
        "_signed_attempt",
        "attempts",
        "endpoint",
        "http_status",
        "idempotency_key",
        "merchant_id",
        "order_id",
        "secret",
        "url",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        url: URL,
        params: Params,
        *,
        merchant_id: str,
        secret: str,
        idempotency_key: str | None,
        derive_key: bool = False,
        fixed: tuple[str, str, bytes] | None = None,
    ) -> None:
        """``fixed``: the signing head, tail and body of an earlier call of ``endpoint`` without
        parameters nor key (see :attr:`parts`): all of it but the salt is the same."""
        self.endpoint = endpoint
        self.url = url
        self.merchant_id = merchant_id
        self.secret = secret
        self.attempts = 0
        #: The HTTP status of the current attempt's answer (None until one arrives).
        self.http_status: int | None = None
        self._signed_attempt = 0
        if fixed is not None:
            self.order_id = self.idempotency_key = None
            self._sign_head, self._sign_tail, self._body = fixed
            self._head_size = len(self._body)
            return
        for name in _RESERVED.intersection(params):
            hint = " (pass idempotency_key=...)" if name == "pg_idempotency_key" else ""
            raise ValidationError(name, f"is added by the client, do not pass it{hint}")
        values = [value for value in params.values() if isinstance(value, str)]
        plan = None
        if len(values) == len(params):  # flat text: the usual
            with_key = idempotency_key is not None or derive_key
            plan = FlatPlan.of(tuple(params), _TAIL_WITH_KEY if with_key else _TAIL)
        # Anything else is flattened, which checks every value before anything is sent.
        fields = [] if plan is not None else flatten(params)
        order_id = params.get("pg_order_id")
        self.order_id = order_id if isinstance(order_id, str) else None
        if idempotency_key is None and derive_key:
            # Without an order id two identical requests may well be two purchases: random then
            # (every attempt of this call still shares it).
            idempotency_key = (
                default_idempotency_key(
                    merchant_id,
                    endpoint.name,
                    zip(params, values, strict=True)
                    if plan is not None
                    else ((form, value) for _, form, value in fields),
                )
                if self.order_id
                else str(uuid.uuid4())
            )
        self.idempotency_key = idempotency_key
        # The client's own fields go after the caller's; the gateway numbers fields in the
        # order it receives them, which is exactly this order. Only the salt (and so the sig)
        # changes between attempts: everything else is sorted, joined and encoded once here.
        if plan is not None:
            values.append(merchant_id)
            if idempotency_key is not None:
                values.append(idempotency_key)
            self._sign_head, self._sign_tail = plan.signing_parts(endpoint.script, values, secret)
            self._body = plan.form(values)
            self._head_size = len(self._body)
            return
        tail = [("pg_merchant_id", merchant_id)]
        if idempotency_key is not None:
            tail.append(("pg_idempotency_key", idempotency_key))
        position = len(params)
        salt_name = "pg_salt" + POSITION[position + len(tail) + 1]
        named = [(sig_name, value) for sig_name, _, value in fields]
        named += [(name + POSITION[position + i], value) for i, (name, value) in enumerate(tail, 1)]
        named.append((salt_name, ""))
        self._sign_head, self._sign_tail = signing_parts(endpoint.script, named, salt_name, secret)
        self._body = encode_form([*((form, value) for _, form, value in fields), *tail])
        self._head_size = len(self._body)

    @property
    def parts(self) -> tuple[str, str, bytes]:
        """What every attempt's signature and body share: signing head and tail, body head."""
        return self._sign_head, self._sign_tail, self._body[: self._head_size]

    def signed_body(self, salt: str) -> bytes:
        """The form body of one attempt: the parameters, then merchant id, key, salt and sig.

        ``salt`` is :func:`~freedompay_async.signing.new_salt`'s: hex, nothing to quote.

        The call keeps only the body it signed last (aiohttp holds that one while it is in
        flight), whose first ``_head_size`` bytes are the head: no second copy per call.
        """
        sig = sign_parts(self._sign_head, salt, self._sign_tail)
        # (The head always holds pg_merchant_id; a sig is hex. Before the first attempt the
        # body is the head, and the slice the same object.)
        head = self._body[: self._head_size]
        self._body = head + f"&pg_salt={salt}&pg_sig={sig}".encode()
        return self._body

    async def sign(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """aiohttp client middleware: sign this attempt with a fresh salt.

        An outer middleware that retries by calling its handler again would re-send the request
        behind the client's back; for money movement that is refused.
        """
        if self._signed_attempt == self.attempts and not self.endpoint.retry_ambiguous:
            raise ConfigurationError(
                f"a client middleware tried to re-send {self.endpoint.path} (order "
                f"{self.order_id}); money movement is only re-sent by the client's own rules"
            )
        self._signed_attempt = self.attempts
        await request.update_body(self.signed_body(new_salt()))
        return await handler(request)

    def may_retry(self, exc: BaseException) -> bool:
        """Tenacity predicate: only what cannot create a duplicate is sent again."""
        if isinstance(exc, RequestNotSent):
            return True
        if not self.endpoint.retry_ambiguous:
            return False
        if isinstance(exc, UnexpectedHTTPStatus):
            return exc.status >= 500 or exc.status == 429
        return isinstance(exc, (OutcomeUnknown, MalformedResponse))


def _error_code(fields: Mapping[str, object]) -> int | None:
    code = fields.get("pg_error_code")
    return int(code) if isinstance(code, str) and code.isdigit() else None


async def _read_body(response: ClientResponse, limit: int) -> bytes:
    """The body, at most ``limit`` bytes *after* decompression.

    ``Content-Length`` counts the bytes on the wire; with ``Content-Encoding: gzip`` a small
    body can inflate to gigabytes, so the decompressed bytes are counted as they arrive.
    """
    length = response.content_length
    if length is not None and length > limit:
        raise MalformedResponse(f"answer of {length} bytes exceeds {limit}", raw=b"")
    if length is not None and "Content-Encoding" not in response.headers:
        return await response.read()  # nothing inflates: Content-Length is the body's size
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            head = b"".join(chunks)[:4096]
            response.close()  # stop inflating the rest
            raise MalformedResponse(f"answer exceeds {limit} bytes", raw=head)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _foreign_identifier(call: _Call, fields: Mapping[str, object]) -> str | None:
    """The identifier in which a verified answer names another request than ``call``.

    (Payment ids are checked where they name the same payment: a refund answers with its own.)
    """
    merchant = fields.get("pg_merchant_id")
    if isinstance(merchant, str) and merchant and merchant != call.merchant_id:
        return "pg_merchant_id"
    order = fields.get("pg_order_id")
    if call.order_id is not None and isinstance(order, str) and order and order != call.order_id:
        return "pg_order_id"
    return None


def _looks_like_xml(body: bytes) -> bool:
    head = body[:64].lstrip().lower()
    return head.startswith((b"<?xml", b"<response", b"<root"))


def _log_attempt(call: _Call, result: object, error: BaseException | None, duration: float) -> None:
    """The attempt's DEBUG line; its facts also as ``extra`` fields for structured handlers."""
    if isinstance(error, GatewayError):
        summary = f"{type(error).__name__} code={error.code}"
    elif error is not None:
        summary = type(error).__name__
    elif isinstance(result, GatewayResponse):
        summary = f"status={result.status}"
    else:
        summary = "ok"
    duration_ms = round(duration * 1000, 1)
    fields: dict[str, object] = {
        "freedompay_endpoint": call.endpoint.path,
        "freedompay_order_id": call.order_id,
        "freedompay_attempt": call.attempts,
        "freedompay_duration_ms": duration_ms,
        "freedompay_outcome": attempt_outcome(error),
        "freedompay_http_status": call.http_status,
    }
    if isinstance(error, GatewayError):
        fields["freedompay_error_code"] = error.code
    logger.debug(
        "%s order_id=%s attempt=%d duration_ms=%.1f outcome=%s",
        call.endpoint.path,
        call.order_id,
        call.attempts,
        duration_ms,
        summary,
        extra=fields,
    )


class Requestor:
    """Sends calls for one merchant; holds everything that is computed once per client."""

    def __init__(
        self,
        *,
        merchant_id: str,
        keys: Mapping[KeyKind, str],
        base_url: URL,
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        verify_responses: bool,
        max_response_bytes: int,
        middlewares: Sequence[ClientMiddlewareType],
        max_in_flight: int,
        timezone: tzinfo = GATEWAY_TIMEZONE,
        telemetry: Recorder,
    ) -> None:
        self.merchant_id = merchant_id
        #: The zone of the gateway's naive times (the client's region).
        self.timezone = timezone
        self._telemetry = telemetry
        # aiohttp builds each request (headers, URL, body) before it waits for a pooled
        # connection; past the pool size, calls wait here instead, holding only their _Call.
        self._in_flight = _Gate(max_in_flight)
        self._keys = keys
        self._base_url = base_url
        self._timeout = timeout
        self._retry = retry
        self._verify = verify_responses
        self._max_bytes = max_response_bytes
        self._middlewares = tuple(middlewares)
        self._urls: dict[str, URL] = {}
        # Calls without parameters (a balance, a card list): signed alike but for the salt.
        self._fieldless: dict[tuple[str, KeyKind], tuple[str, str, bytes]] = {}
        # The form of each path's last flat answer: the next one most likely has it too.
        self._shapes: dict[str, FlatShape] = {}
        # Bound once: a method bound per call would be one more object each call in flight holds.
        self._xml_decoder: Decoder[GatewayResponse] = self._decode_response
        self._page_decoder: Decoder[PageAnswer] = self._decode_page
        # Full jitter: a random wait up to initial_wait * 2**(n-1) before attempt n+1, capped at
        # max_wait. Tenacity only runs attempts 2.., so its n-th wait is the policy's (n+1)-th.
        self._first_wait = wait_random_exponential(
            multiplier=retry.initial_wait, max=retry.max_wait
        )
        self._wait = wait_random_exponential(multiplier=retry.initial_wait * 2, max=retry.max_wait)

    def url_for(self, endpoint: Endpoint) -> URL:
        url = self._urls.get(endpoint.path)
        if url is None:
            path = endpoint.path.replace("{merchant_id}", self.merchant_id)
            url = self._urls[endpoint.path] = self._base_url / path
        return url

    def prepare(
        self, endpoint: Endpoint, params: Params, *, idempotency_key: str | None = None
    ) -> _Call:
        """Validate and fix everything about a call before its first attempt."""
        if idempotency_key is not None:
            if not endpoint.idempotency:
                raise ValidationError(
                    "pg_idempotency_key", f"{endpoint.path} does not accept an idempotency key"
                )
            if not 0 < len(idempotency_key) <= 255:
                raise ValidationError("pg_idempotency_key", "must be 1 to 255 characters")
        fieldless = not params and not endpoint.idempotency
        # (By path and key: client.request may sign a documented path with another key.)
        fixed = self._fieldless.get((endpoint.path, endpoint.key)) if fieldless else None
        call = _Call(
            endpoint,
            self.url_for(endpoint),
            params,
            merchant_id=self.merchant_id,
            secret=self._keys[endpoint.key],
            idempotency_key=idempotency_key,
            # The default key is a digest of the request's content: an identical retry (even by
            # a restarted worker) reuses it, a changed request gets a new one.
            derive_key=endpoint.idempotency,
            fixed=fixed,
        )
        if fieldless and fixed is None:
            self._fieldless[endpoint.path, endpoint.key] = call.parts
        return call

    # Plain functions returning the coroutine: one frame less per call in flight.
    def send(
        self, session: aiohttp.ClientSession, call: _Call
    ) -> Coroutine[Any, Any, GatewayResponse]:
        """Send ``call`` and return its verified XML answer (see :meth:`_attempt`)."""
        return self._attempt(session, call, self._xml_decoder)

    def send_page(
        self, session: aiohttp.ClientSession, call: _Call
    ) -> Coroutine[Any, Any, PageAnswer]:
        """Send ``call`` to a script that answers with a page for the payer's browser."""
        return self._attempt(session, call, self._page_decoder)

    async def _attempt(
        self, session: aiohttp.ClientSession, call: _Call, decode: Decoder[T], first: bool = True
    ) -> T:
        """One signed attempt: post, read, decode; one log line. One frame (thousands of calls
        in flight each hold it).

        The first attempt runs directly: tenacity costs tens of microseconds per use, and the
        common case (the first attempt answers) should not pay for machinery it never needs.
        Where it failed in a way :meth:`_Call.may_retry` allows, :meth:`_repeat` takes over.
        """
        call.attempts += 1
        call.http_status = None
        probe = self._telemetry.start_attempt(call) if self._telemetry.on else None
        started = time.perf_counter()
        path = call.endpoint.path
        if self._middlewares:
            body: bytes | None = None  # signed by call.sign, inside the caller's middlewares
            middlewares: tuple[ClientMiddlewareType, ...] = (*self._middlewares, call.sign)
        else:  # nothing runs between signing and sending: sign here, no middleware chain
            body, middlewares = call.signed_body(new_salt()), ()
        gate = self._in_flight
        try:
            try:
                if not gate.enter():
                    await gate.wait()
                try:
                    # Awaited, then entered: ``async with session.post(...)`` would keep one
                    # more coroutine per call alive while the answer is awaited.
                    response = await session.post(
                        call.url,
                        data=body,
                        headers=_FORM_HEADERS,
                        timeout=self._timeout,
                        middlewares=middlewares,
                        # A redirect is an answer to return, never a reason to send again.
                        allow_redirects=False,
                    )
                    async with response:
                        call.http_status = response.status
                        answer = await _read_body(response, self._max_bytes)
                finally:
                    gate.leave()
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # Raised while obtaining a connection, before any byte of the request was written.
                raise RequestNotSent(
                    f"not sent: {_connect_failure(exc, call.url)}",
                    endpoint=path,
                    order_id=call.order_id,
                ) from exc
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                raise OutcomeUnknown(
                    f"no answer after sending ({type(exc).__name__})",
                    endpoint=path,
                    order_id=call.order_id,
                ) from exc
            except MalformedResponse as exc:
                raise MalformedResponse(str(exc), raw=exc.raw, endpoint=path) from None
            result = decode(call, response, answer)
        except BaseException as exc:
            self._attempt_done(probe, call, None, exc, started)
            if not (
                first
                and self._retry.attempts > 1
                and isinstance(exc, FreedomPayError)
                and call.may_retry(exc)
            ):
                raise
        else:
            self._attempt_done(probe, call, result, None, started)
            return result
        return await self._repeat(session, call, decode, started)

    async def _repeat(
        self, session: aiohttp.ClientSession, call: _Call, decode: Decoder[T], started: float
    ) -> T:
        """The attempts after a first one that failed in a way that may be retried: tenacity,
        with the policy's bounds counted from the first attempt (``started``)."""
        remaining = self._retry.deadline - (time.perf_counter() - started)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts - 1) | stop_after_delay(max(remaining, 0)),
            wait=self._wait,
            retry=retry_if_exception(call.may_retry),
            before=self._back_off,
            sleep=anyio.sleep,
            reraise=True,
        )
        return await retrying(self._attempt, session, call, decode, False)

    async def _back_off(self, state: RetryCallState) -> None:
        """Before tenacity's first attempt (the call's second): the policy's first wait."""
        if state.attempt_number == 1:
            await anyio.sleep(self._first_wait(state))

    def _attempt_done(
        self,
        probe: _AttemptProbe | None,
        call: _Call,
        result: object,
        error: BaseException | None,
        started: float,
    ) -> None:
        """The attempt's span (telemetry on) and DEBUG line."""
        duration = time.perf_counter() - started
        if probe is not None:
            self._telemetry.end_attempt(probe, call, call.http_status, error, duration)
        if logger.isEnabledFor(logging.DEBUG):
            _log_attempt(call, result, error, duration)

    def _expect(self, path: str, shape: FlatShape) -> None:
        """Expect ``shape`` in ``path``'s next answer (for as many paths as a client may
        reasonably call: ``client.request`` takes any)."""
        if path in self._shapes or len(self._shapes) < _MAX_EXPECTED_SHAPES:
            self._shapes[path] = shape

    def _decode_page(self, call: _Call, response: ClientResponse, body: bytes) -> PageAnswer:
        """A page or a redirect is returned as it is; an XML answer is verified as usual."""
        path = call.endpoint.path
        status, content_type = response.status, response.content_type
        location = response.headers.get("Location")
        if status in _REDIRECTS and location:
            return PageAnswer(path, status, content_type, location, body)
        if status == 200 and "xml" not in content_type and not _looks_like_xml(body):
            return PageAnswer(path, status, content_type, None, body)
        answer = self._decode_response(call, response, body)
        return PageAnswer(path, status, content_type, None, body, answer)

    def _decode_response(
        self, call: _Call, response: ClientResponse, body: bytes
    ) -> GatewayResponse:
        """The verified answer ``body`` to ``call``."""
        path = call.endpoint.path
        if response.status != 200:
            raise UnexpectedHTTPStatus(response.status, raw=body, endpoint=path)
        expected = self._shapes.get(path)
        try:
            root, fields, signed_values, shape = decode_answer(body, self._max_bytes, expected)
        except ProtocolError as exc:
            raise MalformedResponse(str(exc), raw=body, endpoint=path) from None
        if shape is not expected and shape is not None:
            self._expect(path, shape)
        is_error = fields.get("pg_status") == "error"
        code = _error_code(fields) if is_error else None
        signature = signature_of(fields)
        signed = signature is not None
        if not signed:
            # The one documented unsigned answer: the gateway could not identify the merchant.
            if is_error and code in UnknownMerchant.codes:
                raise UnknownMerchant(
                    code,
                    str(fields.get("pg_error_description", "")),
                    raw=body,
                    fields=fields,
                    endpoint=path,
                )
            if self._verify:
                raise UnsignedResponse("answer carries no pg_sig", raw=body, endpoint=path)
        elif self._verify and not verify_signed(
            call.endpoint.script, signed_values, signature, call.secret
        ):
            raise SignatureMismatch(
                f"pg_sig does not verify with script {call.endpoint.script!r} and the "
                f"{call.endpoint.key} key",
                raw=body,
                endpoint=path,
            )
        foreign = _foreign_identifier(call, fields)
        if foreign is not None:
            raise AnswerMismatch(foreign, raw=body, endpoint=path)
        # Where pg_status describes the transaction (payout_status v1), "error" is a result;
        # an error code says the request itself failed (e.g. 11068, payment not found).
        if is_error and (not call.endpoint.status_is_outcome or code):
            raise GatewayError.class_for(code)(
                code,
                str(fields.get("pg_error_description", "")),
                raw=body,
                fields=fields,
                endpoint=path,
            )
        return GatewayResponse(path, root, fields, body, signed=signed, timezone=self.timezone)
