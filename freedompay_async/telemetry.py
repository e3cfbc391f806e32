"""OpenTelemetry traces and metrics: the knobs (``FreedomPayClient(telemetry=Telemetry(...))``).

Needs the ``otel`` extra (``python -m pip install ".[otel]"`` in a clone, ``opentelemetry-api``
only);
without it, or without a tracer / meter provider, the client records nothing and pays for
nothing. See ``docs/observability.md`` for every span, metric and attribute.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from .errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["Telemetry", "serve_prometheus"]


@attrs.frozen(slots=True)
class Telemetry:
    """What the client reports through OpenTelemetry.

    ``tracer_provider`` / ``meter_provider`` default to the global ones (set them before
    creating the client: whether to record is decided once, when the client is built).
    ``record_order_ids`` adds ``freedompay.order_id`` to spans (off by default: order ids may
    be personal data in your system). Card numbers, keys, signatures, salts and form bodies are
    never recorded. ``enabled=False`` turns everything off.
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    record_order_ids: bool = False
    enabled: bool = True


@contextlib.contextmanager
def serve_prometheus(port: int, host: str = "127.0.0.1") -> Iterator[Telemetry]:
    """Serve the client's metrics at ``http://host:port/metrics`` for Prometheus to scrape.

    Needs the ``prometheus`` extra (the OpenTelemetry SDK and its Prometheus exporter). Yields
    the :class:`Telemetry` to give the client; the metrics stop being served on exit.
    """
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
        from prometheus_client import start_http_server
    except ImportError:
        raise ConfigurationError(
            "serving metrics needs the 'prometheus' extra: "
            'python -m pip install ".[prometheus]" in a clone (from a wheel: "WHEEL[prometheus]")'
        ) from None
    reader = PrometheusMetricReader()
    provider = SdkMeterProvider(metric_readers=[reader])
    try:
        server, thread = start_http_server(port, addr=host)
    except BaseException:
        provider.shutdown()
        raise
    try:
        yield Telemetry(meter_provider=provider)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        provider.shutdown()
