"""The otlp_grpc and otlp_http exporters between two real otelite processes, and over TLS.

otelite A (otlp receiver -> otlp_grpc / otlp_http exporter) -> otelite B (otlp receiver -> file):
the OpenTelemetry Python SDK sends spans, metrics and logs to A, and every one must come out of
B's file. The older type names `otlp` / `otlphttp` work with a deprecation warning.

TLS: a CA and a server certificate made with the openssl CLI at test time; the peers are a Python
grpcio server and an https http.server (otelite's receiver has no TLS). With tls.ca_file the export
arrives; without it (an unknown CA) it fails and is counted as failed.
"""
from __future__ import annotations

import http.server
import logging
import secrets
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from harness import (Ports, base_config, json_metrics, log_bodies, make_trace_request,
                     grpc_channel, grpc_raw_call, wait_for_records, wait_for_spans, wait_metric,
                     wait_until)
from sdk_helpers import assert_all_succeeded, log_exporter, metric_exporter, send_spans

GRPC_TYPES = ("otlp_grpc", "otlp")
HTTP_TYPES = ("otlp_http", "otlphttp")
CURRENT = {"otlp": "otlp_grpc", "otlphttp": "otlp_http"}


def forwarding_config(ports: Ports, exporter_id: str, exporter_cfg: dict) -> dict:
    """A: otlp receiver -> the exporter under test, for the three signals."""
    cfg = base_config(ports, Path("unused.jsonl"))
    cfg["exporters"] = {exporter_id: exporter_cfg}
    for p in cfg["service"]["pipelines"].values():
        p["exporters"] = [exporter_id]
    return cfg


def exporter_settings(exporter_type: str, b) -> dict:
    if exporter_type in GRPC_TYPES:
        return {"endpoint": b.grpc_target, "tls": {"insecure": True}, "timeout": "5s"}
    return {"endpoint": b.http_base, "timeout": "5s"}


def send_metrics(a, name: str) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    exp = metric_exporter("grpc", a)
    reader = PeriodicExportingMetricReader(exp, export_interval_millis=3_600_000)
    mp = MeterProvider(metric_readers=[reader])
    counter = mp.get_meter("otelite.tests.otlp_exporters").create_counter(name)
    for i in range(4):
        counter.add(1, {"i": i})
    assert reader.force_flush(15000)
    assert_all_succeeded(exp)
    exp.close()
    mp.shutdown()


def send_logs(a, tag: str, n: int) -> list[str]:
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    exp = log_exporter("http", a)
    lp = LoggerProvider()
    lp.add_log_record_processor(BatchLogRecordProcessor(exp))
    pylog = logging.getLogger(f"otelite.otlp_exporters.{tag}")
    pylog.setLevel(logging.INFO)
    pylog.propagate = False
    handler = LoggingHandler(level=logging.NOTSET, logger_provider=lp)
    pylog.addHandler(handler)
    bodies = [f"{tag}-{i}" for i in range(n)]
    try:
        for body in bodies:
            pylog.info(body)
        assert lp.force_flush(15000)
        assert_all_succeeded(exp)
    finally:
        pylog.removeHandler(handler)
    lp.shutdown()
    return bodies


@pytest.mark.parametrize("exporter_type,extra", [
    ("otlp_grpc", {}),
    ("otlp_http", {}),
    ("otlp_http", {"encoding": "json", "compression": "zstd"}),
    ("otlp_grpc", {"compression": "none", "headers": {"x-tenant": "a"}}),
    ("otlp", {}),
    ("otlphttp", {}),
], ids=["grpc", "http", "http-json-zstd", "grpc-none-headers", "otlp-deprecated",
        "otlphttp-deprecated"])
def test_forwards_every_item_to_a_second_otelite(otelite, exporter_type, extra):
    b = otelite.default(name="b")
    settings = exporter_settings(exporter_type, b) | extra
    exporter_id = f"{exporter_type}/fwd"
    ports = Ports()
    a = otelite(forwarding_config(ports, exporter_id, settings), ports=ports, name="a")

    ids = send_spans("grpc", a, 20, service="via-a")
    ids += send_spans("http", a, 5, service="via-a-http")
    metric_name = f"forwarded.{secrets.token_hex(4)}"
    send_metrics(a, metric_name)
    bodies = send_logs(a, f"fwd-{secrets.token_hex(4)}", 6)

    wait_for_spans(b.out, ids)
    wait_for_records(b.out, lambda r: set(bodies) <= set(log_bodies(r)), "the logs in B")
    recs = wait_for_records(
        b.out, lambda r: any(m["name"] == metric_name for _, _, m in json_metrics(r)),
        "the metric in B")
    points = [p for _, _, m in json_metrics(recs) if m["name"] == metric_name
              for p in m["sum"]["dataPoints"]]
    assert len(points) == 4

    wait_metric(a, "otelcol_exporter_sent_spans_total", 25, exporter=exporter_id)
    wait_metric(a, "otelcol_exporter_sent_log_records_total", 6, exporter=exporter_id)
    s = a.scrape()
    assert s.value("otelcol_exporter_send_failed_spans_total", exporter=exporter_id) == 0

    deprecated = f'"{exporter_type}" is a deprecated name of exporter type'
    if exporter_type in CURRENT:
        assert deprecated in a.stderr()
        assert f'"{CURRENT[exporter_type]}"' in a.stderr()
    else:
        assert "deprecated" not in a.stderr()
    a.stop()
    b.stop()


