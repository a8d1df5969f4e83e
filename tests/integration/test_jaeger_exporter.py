"""Traces into a real Jaeger (v2, tools.py) through otelite, by both supported routes:

- `jaeger`: otelite's jaeger exporter → Jaeger's gRPC collector API (api_v2 PostSpans, 14250),
  uncompressed (the default) and with gzip;
- `otlp_grpc`: otelite's OTLP exporter → Jaeger's own OTLP receiver (4317).

The OpenTelemetry Python SDK plays three services, A → B → C, each with its own TracerProvider
(its own service.name) exporting to otelite; the trace context goes from one to the next through
W3C traceparent headers, injected and extracted by hand as between real services. C fails (ERROR
status with a description and an event), B's outgoing call links to a span of another trace.
The trace is then read back through Jaeger's query API (/api/traces/{id}) and checked whole: the
tree (CHILD_OF references), the services and their process tags, span kinds, status and error
tags, scope tags, typed attributes, logs and the link (FOLLOWS_FROM).
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

import pytest

from harness import Ports, base_config, wait_metric, wait_until
from sdk_helpers import assert_all_succeeded, span_exporter
from tools import Jaeger

SPANS = 6
# exporter id in otelite -> its settings beyond the endpoint
ROUTES = {
    "jaeger": {},                             # Jaeger's gRPC collector API, uncompressed
    "jaeger/gzip": {"compression": "gzip"},   # the same, gzip-compressed
    "otlp_grpc": {},                          # Jaeger's own OTLP receiver
}


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory):
    with Jaeger(tmp_path_factory.mktemp("jaeger")) as j:
        yield j


def otelite_config(ports: Ports, tmp_path, route: str, jaeger: Jaeger) -> dict:
    cfg = base_config(ports, tmp_path / "unused.jsonl")
    target = jaeger.otlp_grpc_target if route == "otlp_grpc" else jaeger.collector_grpc_target
    cfg["exporters"][route] = {"endpoint": target, "tls": {"insecure": True}, "timeout": "5s",
                               **ROUTES[route]}
    cfg["service"]["pipelines"]["traces"]["exporters"] = [route]
    return cfg


@dataclass
class Sent:
    """What the SDK recorded, to compare with what Jaeger gives back."""
    trace_id: str = ""
    services: dict = field(default_factory=dict)  # "a" / "b" / "c" -> service name
    spans: dict = field(default_factory=dict)     # operation name -> ReadableSpan
    linked_trace_id: str = ""
    linked_span_id: str = ""


def hex_span(span) -> str:
    return format(span.get_span_context().span_id, "016x")


def send_three_service_trace(d, suffix: str) -> Sent:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    sent = Sent(services={k: f"shop-{k}-{suffix}" for k in ("a", "b", "c")})
    propagator = TraceContextTextMapPropagator()
    providers, exporters, tracers = {}, {}, {}
    for key, service in sent.services.items():
        exporters[key] = span_exporter("grpc", d)
        providers[key] = TracerProvider(resource=Resource.create(
            {"service.name": service, "deployment.environment": "it", "shop.replica": 3}))
        providers[key].add_span_processor(BatchSpanProcessor(exporters[key]))
        tracers[key] = providers[key].get_tracer(f"shop.{key}", "1.4.2")

    def outgoing(span) -> dict:
        headers: dict = {}
        propagator.inject(headers, context=trace.set_span_in_context(span))
        return headers

    # Another trace, for B to link to (a batch job that queued the payment).
    with tracers["b"].start_as_current_span("enqueue payment", context=trace.set_span_in_context(
            trace.INVALID_SPAN)) as job:
        sent.linked_trace_id = format(job.get_span_context().trace_id, "032x")
        sent.linked_span_id = hex_span(job)

    root_ctx = trace.set_span_in_context(trace.INVALID_SPAN)
    with tracers["a"].start_as_current_span(
            "GET /checkout", context=root_ctx, kind=SpanKind.SERVER,
            attributes={"http.request.method": "GET", "http.response.status_code": 502}) as a_in:
        sent.spans["GET /checkout"] = a_in
        with tracers["a"].start_as_current_span("call pay", kind=SpanKind.CLIENT) as a_out:
            sent.spans["call pay"] = a_out
            to_b = outgoing(a_out)

            # --- service B, from the headers A sent
            b_ctx = propagator.extract(to_b)
            with tracers["b"].start_as_current_span(
                    "POST /pay", context=b_ctx, kind=SpanKind.SERVER,
                    attributes={"pay.amount": 12.5, "pay.express": True,
                                "pay.items": ["book", "pen"]}) as b_in:
                sent.spans["POST /pay"] = b_in
                with tracers["b"].start_as_current_span("validate") as b_internal:
                    sent.spans["validate"] = b_internal
                link = Link(trace.SpanContext(int(sent.linked_trace_id, 16),
                                              int(sent.linked_span_id, 16), is_remote=True,
                                              trace_flags=trace.TraceFlags(1)),
                            attributes={"link.reason": "queued"})
                with tracers["b"].start_as_current_span("call card", kind=SpanKind.CLIENT,
                                                        links=[link]) as b_out:
                    sent.spans["call card"] = b_out
                    to_c = outgoing(b_out)

                    # --- service C, from the headers B sent
                    c_ctx = propagator.extract(to_c)
                    with tracers["c"].start_as_current_span(
                            "charge card", context=c_ctx, kind=SpanKind.SERVER,
                            record_exception=False, set_status_on_exception=False) as c_in:
                        sent.spans["charge card"] = c_in
                        c_in.add_event("card.declined", {"card.brand": "visa", "attempt": 2})
                        c_in.set_status(Status(StatusCode.ERROR, "card declined"))
            a_out.set_status(Status(StatusCode.ERROR))
    sent.trace_id = format(a_in.get_span_context().trace_id, "032x")

    for key in ("c", "b", "a"):
        assert providers[key].force_flush(15000)
        assert_all_succeeded(exporters[key])
        providers[key].shutdown()
    return sent


def tag_map(tags: list | None) -> dict:
    """key -> (type, value) of the query API's tags (or log fields)."""
    out = {}
    for t in tags or []:
        assert t["key"] not in out, f"tag {t['key']} appears twice: {tags}"
        out[t["key"]] = (t["type"], t["value"])
    return out


