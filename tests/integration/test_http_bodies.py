"""OTLP/HTTP request bodies made by hand: OTLP/JSON (hex ids, int enums, int64 as string and
number, snake_case keys), gzip and zstd protobuf, chunked transfer encoding, custom paths."""
from __future__ import annotations

import gzip
import json
import secrets

import pytest
import requests

from harness import (attrs, json_logs, json_metrics, json_spans, make_trace_request, post_proto,
                     read_records, running, wait_for_records, wait_for_spans, wait_metric)


@pytest.fixture(scope="module")
def shared(module_otelite):
    return module_otelite.default()


def _each_once(recs, ids):
    got = [s["spanId"] for _, _, s in json_spans(recs)]
    for i in ids:
        assert got.count(i) == 1, f"span {i} written {got.count(i)} times"


def _check_json_ok(r: requests.Response):
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict), body
    ps = body.get("partialSuccess") or body.get("partial_success") or {}
    assert int(ps.get("rejectedSpans", 0) or 0) == 0
    assert int(ps.get("rejectedDataPoints", 0) or 0) == 0
    assert int(ps.get("rejectedLogRecords", 0) or 0) == 0


def _check_proto_ok(r: requests.Response, signal_name: str):
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers.get("Content-Type", "").startswith("application/x-protobuf"), r.headers
    cls = {"traces": trace_service_pb2.ExportTraceServiceResponse,
           "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
           "logs": logs_service_pb2.ExportLogsServiceResponse}[signal_name]
    resp = cls.FromString(r.content)  # must parse
    assert not resp.HasField("partial_success") or resp.partial_success.error_message == ""


def _json_trace_body(tid: str, sid: str, psid: str, link_tid: str, link_sid: str) -> dict:
    return {"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "json-svc"}},
            {"key": "host.count", "value": {"intValue": 3}},
        ]},
        "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
        "scopeSpans": [{
            "scope": {"name": "json-scope", "version": "7.0"},
            "spans": [{
                # ids in upper case: OTLP/JSON hex ids are case-insensitive
                "traceId": tid.upper(), "spanId": sid.upper(), "parentSpanId": psid,
                "name": "json-span", "kind": 3,
                "startTimeUnixNano": "1700000000000000001",
                "endTimeUnixNano": 1700000000000000999,  # a number beyond 2^53, exact
                "attributes": [
                    {"key": "s", "value": {"stringValue": "v"}},
                    {"key": "i_str", "value": {"intValue": "9007199254740993"}},
                    {"key": "i_num", "value": {"intValue": -42}},
                    {"key": "d", "value": {"doubleValue": 1.5}},
                    {"key": "b", "value": {"boolValue": True}},
                    {"key": "arr", "value": {"arrayValue": {"values": [
                        {"stringValue": "x"}, {"intValue": "1"}]}}},
                    {"key": "kv", "value": {"kvlistValue": {"values": [
                        {"key": "in", "value": {"boolValue": False}}]}}},
                    {"key": "raw", "value": {"bytesValue": "AAEC"}},
                ],
                "events": [{"timeUnixNano": "1700000000000000500", "name": "ev",
                            "attributes": [{"key": "e", "value": {"intValue": "5"}}]}],
                "links": [{"traceId": link_tid, "spanId": link_sid,
                           "attributes": [{"key": "l", "value": {"stringValue": "y"}}]}],
                "status": {"code": 2, "message": "json-error"},
            }],
        }],
    }]}


