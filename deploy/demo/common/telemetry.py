"""OpenTelemetry setup shared by the demo services (app, auth, db).

Traces, metrics and logs are exported over OTLP/gRPC to the collector next to the service (the
otelite sidecar on `localhost:4317`). Everything is configured with the standard environment
variables of the OpenTelemetry SDK:

- `OTEL_SERVICE_NAME` (default: the service's own name), `OTEL_RESOURCE_ATTRIBUTES`
- `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4317`) and the per-signal variants
- `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BLRP_SCHEDULE_DELAY`, `OTEL_METRIC_EXPORT_INTERVAL`
- `OTEL_PROPAGATORS` (default `tracecontext,baggage`)
- `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS` (default: the health endpoints are not traced)
- `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST` (request headers put on server spans)

and one of the demo's own: `DEMO_BAGGAGE_ATTRIBUTES` (default `tenant`), the W3C baggage entries
copied onto every span as attributes of the same name.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass

from opentelemetry import baggage, metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

VERSION = "0.1.0"
HEALTH_PATHS = ("/healthz", "/readyz")
MAX_BAGGAGE_VALUE = 128


class BaggageToAttributes(SpanProcessor):
    """Copies the allow-listed W3C baggage entries of a span's context onto the span.

    Only the listed keys are copied (callers outside the system set baggage too), and values are
    cut to MAX_BAGGAGE_VALUE characters.
    """

    def __init__(self, keys: list[str]) -> None:
        self.keys = tuple(k for k in keys if k)

    def on_start(self, span, parent_context=None) -> None:
        for key in self.keys:
            value = baggage.get_baggage(key, parent_context)
            if value is not None:
                span.set_attribute(key, str(value)[:MAX_BAGGAGE_VALUE])


class ConsoleFormatter(logging.Formatter):
    """Console lines ending with the active trace and span ids (the record itself is left as is,
    so the OpenTelemetry handler exports it unchanged)."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = trace.get_current_span().get_span_context()
        ids = (f"trace={ctx.trace_id:032x} span={ctx.span_id:016x}" if ctx.is_valid
               else "trace=- span=-")
        return f"{super().format(record)} [{ids}]"


class RequestMetricsMiddleware:
    """ASGI middleware recording the demo's request metrics.

    demo.requests (counter), demo.request.duration (histogram, ms) and demo.errors (counter of 5xx
    answers), with the route template, method and status code as attributes. The health endpoints
    are not counted.
    """

    def __init__(self, app, meter) -> None:
        self.app = app
        self.requests = meter.create_counter(
            "demo.requests", unit="{request}", description="HTTP requests served")
        self.duration = meter.create_histogram(
            "demo.request.duration", unit="ms", description="HTTP request latency")
        self.errors = meter.create_counter(
            "demo.errors", unit="{request}", description="HTTP requests answered with a 5xx status")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            attributes = {
                "http.request.method": scope.get("method", ""),
                "http.route": getattr(route, "path", None) or "unmatched",
                "http.response.status_code": status["code"],
            }
            self.requests.add(1, attributes)
            self.duration.record((time.perf_counter() - start) * 1000.0, attributes)
            if status["code"] >= 500:
                self.errors.add(1, {**attributes, "error.type": str(status["code"])})


@dataclass
class Telemetry:
    service_name: str
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    tracer: trace.Tracer
    meter: metrics.Meter
    logger: logging.Logger

    def shutdown(self) -> None:
        """Flushes and stops the three providers (called when the server stops)."""
        self.logger.info("%s stopping: flushing telemetry", self.service_name)
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            try:
                provider.shutdown()
            except Exception:  # noqa: BLE001 - shutting down anyway
                logging.getLogger(__name__).exception("telemetry shutdown failed")


def setup(default_service_name: str, app=None) -> Telemetry:
    """Creates the providers, installs them globally and instruments `app` (a FastAPI app)."""
    service_name = os.environ.get("OTEL_SERVICE_NAME") or default_service_name
    resource = Resource.create({"service.name": service_name, "service.version": VERSION})

    tracer_provider = TracerProvider(resource=resource)
    keys = os.environ.get("DEMO_BAGGAGE_ATTRIBUTES", "tenant").split(",")
    tracer_provider.add_span_processor(BaggageToAttributes([k.strip() for k in keys]))
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)

    meter_provider = MeterProvider(
        resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())])
    metrics.set_meter_provider(meter_provider)

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    set_logger_provider(logger_provider)

    # The services log through the "demo" logger: to the console (with the trace id) and, through
    # the OpenTelemetry handler, as OTLP log records carrying the active trace and span ids.
    logger = logging.getLogger("demo")
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    logger.propagate = False
    if not logger.handlers:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(
            ConsoleFormatter(f"%(asctime)s %(levelname)s {service_name} %(message)s"))
        logger.addHandler(console)
        logger.addHandler(LoggingHandler(logger_provider=logger_provider))

    tracer = tracer_provider.get_tracer(f"otelite.demo.{service_name}", VERSION)
    meter = meter_provider.get_meter(f"otelite.demo.{service_name}", VERSION)

    if app is not None:
        # Added before the OpenTelemetry middleware, so it runs inside the server span.
        app.add_middleware(RequestMetricsMiddleware, meter=meter)
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=tracer_provider, meter_provider=meter_provider,
            excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS",
                                         ",".join(HEALTH_PATHS)))

    return Telemetry(service_name, tracer_provider, meter_provider, logger_provider, tracer,
                     meter, logger.getChild(service_name))
