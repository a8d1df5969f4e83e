"""Hostile or unusual clients: a request must get an answer (or a closed connection) and never
take the daemon down or hold it past its shutdown deadline; ordinary HTTP and gRPC client
features (compression, 100-continue, pipelining, query strings, Content-Type parameters) work."""
from __future__ import annotations

import json
import socket
import threading
import time

import grpc
import pytest
import requests

from harness import (grpc_channel, grpc_raw_call, json_spans, make_trace_request, post_proto,
                     read_records, running, wait_for_spans)


@pytest.fixture(scope="module")
def shared(module_otelite):
    """One daemon for the tests here that neither crash it nor stop it."""
    return module_otelite.default()


def _alive_and_working(d):
    """The daemon is still running and a new client is served end to end."""
    assert d.running(), f"otelite died (rc {d.proc.poll()})\n{d.stderr()[-3000:]}"
    req, ids = make_trace_request(2, service="after")
    r = post_proto(d, "traces", req.SerializeToString())
    assert r.status_code == 200
    wait_for_spans(d.out, ids)
    return ids


def _nested_json(depth: int) -> bytes:
    # an unknown field holding a deeply nested array: valid JSON, ~2 bytes per level
    return (b'{"resourceSpans":[],"futureField":' + b"[" * depth + b"1" + b"]" * depth + b"}")


def _nested_anyvalue_json(depth: int) -> bytes:
    v = '{"stringValue":"x"}'
    for _ in range(depth):
        v = '{"arrayValue":{"values":[' + v + ']}}'
    return ('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"%s",'
            '"name":"deep","attributes":[{"key":"a","value":%s}]}]}]}]}'
            % ("ab" * 16, "cd" * 8, v)).encode()


@pytest.mark.parametrize("body", [
    pytest.param(_nested_json(100_000), id="nested-arrays-100k"),
    pytest.param(_nested_anyvalue_json(20_000), id="nested-anyvalue-20k"),
    pytest.param(b"[" * 200_000, id="unclosed-brackets"),
])
def test_deeply_nested_json_is_rejected_not_fatal(otelite, body):
    """A small (< 1 MiB) but deeply nested JSON body is a bad request, not a crash."""
    d = otelite.default()
    try:
        r = requests.post(d.http_base + "/v1/traces", data=body, timeout=30,
                          headers={"Content-Type": "application/json"})
        status = r.status_code
    except requests.ConnectionError as exc:
        status = f"no answer ({exc!r})"
    assert status == 400, f"expected 400, got {status}; daemon running: {d.running()}"
    _alive_and_working(d)


def test_deeply_nested_protobuf_is_rejected(otelite):
    def ld(field, payload):
        n, out = len(payload), b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | 0x80]) if n else bytes([b])
            if not n:
                break
        return bytes([(field << 3) | 2]) + out + payload

    v = ld(1, b"x")
    for _ in range(5000):
        v = ld(5, ld(1, v))  # AnyValue.array_value -> ArrayValue.values -> AnyValue
    span = ld(1, bytes(16)) + ld(2, bytes(8)) + ld(5, b"deep") + ld(9, ld(1, b"a") + ld(2, v))
    body = ld(1, ld(2, ld(2, span)))
    d = otelite.default()
    assert post_proto(d, "traces", body).status_code == 400
    with grpc_channel(d.grpc_target) as ch, pytest.raises(grpc.RpcError) as ei:
        grpc_raw_call(ch, "traces", body)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _alive_and_working(d)


def test_invalid_utf8_in_protobuf_string(otelite):
    """A protobuf string field with invalid UTF-8: rejected (400), and the output file stays
    valid UTF-8 JSON."""
    d = otelite.default()
    req, ids = make_trace_request(1, name_prefix="XXXX")
    raw = req.SerializeToString().replace(b"XXXX-0", b"\xff\xfe\xfd\xfc-0")
    r = post_proto(d, "traces", raw)
    assert r.status_code == 400, r.status_code
    after = _alive_and_working(d)
    d.stop()
    text = d.out.read_bytes().decode("utf-8")  # strict
    got = [s["spanId"] for _, _, s in json_spans([json.loads(l) for l in text.splitlines()])]
    assert sorted(got) == sorted(after)


