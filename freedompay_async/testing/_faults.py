"""Fault injection: the network and gateway misbehaviour a money-safe client must survive.

A :class:`Fault` selects calls by endpoint and/or order id and applies from the ``nth`` matching
call on, for ``times`` calls (``None``: every call). The endpoint is named by the path called
(``v1/merchant/552893/card/direct``), its endpoint-table template
(``v1/merchant/{merchant_id}/card/direct``) or its trailing segments (``card/direct``). Faults
that corrupt the answer (5xx, bad XML, bad or missing signature, delayed answer, drop after
commit) act *after* the request was processed, so the payout exists while the client sees a
failure - the ambiguous case. ``drop_before`` and ``latency`` act before processing.

Faults that lie about the request: ``answer`` replaces or amends the processed request's answer
(signed or not, any HTTP status: another order's id, a transient error code, an unsigned
"unknown merchant"); ``replay`` answers with a genuine earlier answer of another order;
``gzip_bomb`` answers with a small gzip body that inflates past any sane limit; ``status_lag``
makes the payout status endpoints answer a signed "not found" for payouts younger than its
``delay`` (a status that lags the create). ``probability`` applies a fault to a random share of
the calls it selects (seeded by :meth:`FaultPlan.seed`). Connection-refused windows are the
job of :class:`~freedompay_async.testing.OutageProxy`. Every applied fault is recorded.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping

import attrs

__all__ = ["Fault", "FaultKind", "FaultPlan", "FaultRecord"]


class FaultKind(enum.Enum):
    """What goes wrong."""

    LATENCY = "latency"
    DROP_BEFORE = "drop_before"
    DROP_AFTER_COMMIT = "drop_after_commit"
    SLOW_AFTER_COMMIT = "slow_after_commit"
    HTTP_ERROR = "http_error"
    MALFORMED_XML = "malformed_xml"
    BAD_SIGNATURE = "bad_signature"
    UNSIGNED = "unsigned"
    ANSWER = "answer"
    REPLAY = "replay"
    GZIP_BOMB = "gzip_bomb"
    STATUS_LAG = "status_lag"


#: Faults that shape no answer of their own: they combine with one answer-shaping fault.
_COMBINING = frozenset({FaultKind.LATENCY, FaultKind.STATUS_LAG})

#: The payout status endpoints (templates) a status lag applies to.
PAYOUT_STATUS_PATHS = frozenset({"g2g/payout_status", "g2g/payout_status2", "api/payment_status2"})


def _fields(value: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(value.items())


def _endpoint(value: str | None) -> str | None:
    return None if value is None else value.strip("/")


@attrs.frozen(slots=True)
class Fault:
    """One programmed fault; build it with the class methods (``Fault.drop_after_commit(...)``).

    ``delay`` is the added latency (``LATENCY``), how long the answer is held
    (``SLOW_AFTER_COMMIT``) or how long a new payout stays unknown to the status endpoints
    (``STATUS_LAG``); ``status`` the HTTP status of ``HTTP_ERROR`` and ``ANSWER``; ``fields``,
    ``replace`` and ``signed`` shape an ``ANSWER``; ``size`` is how far a ``GZIP_BOMB``
    inflates; ``probability`` the share of selected calls it applies to.
    """

    kind: FaultKind
    endpoint: str | None = attrs.field(default=None, converter=_endpoint)
    order_id: str | None = None
    nth: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    times: int | None = None
    delay: float = 0.0
    status: int = 502
    fields: tuple[tuple[str, str], ...] = ()
    replace: bool = False
    signed: bool = True
    size: int = 0
    probability: float = attrs.field(
        default=1.0, validator=[attrs.validators.gt(0.0), attrs.validators.le(1.0)]
    )

    @classmethod
    def latency(
        cls,
        seconds: float,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Wait ``seconds`` before processing (combines with one other fault)."""
        return cls(FaultKind.LATENCY, endpoint, order_id, nth, times, delay=seconds)

    @classmethod
    def drop_before(
        cls,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Close the connection without processing the request (nothing is created)."""
        return cls(FaultKind.DROP_BEFORE, endpoint, order_id, nth, times)

    @classmethod
    def drop_after_commit(
        cls,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then close the connection instead of answering."""
        return cls(FaultKind.DROP_AFTER_COMMIT, endpoint, order_id, nth, times)

    @classmethod
    def slow_after_commit(
        cls,
        seconds: float,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then hold the answer ``seconds`` (past the client's timeout)."""
        return cls(FaultKind.SLOW_AFTER_COMMIT, endpoint, order_id, nth, times, delay=seconds)

    @classmethod
    def http_error(
        cls,
        status: int = 502,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then answer ``status`` with an HTML page (a failing proxy)."""
        return cls(FaultKind.HTTP_ERROR, endpoint, order_id, nth, times, status=status)

    @classmethod
    def malformed_xml(
        cls,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then answer with the XML cut short."""
        return cls(FaultKind.MALFORMED_XML, endpoint, order_id, nth, times)

    @classmethod
    def bad_signature(
        cls,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then answer signed with the wrong key."""
        return cls(FaultKind.BAD_SIGNATURE, endpoint, order_id, nth, times)

    @classmethod
    def unsigned(
        cls,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then answer without ``pg_salt`` / ``pg_sig``."""
        return cls(FaultKind.UNSIGNED, endpoint, order_id, nth, times)

    @classmethod
    def answer(
        cls,
        fields: Mapping[str, str],
        *,
        replace: bool = False,
        signed: bool = True,
        status: int = 200,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then answer ``fields`` over the real answer (``replace``: only
        ``fields``), signed with the right key unless ``signed=False``, with HTTP ``status``."""
        return cls(
            FaultKind.ANSWER,
            endpoint,
            order_id,
            nth,
            times,
            status=status,
            fields=_fields(fields),
            replace=replace,
            signed=signed,
        )

    @classmethod
    def replay(
        cls,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then answer with the last genuine answer this endpoint gave to
        another order (validly signed, about the wrong request). With none yet, answer as is."""
        return cls(FaultKind.REPLAY, endpoint, order_id, nth, times)

    @classmethod
    def gzip_bomb(
        cls,
        size: int = 1 << 30,
        *,
        endpoint: str | None = None,
        order_id: str | None = None,
        nth: int = 1,
        times: int | None = None,
    ) -> Fault:
        """Process the request, then answer ``Content-Encoding: gzip`` with a body that
        inflates to ``size`` bytes (about ``size / 1000`` on the wire)."""
        return cls(FaultKind.GZIP_BOMB, endpoint, order_id, nth, times, size=size)

    @classmethod
    def status_lag(
        cls,
        seconds: float,
        *,
        order_id: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """The payout status endpoints answer a signed "not found" for payouts created less
        than ``seconds`` ago: the status lags the create (combines with one other fault)."""
        return cls(FaultKind.STATUS_LAG, None, order_id, 1, times, delay=seconds)

    def sometimes(self, probability: float) -> Fault:
        """This fault, applied to a random ``probability`` share of the calls it selects."""
        return attrs.evolve(self, probability=probability)

    def selects(self, endpoint: str, order_id: str | None, template: str | None = None) -> bool:
        """Whether a call to ``endpoint`` (the path called; ``template`` its endpoint-table
        path) for ``order_id`` is one this fault watches."""
        wanted = self.endpoint
        return (
            wanted is None or wanted in (endpoint, template) or endpoint.endswith(f"/{wanted}")
        ) and (self.order_id is None or self.order_id == order_id)


@attrs.frozen(slots=True)
class FaultRecord:
    """A fault that was applied: where, to which order, and the endpoint's call number."""

    endpoint: str
    order_id: str | None
    kind: FaultKind
    call_number: int


@attrs.define(slots=True)
class _Armed:
    fault: Fault
    seen: int = 0
    fired: int = 0


class FaultPlan:
    """The programmed faults (``emulator.faults``) and the log of applied ones (``records``)."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []
        self.records: list[FaultRecord] = []
        self._random = random.Random()  # noqa: S311 - chance of a fault, not a secret

    def seed(self, value: int) -> None:
        """Make the faults with a ``probability`` below 1 strike the same calls every run."""
        self._random.seed(value)

    def add(self, fault: Fault) -> Fault:
        """Arm ``fault``; its ``nth`` / ``times`` count the calls it selects from now on."""
        self._armed.append(_Armed(fault))
        return fault

    def clear(self) -> None:
        """Disarm every fault (the records stay)."""
        self._armed.clear()

    def take(
        self, endpoint: str, order_id: str | None, call_number: int, *, template: str | None = None
    ) -> list[Fault]:
        """The faults applying to this call, in arming order: any latencies plus at most one other.

        ``endpoint`` is the path called, ``template`` its endpoint-table path. Applied faults
        are recorded (under ``endpoint``) and counted; exhausted ones are disarmed.
        """
        if not self._armed:
            return []
        applied: list[Fault] = []
        exclusive_taken = False
        for armed in self._armed:
            fault = armed.fault
            if not fault.selects(endpoint, order_id, template):
                continue
            if fault.kind is FaultKind.STATUS_LAG and template not in PAYOUT_STATUS_PATHS:
                continue
            armed.seen += 1
            if armed.seen < fault.nth:
                continue
            if fault.probability < 1.0 and self._random.random() >= fault.probability:
                continue
            if fault.kind not in _COMBINING:
                # One answer-shaping fault per call; a second one that is due waits its turn.
                if exclusive_taken:
                    continue
                exclusive_taken = True
            armed.fired += 1
            applied.append(fault)
            self.records.append(FaultRecord(endpoint, order_id, fault.kind, call_number))
        self._armed = [
            armed
            for armed in self._armed
            if armed.fault.times is None or armed.fired < armed.fault.times
        ]
        return applied
