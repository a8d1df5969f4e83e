"""Real OpenTelemetry Python SDK -> otelite (OTLP grpc / http+protobuf) -> file exporter.

Every item the SDK exported must come out of the file exactly once, with ids, parents,
attributes and resources intact, and the self-metrics must count exactly what was sent.
"""
from __future__ import annotations

import logging
import secrets

import pytest

from harness import (attrs, any_value, json_logs, json_metrics, json_spans, read_records,
                     sdk_attrs, wait_for_records, wait_for_spans, wait_metric)
from sdk_helpers import (assert_all_succeeded, log_exporter, metric_exporter, send_spans,
                         span_exporter)

PROTOCOLS = ["grpc", "http"]
OTHER = {"grpc": "http", "http": "grpc"}


def hexid(n: int, width: int) -> str:
    return format(n, f"0{width}x")


def _assert_counters(d, signal_metric: str, exporter_metric: str, protocol: str, n: int):
    s = wait_metric(d, f"otelcol_receiver_accepted_{signal_metric}_total", n,
                    receiver="otlp", transport=protocol)
    assert s.value(f"otelcol_receiver_accepted_{signal_metric}_total",
                   receiver="otlp", transport=OTHER[protocol]) == 0
    assert s.value(f"otelcol_receiver_refused_{signal_metric}_total", receiver="otlp") == 0
    s = wait_metric(d, f"otelcol_exporter_sent_{exporter_metric}_total", n, exporter="file")
    assert s.value(f"otelcol_exporter_send_failed_{exporter_metric}_total", exporter="file") == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_traces_roundtrip(otelite, protocol):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode

    d = otelite.default()
    exp = span_exporter(protocol, d)
    resource = Resource.create({"service.name": f"rt-traces-{protocol}",
                                "deployment.environment": "test", "host.cpus": 2,
                                "run.id": secrets.token_hex(4)})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(BatchSpanProcessor(exp))
    tracer = tp.get_tracer("otelite.rt", "1.2.3")

    with tracer.start_as_current_span("linked-root", kind=SpanKind.CONSUMER) as linked:
        pass
    with tracer.start_as_current_span(
            "parent", kind=SpanKind.SERVER,
            attributes={"http.method": "GET", "http.status_code": 500, "ratio": 0.25,
                        "ok": False, "tags": ["a", "b"], "codes": [1, 2, 3],
                        "big": 2**62 + 7}) as parent:
        parent.add_event("cache.miss", {"key": "user:42", "attempt": 2})
        for i, kind in enumerate([SpanKind.CLIENT, SpanKind.INTERNAL, SpanKind.PRODUCER]):
            with tracer.start_as_current_span(
                    f"child-{i}", kind=kind, attributes={"child.index": i},
                    links=[Link(linked.get_span_context(), {"link.reason": f"r{i}"})]) as c:
                if i == 0:
                    c.set_status(Status(StatusCode.OK))
        parent.set_status(Status(StatusCode.ERROR, "boom"))
    assert tp.force_flush(15000)
    assert_all_succeeded(exp)

    sent = [s for batch, _ in exp.exports for s in batch]
    assert len(sent) == 5
    want = {hexid(s.context.span_id, 16): s for s in sent}
    wait_for_spans(d.out, want)  # arrives while running (periodic flush)
    _assert_counters(d, "spans", "spans", protocol, 5)
    tp.shutdown()
    d.stop()

    got = json_spans(read_records(d.out))
    ids = [sp["spanId"] for _, _, sp in got]
    assert sorted(ids) == sorted(want), "every span exactly once, nothing else"
    for res, scope, sp in got:
        s = want[sp["spanId"]]
        assert res == sdk_attrs(resource.attributes)
        assert scope.get("name") == "otelite.rt" and scope.get("version") == "1.2.3"
        assert sp["traceId"] == hexid(s.context.trace_id, 32)
        parent_hex = hexid(s.parent.span_id, 16) if s.parent else ""
        assert sp.get("parentSpanId", "") == parent_hex
        assert sp["name"] == s.name
        assert sp["kind"] == s.kind.value + 1  # OTLP enum: SDK INTERNAL=0 -> SPAN_KIND_INTERNAL=1
        assert int(sp["startTimeUnixNano"]) == s.start_time
        assert int(sp["endTimeUnixNano"]) == s.end_time
        assert attrs(sp.get("attributes")) == sdk_attrs(s.attributes)
        status = sp.get("status", {})
        assert status.get("code", 0) == s.status.status_code.value
        assert status.get("message", "") == (s.status.description or "")
        assert [(e["name"], int(e["timeUnixNano"]), attrs(e.get("attributes")))
                for e in sp.get("events", [])] == \
               [(e.name, e.timestamp, sdk_attrs(e.attributes)) for e in s.events]
        assert [(l["traceId"], l["spanId"], attrs(l.get("attributes")))
                for l in sp.get("links", [])] == \
               [(hexid(l.context.trace_id, 32), hexid(l.context.span_id, 16),
                 sdk_attrs(l.attributes)) for l in s.links]
    # the tree: three children of the parent, in the parent's trace
    by_name = {sp["name"]: sp for _, _, sp in got}
    for i in range(3):
        assert by_name[f"child-{i}"]["parentSpanId"] == by_name["parent"]["spanId"]
        assert by_name[f"child-{i}"]["traceId"] == by_name["parent"]["traceId"]
        assert by_name[f"child-{i}"]["links"][0]["spanId"] == by_name["linked-root"]["spanId"]
    assert by_name["linked-root"]["traceId"] != by_name["parent"]["traceId"]
    assert attrs(by_name["parent"]["attributes"])["big"] == 2**62 + 7


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metrics_roundtrip(otelite, protocol):
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    d = otelite.default()
    exp = metric_exporter(protocol, d)
    reader = PeriodicExportingMetricReader(exp, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": f"rt-metrics-{protocol}", "pod": "p-1"})
    mp = MeterProvider(resource=resource, metric_readers=[reader])
    try:
        meter = mp.get_meter("otelite.rt.metrics", "0.9")
        counter = meter.create_counter("rt.requests", unit="1", description="requests")
        counter.add(3, {"route": "/a"})
        counter.add(4, {"route": "/b"})
        counter.add(5, {"route": "/a"})
        updown = meter.create_up_down_counter("rt.inflight")
        updown.add(10, {"pool": "x"})
        updown.add(-3, {"pool": "x"})
        hist = meter.create_histogram("rt.latency", unit="ms")
        for v in (5, 15, 250):
            hist.record(v, {"op": "get"})

        def observe(options: CallbackOptions):
            yield Observation(21.5, {"room": "a"})
            yield Observation(19, {"room": "b"})

        meter.create_observable_gauge("rt.temperature", callbacks=[observe], unit="Cel")
        assert reader.force_flush(15000)
        assert_all_succeeded(exp)
        assert len(exp.exports) == 1
        data = exp.exports[0][0]
        sent = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics
                for m in sm.metrics}
        assert set(sent) == {"rt.requests", "rt.inflight", "rt.latency", "rt.temperature"}
        npoints = sum(len(m.data.data_points) for m in sent.values())
        assert npoints == 6

        wait_for_records(d.out, lambda r: {m["name"] for _, _, m in json_metrics(r)}
                         >= set(sent), "all four metrics in the output")
        _assert_counters(d, "metric_points", "metric_points", protocol, npoints)
    finally:
        exp.close()  # the SDK's shutdown would export the cumulative points once more
        mp.shutdown()
    d.stop()

    got = json_metrics(read_records(d.out))
    names = [m["name"] for _, _, m in got]
    assert sorted(names) == sorted(sent), "each metric exactly once in the first export"
    for res, scope, m in got:
        assert res == sdk_attrs(resource.attributes)
        assert scope.get("name") == "otelite.rt.metrics" and scope.get("version") == "0.9"
        s = sent[m["name"]]
        assert m.get("unit", "") == s.unit
        assert m.get("description", "") == s.description
        sdk_points = {tuple(sorted(sdk_attrs(p.attributes).items())): p for p in s.data.data_points}
        kind = {"rt.requests": "sum", "rt.inflight": "sum", "rt.latency": "histogram",
                "rt.temperature": "gauge"}[m["name"]]
        assert kind in m, f"{m['name']} should be a {kind}: {m}"
        body = m[kind]
        pts = body["dataPoints"]
        assert len(pts) == len(sdk_points)
        for p in pts:
            sp = sdk_points[tuple(sorted(attrs(p.get("attributes")).items()))]
            assert int(p["timeUnixNano"]) == sp.time_unix_nano
            if kind == "histogram":
                assert int(p["count"]) == sp.count == 3
                assert float(p["sum"]) == sp.sum == 270
                assert [int(x) for x in p["bucketCounts"]] == list(sp.bucket_counts)
                assert [float(x) for x in p["explicitBounds"]] == list(sp.explicit_bounds)
                assert float(p["min"]) == 5 and float(p["max"]) == 250
                assert body["aggregationTemporality"] == 2
            elif isinstance(sp.value, int):
                assert "asInt" in p and int(p["asInt"]) == sp.value, p
            else:
                assert "asDouble" in p and float(p["asDouble"]) == sp.value, p
        if kind == "sum":
            assert body["aggregationTemporality"] == 2  # cumulative
            assert body.get("isMonotonic", False) is (m["name"] == "rt.requests")
    values = {(m["name"], tuple(sorted(attrs(p.get("attributes")).items()))):
              any_value({"intValue": p["asInt"]} if "asInt" in p else {"doubleValue": p.get("asDouble")})
              for _, _, m in got if "histogram" not in m
              for p in m[("sum" if "sum" in m else "gauge")]["dataPoints"]}
    assert values == {
        ("rt.requests", (("route", "/a"),)): 8, ("rt.requests", (("route", "/b"),)): 4,
        ("rt.inflight", (("pool", "x"),)): 7,
        ("rt.temperature", (("room", "a"),)): 21.5, ("rt.temperature", (("room", "b"),)): 19,
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_logs_roundtrip(otelite, protocol):
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, LogRecord
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import TraceFlags

    d = otelite.default()
    exp = log_exporter(protocol, d)
    resource = Resource.create({"service.name": f"rt-logs-{protocol}", "region": "eu"})
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(BatchLogRecordProcessor(exp))
    handler = LoggingHandler(level=logging.NOTSET, logger_provider=lp)
    pylog = logging.getLogger(f"otelite.rt.{protocol}.{secrets.token_hex(3)}")
    pylog.setLevel(logging.DEBUG)
    pylog.propagate = False
    pylog.addHandler(handler)
    tag = secrets.token_hex(4)
    tracer = TracerProvider().get_tracer("t")
    try:
        with tracer.start_as_current_span("with-logs") as span:
            pylog.debug("debug %s", tag, extra={"user.id": "u1"})
            pylog.info("info %s", tag, extra={"attempt": 3})
            pylog.warning("warning %s", tag)
            pylog.error("error %s", tag, extra={"ratio": 0.5, "flag": True})
            pylog.critical("critical %s", tag)
        # a structured body through the SDK's logger directly
        lp.get_logger("otelite.rt.direct", "4.5").emit(LogRecord(
            timestamp=1_700_000_000_123_456_789, observed_timestamp=1_700_000_000_200_000_000,
            trace_id=0, span_id=0, trace_flags=TraceFlags(0), severity_number=SeverityNumber.INFO2,
            severity_text="INFO2", body={"event": f"structured {tag}", "n": 7},
            attributes={"direct": True}, resource=resource))
        assert lp.force_flush(15000)
        assert_all_succeeded(exp)
    finally:
        pylog.removeHandler(handler)
    sent = [ld.log_record for batch, _ in exp.exports for ld in batch]
    assert len(sent) == 6
    want = {}
    for r in sent:
        key = r.body if isinstance(r.body, str) else f"structured {tag}"
        want[key] = r
    assert len(want) == 6

    def body_key(lr):
        b = any_value(lr.get("body"))
        return b if isinstance(b, str) else (b or {}).get("event")

    wait_for_records(d.out, lambda recs: set(want) <= {body_key(lr) for _, _, lr in json_logs(recs)},
                     "all six log records in the output")
    _assert_counters(d, "log_records", "log_records", protocol, 6)
    lp.shutdown()
    d.stop()

    got = json_logs(read_records(d.out))
    assert sorted(body_key(lr) for _, _, lr in got) == sorted(want), "each log exactly once"
    span_ctx = span.get_span_context()
    for res, scope, lr in got:
        r = want[body_key(lr)]
        assert res == sdk_attrs(resource.attributes)
        assert lr.get("severityNumber", 0) == r.severity_number.value
        assert lr.get("severityText", "") == (r.severity_text or "")
        assert int(lr["timeUnixNano"]) == r.timestamp
        assert attrs(lr.get("attributes")) == sdk_attrs(r.attributes)
        if isinstance(r.body, dict):
            assert any_value(lr["body"]) == r.body
            assert scope.get("name") == "otelite.rt.direct" and scope.get("version") == "4.5"
            assert "traceId" not in lr or lr["traceId"] in ("", "0" * 32)
        else:
            assert lr["body"] == {"stringValue": r.body}
            assert lr["traceId"] == hexid(span_ctx.trace_id, 32)
            assert lr["spanId"] == hexid(span_ctx.span_id, 16)
    sev = sorted(lr["severityNumber"] for _, _, lr in got)
    assert sev == [5, 9, 10, 13, 17, 21]


def test_both_transports_counted_separately(otelite):
    """grpc and http clients of one receiver: all spans arrive, counters split by transport."""
    d = otelite.default()
    ids_grpc = send_spans("grpc", d, 3, service="both-grpc")
    ids_http = send_spans("http", d, 4, service="both-http")
    wait_for_spans(d.out, ids_grpc + ids_http)
    wait_metric(d, "otelcol_receiver_accepted_spans_total", 3, receiver="otlp", transport="grpc")
    wait_metric(d, "otelcol_receiver_accepted_spans_total", 4, receiver="otlp", transport="http")
    wait_metric(d, "otelcol_exporter_sent_spans_total", 7, exporter="file")
    d.stop()
    got = json_spans(read_records(d.out))
    assert sorted(sp["spanId"] for _, _, sp in got) == sorted(ids_grpc + ids_http)
    svc = {sp["spanId"]: res["service.name"] for res, _, sp in got}
    assert all(svc[i] == "both-grpc" for i in ids_grpc)
    assert all(svc[i] == "both-http" for i in ids_http)
