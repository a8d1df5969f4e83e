"""OTLP/HTTP error answers (400 with google.rpc.Status, 404, 405, 413, 415), and that a bad
request never disturbs good ones nor loses earlier data."""
from __future__ import annotations

import gzip
import json
import socket
import threading

import pytest
import requests

from harness import (json_spans, make_trace_request, post_proto, read_records, running,
                     wait_for_spans)

MALFORMED_PROTO = b"\x0a\x10abc"  # field 1 (resource_spans) says 16 bytes, 3 follow


def _rpc_status_proto(r: requests.Response):
    from google.rpc import status_pb2

    assert r.headers.get("Content-Type", "").startswith("application/x-protobuf"), r.headers
    st = status_pb2.Status.FromString(r.content)
    assert st.code != 0 and st.message, f"a google.rpc.Status with an error code and message: {st}"
    return st


def _rpc_status_json(r: requests.Response):
    from google.protobuf import json_format
    from google.rpc import status_pb2

    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    st = json_format.Parse(r.text, status_pb2.Status())
    assert st.code != 0 and st.message, f"a google.rpc.Status with an error code and message: {r.text}"
    return st


def _bomb(encoding: str) -> bytes:
    """A valid-looking trace request whose body decompresses to ~21 MiB (of zero bytes)."""
    from opentelemetry.proto.common.v1 import common_pb2

    req, _ = make_trace_request(1, service="bomb")
    req.resource_spans[0].scope_spans[0].spans[0].attributes.append(common_pb2.KeyValue(
        key="zeros", value=common_pb2.AnyValue(bytes_value=b"\0" * (21 * 1024 * 1024))))
    raw = req.SerializeToString()
    assert len(raw) > 20 * 1024 * 1024
    if encoding == "gzip":
        return gzip.compress(raw)
    import zstandard

    # streamed: the frame does not declare its content size, so only decompressing tells
    cobj = zstandard.ZstdCompressor().compressobj()
    return cobj.compress(raw) + cobj.flush()


