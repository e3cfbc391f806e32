"""The cost of telemetry: client CPU per payout with OpenTelemetry off and on.

The same ``payouts.to_card`` call (one attempt, answered ``ok``) against bench_core's trivial
gateway in another process, interleaved over rounds:

* ``off``      - no tracer or meter provider (the default): the hooks only check a flag;
* ``on``       - the OpenTelemetry SDK recording every span (into an exporter that drops
                 them) and every metric (into an in-memory reader).

Compare ``off`` with bench_core's ``client`` row of the same build to see the cost of the
hooks themselves. Usage: ``python benchmarks/bench_telemetry.py [--calls 3000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from decimal import Decimal

from bench_core import KEY, MERCHANT, PARAMS, _measure, against_trivial_gateway
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from freedompay_async import FreedomPayClient, RetryPolicy
from freedompay_async.telemetry import Telemetry


class _Discard(SpanExporter):
    """Exports nowhere: the cost measured is the library's and the SDK's, not an exporter's."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _recording() -> Telemetry:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)


async def run_round(url: str, calls: int, concurrency: int) -> dict[str, float]:
    """Client CPU microseconds per payout, telemetry off and on."""
    results: dict[str, float] = {}
    for name, telemetry in (("off", None), ("on", _recording())):
        async with FreedomPayClient(
            MERCHANT, KEY, base_url=url, retry=RetryPolicy(attempts=1), telemetry=telemetry
        ) as client:
            assert client._telemetry.on is (telemetry is not None)

            async def payout(client: FreedomPayClient = client) -> None:
                await client.payouts.to_card(
                    order_id=str(PARAMS["pg_order_id"]),  # the trivial gateway's answer names it
                    amount=Decimal("1500.00"),
                    card_number="4405645000006150",
                    description="Salary for November",
                    post_link="https://merchant.example/payouts/notify",
                    wait=False,
                )

            results[name] = await _measure(payout, calls, concurrency)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rounds = against_trivial_gateway(run_round, args.calls, args.concurrency, args.rounds)
    median = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(
        f"payouts.to_card, client CPU µs per call (median of {args.rounds} rounds, "
        f"{args.calls} calls, concurrency {args.concurrency}):"
    )
    for name, value in median.items():
        print(f"  telemetry {name:<4} {value:8.1f}")
    print(f"  on / off = {median['on'] / median['off']:.2f}x")


if __name__ == "__main__":
    main()