def test_unreachable_peer_is_counted_as_failed(otelite):
    """Nothing listens at the endpoint: the export fails (retryable) and is counted."""
    dead = Ports()
    ports = Ports()
    cfg = forwarding_config(ports, "otlp_grpc", {
        "endpoint": f"127.0.0.1:{dead.grpc}", "tls": {"insecure": True}, "timeout": "1s",
        "retry_on_failure": {"enabled": False}})
    a = otelite(cfg, ports=ports, name="a")
    req, ids = make_trace_request(3)
    with grpc_channel(a.grpc_target) as ch:
        grpc_raw_call(ch, "traces", req.SerializeToString())
    wait_metric(a, "otelcol_exporter_send_failed_spans_total", 3, exporter="otlp_grpc")
    assert "UNAVAILABLE" in a.stderr()


# --------------------------------------------------------------------------------------------
# TLS against Python peers


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict:
    """A CA and a server certificate for localhost and peer.otelite.test (no IP SAN)."""
    d = tmp_path_factory.mktemp("certs")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=otelite test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,DNS:peer.otelite.test\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


class GrpcTlsPeer:
    """A grpcio server with TLS that takes the three OTLP Export methods as raw bytes."""

    def __init__(self, certs: dict) -> None:
        from concurrent import futures

        import grpc

        self.requests: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        peer = self

        def handle(method):
            def export(request: bytes, context) -> bytes:
                with peer.lock:
                    peer.requests.append((method, request))
                return b""
            return grpc.unary_unary_rpc_method_handler(export)

        class Handler(grpc.GenericRpcHandler):
            def service(self, details):
                if details.method.endswith("/Export"):
                    return handle(details.method)
                return None

        creds = grpc.ssl_server_credentials(
            [(certs["key"].read_bytes(), certs["cert"].read_bytes())])
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                                  handlers=[Handler()])
        self.port = self.server.add_secure_port("127.0.0.1:0", creds)
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=1).wait(5)


class HttpsTlsPeer:
    """An https http.server that answers every POST with an empty OTLP response."""

    def __init__(self, certs: dict) -> None:
        self.requests: list[tuple[str, dict, bytes]] = []
        self.lock = threading.Lock()
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with peer.lock:
                    peer.requests.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["cert"], certs["key"])
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _span_ids_in(bodies: list[bytes], gzip_encoded: bool) -> set[str]:
    import gzip

    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    ids = set()
    for body in bodies:
        req = trace_service_pb2.ExportTraceServiceRequest()
        req.ParseFromString(gzip.decompress(body) if gzip_encoded else body)
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                ids.update(sp.span_id.hex() for sp in ss.spans)
    return ids


TLS_CASES = {
    # case: (host in the endpoint, tls settings (ca_file filled in), export arrives)
    "ca_file": ("localhost", {"ca_file": True}, True),
    "server_name_override": ("127.0.0.1", {"ca_file": True,
                                           "server_name_override": "peer.otelite.test"}, True),
    "unknown_ca": ("localhost", {}, False),
    "insecure_skip_verify": ("127.0.0.1", {"insecure_skip_verify": True}, True),
}


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("case", list(TLS_CASES))
def test_tls(otelite, certs, protocol, case):
    host, tls, arrives = TLS_CASES[case]
    tls = {k: (str(certs["ca"]) if k == "ca_file" else v) for k, v in tls.items()}
    peer = GrpcTlsPeer(certs) if protocol == "grpc" else HttpsTlsPeer(certs)
    try:
        if protocol == "grpc":
            exporter_id = "otlp_grpc"
            settings = {"endpoint": f"{host}:{peer.port}"}
        else:
            exporter_id = "otlp_http"
            settings = {"endpoint": f"https://{host}:{peer.port}"}
        if tls:
            settings["tls"] = tls
        settings |= {"timeout": "3s", "retry_on_failure": {"enabled": False}}
        ports = Ports()
        a = otelite(forwarding_config(ports, exporter_id, settings), ports=ports, name="a")
        req, ids = make_trace_request(4)
        with grpc_channel(a.grpc_target) as ch:
            grpc_raw_call(ch, "traces", req.SerializeToString())

        if arrives:
            wait_metric(a, "otelcol_exporter_sent_spans_total", 4, exporter=exporter_id)
            with peer.lock:
                got = list(peer.requests)
            assert len(got) == 1
            if protocol == "grpc":
                method, body = got[0]
                assert method == "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
                # grpcio hands over the decompressed message
                assert _span_ids_in([body], gzip_encoded=False) == set(ids)
            else:
                path, headers, body = got[0]
                assert path == "/v1/traces"
                assert headers.get("Content-Encoding") == "gzip"
                assert _span_ids_in([body], gzip_encoded=True) == set(ids)
        else:
            wait_metric(a, "otelcol_exporter_send_failed_spans_total", 4, exporter=exporter_id)
            with peer.lock:
                assert peer.requests == [], "nothing may reach a server whose CA is unknown"
            wait_until(lambda: "certificate verify failed" in a.stderr(), 10,
                       "the TLS verification failure in A's log")
        a.stop()
    finally:
        peer.stop()
