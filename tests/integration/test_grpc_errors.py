"""OTLP/gRPC error codes: INVALID_ARGUMENT for bytes that are not a request, RESOURCE_EXHAUSTED
over max_recv_msg_size_mib; a good request right after still succeeds and earlier data stays."""
from __future__ import annotations

import grpc
import pytest

from harness import (grpc_channel, grpc_raw_call, json_spans, make_logs_request,
                     make_metrics_request, make_trace_request, read_records, wait_for_spans)

MALFORMED = b"\x0a\x10abc"


def _send_good(d, channel, service):
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    req, ids = make_trace_request(3, service=service)
    resp = grpc_raw_call(channel, "traces", req.SerializeToString())
    trace_service_pb2.ExportTraceServiceResponse.FromString(resp)
    return ids


@pytest.mark.parametrize("signal_name", ["traces", "metrics", "logs"])
def test_garbage_is_invalid_argument(otelite, signal_name):
    d = otelite.default()
    with grpc_channel(d.grpc_target) as ch:
        ids_before = _send_good(d, ch, "before")
        wait_for_spans(d.out, ids_before)
        with pytest.raises(grpc.RpcError) as ei:
            grpc_raw_call(ch, signal_name, MALFORMED)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, ei.value
        # the same channel (same HTTP/2 connection) still works
        ids_after = _send_good(d, ch, "after")
    # and so does a fresh client
    from sdk_helpers import send_spans

    ids_sdk = send_spans("grpc", d, 2, service="fresh")
    wait_for_spans(d.out, ids_after + ids_sdk)
    d.stop()
    got = [s["spanId"] for _, _, s in json_spans(read_records(d.out))]
    assert sorted(got) == sorted(ids_before + ids_after + ids_sdk)


def _big_request(signal_name: str, size: int) -> bytes:
    from opentelemetry.proto.common.v1 import common_pb2

    if signal_name == "traces":
        req, _ = make_trace_request(1, service="big", big_attr=size)
    elif signal_name == "metrics":
        req, _ = make_metrics_request(1, name="big.metric")
        req.resource_metrics[0].resource.attributes.append(common_pb2.KeyValue(
            key="big", value=common_pb2.AnyValue(string_value="m" * size)))
    else:
        req, _ = make_logs_request(1)
        req.resource_logs[0].scope_logs[0].log_records[0].body.string_value = "l" * size
    return req.SerializeToString()


@pytest.mark.parametrize("signal_name", ["traces", "metrics", "logs"])
def test_over_max_recv_msg_size_is_resource_exhausted(otelite, signal_name):
    def mutate(cfg):
        cfg["receivers"]["otlp"]["protocols"]["grpc"]["max_recv_msg_size_mib"] = 1

    d = otelite.default(mutate=mutate)
    with grpc_channel(d.grpc_target) as ch:
        # under the limit: accepted
        small, small_ids = make_trace_request(1, service="under", big_attr=900 * 1024)
        grpc_raw_call(ch, "traces", small.SerializeToString())
        wait_for_spans(d.out, small_ids)
        with pytest.raises(grpc.RpcError) as ei:
            grpc_raw_call(ch, signal_name, _big_request(signal_name, 2 * 1024 * 1024))
        assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, ei.value
        ids_after = _send_good(d, ch, "after")
    wait_for_spans(d.out, ids_after)
    d.stop()
    got = [s["spanId"] for _, _, s in json_spans(read_records(d.out))]
    assert sorted(got) == sorted(small_ids + ids_after), "the refused request is not delivered"


def test_default_max_recv_msg_size_is_4_mib(otelite):
    d = otelite.default()
    with grpc_channel(d.grpc_target) as ch:
        req, ids = make_trace_request(1, service="3mib", big_attr=3 * 1024 * 1024)
        grpc_raw_call(ch, "traces", req.SerializeToString())
        with pytest.raises(grpc.RpcError) as ei:
            grpc_raw_call(ch, "traces", _big_request("traces", 5 * 1024 * 1024))
        assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, ei.value
    wait_for_spans(d.out, ids, timeout=30)