def test_json_traces(otelite):
    d = otelite.default()
    tid, sid, psid = secrets.token_hex(16), secrets.token_hex(8), secrets.token_hex(8)
    ltid, lsid = secrets.token_hex(16), secrets.token_hex(8)
    r = requests.post(d.http_base + "/v1/traces", json=_json_trace_body(tid, sid, psid, ltid, lsid),
                      timeout=10)
    _check_json_ok(r)
    recs = wait_for_spans(d.out, [sid])
    [(res, scope, sp)] = json_spans(recs)
    assert res == {"service.name": "json-svc", "host.count": 3}
    assert (scope.get("name"), scope.get("version")) == ("json-scope", "7.0")
    assert sp["traceId"] == tid and sp["spanId"] == sid and sp["parentSpanId"] == psid
    assert sp["name"] == "json-span" and sp["kind"] == 3
    assert sp["startTimeUnixNano"] == "1700000000000000001"  # 64-bit ints as decimal strings
    assert sp["endTimeUnixNano"] == "1700000000000000999"
    a = {kv["key"]: kv["value"] for kv in sp["attributes"]}
    assert a["i_str"] == {"intValue": "9007199254740993"}
    assert a["i_num"] == {"intValue": "-42"}
    assert attrs(sp["attributes"]) == {
        "s": "v", "i_str": 9007199254740993, "i_num": -42, "d": 1.5, "b": True,
        "arr": ["x", 1], "kv": {"in": False}, "raw": b"\x00\x01\x02"}
    assert [(e["timeUnixNano"], e["name"], e["attributes"]) for e in sp["events"]] == \
        [("1700000000000000500", "ev", [{"key": "e", "value": {"intValue": "5"}}])]
    assert [(l["traceId"], l["spanId"], attrs(l.get("attributes"))) for l in sp["links"]] == \
        [(ltid, lsid, {"l": "y"})]
    assert (sp["status"].get("code"), sp["status"].get("message")) == (2, "json-error")
    wait_metric(d, "otelcol_receiver_accepted_spans_total", 1, receiver="otlp", transport="http")


def test_json_traces_snake_case_keys(otelite):
    d = otelite.default()
    tid, sid = secrets.token_hex(16), secrets.token_hex(8)
    body = {"resource_spans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "snake"}}]},
        "scope_spans": [{"scope": {"name": "snake-scope"}, "spans": [{
            "trace_id": tid, "span_id": sid, "name": "snake-span", "kind": 2,
            "start_time_unix_nano": "1700000000000000001", "end_time_unix_nano": 1700000000000000002,
            "attributes": [{"key": "n", "value": {"int_value": "12"}},
                           {"key": "f", "value": {"double_value": 2.5}}],
            "status": {"code": 1},
        }]}],
    }]}
    r = requests.post(d.http_base + "/v1/traces", data=json.dumps(body),
                      headers={"Content-Type": "application/json"}, timeout=10)
    _check_json_ok(r)
    recs = wait_for_spans(d.out, [sid])
    [(res, scope, sp)] = json_spans(recs)
    assert res == {"service.name": "snake"}
    assert sp["traceId"] == tid and sp["name"] == "snake-span" and sp["kind"] == 2
    assert sp["startTimeUnixNano"] == "1700000000000000001"
    assert sp["endTimeUnixNano"] == "1700000000000000002"
    assert attrs(sp["attributes"]) == {"n": 12, "f": 2.5}
    assert sp["status"].get("code") == 1