def _recv_status_line(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n" not in data and time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        except ConnectionError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_content_length_over_limit_gets_413(otelite):
    """A body announced (Content-Length) larger than 20 MiB is answered 413, before or after
    the server reads it; the client must see the 413, not a silently closed connection."""
    d = otelite.default()
    s = socket.create_connection(("127.0.0.1", d.ports.http), timeout=10)
    size = 21 * 1024 * 1024
    s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: otelite\r\n"
              b"Content-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n" % size)
    s.settimeout(1.0)
    early = b""
    try:
        early = s.recv(4096)
    except socket.timeout:
        pass
    answer = early
    if not early:  # no early answer and not closed: send the body, then read
        try:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(21):
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _recv_status_line(s, 10)
    s.close()
    assert answer.startswith(b"HTTP/1.1 413"), f"got {answer[:200]!r} (empty = closed)"
    _alive_and_working(d)


def test_oversized_headers_get_431(shared):
    d = running(shared)
    r = requests.post(d.http_base + "/v1/traces", data=b"", timeout=10,
                      headers={"Content-Type": "application/x-protobuf", "X-Big": "a" * 200_000})
    assert r.status_code == 431, r.status_code
    _alive_and_working(d)


def test_chunked_body_over_limit_gets_413_with_a_status_body(shared):
    """A chunked body has no Content-Length to check up front: the limit is hit while reading,
    and the answer is still an OTLP google.rpc.Status in the request's encoding."""
    from google.rpc import status_pb2

    d = running(shared)

    def chunks():
        block = b"\0" * (1024 * 1024)
        for _ in range(21):  # 21 MiB, over the 20 MiB default
            yield block

    try:
        r = requests.post(d.http_base + "/v1/traces", data=chunks(), timeout=30,
                          headers={"Content-Type": "application/x-protobuf"})
    except requests.ConnectionError as exc:  # the server may close while we still send
        pytest.fail(f"no answer: {exc!r}")
    assert r.status_code == 413, r.status_code
    assert r.headers["Content-Type"] == "application/x-protobuf"
    status = status_pb2.Status.FromString(r.content)
    assert status.code == 8 and "limit" in status.message, status
    _alive_and_working(d)


def test_shutdown_deadline_with_a_stalled_request(otelite):
    """A client that stops half-way through its body must not hold the daemon past
    service.shutdown_timeout (1s here; 3s of slack for process teardown)."""
    def mutate(cfg):
        cfg["service"]["shutdown_timeout"] = "1s"

    d = otelite.default(mutate=mutate)
    req, ids = make_trace_request(2)
    assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
    s = socket.create_connection(("127.0.0.1", d.ports.http), timeout=10)
    s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: otelite\r\nExpect: 100-continue\r\n"
              b"Content-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n")
    # the 100 Continue proves the server is now waiting for this body
    assert _recv_status_line(s, 5).startswith(b"HTTP/1.1 100"), "no 100 Continue"
    s.sendall(b"\x0a\x05ab")
    try:
        t0 = time.monotonic()
        d.send_signal()
        rc = d.wait_exit(timeout=30)
        took = time.monotonic() - t0
    finally:
        s.close()
    assert rc == 0
    assert took <= 4.0, f"exit took {took:.1f}s with shutdown_timeout 1s"
    got = [sp["spanId"] for _, _, sp in json_spans(read_records(d.out))]
    assert sorted(got) == sorted(ids)


def test_shutdown_with_idle_connections(otelite):
    """Idle keep-alive HTTP connections and an idle gRPC channel do not delay the exit."""
    def mutate(cfg):
        cfg["service"]["shutdown_timeout"] = "1s"

    d = otelite.default(mutate=mutate)
    sess = requests.Session()
    req, ids = make_trace_request(2)
    assert post_proto(d, "traces", req.SerializeToString(), session=sess).status_code == 200
    ch = grpc_channel(d.grpc_target)
    req2, ids2 = make_trace_request(2)
    grpc_raw_call(ch, "traces", req2.SerializeToString())
    try:
        t0 = time.monotonic()
        d.send_signal()
        rc = d.wait_exit(timeout=30)
        took = time.monotonic() - t0
    finally:
        ch.close()
        sess.close()
    assert rc == 0
    assert took <= 4.0, f"exit took {took:.1f}s with shutdown_timeout 1s"
    got = [sp["spanId"] for _, _, sp in json_spans(read_records(d.out))]
    assert sorted(got) == sorted(ids + ids2)


