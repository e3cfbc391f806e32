"""OpenTelemetry spans, metrics and structured log fields, read back through the SDK's in-memory
exporters, against the emulator: what a lost answer, a refusal, a batch and a chaos run produce,
and that nothing secret is ever exported."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from click.testing import CliRunner
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from freedompay_async import FreedomPayClient, FreedomPayError, PayoutPolicy, _requestor, signing
from freedompay_async import _telemetry as telemetry_module
from freedompay_async.batch import RowState, payout_row, run_payout_batch
from freedompay_async.cli import cli
from freedompay_async.telemetry import Telemetry
from freedompay_async.testing import Emulator, Fault, Rule

pytestmark = pytest.mark.anyio

CARD = "4405645000006150"
PROCESS_OK = "5507841999732294"
DECLINED = "5325349472901311"
CREATE = "g2g/p2p2nonreg"
STATUS2 = "g2g/payout_status2"
POST_LINK = "http://127.0.0.1:9/notify"
FAST = PayoutPolicy(
    poll_initial=0.01, poll_max=0.05, wait_deadline=2, reconcile_deadline=2, not_found_grace=0.1
)


@attrs.define
class Recorded:
    """What the SDK exported: finished spans and collected metrics."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    telemetry: Telemetry

    def finished(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.spans.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name == name]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, value) of every point of ``metric`` (a histogram's value is its count)."""
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name != metric:
                        continue
                    for point in item.data.data_points:
                        value = getattr(point, "value", None)
                        found.append((dict(point.attributes or {}), getattr(point, "count", value)))
        return found

    def total(self, metric: str, **attributes: object) -> Any:
        wanted = {key.replace("_", "."): value for key, value in attributes.items()}
        return sum(
            value
            for point, value in self.points(metric)
            if all(point.get(key) == value for key, value in wanted.items())
        )


def record(*, order_ids: bool = False) -> Recorded:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    telemetry = Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[metrics]),
        record_order_ids=order_ids,
    )
    return Recorded(spans, metrics, telemetry)


@pytest.fixture
def recorded() -> Recorded:
    return record()


@pytest.fixture
async def client(
    freedompay_emulator: Emulator, recorded: Recorded
) -> AsyncIterator[FreedomPayClient]:
    async with freedompay_emulator.client(
        timeout=aiohttp.ClientTimeout(total=1), payout_policy=FAST, telemetry=recorded.telemetry
    ) as fp:
        yield fp


async def pay(client: FreedomPayClient, order_id: str, card: str = CARD) -> Any:
    return await client.payouts.to_card(
        order_id=order_id,
        amount=Decimal("1500.00"),
        card_number=card,
        description="Salary",
        post_link=POST_LINK,
    )


def attributes(span: ReadableSpan) -> Mapping[str, Any]:
    return span.attributes or {}


# -- a lost answer: create -> reconcile -> success ----------------------------------------------


async def test_lost_answer_spans_and_metrics(
    freedompay_emulator: Emulator, client: FreedomPayClient, recorded: Recorded
) -> None:
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint=CREATE, times=1))
    payout = await pay(client, "LOST-1")
    assert payout.state.value == "success"
    assert freedompay_emulator.created_count("LOST-1") == 1

    (operation,) = recorded.named("payouts.to_card")
    (create,) = recorded.named(f"POST {CREATE}")
    (status,) = recorded.named("payouts.status")
    (status_attempt,) = recorded.named(f"POST {STATUS2}")
    # The tree: to_card > create attempt, to_card > status > status attempt.
    assert operation.parent is None
    assert create.parent is not None
    assert create.parent.span_id == operation.context.span_id
    assert status.parent is not None
    assert status.parent.span_id == operation.context.span_id
    assert status_attempt.parent is not None
    assert status_attempt.parent.span_id == status.context.span_id
    assert create.context.trace_id == status_attempt.context.trace_id

    assert create.kind is SpanKind.CLIENT
    assert attributes(create) == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": freedompay_emulator.port,
        "url.full": f"{freedompay_emulator.url}/{CREATE}",
        "url.template": CREATE,
        "freedompay.endpoint": CREATE,
        "freedompay.attempt": 1,
        "freedompay.outcome": "outcome_unknown",
        "error.type": "freedompay_async.errors.OutcomeUnknown",
    }
    assert create.status.status_code is StatusCode.ERROR
    assert attributes(status_attempt)["freedompay.outcome"] == "ok"
    assert attributes(status_attempt)["http.response.status_code"] == 200
    assert "error.type" not in attributes(status_attempt)

    assert attributes(operation)["freedompay.payout.state"] == "success"
    assert attributes(operation)["freedompay.reconciled"] is True
    events = [(event.name, dict(event.attributes or {})) for event in operation.events]
    assert events == [
        ("freedompay.reconcile", {"freedompay.endpoint": CREATE}),
        ("freedompay.poll", {"freedompay.poll.reason": "reconcile"}),
    ]
    assert operation.status.status_code is StatusCode.UNSET

    duration = "freedompay.client.request.duration"
    assert recorded.total(duration, freedompay_endpoint=CREATE) == 1
    assert recorded.total(duration, freedompay_outcome="outcome_unknown") == 1
    assert recorded.total(duration, freedompay_endpoint=STATUS2, freedompay_outcome="ok") == 1
    assert recorded.points("freedompay.client.outcome_unknown") == [
        ({"freedompay.endpoint": CREATE}, 1)
    ]
    assert recorded.points("freedompay.payout.reconciles") == [({"freedompay.endpoint": CREATE}, 1)]
    assert recorded.points("freedompay.payout.polls") == [
        ({"freedompay.poll.reason": "reconcile"}, 1)
    ]
    assert recorded.points("freedompay.payouts") == [
        ({"freedompay.operation": "payouts.to_card", "freedompay.payout.state": "success"}, 1)
    ]
    # Not opted in: no order id anywhere.
    assert not any("freedompay.order_id" in attributes(span) for span in recorded.finished())