def _bad_request(d, case: str) -> requests.Response:
    url = d.http_base + "/v1/traces"
    proto = {"Content-Type": "application/x-protobuf"}
    js = {"Content-Type": "application/json"}
    if case == "malformed-proto":
        return requests.post(url, data=MALFORMED_PROTO, headers=proto, timeout=10)
    if case == "malformed-proto-metrics":
        return requests.post(d.http_base + "/v1/metrics", data=MALFORMED_PROTO, headers=proto, timeout=10)
    if case == "malformed-proto-logs":
        return requests.post(d.http_base + "/v1/logs", data=MALFORMED_PROTO, headers=proto, timeout=10)
    if case == "malformed-json":
        return requests.post(url, data=b'{"resourceSpans": [', headers=js, timeout=10)
    if case == "json-wrong-schema":
        return requests.post(url, data=b'{"resourceSpans": "not a list"}', headers=js, timeout=10)
    if case == "json-bad-hex-id":
        body = {"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "zz" * 16, "spanId": "00f067aa0ba902b7", "name": "x"}]}]}]}
        return requests.post(url, data=json.dumps(body), headers=js, timeout=10)
    if case == "corrupt-gzip":
        return requests.post(url, data=b"this is not gzip at all",
                             headers={**proto, "Content-Encoding": "gzip"}, timeout=10)
    if case == "unsupported-content-type":
        return requests.post(url, data=b"hello", headers={"Content-Type": "text/plain"}, timeout=10)
    if case in ("gzip-bomb", "zstd-bomb"):
        enc = case.split("-")[0]
        return requests.post(url, data=_bomb(enc), headers={**proto, "Content-Encoding": enc},
                             timeout=30)
    if case == "unknown-path":
        return requests.post(d.http_base + "/v1/nope", data=b"", headers=proto, timeout=10)
    if case == "wrong-method":
        return requests.get(url, timeout=10)
    raise AssertionError(case)


EXPECTED = {
    "malformed-proto": 400, "malformed-proto-metrics": 400, "malformed-proto-logs": 400,
    "malformed-json": 400, "json-wrong-schema": 400, "json-bad-hex-id": 400, "corrupt-gzip": 400,
    "unsupported-content-type": 415, "gzip-bomb": 413, "zstd-bomb": 413,
    "unknown-path": 404, "wrong-method": 405,
}


@pytest.fixture(scope="module")
def shared(module_otelite):
    """One daemon for all the bad-request cases: every case also proves that the data of all
    the cases before it is still there, exactly once."""
    d = module_otelite.default()
    d.acked = []  # type: ignore[attr-defined]
    return d


def _acked_exactly_once(d):
    recs = wait_for_spans(d.out, d.acked)
    got = [s["spanId"] for _, _, s in json_spans(recs)]
    dups = {i for i in got if got.count(i) > 1}
    assert not dups, f"spans written twice: {sorted(dups)[:5]}"
    assert set(got) == set(d.acked), "only acknowledged data is written"


@pytest.mark.parametrize("case", list(EXPECTED))
def test_bad_request_then_good_request(shared, case):
    d = running(shared)
    before, ids_before = make_trace_request(3, service="before")
    assert post_proto(d, "traces", before.SerializeToString()).status_code == 200
    d.acked += ids_before
    _acked_exactly_once(d)

    r = _bad_request(d, case)
    assert r.status_code == EXPECTED[case], (case, r.status_code, r.headers, r.content[:300])
    if case.startswith("malformed-proto") or case == "corrupt-gzip":
        _rpc_status_proto(r)
    elif case.startswith("malformed-json") or case.startswith("json-"):
        _rpc_status_json(r)

    after, ids_after = make_trace_request(3, service="after")
    assert post_proto(d, "traces", after.SerializeToString()).status_code == 200
    d.acked += ids_after
    _acked_exactly_once(d)


def test_bad_clients_do_not_disturb_good_ones(otelite):
    """Malformed requests, a half-sent request held open and raw garbage on other connections
    while a well-behaved client sends: every good request succeeds and arrives."""
    d = otelite.default()
    stop = threading.Event()
    bad_errors: list = []

    def bad_sender():
        s = requests.Session()
        for i in range(200):
            if stop.is_set():
                return
            try:
                if i % 3 == 0:
                    s.post(d.http_base + "/v1/traces", data=MALFORMED_PROTO, timeout=5,
                           headers={"Content-Type": "application/x-protobuf"})
                elif i % 3 == 1:
                    s.post(d.http_base + "/v1/traces", data=b"{{{", timeout=5,
                           headers={"Content-Type": "application/json"})
                else:
                    s.post(d.http_base + "/v1/traces", data=b"x", timeout=5,
                           headers={"Content-Type": "text/plain"})
            except requests.RequestException as exc:  # the bad client's own problem
                bad_errors.append(exc)

    held = []
    # a request whose body never finishes, kept open
    s1 = socket.create_connection(("127.0.0.1", d.ports.http), timeout=5)
    s1.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
               b"Content-Length: 100000\r\n\r\nabc")
    held.append(s1)
    # a connection that sends no HTTP at all
    s2 = socket.create_connection(("127.0.0.1", d.ports.http), timeout=5)
    s2.sendall(b"\x16\x03\x01\x02\x00garbage that is not http\r\n\r\n")
    held.append(s2)
    # and one to the gRPC port that is not HTTP/2
    s3 = socket.create_connection(("127.0.0.1", d.ports.grpc), timeout=5)
    s3.sendall(b"GET / HTTP/1.0\r\n\r\n")
    held.append(s3)

    t = threading.Thread(target=bad_sender, daemon=True)
    t.start()
    try:
        good = requests.Session()
        ids = []
        for _ in range(40):
            req, batch_ids = make_trace_request(2, service="good")
            r = post_proto(d, "traces", req.SerializeToString(), session=good, timeout=5)
            assert r.status_code == 200, r.text
            ids.extend(batch_ids)
        from sdk_helpers import send_spans

        ids.extend(send_spans("grpc", d, 5, service="good-grpc"))
    finally:
        stop.set()
        t.join(timeout=30)
        for s in held:
            s.close()
    wait_for_spans(d.out, ids)
    d.stop()
    got = [s["spanId"] for _, _, s in json_spans(read_records(d.out))]
    assert sorted(got) == sorted(ids)


def _request_of_size(total: int) -> bytes:
    """A valid trace request whose serialized size is exactly `total` bytes."""
    n = total
    for _ in range(6):
        req, _ = make_trace_request(1, service="sized", big_attr=n)
        raw = req.SerializeToString()
        if len(raw) == total:
            return raw
        n += total - len(raw)
    raise AssertionError("could not size the request")


@pytest.mark.parametrize("size,status", [(20 * 1024 * 1024, 200), (20 * 1024 * 1024 + 1, 413)],
                         ids=["exactly-20MiB", "20MiB-plus-1"])
def test_http_body_limit_boundary(shared, size, status):
    """The limit is 20 MiB after decompression: exactly 20 MiB is accepted, one byte more is not."""
    d = running(shared)
    raw = _request_of_size(size)
    r = requests.post(d.http_base + "/v1/traces", data=gzip.compress(raw, compresslevel=1),
                      headers={"Content-Type": "application/x-protobuf",
                               "Content-Encoding": "gzip"}, timeout=60)
    assert r.status_code == status, (r.status_code, r.content[:200])
    if status == 413:
        _rpc_status_proto(r)
