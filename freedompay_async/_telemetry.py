"""The OpenTelemetry side of the client: spans and metrics for attempts, operations and batches.

Imports ``opentelemetry-api`` only, only if it is installed, and only when a client is built.
A :class:`Recorder` decides once, when its client is built, whether anything is recorded
(:attr:`Recorder.on`); when it is not, every hook is a check of that flag. Nothing here ever
sees a form body, a key, a salt or a signature: attributes are built from the endpoint, the
attempt number, the HTTP status, the error's class and code and (if the user opts in) the
order id.
"""

from __future__ import annotations

import contextlib
import functools
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from .errors import (
    ConfigurationError,
    GatewayError,
    GatewayOutcomeUnknown,
    PayoutDeclined,
    ProtocolError,
    RequestNotSent,
    SecretKeyRejected,
    UnexpectedHTTPStatus,
    ValidationError,
)

# opentelemetry-api's modules, imported when the first client is built (see _import_api).
otel_context: Any = None
otel_metrics: Any = None
otel_trace: Any = None

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.trace import Span
    from yarl import URL

    from ._caller import Caller
    from ._requestor import _Call
    from .batch._store import JournalStore
    from .telemetry import Telemetry

__all__ = ["OUTCOMES", "Recorder", "attempt_outcome", "bind_unobserved", "operation"]

P = ParamSpec("P")
R = TypeVar("R")

#: What became of one attempt (``freedompay.outcome``).
OUTCOMES = ("ok", "refused", "not_sent", "outcome_unknown", "untrusted_answer")

_SCOPE = "freedompay_async"
# Providers that record nothing: the API's defaults before an SDK is set up.
_SILENT_PROVIDERS = frozenset(
    {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}
)


def _import_api() -> bool:
    """Import opentelemetry-api on first need, not at ``import freedompay_async``; whether it
    is installed (the ``otel`` extra)."""
    global otel_context, otel_metrics, otel_trace
    if otel_trace is None:
        try:
            from opentelemetry import context, metrics, trace
        except ImportError:
            return False
        otel_context, otel_metrics, otel_trace = context, metrics, trace
    return True


def attempt_outcome(error: BaseException | None) -> str:
    """The outcome word of an attempt that ended with ``error`` (None: an answer came)."""
    if error is None:
        return "ok"
    if isinstance(error, GatewayError):
        return "refused"
    if isinstance(error, (RequestNotSent, ValidationError, ConfigurationError)):
        return "not_sent"
    if isinstance(error, ProtocolError):
        return "untrusted_answer"
    return "outcome_unknown"  # OutcomeUnknown, a cancellation, anything unforeseen


def _error_type(error: BaseException) -> str:
    if isinstance(error, UnexpectedHTTPStatus):
        return str(error.status)  # the semantic conventions' choice for an HTTP error status
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


class _Instruments:
    """The metric instruments of one meter provider (shared by every client using it)."""

    def __init__(self, provider: Any) -> None:
        meter = provider.get_meter(_SCOPE)
        self.duration = meter.create_histogram(
            "freedompay.client.request.duration",
            unit="s",
            description="Duration of gateway attempts, by endpoint and outcome.",
        )
        self.outcome_unknown = meter.create_counter(
            "freedompay.client.outcome_unknown",
            unit="{attempt}",
            description="Attempts whose outcome is unknown (sent, no trustworthy answer).",
        )
        self.payouts = meter.create_counter(
            "freedompay.payouts",
            unit="{payout}",
            description="Payouts by the state a payout operation ended in.",
        )
        self.reconciles = meter.create_counter(
            "freedompay.payout.reconciles",
            unit="{payout}",
            description="Ambiguous payout outcomes resolved through the status endpoint.",
        )
        self.polls = meter.create_counter(
            "freedompay.payout.polls",
            unit="{request}",
            description="Status requests made to learn a payout's outcome.",
        )
        #: Rows-by-state views of the batches running now.
        self.batches: dict[int, Mapping[Any, int]] = {}
        meter.create_observable_gauge(
            "freedompay.batch.rows",
            callbacks=[self._observe_batches],
            unit="{row}",
            description="Rows of each running payout batch, by state.",
        )

    def _observe_batches(self, options: CallbackOptions) -> Iterator[Observation]:
        totals: dict[str, int] = {}
        for counts in list(self.batches.values()):
            for state, count in dict(counts).items():
                totals[state.value] = totals.get(state.value, 0) + count
        for state, count in totals.items():
            yield otel_metrics.Observation(count, {"freedompay.row.state": state})


