"""OpenTelemetry Python SDK plumbing: real OTLP exporters (grpc and http/protobuf) that also
remember exactly what they exported and whether the export succeeded."""
from __future__ import annotations


def _recording(cls):
    class Recording(cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.exports = []  # (what, result)
            self.closed = False

        def close(self):
            """From now on export nothing (the SDK's shutdown would export once more)."""
            self.closed = True

        def export(self, data, *args, **kwargs):
            if self.closed:
                from opentelemetry.sdk.metrics.export import MetricExportResult

                return MetricExportResult.FAILURE
            result = super().export(data, *args, **kwargs)
            self.exports.append((list(data) if isinstance(data, (list, tuple)) else data, result))
            return result

    Recording.__name__ = "Recording" + cls.__name__
    return Recording


def span_exporter(protocol: str, d):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return _recording(OTLPSpanExporter)(endpoint=d.grpc_target, insecure=True, timeout=10)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return _recording(OTLPSpanExporter)(endpoint=d.http_base + "/v1/traces", timeout=10)


def metric_exporter(protocol: str, d):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return _recording(OTLPMetricExporter)(endpoint=d.grpc_target, insecure=True, timeout=10)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return _recording(OTLPMetricExporter)(endpoint=d.http_base + "/v1/metrics", timeout=10)


def log_exporter(protocol: str, d):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return _recording(OTLPLogExporter)(endpoint=d.grpc_target, insecure=True, timeout=10)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return _recording(OTLPLogExporter)(endpoint=d.http_base + "/v1/logs", timeout=10)


def assert_all_succeeded(exporter) -> None:
    assert exporter.exports, "the SDK exported nothing"
    bad = [r for _, r in exporter.exports if getattr(r, "name", str(r)) != "SUCCESS"]
    assert not bad, f"SDK exports failed: {bad}"


def send_spans(protocol: str, d, n: int, service: str = "sdk-spans"):
    """Sends n root spans through the SDK; returns their span ids (hex)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exp = span_exporter(protocol, d)
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    tp.add_span_processor(BatchSpanProcessor(exp))
    tracer = tp.get_tracer("otelite.tests.send_spans")
    ids = []
    for i in range(n):
        with tracer.start_as_current_span(f"s{i}", attributes={"i": i}) as sp:
            ids.append(format(sp.get_span_context().span_id, "016x"))
    assert tp.force_flush(15000)
    assert_all_succeeded(exp)
    tp.shutdown()
    return ids
