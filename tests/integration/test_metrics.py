"""Self-metrics (Prometheus text at service.telemetry.metrics.address/metrics)."""
from __future__ import annotations

import requests

from harness import (grpc_channel, grpc_raw_call, make_logs_request, make_metrics_request,
                     make_trace_request, post_proto, wait_metric, wait_until)


def test_process_metrics(otelite):
    d = otelite.default()
    s = d.scrape()
    for name in ("otelcol_process_uptime_seconds_total", "otelcol_process_memory_rss_bytes",
                 "otelcol_process_cpu_seconds_total"):
        assert s.has(name), f"{name} missing; have {sorted(s.names())}"
    assert s.value("otelcol_process_memory_rss_bytes") > 1024 * 1024
    assert s.value("otelcol_process_cpu_seconds_total") >= 0
    first = s.value("otelcol_process_uptime_seconds_total")
    assert first > 0
    wait_until(lambda: d.scrape().value("otelcol_process_uptime_seconds_total") > first, 10,
               "uptime to grow")


def test_metrics_endpoint_is_prometheus_text(otelite):
    d = otelite.default()
    r = requests.get(f"http://127.0.0.1:{d.ports.metrics}/metrics", timeout=5)
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    assert "# TYPE otelcol_process_uptime_seconds_total counter" in r.text or \
        "# TYPE otelcol_process_uptime_seconds counter" in r.text, r.text[:2000]


def test_counts_per_signal_and_transport(otelite):
    d = otelite.default()
    treq_g, _ = make_trace_request(3)
    treq_h, _ = make_trace_request(5)
    mreq_g, _ = make_metrics_request(2, name="m.grpc")
    mreq_h, _ = make_metrics_request(4, name="m.http")
    lreq_g, _ = make_logs_request(2)
    lreq_h, _ = make_logs_request(6)
    with grpc_channel(d.grpc_target) as ch:
        grpc_raw_call(ch, "traces", treq_g.SerializeToString())
        grpc_raw_call(ch, "metrics", mreq_g.SerializeToString())
        grpc_raw_call(ch, "logs", lreq_g.SerializeToString())
    for sig, req in (("traces", treq_h), ("metrics", mreq_h), ("logs", lreq_h)):
        assert post_proto(d, sig, req.SerializeToString()).status_code == 200
    # malformed requests are not accepted items
    assert post_proto(d, "traces", b"\x0a\x10abc").status_code == 400

    for item, g, h in (("spans", 3, 5), ("metric_points", 2, 4), ("log_records", 2, 6)):
        wait_metric(d, f"otelcol_receiver_accepted_{item}_total", g, receiver="otlp",
                    transport="grpc")
        wait_metric(d, f"otelcol_receiver_accepted_{item}_total", h, receiver="otlp",
                    transport="http")
        s = wait_metric(d, f"otelcol_exporter_sent_{item}_total", g + h, exporter="file")
        for transport in ("grpc", "http"):
            assert s.has(f"otelcol_receiver_refused_{item}_total", receiver="otlp",
                         transport=transport), f"refused_{item} {transport} not exposed"
            assert s.value(f"otelcol_receiver_refused_{item}_total", receiver="otlp",
                           transport=transport) == 0
        assert s.has(f"otelcol_exporter_send_failed_{item}_total", exporter="file"), \
            f"send_failed_{item} not exposed"
        assert s.value(f"otelcol_exporter_send_failed_{item}_total", exporter="file") == 0


def test_item_counts_of_every_metric_type(otelite):
    """Points are counted for every metric type (gauge, sum, histogram, exponential histogram,
    summary), spans and log records including empty ones."""
    from otlp_samples import rich_logs, rich_metrics, rich_traces

    d = otelite.default()
    for sig, req in (("traces", rich_traces()), ("metrics", rich_metrics()), ("logs", rich_logs())):
        assert post_proto(d, sig, req.SerializeToString()).status_code == 200
    # rich_traces: 1 root + 6 children; rich_metrics: 8 gauge + 1 sum + 1 histogram +
    # 1 exponential histogram + 1 summary points; rich_logs: 4 records
    for item, n in (("spans", 7), ("metric_points", 12), ("log_records", 4)):
        wait_metric(d, f"otelcol_receiver_accepted_{item}_total", n, receiver="otlp",
                    transport="http")
        wait_metric(d, f"otelcol_exporter_sent_{item}_total", n, exporter="file")


def test_write_failure_is_reported(otelite):
    """The file exporter writing to a full device (/dev/full: every write fails with ENOSPC):
    the lost items are counted as send_failed, not as sent, and an error is logged; the
    daemon keeps serving and still stops cleanly."""
    from pathlib import Path

    from harness import Ports, base_config

    ports = Ports()
    cfg = base_config(ports, Path("/dev/full"))
    d = otelite(cfg, ports=ports)
    req, _ = make_trace_request(5)
    post_proto(d, "traces", req.SerializeToString())
    s = wait_metric(d, "otelcol_exporter_send_failed_spans_total", 5, exporter="file", timeout=5)
    assert s.value("otelcol_exporter_sent_spans_total", exporter="file") == 0
    assert "/dev/full" in d.stderr(), d.stderr()
    assert d.running()
