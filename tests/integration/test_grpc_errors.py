"""OTLP/gRPC error codes: INVALID_ARGUMENT for bytes that are not a request, RESOURCE_EXHAUSTED
over max_recv_msg_size_mib; a good request right after still succeeds and earlier data stays."""
from __future__ import annotations

import grpc
import pytest

from harness import (grpc_channel, grpc_raw_call, json_spans, make_logs_request,
                     make_metrics_request, make_trace_request, running, wait_for_spans)

MALFORMED = b"\x0a\x10abc"


@pytest.fixture(scope="module")
def shared(module_otelite):
    d = module_otelite.default()
    d.acked = []  # type: ignore[attr-defined]
    return d


@pytest.fixture(scope="module")
def limited(module_otelite):
    def mutate(cfg):
        cfg["receivers"]["otlp"]["protocols"]["grpc"]["max_recv_msg_size_mib"] = 1

    d = module_otelite.default(mutate=mutate)
    d.acked = []  # type: ignore[attr-defined]
    return d


def _send_good(d, channel, service):
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    req, ids = make_trace_request(3, service=service)
    resp = grpc_raw_call(channel, "traces", req.SerializeToString())
    trace_service_pb2.ExportTraceServiceResponse.FromString(resp)
    d.acked += ids
    return ids


def _acked_exactly_once(d):
    recs = wait_for_spans(d.out, d.acked)
    got = [s["spanId"] for _, _, s in json_spans(recs)]
    assert len(got) == len(set(got)), "no span written twice"
    assert set(got) == set(d.acked), "only acknowledged data is written"


@pytest.mark.parametrize("signal_name", ["traces", "metrics", "logs"])
def test_garbage_is_invalid_argument(shared, signal_name):
    d = running(shared)
    with grpc_channel(d.grpc_target) as ch:
        _send_good(d, ch, "before")
        _acked_exactly_once(d)
        with pytest.raises(grpc.RpcError) as ei:
            grpc_raw_call(ch, signal_name, MALFORMED)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, ei.value
        # the same channel (same HTTP/2 connection) still works
        _send_good(d, ch, "after")
    # and so does a fresh client
    from sdk_helpers import send_spans

    d.acked += send_spans("grpc", d, 2, service="fresh")
    _acked_exactly_once(d)


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
def test_over_max_recv_msg_size_is_resource_exhausted(limited, signal_name):
    d = running(limited)
    with grpc_channel(d.grpc_target) as ch:
        # under the limit: accepted
        small, small_ids = make_trace_request(1, service="under", big_attr=900 * 1024)
        grpc_raw_call(ch, "traces", small.SerializeToString())
        d.acked += small_ids
        _acked_exactly_once(d)
        with pytest.raises(grpc.RpcError) as ei:
            grpc_raw_call(ch, signal_name, _big_request(signal_name, 2 * 1024 * 1024))
        assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, ei.value
        _send_good(d, ch, "after")
    _acked_exactly_once(d)  # the refused request is not delivered


def test_default_max_recv_msg_size_is_4_mib(shared):
    d = running(shared)
    with grpc_channel(d.grpc_target) as ch:
        req, ids = make_trace_request(1, service="3mib", big_attr=3 * 1024 * 1024)
        grpc_raw_call(ch, "traces", req.SerializeToString())
        d.acked += ids
        with pytest.raises(grpc.RpcError) as ei:
            grpc_raw_call(ch, "traces", _big_request("traces", 5 * 1024 * 1024))
        assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, ei.value
    _acked_exactly_once(d)