async def test_order_ids_only_when_opted_in(freedompay_emulator: Emulator) -> None:
    opted = record(order_ids=True)
    async with freedompay_emulator.client(telemetry=opted.telemetry) as fp:
        await pay(fp, "OPT-1")
    (operation,) = opted.named("payouts.to_card")
    (attempt,) = opted.named(f"POST {CREATE}")
    assert attributes(operation)["freedompay.order_id"] == "OPT-1"
    assert attributes(attempt)["freedompay.order_id"] == "OPT-1"
    # Metrics never carry order ids (one series per order would be unbounded).
    for name in ("freedompay.client.request.duration", "freedompay.payouts"):
        assert all("freedompay.order_id" not in point for point, _ in opted.points(name))


async def test_refusal_and_process_then_wait(
    freedompay_emulator: Emulator, client: FreedomPayClient, recorded: Recorded
) -> None:
    freedompay_emulator.rules.add(Rule.error(420, "Limit exceeded", order_id="NO-1"))
    freedompay_emulator.rules.add(Rule.process(then="ok", polls=2, order_id="LATER-1"))
    with pytest.raises(FreedomPayError):
        await pay(client, "NO-1")
    assert (await pay(client, "LATER-1", PROCESS_OK)).state.value == "success"

    refused, later = recorded.named(f"POST {CREATE}")
    assert attributes(refused)["freedompay.outcome"] == "refused"
    assert attributes(refused)["freedompay.error_code"] == 420
    assert attributes(refused)["http.response.status_code"] == 200
    assert attributes(later)["freedompay.outcome"] == "ok"
    (wait,) = recorded.named("payouts.wait")
    to_card = recorded.named("payouts.to_card")[1]
    assert wait.parent is not None
    assert wait.parent.span_id == to_card.context.span_id
    polls = recorded.named("payouts.status")
    assert len(polls) == freedompay_emulator.calls[STATUS2] >= 2
    assert all(poll.parent and poll.parent.span_id == wait.context.span_id for poll in polls)
    assert recorded.total("freedompay.payout.polls", freedompay_poll_reason="wait") == len(polls)
    # Each payout counted once, by its outermost operation (to_card's own wait is not counted).
    assert sorted(recorded.points("freedompay.payouts"), key=str) == [
        ({"freedompay.operation": "payouts.to_card", "freedompay.payout.state": "error"}, 1),
        ({"freedompay.operation": "payouts.to_card", "freedompay.payout.state": "success"}, 1),
    ]