def test_json_metrics(otelite):
    d = otelite.default()
    body = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-m"}}]},
        "scopeMetrics": [{"scope": {"name": "jm"}, "metrics": [
            {"name": "json.sum", "unit": "By", "description": "bytes",
             "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": [
                 {"startTimeUnixNano": "1700000000000000000", "timeUnixNano": "1700000000000000010",
                  "asInt": "12345678901234567"},
                 {"timeUnixNano": 1700000000000000020, "asInt": 7,
                  "attributes": [{"key": "k", "value": {"stringValue": "v"}}]}]}},
            {"name": "json.gauge", "gauge": {"dataPoints": [
                {"timeUnixNano": "1700000000000000030", "asDouble": 0.5}]}},
            {"name": "json.hist", "histogram": {"aggregationTemporality": 2, "dataPoints": [
                {"timeUnixNano": "1700000000000000040", "count": "3", "sum": 6.0,
                 "bucketCounts": ["1", 2], "explicitBounds": [1.0]}]}},
        ]}],
    }]}
    _check_json_ok(requests.post(d.http_base + "/v1/metrics", json=body, timeout=10))
    recs = wait_for_records(d.out, lambda r: len(json_metrics(r)) >= 3, "three json metrics")
    got = {m["name"]: m for _, _, m in json_metrics(recs)}
    assert set(got) == {"json.sum", "json.gauge", "json.hist"}
    s = got["json.sum"]
    assert s["unit"] == "By" and s["description"] == "bytes"
    assert s["sum"]["aggregationTemporality"] == 1 and s["sum"]["isMonotonic"] is True
    p0, p1 = s["sum"]["dataPoints"]
    assert p0["asInt"] == "12345678901234567" and p0["startTimeUnixNano"] == "1700000000000000000"
    assert p0["timeUnixNano"] == "1700000000000000010"
    assert p1["asInt"] == "7" and p1["timeUnixNano"] == "1700000000000000020"
    assert attrs(p1["attributes"]) == {"k": "v"}
    assert got["json.gauge"]["gauge"]["dataPoints"][0]["asDouble"] == 0.5
    h = got["json.hist"]["histogram"]
    assert h["aggregationTemporality"] == 2
    [hp] = h["dataPoints"]
    assert hp["count"] == "3" and float(hp["sum"]) == 6.0
    assert hp["bucketCounts"] == ["1", "2"] and hp["explicitBounds"] == [1.0]
    wait_metric(d, "otelcol_receiver_accepted_metric_points_total", 4, receiver="otlp",
                transport="http")


def test_json_logs(otelite):
    d = otelite.default()
    tid, sid = secrets.token_hex(16), secrets.token_hex(8)
    body = {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-l"}}]},
        "scopeLogs": [{"scope": {"name": "jl"}, "logRecords": [
            {"timeUnixNano": "1700000000000000001", "observedTimeUnixNano": 1700000000000000002,
             "severityNumber": 17, "severityText": "ERROR",
             "body": {"stringValue": "json log one"},
             "attributes": [{"key": "a", "value": {"intValue": "1"}}],
             "traceId": tid, "spanId": sid, "flags": 1},
            {"timeUnixNano": "1700000000000000003", "severityNumber": 9,
             "body": {"kvlistValue": {"values": [{"key": "msg", "value": {"stringValue": "two"}}]}}},
        ]}],
    }]}
    _check_json_ok(requests.post(d.http_base + "/v1/logs", json=body, timeout=10))
    recs = wait_for_records(d.out, lambda r: len(json_logs(r)) >= 2, "two json logs")
    (_, scope, l1), (_, _, l2) = json_logs(recs)
    assert scope.get("name") == "jl"
    assert l1["timeUnixNano"] == "1700000000000000001"
    assert l1["observedTimeUnixNano"] == "1700000000000000002"
    assert l1["severityNumber"] == 17 and l1["severityText"] == "ERROR"
    assert l1["body"] == {"stringValue": "json log one"}
    assert attrs(l1["attributes"]) == {"a": 1}
    assert l1["traceId"] == tid and l1["spanId"] == sid and l1.get("flags") == 1
    assert l2["severityNumber"] == 9
    assert l2["body"] == {"kvlistValue": {"values": [{"key": "msg", "value": {"stringValue": "two"}}]}}
    wait_metric(d, "otelcol_receiver_accepted_log_records_total", 2, receiver="otlp",
                transport="http")


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
@pytest.mark.parametrize("content", ["proto", "json"])
def test_compressed_bodies(shared, encoding, content):
    import zstandard

    d = running(shared)
    req, ids = make_trace_request(5, service=f"{content}-{encoding}")
    if content == "proto":
        raw, ctype = req.SerializeToString(), "application/x-protobuf"
    else:
        trace_id = req.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
        raw = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": trace_id, "spanId": i, "name": f"c{n}", "kind": 1,
             "startTimeUnixNano": "1", "endTimeUnixNano": "2"} for n, i in enumerate(ids)]}]}]}).encode()
        ctype = "application/json"
    body = gzip.compress(raw) if encoding == "gzip" else zstandard.ZstdCompressor().compress(raw)
    r = requests.post(d.http_base + "/v1/traces", data=body, timeout=10,
                      headers={"Content-Type": ctype, "Content-Encoding": encoding})
    if content == "proto":
        _check_proto_ok(r, "traces")
    else:
        _check_json_ok(r)
    _each_once(wait_for_spans(d.out, ids), ids)


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_chunked_transfer_encoding(shared, encoding):
    d = running(shared)
    req, ids = make_trace_request(50, service="chunked")
    raw = req.SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}
    if encoding:
        raw = gzip.compress(raw)
        headers["Content-Encoding"] = encoding

    def chunks():
        for i in range(0, len(raw), 97):
            yield raw[i:i + 97]

    # a generator body makes requests send Transfer-Encoding: chunked with no Content-Length
    prepared = requests.Request("POST", d.http_base + "/v1/traces", data=chunks(),
                                headers=headers).prepare()
    assert prepared.headers.get("Transfer-Encoding") == "chunked"
    r = requests.Session().send(prepared, timeout=10)
    _check_proto_ok(r, "traces")
    _each_once(wait_for_spans(d.out, ids), ids)