def check_trace(trace: dict, sent: Sent) -> None:
    spans = {s["operationName"]: s for s in trace["spans"]}
    ops = sorted(spans)
    assert len(trace["spans"]) == SPANS and ops == sorted(sent.spans), ops
    assert trace["traceID"].rjust(32, "0") == sent.trace_id

    # the tree: each span's CHILD_OF reference names its parent, the root has none
    parents = {"GET /checkout": None, "call pay": "GET /checkout", "POST /pay": "call pay",
               "validate": "POST /pay", "call card": "POST /pay", "charge card": "call card"}
    for op, parent in parents.items():
        s = spans[op]
        assert s["spanID"] == hex_span(sent.spans[op])
        assert s["traceID"].rjust(32, "0") == sent.trace_id
        child_of = [r for r in s.get("references") or [] if r["refType"] == "CHILD_OF"]
        if parent is None:
            assert child_of == [], f"{op} is the root: {s['references']}"
        else:
            assert len(child_of) == 1, f"{op}: {s.get('references')}"
            assert child_of[0]["spanID"] == hex_span(sent.spans[parent]), op
            assert child_of[0]["traceID"].rjust(32, "0") == sent.trace_id, op
        # times in microseconds
        sdk = sent.spans[op]
        assert s["startTime"] == sdk.start_time // 1000, op
        assert abs(s["duration"] - (sdk.end_time - sdk.start_time) // 1000) <= 1, op

    # services: each span's process, with the resource's other attributes as process tags
    service_of = {"GET /checkout": "a", "call pay": "a", "POST /pay": "b", "validate": "b",
                  "call card": "b", "charge card": "c"}
    for op, key in service_of.items():
        process = trace["processes"][spans[op]["processID"]]
        assert process["serviceName"] == sent.services[key], op
        ptags = tag_map(process.get("tags"))
        assert ptags.get("deployment.environment") == ("string", "it"), ptags
        assert ptags.get("shop.replica") == ("int64", 3), ptags
        assert ptags.get("telemetry.sdk.language") == ("string", "python"), ptags
        assert "service.name" not in ptags

    tags = {op: tag_map(s.get("tags")) for op, s in spans.items()}
    kinds = {"GET /checkout": "server", "call pay": "client", "POST /pay": "server",
             "validate": "internal", "call card": "client", "charge card": "server"}
    for op, kind in kinds.items():
        assert tags[op].get("span.kind") == ("string", kind), (op, tags[op])
        key = service_of[op]
        assert tags[op].get("otel.scope.name") == ("string", f"shop.{key}"), (op, tags[op])
        assert tags[op].get("otel.scope.version") == ("string", "1.4.2"), (op, tags[op])

    # status: C's ERROR with its description, A's outgoing call ERROR without one, others unset
    c = tags["charge card"]
    assert c.get("otel.status_code") == ("string", "ERROR"), c
    assert c.get("otel.status_description") == ("string", "card declined"), c
    assert c.get("error") == ("bool", True), c
    assert tags["call pay"].get("error") == ("bool", True)
    assert tags["call pay"].get("otel.status_code") == ("string", "ERROR")
    assert "otel.status_description" not in tags["call pay"]
    for op in ("GET /checkout", "POST /pay", "validate", "call card"):
        assert "error" not in tags[op] and "otel.status_code" not in tags[op], (op, tags[op])

    # attribute types: int, string, double, bool, and an array as its JSON text
    assert tags["GET /checkout"].get("http.response.status_code") == ("int64", 502)
    assert tags["GET /checkout"].get("http.request.method") == ("string", "GET")
    b = tags["POST /pay"]
    assert b.get("pay.amount") == ("float64", 12.5), b
    assert b.get("pay.express") == ("bool", True), b
    assert b.get("pay.items")[0] == "string" and json.loads(b["pay.items"][1]) == ["book", "pen"]

    # the event: a log at the event's time, its name as the `event` field, its attributes
    logs = spans["charge card"].get("logs") or []
    assert len(logs) == 1, logs
    event = sent.spans["charge card"].events[0]
    assert logs[0]["timestamp"] == event.timestamp // 1000
    fields = tag_map(logs[0]["fields"])
    assert fields == {"event": ("string", "card.declined"), "card.brand": ("string", "visa"),
                      "attempt": ("int64", 2)}, fields
    for op in ("GET /checkout", "call pay", "POST /pay", "validate", "call card"):
        assert not spans[op].get("logs"), op

    # the link: a FOLLOWS_FROM reference after the parent
    refs = spans["call card"]["references"]
    assert [r["refType"] for r in refs] == ["CHILD_OF", "FOLLOWS_FROM"], refs
    assert refs[1]["traceID"].rjust(32, "0") == sent.linked_trace_id
    assert refs[1]["spanID"] == sent.linked_span_id


@pytest.mark.parametrize("route", ROUTES)
def test_three_service_trace_reaches_jaeger(otelite, tmp_path, jaeger, route):
    ports = Ports()
    d = otelite(otelite_config(ports, tmp_path, route, jaeger), ports=ports,
                name=route.replace("/", "-"))
    sent = send_three_service_trace(d, f"{route.replace('/', '-')}-{secrets.token_hex(3)}")

    wait_metric(d, "otelcol_exporter_sent_spans_total", SPANS + 1, exporter=route)
    for service in sent.services.values():
        wait_until(lambda: service in jaeger.services(), 20, f"{service} in Jaeger's services")

    def whole_trace():
        t = jaeger.trace(sent.trace_id)
        return t if t and len(t["spans"]) >= SPANS else None

    trace = wait_until(whole_trace, 20, f"the {SPANS} spans of trace {sent.trace_id} in Jaeger")
    check_trace(trace, sent)
    linked = wait_until(lambda: jaeger.trace(sent.linked_trace_id), 20, "the linked trace")
    assert [s["operationName"] for s in linked["spans"]] == ["enqueue payment"]
    d.stop()
