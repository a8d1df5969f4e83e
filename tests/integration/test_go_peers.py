"""otelite next to the real Go programs: telemetrygen, otelcol, toxiproxy and Jaeger.

The binaries come from scripts/install-go-tools.sh (see tools.py); a missing one fails the test.
"""
from __future__ import annotations

import re
import secrets

import pytest

from harness import (grpc_channel, grpc_raw_call, json_spans, make_trace_request, read_records,
                     wait_for_records, wait_until)
from tools import Jaeger, Otelcol, Toxiproxy, free_port, telemetrygen

TRACES = 25  # per telemetrygen run; each trace is a parent span and one child span
SPANS = TRACES * 2


def _service() -> str:
    return f"gen-{secrets.token_hex(4)}"


def _span_ids(path, service: str) -> list[str]:
    """Span ids (with repeats) of one service in otelite's file exporter output."""
    return [sp["spanId"] for res, _, sp in json_spans(read_records(path))
            if res.get("service.name") == service]


def _wait_spans(path, service: str, n: int) -> None:
    """Waits until `n` distinct spans of `service` are in the file, then checks no span came
    twice and nothing else arrived for it."""
    wait_for_records(path, lambda _: len(set(_span_ids(path, service))) >= n,
                     f"{n} spans of {service} in {path}")
    ids = _span_ids(path, service)
    assert len(ids) == len(set(ids)) == n, (
        f"{service}: {len(ids)} spans, {len(set(ids))} distinct; expected {n}")


def _otelcol_forwarding(exporter: str, endpoint: str) -> tuple[dict, int]:
    """otelcol config: otlp grpc receiver -> batch -> `exporter` (otlp or otlphttp) to
    `endpoint`, retrying quickly; returns (config, receiver port)."""
    port = free_port()
    exp = {"endpoint": endpoint, "timeout": "2s",
           "retry_on_failure": {"enabled": True, "initial_interval": "100ms",
                                "max_interval": "500ms", "max_elapsed_time": "60s"}}
    if exporter == "otlp_grpc":
        exp["tls"] = {"insecure": True}
    config = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{port}"}}}},
        "processors": {"batch": {"timeout": "100ms"}},
        "exporters": {exporter: exp},
        "service": {
            "telemetry": {"logs": {"level": "info"}},
            "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"],
                                     "exporters": [exporter]}},
        },
    }
    return config, port


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_telemetrygen_to_otelite(otelite, protocol):
    d = otelite.default()
    service = _service()
    endpoint = d.grpc_target if protocol == "grpc" else d.http_base.removeprefix("http://")
    telemetrygen("traces", endpoint, protocol=protocol, count=TRACES, workdir=d.workdir,
                 extra=["--service", service])
    _wait_spans(d.out, service, SPANS)
    d.stop()


@pytest.mark.parametrize("exporter", ["otlp_grpc", "otlp_http"])
def test_otelcol_exports_to_otelite(otelite, tmp_path, exporter):
    d = otelite.default()
    target = d.grpc_target if exporter == "otlp_grpc" else d.http_base
    config, port = _otelcol_forwarding(exporter, target)
    service = _service()
    with Otelcol(config, tmp_path / "otelcol") as col:
        telemetrygen("traces", f"127.0.0.1:{port}", count=TRACES, workdir=tmp_path,
                     extra=["--service", service])
        _wait_spans(d.out, service, SPANS)
        assert col.scrape().value("otelcol_exporter_sent_spans_total") >= SPANS
    d.stop()


def test_otelcol_retries_through_toxiproxy(otelite, tmp_path):
    d = otelite.default()
    with Toxiproxy(tmp_path / "toxiproxy") as toxi:
        listen = toxi.create_proxy("otelite_grpc", d.grpc_target)
        config, port = _otelcol_forwarding("otlp_grpc", listen)
        service = _service()
        with Otelcol(config, tmp_path / "otelcol") as col:
            toxi.disable("otelite_grpc")
            assert toxi.proxy("otelite_grpc")["enabled"] is False
            telemetrygen("traces", f"127.0.0.1:{port}", count=TRACES, workdir=tmp_path,
                         extra=["--service", service])
            # otelcol took every span and has tried (and failed) to send them on.
            wait_until(lambda: col.scrape().value("otelcol_receiver_accepted_spans_total")
                       == SPANS, 15, "otelcol accepted every span")
            wait_until(lambda: re.search(r"(?i)will retry", col.log()), 15,
                       "otelcol failing to export and retrying")
            assert _span_ids(d.out, service) == [], "spans went through a disabled proxy"
            toxi.enable("otelite_grpc")
            _wait_spans(d.out, service, SPANS)
    d.stop()


def test_jaeger_query_api(tmp_path):
    with Jaeger(tmp_path / "jaeger") as jaeger:
        assert isinstance(jaeger.services(), list)
        service = _service()
        req, ids = make_trace_request(3, service=service)
        trace_id = req.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
        with grpc_channel(jaeger.otlp_grpc_target) as ch:
            grpc_raw_call(ch, "traces", req.SerializeToString())
        wait_until(lambda: service in jaeger.services(), 15, f"{service} in /api/services")
        trace = wait_until(lambda: jaeger.trace(trace_id), 15, f"trace {trace_id}")
        assert sorted(s["spanID"] for s in trace["spans"]) == sorted(ids)
