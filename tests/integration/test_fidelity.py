"""Field-by-field fidelity: a request with every OTLP field set goes in (gRPC, HTTP protobuf,
HTTP JSON) and the file exporter's line must be exactly that request in OTLP/JSON: the proto3
JSON mapping (lowerCamelCase, int64/fixed64 as strings, enums as integers, NaN/Infinity as
strings, bytes as base64) except trace and span ids, which are lowercase hex."""
from __future__ import annotations

import base64
import copy
import json
import math

import pytest
import requests

from harness import (grpc_channel, grpc_raw_call, post_proto, read_records, running,
                     wait_for_records)
from otlp_samples import rich_logs, rich_metrics, rich_traces


@pytest.fixture(scope="module")
def shared(module_otelite):
    return module_otelite.default()


def _lines_with(d, marker: str) -> list:
    return [r for r in read_records(d.out) if marker in json.dumps(r)]


def _marker(want: dict) -> str:
    """A trace/span id (random per request) that appears only in this request's line."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ID_KEYS and isinstance(v, str) and v:
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for x in node:
                walk(x)

    walk(want)
    assert found
    return found[0]

ID_KEYS = {"traceId", "spanId", "parentSpanId"}


BUILDERS = {"traces": rich_traces, "metrics": rich_metrics, "logs": rich_logs}
TOP = {"traces": "resourceSpans", "metrics": "resourceMetrics", "logs": "resourceLogs"}


def expected_json(req) -> dict:
    """The OTLP/JSON form of `req`: protobuf's JSON mapping with ids as lowercase hex."""
    from google.protobuf import json_format

    d = json_format.MessageToDict(req, use_integers_for_enums=True,
                                  preserving_proto_field_name=False)

    def fix(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ID_KEYS and isinstance(v, str):
                    node[k] = base64.b64decode(v).hex()
                else:
                    fix(v)
        elif isinstance(node, list):
            for x in node:
                fix(x)

    fix(d)
    return d


def _same(a, b, path="$"):
    """Deep equality that treats JSON numbers by value (1 == 1.0) and NaN == NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{path}: keys differ: only got {set(a) - set(b)}, only expected {set(b) - set(a)}"
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {len(a)} items, expected {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, bool) or isinstance(b, bool):
        assert a is b, f"{path}: {a!r} != {b!r}"
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        assert a == b or (math.isnan(a) and math.isnan(b)), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: got {a!r}, expected {b!r}"


@pytest.mark.parametrize("transport", ["grpc", "http-proto", "http-json"])
@pytest.mark.parametrize("signal_name", ["traces", "metrics", "logs"])
def test_every_field_survives(shared, signal_name, transport):
    d = running(shared)
    req = BUILDERS[signal_name]()
    want = expected_json(req)
    marker = _marker(want)
    if transport == "grpc":
        with grpc_channel(d.grpc_target) as ch:
            grpc_raw_call(ch, signal_name, req.SerializeToString())
    elif transport == "http-proto":
        r = post_proto(d, signal_name, req.SerializeToString())
        assert r.status_code == 200, r.content
    else:
        body = json.dumps(want, ensure_ascii=False).encode()
        r = requests.post(d.http_base + f"/v1/{signal_name}", data=body, timeout=10,
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.content
    wait_for_records(d.out, lambda rs: any(marker in json.dumps(x) for x in rs),
                     f"the {signal_name} line")
    recs = _lines_with(d, marker)
    assert len(recs) == 1, f"one request -> one line, got {len(recs)}"
    assert TOP[signal_name] in recs[0]
    _same(recs[0], want)
    # the raw text: NaN/Infinity must be the strings of the proto3 JSON mapping (a bare NaN is
    # not JSON), and the text must be strict UTF-8
    raw = [l for l in d.out.read_bytes().decode("utf-8").splitlines() if marker in l]
    json.loads(raw[0], parse_constant=lambda c: pytest.fail(f"bare {c} in output"))


def test_unknown_json_fields_are_ignored(shared):
    """OTLP/JSON receivers must ignore fields they do not know, at any level."""
    d = running(shared)
    req = rich_traces()
    body = expected_json(req)
    want = copy.deepcopy(body)
    marker = _marker(want)
    body["someFutureField"] = {"x": [1, 2, {"y": None}]}
    body["resourceSpans"][0]["unknownHere"] = "z"
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["futureSpanField"] = 5
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]["futureKvField"] = True
    r = requests.post(d.http_base + "/v1/traces", data=json.dumps(body), timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.content
    wait_for_records(d.out, lambda rs: any(marker in json.dumps(x) for x in rs), "the line")
    [rec] = _lines_with(d, marker)
    _same(rec, want)