async def test_payouts_by_final_state(
    freedompay_emulator: Emulator, client: FreedomPayClient, recorded: Recorded
) -> None:
    freedompay_emulator.rules.add(
        Rule.process(then="error", error_code=10000, polls=1, order_id="S-declined")
    )
    freedompay_emulator.rules.add(Rule.process(polls=None, seconds=60, order_id="S-pending"))
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint=CREATE, order_id="S-unknown"))
    freedompay_emulator.faults.add(Fault.http_error(503, endpoint=STATUS2, order_id="S-unknown"))
    client.payouts.policy = attrs.evolve(FAST, wait_deadline=0.3, reconcile_deadline=0.3)
    for order_id in ("S-declined", "S-pending", "S-unknown"):
        with pytest.raises(FreedomPayError):
            await pay(client, order_id, PROCESS_OK)
    states = {
        point["freedompay.payout.state"]: value
        for point, value in recorded.points("freedompay.payouts")
    }
    assert states == {"error": 1, "pending": 1, "unknown": 1}
    spans = {
        attributes(span)["freedompay.payout.state"] for span in recorded.named("payouts.to_card")
    }
    assert spans == {"error", "pending", "unknown"}
    assert all(
        span.status.status_code is StatusCode.ERROR for span in recorded.named("payouts.to_card")
    )