_INSTRUMENTS: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()


def _instruments_for(provider: Any) -> _Instruments:
    instruments = _INSTRUMENTS.get(provider)
    if instruments is None:
        instruments = _INSTRUMENTS[provider] = _Instruments(provider)
    return instruments


class _Operation:
    """The facade operation (or batch row) running in this context."""

    __slots__ = ("name", "payout", "poll_reason", "span")

    def __init__(self, name: str, span: Span | None, *, payout: bool) -> None:
        self.name = name
        self.span = span
        self.payout = payout
        #: Why a status request run inside this operation is made (``freedompay.poll.reason``).
        self.poll_reason = "wait"


_OPERATION: ContextVar[_Operation | None] = ContextVar("freedompay_operation", default=None)
_BATCH: ContextVar[tuple[JournalStore, Span | None] | None] = ContextVar(
    "freedompay_batch", default=None
)


class _AttemptProbe:
    __slots__ = ("span", "token")

    def __init__(self, span: Span | None, token: object) -> None:
        self.span = span
        self.token = token


class Recorder:
    """One client's telemetry; :attr:`on` is false when nothing can be recorded."""

    __slots__ = (
        "_instruments",
        "_order_ids",
        "_server",
        "_tracer",
        "_urls",
        "on",
    )

    def __init__(self, options: Telemetry, base_url: URL) -> None:
        self._tracer: Any = None
        self._instruments: _Instruments | None = None
        self._order_ids = options.record_order_ids
        self._server = {"server.address": base_url.host or "", "server.port": base_url.port or 0}
        self._urls: dict[str, str] = {}
        if options.enabled and _import_api():
            tracers = options.tracer_provider or otel_trace.get_tracer_provider()
            if type(tracers).__name__ not in _SILENT_PROVIDERS:
                self._tracer = tracers.get_tracer(_SCOPE)
            meters = options.meter_provider or otel_metrics.get_meter_provider()
            if type(meters).__name__ not in _SILENT_PROVIDERS:
                self._instruments = _instruments_for(meters)
        self.on = self._tracer is not None or self._instruments is not None

    # -- attempts ---------------------------------------------------------------------------

    def start_attempt(self, call: _Call) -> _AttemptProbe:
        """A client span for one attempt, current until :meth:`end_attempt`."""
        if self._tracer is None:
            return _AttemptProbe(None, None)
        endpoint = call.endpoint.path
        attributes: dict[str, Any] = {
            "http.request.method": "POST",
            **self._server,
            "url.full": self._url(call.url),
            "url.template": endpoint,
            "freedompay.endpoint": endpoint,
            "freedompay.attempt": call.attempts,
        }
        if self._order_ids and call.order_id is not None:
            attributes["freedompay.order_id"] = call.order_id
        span = self._tracer.start_span(
            f"POST {endpoint}", kind=otel_trace.SpanKind.CLIENT, attributes=attributes
        )
        token = otel_context.attach(otel_trace.set_span_in_context(span))
        return _AttemptProbe(span, token)

    def end_attempt(
        self,
        probe: _AttemptProbe,
        call: _Call,
        status: int | None,
        error: BaseException | None,
        duration: float,
    ) -> None:
        outcome = attempt_outcome(error)
        endpoint = call.endpoint.path
        if probe.span is not None:
            otel_context.detach(probe.token)
            span = probe.span
            span.set_attribute("freedompay.outcome", outcome)
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if error is not None:
                span.set_attribute("error.type", _error_type(error))
                if isinstance(error, GatewayError) and error.code is not None:
                    span.set_attribute("freedompay.error_code", error.code)
                span.set_status(otel_trace.StatusCode.ERROR, outcome)
            span.end()
        instruments = self._instruments
        if instruments is not None:
            attributes: dict[str, Any] = {
                "freedompay.endpoint": endpoint,
                "freedompay.outcome": outcome,
                "http.request.method": "POST",
                **self._server,
            }
            if status is not None:
                attributes["http.response.status_code"] = status
            if error is not None:
                attributes["error.type"] = _error_type(error)
            instruments.duration.record(duration, attributes)
            if outcome == "outcome_unknown":
                instruments.outcome_unknown.add(1, {"freedompay.endpoint": endpoint})

    def _url(self, url: URL) -> str:
        """The attempt's URL without credentials or query (the body never is in it)."""
        key = str(url)
        full = self._urls.get(key)
        if full is None:
            full = self._urls[key] = str(url.with_user(None).with_query(None))
        return full

    # -- operations -------------------------------------------------------------------------

    async def run_operation(
        self,
        name: str,
        work: Awaitable[R],
        order_id: object,
        *,
        payout: bool,
        poll: bool,
    ) -> R:
        """Run one facade operation under its span; count payouts and polls."""
        parent = _OPERATION.get()
        instruments = self._instruments
        if poll and parent is not None:
            reason = parent.poll_reason
            if parent.span is not None:
                parent.span.add_event("freedompay.poll", {"freedompay.poll.reason": reason})
            if instruments is not None:
                instruments.polls.add(1, {"freedompay.poll.reason": reason})
        with self._span(name, order_id) as span:
            current = _Operation(name, span, payout=payout)
            token = _OPERATION.set(current)
            try:
                result = await work
            except BaseException as exc:
                state = _failed_payout_state(exc, current.poll_reason == "reconcile")
                if span is not None:
                    span.set_attribute("error.type", _error_type(exc))
                    span.set_status(otel_trace.StatusCode.ERROR, type(exc).__name__)
                raise
            else:
                state = _payout_state(result)
            finally:
                _OPERATION.reset(token)
                if payout and state is not None:
                    if span is not None:
                        span.set_attribute("freedompay.payout.state", state)
                    # Only the outermost payout operation counts (to_card's own wait does not).
                    if instruments is not None and not (parent is not None and parent.payout):
                        instruments.payouts.add(
                            1, {"freedompay.operation": name, "freedompay.payout.state": state}
                        )
            return result

    @contextlib.contextmanager
    def _span(self, name: str, order_id: object) -> Iterator[Span | None]:
        if self._tracer is None:
            yield None
            return
        attributes = {}
        if self._order_ids and isinstance(order_id, str):
            attributes["freedompay.order_id"] = order_id
        # Errors are recorded by the caller: never an exception's message or traceback.
        with self._tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            yield span

    def reconciling(self, endpoint: str) -> None:
        """A payout's create call had an ambiguous outcome; the status endpoint is asked."""
        if not self.on:
            return
        current = _OPERATION.get()
        if current is not None:
            current.poll_reason = "reconcile"
            if current.span is not None:
                current.span.add_event("freedompay.reconcile", {"freedompay.endpoint": endpoint})
                current.span.set_attribute("freedompay.reconciled", True)
        if self._instruments is not None:
            self._instruments.reconciles.add(1, {"freedompay.endpoint": endpoint})

    # -- batches ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self, journal: JournalStore, rows: int) -> Iterator[None]:
        """A span over one batch run, and its rows by state in ``freedompay.batch.rows``."""
        if not self.on:
            yield
            return
        with self._span("payouts.batch", None) as span:
            if span is not None:
                span.set_attribute("freedompay.batch.rows", rows)
            token = _BATCH.set((journal, span))
            instruments = self._instruments
            if instruments is not None:
                instruments.batches[id(journal)] = journal.counts
            try:
                yield
            finally:
                _BATCH.reset(token)
                if instruments is not None:
                    instruments.batches.pop(id(journal), None)
                if span is not None:
                    for state, count in journal.counts.items():
                        span.set_attribute(f"freedompay.batch.rows.{state.value}", count)

    def row(self, order_id: str, action: str) -> contextlib.AbstractContextManager[None]:
        """A span per batch row: ``action`` (``send``, ``ask`` first, ``reconcile``) and its
        requests; a ``process`` row's polls follow as its children. (Off: a shared no-op,
        not a generator per row.)"""
        batch = _BATCH.get()
        if not self.on or batch is None:
            return _NOTHING
        return self._row(batch[0], order_id, action)

    @contextlib.contextmanager
    def _row(self, journal: JournalStore, order_id: str, action: str) -> Iterator[None]:
        with self._span("payouts.batch.row", order_id) as span:
            current = _Operation("payouts.batch.row", span, payout=False)
            current.poll_reason = _ROW_POLL_REASONS.get(action, "wait")
            token = _OPERATION.set(current)
            try:
                yield
            finally:
                _OPERATION.reset(token)
                if span is not None:
                    span.set_attribute("freedompay.row.action", action)
                    span.set_attribute("freedompay.row.state", journal[order_id].state.value)