@pytest.mark.parametrize("signal_name", ["traces", "metrics", "logs"])
def test_protobuf_response_per_signal(shared, signal_name):
    """Each signal's protobuf endpoint answers a parseable Export*ServiceResponse."""
    from harness import make_logs_request, make_metrics_request

    d = running(shared)
    req = {"traces": lambda: make_trace_request(2)[0], "metrics": lambda: make_metrics_request(2)[0],
           "logs": lambda: make_logs_request(2)[0]}[signal_name]()
    _check_proto_ok(post_proto(d, signal_name, req.SerializeToString()), signal_name)


def test_large_body_under_limit_is_accepted(shared):
    """6 MiB over HTTP is fine: only the 20 MiB HTTP limit applies (not gRPC's 4 MiB)."""
    d = running(shared)
    req, ids = make_trace_request(1, service="big", big_attr=6 * 1024 * 1024)
    r = post_proto(d, "traces", req.SerializeToString(), timeout=30)
    _check_proto_ok(r, "traces")
    recs = wait_for_spans(d.out, ids, timeout=30)
    _each_once(recs, ids)
    [sp] = [sp for _, _, sp in json_spans(recs) if sp["spanId"] == ids[0]]
    assert len(attrs(sp["attributes"])["big"]) == 6 * 1024 * 1024


def test_custom_url_paths(otelite):
    from harness import make_logs_request, make_metrics_request

    def mutate(cfg):
        cfg["receivers"]["otlp"]["protocols"]["http"].update({
            "traces_url_path": "/custom/t", "metrics_url_path": "/custom/m",
            "logs_url_path": "/custom/l"})

    d = otelite.default(mutate=mutate)
    treq, ids = make_trace_request(2)
    mreq, mname = make_metrics_request(3, name="custom.path.metric")
    lreq, bodies = make_logs_request(2)
    _check_proto_ok(post_proto(d, "traces", treq.SerializeToString(), path="/custom/t"), "traces")
    _check_proto_ok(post_proto(d, "metrics", mreq.SerializeToString(), path="/custom/m"), "metrics")
    _check_proto_ok(post_proto(d, "logs", lreq.SerializeToString(), path="/custom/l"), "logs")
    assert post_proto(d, "traces", treq.SerializeToString()).status_code == 404
    recs = wait_for_records(
        d.out, lambda r: set(ids) <= {s["spanId"] for _, _, s in json_spans(r)}
        and mname in {m["name"] for _, _, m in json_metrics(r)}
        and set(bodies) <= {lr["body"].get("stringValue") for _, _, lr in json_logs(r)},
        "spans, metric and logs sent to the custom paths")
    d.stop()
    recs = read_records(d.out)
    assert sorted(s["spanId"] for _, _, s in json_spans(recs)) == sorted(ids), \
        "the request to the default path (404) must not be delivered"