async def test_nothing_recorded_without_a_provider_or_the_package(
    freedompay_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No provider set (the API's proxies) and none given: off.
    async with freedompay_emulator.client() as fp:
        assert not fp._telemetry.on
        await pay(fp, "OFF-1")
    # Explicit providers, but disabled.
    assert not FreedomPayClient(
        "1", "k", telemetry=attrs.evolve(record().telemetry, enabled=False)
    )._telemetry.on
    # opentelemetry-api not installed: off, and the client works.
    monkeypatch.setattr(telemetry_module, "otel_trace", None)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    async with freedompay_emulator.client(telemetry=record().telemetry) as fp:
        assert not fp._telemetry.on
        assert (await pay(fp, "OFF-2")).state.value == "success"


# -- batches ------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite journal file, or a fresh PostgreSQL database (a worker's run)."""
    if request.param == "sqlite":
        return str(tmp_path / "payouts.journal")
    return str(request.getfixturevalue("postgres_url"))


async def test_batch_spans_and_rows_by_state(
    freedompay_emulator: Emulator, client: FreedomPayClient, recorded: Recorded, journal: str
) -> None:
    cards = [CARD, CARD, DECLINED, PROCESS_OK, CARD]
    rows = [
        payout_row(
            {"order_id": f"B-{i}", "amount": "10.00", "description": "b", "card_number": card},
            i + 2,
        )
        for i, card in enumerate(cards)
    ]
    seen: list[tuple[dict[str, int], dict[str, int]]] = []

    def progress(counts: Mapping[RowState, int]) -> None:
        points = recorded.points("freedompay.batch.rows")
        gauge = {point["freedompay.row.state"]: value for point, value in points}
        seen.append((gauge, {state.value: count for state, count in counts.items()}))

    report = await run_payout_batch(
        client, rows, journal=journal, post_link=POST_LINK, on_progress=progress
    )
    assert report.counts[RowState.SUCCESS] == 4
    assert report.counts[RowState.ERROR] == 1
    # While the batch ran, the gauge showed the journal's rows by state, up to the last row;
    # once the batch ended, it is gone.
    assert len(seen) > 5
    assert all(gauge == journal_counts for gauge, journal_counts in seen[1:])
    assert seen[-1][0]["success"] == 4
    assert seen[-1][0]["error"] == 1
    assert recorded.points("freedompay.batch.rows") == []

    (batch,) = recorded.named("payouts.batch")
    assert attributes(batch)["freedompay.batch.rows"] == 5
    assert attributes(batch)["freedompay.batch.rows.success"] == 4
    assert attributes(batch)["freedompay.batch.rows.error"] == 1
    row_spans = recorded.named("payouts.batch.row")
    assert len(row_spans) == 5
    assert all(span.parent and span.parent.span_id == batch.context.span_id for span in row_spans)
    # A row span ends with its action; a process row is then polled by a child payouts.wait.
    assert sorted(attributes(span)["freedompay.row.state"] for span in row_spans) == [
        "error",
        "process",
        *["success"] * 3,
    ]
    # A first run asks the status of each row before sending it (the status preflight).
    assert {attributes(span)["freedompay.row.action"] for span in row_spans} == {"ask"}
    assert recorded.total("freedompay.payout.polls", freedompay_poll_reason="preflight") == 5
    (pending_row,) = (s for s in row_spans if attributes(s)["freedompay.row.state"] == "process")
    (wait,) = recorded.named("payouts.wait")
    assert wait.parent is not None
    assert wait.parent.span_id == pending_row.context.span_id
    assert attributes(wait)["freedompay.payout.state"] == "success"
    creates = recorded.named("payouts.to_card")
    assert all(
        any(span.parent and span.parent.span_id == row.context.span_id for row in row_spans)
        for span in creates
    )
    # The process row: counted once when its wait learnt the final state; the others by to_card.
    assert recorded.total("freedompay.payouts", freedompay_payout_state="success") == 4
    assert recorded.total("freedompay.payouts", freedompay_operation="payouts.wait") == 1


# -- nothing secret, ever -----------------------------------------------------------------------


def exported_strings(recorded: Recorded) -> Iterator[str]:
    """Every name, attribute key and value, event and status text the SDK exported."""
    for span in recorded.finished():
        yield span.name
        yield span.status.description or ""
        for key, value in attributes(span).items():
            yield f"{key}={value}"
        for event in span.events:
            yield event.name
            for key, value in (event.attributes or {}).items():
                yield f"{key}={value}"
    data = recorded.metrics.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for item in scope.metrics:
                yield item.name
                for point in item.data.data_points:
                    for key, value in (point.attributes or {}).items():
                        yield f"{key}={value}"


async def test_no_secret_in_any_export_over_a_chaos_run(
    freedompay_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    salts: list[str] = []
    signatures: list[str] = []
    new_salt, sign_parts = signing.new_salt, signing.sign_parts

    def recording_salt() -> str:
        salts.append(new_salt())
        return salts[-1]

    def recording_sign(*args: Any) -> str:
        signatures.append(sign_parts(*args))
        return signatures[-1]

    monkeypatch.setattr(_requestor, "new_salt", recording_salt)
    monkeypatch.setattr(_requestor, "sign_parts", recording_sign)
    faults = [
        Fault.drop_after_commit(endpoint=CREATE, order_id="X-0"),
        Fault.drop_before(endpoint=CREATE, order_id="X-1", times=1),
        Fault.http_error(502, endpoint=CREATE, order_id="X-2"),
        Fault.malformed_xml(endpoint=CREATE, order_id="X-3"),
        Fault.bad_signature(endpoint=CREATE, order_id="X-4"),
        Fault.unsigned(endpoint=CREATE, order_id="X-5"),
        Fault.slow_after_commit(2, endpoint=CREATE, order_id="X-6"),
        Fault.http_error(503, endpoint=STATUS2, order_id="X-7", times=2),
        Fault.drop_after_commit(endpoint=CREATE, order_id="X-7"),
    ]
    for fault in faults:
        freedompay_emulator.faults.add(fault)
    freedompay_emulator.rules.add(Rule.error(420, "Limit exceeded", order_id="X-8"))
    cards = [CARD, PROCESS_OK, "4111111111111111", "5555555555554444"]
    settings = freedompay_emulator.settings
    secrets = [settings.secret_key, settings.payout_secret_key or settings.secret_key]
    # Everything opted in: order ids are allowed out, nothing else.
    recorded = record(order_ids=True)
    caplog.set_level(logging.DEBUG, logger="freedompay_async")
    async with freedompay_emulator.client(
        timeout=aiohttp.ClientTimeout(total=0.5), payout_policy=FAST, telemetry=recorded.telemetry
    ) as fp:
        for index in range(10):
            with contextlib.suppress(FreedomPayError):
                await pay(fp, f"X-{index}", cards[index % len(cards)])
        rows = [
            payout_row(
                {"order_id": f"Y-{i}", "amount": "5", "description": "y", "card_number": card},
                i + 2,
            )
            for i, card in enumerate(cards)
        ]
        freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint=CREATE, order_id="Y-1"))
        freedompay_emulator.faults.add(Fault.malformed_xml(endpoint=CREATE, order_id="Y-2"))
        await run_payout_batch(fp, rows, post_link=POST_LINK)
    async with freedompay_emulator.client(  # a closed port: certainly not sent
        base_url="http://127.0.0.1:9", telemetry=recorded.telemetry
    ) as unreachable:
        with pytest.raises(FreedomPayError):
            await pay(unreachable, "Z-1", CARD)

    kinds = {record.kind for record in freedompay_emulator.fault_records}
    assert len(kinds) >= 6
    outcomes = {attributes(span).get("freedompay.outcome") for span in recorded.finished()} - {None}
    assert outcomes == {"ok", "refused", "not_sent", "outcome_unknown", "untrusted_answer"}
    assert len(salts) > 20
    assert len(signatures) == len(salts)

    log_strings = [
        f"{entry.getMessage()} "
        + " ".join(f"{k}={v}" for k, v in vars(entry).items() if k.startswith("freedompay_"))
        for entry in caplog.records
    ]
    assert any("freedompay_outcome" in text for text in log_strings)
    exported = [*exported_strings(recorded), *log_strings]
    assert len(exported) > 200
    forbidden = [*cards, *secrets, *salts, *signatures, "pg_sig", "pg_salt", "pg_payment_to"]
    for text in exported:
        for secret in forbidden:
            assert secret not in text, (secret, text)
        assert not re.search(r"\d{13,19}", text), text  # no card number, masked or not
        assert not re.search(r"\b[0-9a-f]{32}\b", text), text  # no md5 signature


# -- logging ------------------------------------------------------------------------------------


async def test_log_line_keeps_its_format_and_carries_the_facts_as_fields(
    freedompay_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    freedompay_emulator.rules.add(Rule.error(420, "Limit exceeded", order_id="L-2"))
    caplog.set_level(logging.DEBUG, logger="freedompay_async")
    async with freedompay_emulator.client() as fp:  # no telemetry: the fields are logging's own
        await pay(fp, "L-1")
        with pytest.raises(FreedomPayError):
            await pay(fp, "L-2")
    ok, refused = (vars(entry) for entry in caplog.records if entry.name == "freedompay_async")
    assert re.fullmatch(
        rf"{CREATE} order_id=L-1 attempt=1 duration_ms=\d+\.\d outcome=status=ok", ok["message"]
    )
    fields = {key: value for key, value in ok.items() if key.startswith("freedompay_")}
    duration = fields.pop("freedompay_duration_ms")
    assert isinstance(duration, float)
    assert fields == {
        "freedompay_endpoint": CREATE,
        "freedompay_order_id": "L-1",
        "freedompay_attempt": 1,
        "freedompay_outcome": "ok",
        "freedompay_http_status": 200,
    }
    assert "outcome=LimitExceeded code=420" in refused["message"]
    assert refused["freedompay_outcome"] == "refused"
    assert refused["freedompay_error_code"] == 420


# -- Prometheus: freedompay payouts run --metrics-port --------------------------------------------


def test_cli_serves_batch_metrics_to_prometheus(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    lines = [f"P-{i},10.00,{CARD},metrics test" for i in range(30)]
    rows.write_text("order_id,amount,card_number,description\n" + "\n".join(lines) + "\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scrapes: list[str] = []
    done = threading.Event()

    def scrape() -> None:
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as page:
                    scrapes.append(page.read().decode())
            except OSError:
                pass
            time.sleep(0.02)

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    try:
        result = CliRunner().invoke(
            cli,
            [
                *("payouts", "run", str(rows), "--emulator", "--emulator-latency", "0.03"),
                *("--concurrency", "2", "--quiet", "--metrics-port", str(port)),
            ],
        )
    finally:
        done.set()
        scraper.join(10)
    assert result.exit_code == 0, result.output
    assert "30 success" in result.stdout
    during = [page for page in scrapes if "freedompay_batch_rows{" in page]
    assert during, scrapes[-1:]
    last = during[-1]
    assert re.search(r'freedompay_batch_rows\{[^}]*freedompay_row_state="success"[^}]*\} \d', last)
    assert re.search(
        r"freedompay_client_request_duration_seconds_count\{[^}]*"
        r'freedompay_endpoint="g2g/p2p2nonreg"[^}]*freedompay_outcome="ok"',
        last,
    )
    assert "freedompay_payouts_total{" in last
    # The port is closed again once the command is done.
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


def test_metrics_port_without_the_prometheus_extra_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.prometheus", None)
    rows = tmp_path / "rows.csv"
    rows.write_text(f"order_id,amount,card_number,description\nQ-1,10.00,{CARD},x\n")
    for command in (["run", str(rows)], ["resume", str(rows)], ["worker"]):
        result = CliRunner().invoke(cli, ["payouts", *command, "--help"])
        assert "--metrics-port" in result.output
    result = CliRunner().invoke(
        cli, ["payouts", "run", str(rows), "--emulator", "--metrics-port", "9"]
    )
    assert result.exit_code == 2
    assert 'python -m pip install ".[prometheus]"' in result.output
    assert not (tmp_path / "rows.csv.journal").exists()  # nothing started


def test_global_providers_set_before_the_client_are_used() -> None:
    code = """
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from freedompay_async import FreedomPayClient

assert not FreedomPayClient("1", "key")._telemetry.on
trace.set_tracer_provider(TracerProvider())
metrics.set_meter_provider(MeterProvider())
assert FreedomPayClient("1", "key")._telemetry.on
"""
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
