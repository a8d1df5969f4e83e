"""CORS on the OTLP/HTTP receiver."""
from __future__ import annotations

import requests

import pytest

from harness import make_trace_request, running, wait_for_spans

ALLOWED = "http://allowed.test:8080"


def _with_cors(cfg):
    cfg["receivers"]["otlp"]["protocols"]["http"]["cors"] = {
        "allowed_origins": [ALLOWED, "http://second.test"],
        "allowed_headers": ["X-Custom-Header"],
    }


@pytest.fixture(scope="module")
def cors(module_otelite):
    return module_otelite.default(mutate=_with_cors)


def _preflight(d, origin, req_headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    if req_headers:
        h["Access-Control-Request-Headers"] = req_headers
    return requests.options(d.http_base + "/v1/traces", headers=h, timeout=10)


def test_preflight_allowed_origin(cors):
    d = running(cors)
    r = _preflight(d, ALLOWED, "x-custom-header, content-type")
    assert r.status_code in (200, 204), (r.status_code, r.text)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED, r.headers
    methods = r.headers.get("Access-Control-Allow-Methods", "").upper()
    assert "POST" in methods, r.headers
    allowed_headers = r.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "x-custom-header" in allowed_headers, r.headers
    # the second configured origin as well
    r2 = _preflight(d, "http://second.test")
    assert r2.headers.get("Access-Control-Allow-Origin") == "http://second.test", r2.headers


def test_preflight_disallowed_origin(cors):
    d = running(cors)
    r = _preflight(d, "http://evil.test")
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers
    # a prefix/suffix of an allowed origin is not allowed either
    r = _preflight(d, ALLOWED + ".evil.test")
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers


def test_cors_actual_request(cors):
    d = running(cors)
    req, ids = make_trace_request(2, service="cors")
    r = requests.post(d.http_base + "/v1/traces", data=req.SerializeToString(), timeout=10,
                      headers={"Content-Type": "application/x-protobuf", "Origin": ALLOWED})
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED, r.headers
    req2, ids2 = make_trace_request(2, service="cors-other-origin")
    r = requests.post(d.http_base + "/v1/traces", data=req2.SerializeToString(), timeout=10,
                      headers={"Content-Type": "application/x-protobuf", "Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers
    wait_for_spans(d.out, ids)


def test_no_cors_headers_without_cors_config(otelite):
    d = otelite.default()
    r = _preflight(d, ALLOWED)
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers
