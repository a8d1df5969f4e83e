"""Sample OTLP requests with every field set, shared by the fidelity and counting tests."""
from __future__ import annotations

from harness import new_span_id, new_trace_id


def _kv(key, **value):
    from opentelemetry.proto.common.v1 import common_pb2

    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(**value))


def _all_values(prefix=""):
    from opentelemetry.proto.common.v1 import common_pb2

    AV = common_pb2.AnyValue
    return [
        _kv(prefix + "str", string_value="héllo ✓ 日本 \"quoted\" \\ \n\t\u0001"),
        _kv(prefix + "empty_str", string_value=""),
        _kv(prefix + "bool", bool_value=True),
        _kv(prefix + "false", bool_value=False),
        _kv(prefix + "int", int_value=-9223372036854775808),
        _kv(prefix + "int_max", int_value=9223372036854775807),
        _kv(prefix + "zero", int_value=0),
        _kv(prefix + "double", double_value=-0.1),
        _kv(prefix + "tiny", double_value=5e-324),
        _kv(prefix + "bytes", bytes_value=b"\x00\xff\x10binary"),
        _kv(prefix + "array", array_value=common_pb2.ArrayValue(values=[
            AV(string_value="a"), AV(int_value=1), AV(double_value=2.5), AV(bool_value=False),
            AV(array_value=common_pb2.ArrayValue(values=[AV(int_value=7)])),
            AV(kvlist_value=common_pb2.KeyValueList(values=[_kv("nested", string_value="n")])),
        ])),
        _kv(prefix + "kvlist", kvlist_value=common_pb2.KeyValueList(values=[
            _kv("k1", string_value="v1"), _kv("k2", int_value=2)])),
        _kv(prefix + "empty_value"),
    ]


def _resource_and_scope(container, scope_field):
    container.resource.attributes.extend(_all_values("res."))
    container.resource.dropped_attributes_count = 3
    container.schema_url = "https://opentelemetry.io/schemas/1.24.0"
    scoped = getattr(container, scope_field).add()
    scoped.scope.name = "fidelity.scope"
    scoped.scope.version = "1.0.0"
    scoped.scope.attributes.extend([_kv("scope.attr", string_value="s")])
    scoped.scope.dropped_attributes_count = 1
    scoped.schema_url = "https://opentelemetry.io/schemas/1.21.0"
    return scoped


def rich_traces():
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    req = trace_service_pb2.ExportTraceServiceRequest()
    ss = _resource_and_scope(req.resource_spans.add(), "scope_spans")
    tid = new_trace_id()
    root = ss.spans.add(trace_id=tid, span_id=new_span_id(), trace_state="vendor=a,other=b",
                        flags=0x301, name="root ✓", kind=trace_pb2.Span.SPAN_KIND_SERVER,
                        start_time_unix_nano=1_700_000_000_000_000_001,
                        end_time_unix_nano=18_446_744_073_709_551_615,
                        dropped_attributes_count=4, dropped_events_count=5,
                        dropped_links_count=6)
    root.attributes.extend(_all_values())
    ev = root.events.add(time_unix_nano=1_700_000_000_000_000_002, name="event",
                         dropped_attributes_count=1)
    ev.attributes.extend([_kv("e", int_value=1)])
    link = root.links.add(trace_id=new_trace_id(), span_id=new_span_id(), trace_state="l=1",
                          dropped_attributes_count=2, flags=1)
    link.attributes.extend([_kv("l", string_value="x")])
    root.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    root.status.message = "failed ✗"
    for kind in range(6):  # every kind, including UNSPECIFIED (0)
        ss.spans.add(trace_id=tid, span_id=new_span_id(), parent_span_id=root.span_id,
                     name=f"child{kind}", kind=kind, start_time_unix_nano=1, end_time_unix_nano=2)
    ss.spans[1].status.code = trace_pb2.Status.STATUS_CODE_OK
    return req


def rich_metrics():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    req = metrics_service_pb2.ExportMetricsServiceRequest()
    sm = _resource_and_scope(req.resource_metrics.add(), "scope_metrics")
    ex = dict(time_unix_nano=11, span_id=new_span_id(), trace_id=new_trace_id())

    g = sm.metrics.add(name="g", description="a gauge", unit="1")
    g.metadata.extend([_kv("meta", string_value="m")])
    p = g.gauge.data_points.add(start_time_unix_nano=1, time_unix_nano=2, as_int=-5, flags=1)
    p.attributes.extend([_kv("a", string_value="b")])
    e = p.exemplars.add(as_int=3, **ex)
    e.filtered_attributes.extend([_kv("f", bool_value=True)])
    for v in (0.0, -0.5, float("nan"), float("inf"), float("-inf"), 1e300):
        g.gauge.data_points.add(time_unix_nano=3, as_double=v)
    g.gauge.data_points.add(time_unix_nano=3, as_int=0)

    s = sm.metrics.add(name="s", unit="By")
    s.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    s.sum.is_monotonic = True
    s.sum.data_points.add(start_time_unix_nano=1, time_unix_nano=2,
                          as_int=9_223_372_036_854_775_807)

    h = sm.metrics.add(name="h")
    h.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    hp = h.histogram.data_points.add(start_time_unix_nano=1, time_unix_nano=2, count=6, sum=10.5,
                                     bucket_counts=[1, 0, 5], explicit_bounds=[0.5, 10],
                                     min=0.1, max=9.9)
    hp.exemplars.add(as_double=0.25, **ex)

    eh = sm.metrics.add(name="eh")
    eh.exponential_histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    ehp = eh.exponential_histogram.data_points.add(
        start_time_unix_nano=1, time_unix_nano=2, count=10, sum=-3.5, scale=-2, zero_count=1,
        min=-4, max=8, zero_threshold=1e-9, flags=0)
    ehp.positive.offset = -3
    ehp.positive.bucket_counts.extend([1, 2, 3])
    ehp.negative.offset = 2
    ehp.negative.bucket_counts.extend([3])

    su = sm.metrics.add(name="su")
    sp = su.summary.data_points.add(start_time_unix_nano=1, time_unix_nano=2, count=4, sum=8)
    sp.quantile_values.add(quantile=0.0, value=1)
    sp.quantile_values.add(quantile=0.99, value=3.5)
    return req


def rich_logs():
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2

    req = logs_service_pb2.ExportLogsServiceRequest()
    sl = _resource_and_scope(req.resource_logs.add(), "scope_logs")
    lr = sl.log_records.add(time_unix_nano=1_700_000_000_000_000_001,
                            observed_time_unix_nano=1_700_000_000_000_000_002,
                            severity_number=21, severity_text="FATAL", flags=1,
                            trace_id=new_trace_id(), span_id=new_span_id(),
                            dropped_attributes_count=2)
    lr.attributes.extend(_all_values())
    lr.body.kvlist_value.values.extend(_all_values("body."))
    sl.log_records.add(severity_number=9, body=common_pb2.AnyValue(string_value="plain"))
    sl.log_records.add(body=common_pb2.AnyValue(bytes_value=b"\x01\x02"))
    sl.log_records.add()  # an empty record is still a record
    return req