def test_many_concurrent_clients(otelite):
    """32 HTTP and 8 gRPC clients at once, 10 requests each: all answered 200/OK, all stored."""
    d = otelite.default()
    ok: list[str] = []
    failures: list = []
    lock = threading.Lock()

    def http_client():
        s = requests.Session()
        for _ in range(10):
            req, ids = make_trace_request(5)
            try:
                r = post_proto(d, "traces", req.SerializeToString(), session=s, timeout=20)
                if r.status_code != 200:
                    failures.append(r.status_code)
                    continue
            except requests.RequestException as exc:
                failures.append(exc)
                continue
            with lock:
                ok.extend(ids)

    def grpc_client():
        with grpc_channel(d.grpc_target) as ch:
            for _ in range(10):
                req, ids = make_trace_request(5)
                try:
                    grpc_raw_call(ch, "traces", req.SerializeToString(), timeout=20)
                except grpc.RpcError as exc:
                    failures.append(exc.code())
                    continue
                with lock:
                    ok.extend(ids)

    threads = [threading.Thread(target=http_client) for _ in range(32)]
    threads += [threading.Thread(target=grpc_client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures[:5]
    assert len(ok) == 40 * 10 * 5
    wait_for_spans(d.out, ok, timeout=30)
    d.stop()
    got = [s["spanId"] for _, _, s in json_spans(read_records(d.out))]
    assert sorted(got) == sorted(ok)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_gzip_compression(shared, protocol):
    """The SDK exporters' compression=gzip (gRPC message compression; HTTP Content-Encoding)."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as G
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as H
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

    d = running(shared)
    if protocol == "grpc":
        exp = G(endpoint=d.grpc_target, insecure=True, compression=grpc.Compression.Gzip,
                timeout=10)
    else:
        exp = H(endpoint=d.http_base + "/v1/traces", compression=HttpCompression.Gzip, timeout=10)
    results = []
    orig = exp.export
    exp.export = lambda spans: results.append(orig(spans)) or results[-1]
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exp))
    ids = []
    for i in range(3):
        with tp.get_tracer("gz").start_as_current_span(f"gz{i}") as sp:
            ids.append(format(sp.get_span_context().span_id, "016x"))
    tp.shutdown()
    assert results == [SpanExportResult.SUCCESS] * 3
    wait_for_spans(d.out, ids)


def test_grpc_compressed_message_over_limit(otelite):
    """max_recv_msg_size_mib limits the message after decompression: 2 MiB of zeros gzip to a
    few KiB but are still over a 1 MiB limit."""
    def mutate(cfg):
        cfg["receivers"]["otlp"]["protocols"]["grpc"]["max_recv_msg_size_mib"] = 1

    d = otelite.default(mutate=mutate)
    req, _ = make_trace_request(1, big_attr=2 * 1024 * 1024)
    with grpc_channel(d.grpc_target) as ch, pytest.raises(grpc.RpcError) as ei:
        ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                       request_serializer=lambda b: b, response_deserializer=lambda b: b)(
            req.SerializeToString(), timeout=10, compression=grpc.Compression.Gzip)
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    _alive_and_working(d)


def test_grpc_unknown_method_is_unimplemented(shared):
    d = running(shared)
    with grpc_channel(d.grpc_target) as ch, pytest.raises(grpc.RpcError) as ei:
        ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
                       request_serializer=lambda b: b, response_deserializer=lambda b: b)(
            b"", timeout=10)
    assert ei.value.code() == grpc.StatusCode.UNIMPLEMENTED
    _alive_and_working(d)


def test_expect_100_continue(shared):
    d = running(shared)
    req, ids = make_trace_request(2)
    body = req.SerializeToString()
    s = socket.create_connection(("127.0.0.1", d.ports.http), timeout=10)
    s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: otelite\r\nExpect: 100-continue\r\n"
              b"Content-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n" % len(body))
    assert _recv_status_line(s, 5).startswith(b"HTTP/1.1 100")
    s.sendall(body)
    assert _recv_status_line(s, 10).startswith(b"HTTP/1.1 200")
    s.close()
    wait_for_spans(d.out, ids)


def _read_until_close(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes (True) or `timeout` passes (False)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def test_http_pipelining(shared):
    """Three requests written back to back on one connection get three answers, in order;
    the last asks to close the connection and the server closes it."""
    d = running(shared)
    reqs = [make_trace_request(1) for _ in range(3)]
    wire = b""
    for n, (req, _) in enumerate(reqs):
        body = req.SerializeToString()
        close = b"Connection: close\r\n" if n == 2 else b""
        wire += (b"POST /v1/traces HTTP/1.1\r\nHost: otelite\r\n" + close +
                 b"Content-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n" % len(body)
                 + body)
    s = socket.create_connection(("127.0.0.1", d.ports.http), timeout=10)
    s.sendall(wire)
    data, closed = _read_until_close(s, 10)
    s.close()
    statuses = [line.split(b" ")[1] for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
    assert statuses == [b"200", b"200", b"200"], data[:500]
    assert closed, "connection left open after Connection: close"
    wait_for_spans(d.out, [i for _, ids in reqs for i in ids])


_CLOSE_CASES = {
    "200": b"POST /v1/traces HTTP/1.1\r\nHost: o\r\nConnection: close\r\n"
           b"Content-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
    "400": b"POST /v1/traces HTTP/1.1\r\nHost: o\r\nConnection: close\r\n"
           b"Content-Type: application/x-protobuf\r\nContent-Length: 3\r\n\r\nabc",
    "404": b"POST /nope HTTP/1.1\r\nHost: o\r\nConnection: close\r\n"
           b"Content-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
    "405": b"GET /v1/traces HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n",
    "415": b"POST /v1/traces HTTP/1.1\r\nHost: o\r\nConnection: close\r\n"
           b"Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n",
    "405-http1.0": b"GET /v1/traces HTTP/1.0\r\nHost: o\r\n\r\n",
    "200-http1.0": b"POST /v1/traces HTTP/1.0\r\nHost: o\r\n"
                   b"Content-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
}


@pytest.mark.parametrize("case", list(_CLOSE_CASES))
def test_connection_close_is_honoured(shared, case):
    """RFC 9112 9.6: after a request with Connection: close (or an HTTP/1.0 request without
    keep-alive) the server closes the connection once it has answered, whatever the status;
    clients that read to EOF depend on it."""
    d = running(shared)
    s = socket.create_connection(("127.0.0.1", d.ports.http), timeout=10)
    s.sendall(_CLOSE_CASES[case])
    data, closed = _read_until_close(s, 3)
    s.close()
    assert data.startswith(b"HTTP/1.1 " + case.split("-")[0].encode()), data[:300]
    assert closed, f"connection still open 3s after the answer: {data[:300]!r}"


def test_query_string_and_content_type_parameters(shared):
    d = running(shared)
    req, ids = make_trace_request(2)
    r = requests.post(d.http_base + "/v1/traces?tenant=a", data=req.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200
    tid, sid = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": tid, "spanId": sid, "name": "charset", "startTimeUnixNano": "1",
         "endTimeUnixNano": "2"}]}]}]}
    r = requests.post(d.http_base + "/v1/traces", data=json.dumps(body), timeout=10,
                      headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    wait_for_spans(d.out, ids + [sid])


def test_large_batch_counts(otelite):
    """One request with 5000 spans: all written, counted once."""
    from harness import wait_metric

    d = otelite.default()
    req, ids = make_trace_request(5000)
    assert post_proto(d, "traces", req.SerializeToString(), timeout=30).status_code == 200
    wait_for_spans(d.out, ids, timeout=30)
    wait_metric(d, "otelcol_receiver_accepted_spans_total", 5000, receiver="otlp", transport="http")
    wait_metric(d, "otelcol_exporter_sent_spans_total", 5000, exporter="file")
    d.stop()
    assert len(json_spans(read_records(d.out))) == 5000


def test_health_stays_up_under_load(otelite):
    """The health endpoint keeps answering 200 while receivers are busy."""
    d = otelite.default()
    stop = threading.Event()

    def load():
        s = requests.Session()
        for _ in range(500):
            if stop.is_set():
                return
            req, _ = make_trace_request(20)
            post_proto(d, "traces", req.SerializeToString(), session=s, timeout=10)

    t = threading.Thread(target=load)
    t.start()
    try:
        codes = [requests.get(d.health_url(), timeout=5).status_code for _ in range(20)]
    finally:
        stop.set()
        t.join(timeout=60)
    assert codes == [200] * 20
    assert d.running()


def test_abrupt_clients(otelite):
    """Clients that vanish: HTTP connections reset half-way through a body, and gRPC calls
    whose deadline expires while a 1 MiB message is on its way. Then all is still well."""
    import struct

    d = otelite.default()
    big, _ = make_trace_request(1, big_attr=1024 * 1024)
    body = big.SerializeToString()
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", d.ports.http), timeout=10)
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: o\r\nContent-Type: application/x-protobuf\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body[: len(body) // 2])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
        s.close()
    with grpc_channel(d.grpc_target) as ch:
        for _ in range(20):
            try:
                grpc_raw_call(ch, "traces", body, timeout=0.001)
            except grpc.RpcError as exc:
                assert exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED,
                                      grpc.StatusCode.CANCELLED), exc
        ids = []
        for _ in range(3):
            req, batch = make_trace_request(2)
            grpc_raw_call(ch, "traces", req.SerializeToString())
            ids += batch
    wait_for_spans(d.out, ids)
    _alive_and_working(d)