_NOTHING: contextlib.AbstractContextManager[None] = contextlib.nullcontext()


def _payout_state(result: object) -> str | None:
    """The state a payout operation ended in, if it is one worth counting."""
    from .payouts import Payout, PayoutState

    if not isinstance(result, Payout) or result.state is PayoutState.PROCESS:
        return None  # not a payout, or wait=False: the payout is not final yet
    return str(result.state.value)


#: A batch row's action -> why its status requests are made.
_ROW_POLL_REASONS = {"ask": "preflight", "reconcile": "reconcile"}


def _failed_payout_state(error: BaseException, reconciling: bool) -> str | None:
    from .payouts import PayoutPending

    if isinstance(error, PayoutPending):
        return "pending"
    if isinstance(error, (PayoutDeclined, SecretKeyRejected)):
        return "error"  # declined, final; or our key was refused: nothing was paid
    if isinstance(error, (ValidationError, ConfigurationError)):
        return None  # nothing was sent
    if isinstance(error, RequestNotSent):
        return "not_sent"
    if isinstance(error, GatewayError) and not (
        reconciling or isinstance(error, GatewayOutcomeUnknown)
    ):
        return "error"  # the create call was refused, signed
    return "unknown"


class _Facade(Protocol):
    @property
    def _client(self) -> Caller: ...


F = TypeVar("F", bound=_Facade)


def operation(
    name: str, *, payout: bool = False, poll: bool = False
) -> Callable[
    [Callable[Concatenate[F, P], Coroutine[Any, Any, R]]],
    Callable[Concatenate[F, P], Coroutine[Any, Any, R]],
]:
    """Decorate a facade method: a span named ``name`` around it when telemetry is on.

    ``payout``: the operation ends in a payout state (counted in ``freedompay.payouts``);
    ``poll``: run inside another operation, it is one of that operation's status polls.
    """

    def decorate(
        method: Callable[Concatenate[F, P], Coroutine[Any, Any, R]],
    ) -> Callable[Concatenate[F, P], Coroutine[Any, Any, R]]:
        @functools.wraps(method)
        async def observed(self: F, /, *args: P.args, **kwargs: P.kwargs) -> R:
            recorder = self._client._telemetry
            if not recorder.on:
                return await method(self, *args, **kwargs)
            order_id = kwargs.get("order_id", args[0] if args else None)
            return await recorder.run_operation(
                name, method(self, *args, **kwargs), order_id, payout=payout, poll=poll
            )

        _UNOBSERVED[observed] = method
        return observed

    return decorate


#: Each :func:`operation` wrapper -> the method it wraps.
_UNOBSERVED: dict[Callable[..., Any], Callable[..., Any]] = {}


def bind_unobserved(facade: object) -> None:
    """Telemetry off (decided once per client): bind ``facade``'s operations on the instance
    without their wrapper, so that a call in flight holds no wrapper frame (and no second copy
    of its arguments)."""
    kind = type(facade)
    for name in dir(kind):
        member = getattr(kind, name)
        method = _UNOBSERVED.get(member) if isinstance(member, types.FunctionType) else None
        if method is not None:
            setattr(facade, name, types.MethodType(method, facade))
