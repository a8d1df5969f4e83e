"""The `prometheus` exporter against the real Prometheus server.

The OpenTelemetry Python SDK sends every metric kind it has (counter, up-down counter,
observable gauge, explicit and exponential histograms, cumulative and delta) to otelite over
OTLP; Prometheus (Debian's package, started here on loopback) scrapes otelite's two prometheus
exporters, one answering the text format and one OpenMetrics; the test asserts through
Prometheus's query API that each series exists with the right name, labels and value, that
exemplars arrive, and that series the SDK stopped sending expire and go stale.

The Python SDK 1.27 has neither summaries nor exemplars, so those two are sent as hand-made
OTLP/protobuf requests.
"""
from __future__ import annotations

import time

import pytest
import requests

from harness import Ports, free_port, post_proto, run_cli, wait_until
from prometheus_server import sample_value
from sdk_helpers import metric_exporter

EXPIRATION = 6.0  # metric_expiration of both exporters, seconds
RESOURCE = {"service.name": "checkout", "service.namespace": "shop",
            "service.instance.id": "inst-1", "deployment.environment": "it", "host.name": "h1"}
JOB, INSTANCE = "shop/checkout", "inst-1"
SCOPE = {"otel_scope_name": "it.meter", "otel_scope_version": "0.1"}
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")


def config(ports: Ports, text_port: int, om_port: int) -> dict:
    return {
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{ports.grpc}"},
            "http": {"endpoint": f"127.0.0.1:{ports.http}"}}}},
        "exporters": {
            "prometheus": {"endpoint": f"127.0.0.1:{text_port}",
                           "const_labels": {"deployment": "it"},
                           "metric_expiration": f"{int(EXPIRATION)}s"},
            # Another namespace, so that the two targets never expose the same series.
            "prometheus/om": {"endpoint": f"127.0.0.1:{om_port}", "namespace": "om",
                              "enable_open_metrics": True,
                              "metric_expiration": f"{int(EXPIRATION)}s"},
        },
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}},
            "pipelines": {"metrics": {"receivers": ["otlp"],
                                      "exporters": ["prometheus", "prometheus/om"]}},
        },
    }


def one(prom, expr: str, expected: float | None = None, timeout: float = 30, refresh=None,
        **labels) -> dict:
    """Waits until `expr` gives exactly one series carrying `labels` (and value `expected`).
    `refresh`, when given, runs before every poll (to keep a series from expiring meanwhile)."""
    def ok(res):
        if refresh is not None:
            refresh()
        if len(res) != 1:
            return False
        metric = res[0]["metric"]
        if any(metric.get(k) != v for k, v in labels.items()):
            return False
        return expected is None or abs(sample_value(res[0]) - expected) < 1e-9
    return prom.wait_for(expr, ok, timeout=timeout,
                         what=f"{expr} == {expected} with {labels}")[0]


def summary_and_exemplar_request():
    """Hand-made OTLP: a summary, and a histogram and a counter with an exemplar each."""
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2

    now = time.time_ns()
    start = now - 10_000_000_000
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in (("service.name", "payments"), ("service.instance.id", "pay-1")):
        rm.resource.attributes.append(
            common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(string_value=v)))
    sm = rm.scope_metrics.add()
    sm.scope.name = "handmade"
    m = sm.metrics.add(name="rpc.latency", unit="s", description="RPC latency")
    dp = m.summary.data_points.add(start_time_unix_nano=start, time_unix_nano=now, count=10,
                                   sum=2.5)
    dp.quantile_values.add(quantile=0.5, value=0.1)
    dp.quantile_values.add(quantile=0.99, value=0.4)
    h = sm.metrics.add(name="checkout.latency", unit="s")
    h.histogram.aggregation_temporality = 2
    hp = h.histogram.data_points.add(start_time_unix_nano=start, time_unix_nano=now, count=3,
                                     sum=0.62, explicit_bounds=[0.05, 0.1, 0.5],
                                     bucket_counts=[1, 1, 1, 0])
    hp.exemplars.add(time_unix_nano=now, as_double=0.07, trace_id=TRACE_ID, span_id=SPAN_ID)
    c = sm.metrics.add(name="checkout.items", unit="{item}")
    c.sum.aggregation_temporality = 2
    c.sum.is_monotonic = True
    cp = c.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_int=42)
    cp.exemplars.add(time_unix_nano=now, as_int=2, trace_id=TRACE_ID, span_id=SPAN_ID)
    return req.SerializeToString()


@pytest.fixture
def setup(otelite, prometheus):
    ports = Ports()
    text_port, om_port = free_port(), free_port()
    d = otelite(config(ports, text_port, om_port), ports=ports)
    prom = prometheus({"otelite-text": [f"127.0.0.1:{text_port}"],
                       "otelite-om": [f"127.0.0.1:{om_port}"]})
    return d, prom, text_port, om_port


def make_providers(d):
    from opentelemetry.sdk.metrics import (Counter, Histogram, MeterProvider,
                                           ObservableCounter, ObservableGauge,
                                           ObservableUpDownCounter, UpDownCounter)
    from opentelemetry.sdk.metrics.export import (AggregationTemporality,
                                                  PeriodicExportingMetricReader)
    from opentelemetry.sdk.metrics.view import (ExplicitBucketHistogramAggregation,
                                                ExponentialBucketHistogramAggregation, View)
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create(RESOURCE)
    views = [View(instrument_name="http.server.duration",
                  aggregation=ExplicitBucketHistogramAggregation(boundaries=[10, 100, 1000])),
             View(instrument_name="latency.exp",
                  aggregation=ExponentialBucketHistogramAggregation())]
    # Cumulative, exported every 500 ms (which keeps the series fresh).
    cumulative = MeterProvider(
        resource=resource, views=views,
        metric_readers=[PeriodicExportingMetricReader(metric_exporter("grpc", d),
                                                      export_interval_millis=500)])
    # Delta temporality, exported only when flushed by the test.
    delta_exporter = metric_exporter("http", d)
    delta_exporter._preferred_temporality = {
        k: AggregationTemporality.DELTA
        for k in (Counter, UpDownCounter, Histogram, ObservableCounter,
                  ObservableUpDownCounter, ObservableGauge)}
    delta = MeterProvider(
        resource=resource, views=views,
        metric_readers=[PeriodicExportingMetricReader(delta_exporter,
                                                      export_interval_millis=3_600_000)])
    return cumulative, delta, delta_exporter


def test_every_kind_through_prometheus(setup):
    from opentelemetry.metrics import Observation

    d, prom, text_port, om_port = setup
    cumulative, delta, delta_exporter = make_providers(d)
    meter = cumulative.get_meter("it.meter", "0.1")
    orders = meter.create_counter("shop.orders", unit="{order}", description="Orders placed")
    orders.add(3, {"payment.method": "card"})
    orders.add(2, {"payment.method": "card"})
    orders.add(1, {"payment.method": "cash"})
    net = meter.create_counter("net.io", unit="By")
    net.add(1024)
    depth = meter.create_up_down_counter("queue.depth", unit="{item}")
    depth.add(10)
    depth.add(-3)
    meter.create_observable_gauge("cpu.utilization", unit="1",
                                  callbacks=[lambda _: [Observation(0.42, {"cpu": "0"})]])
    hist = meter.create_histogram("http.server.duration", unit="ms")
    for v in (5, 50, 50, 500, 5000):
        hist.record(v, {"http.route": "/pay"})
    exp = meter.create_histogram("latency.exp", unit="s")
    for v in (1, 2, 3, 4):
        exp.record(v)

    dmeter = delta.get_meter("it.meter", "0.1")
    dbytes = dmeter.create_counter("delta.sent", unit="By")
    dhist = dmeter.create_histogram("delta.duration", unit="ms")
    dbytes.add(100)
    dhist.record(50)
    assert delta.force_flush(10_000)
    dbytes.add(50)
    dhist.record(500)
    dhist.record(5)
    assert delta.force_flush(10_000)
    assert all(r.name == "SUCCESS" for _, r in delta_exporter.exports), delta_exporter.exports

    def keep_delta_fresh(res):
        # A zero delta continues the series (same start as the last point's time).
        dbytes.add(0)
        delta.force_flush(10_000)
        return res

    base = dict(job=JOB, instance=INSTANCE, deployment="it", **SCOPE)
    try:
        # Delta sums and histograms, accumulated into cumulative ones. The zero deltas keep the
        # series younger than metric_expiration however late Prometheus scrapes first.
        one(prom, "delta_sent_bytes_total", 150, refresh=lambda: keep_delta_fresh(True),
            **{k: v for k, v in base.items()})
        delta_ok = prom.wait_for(
            'delta_duration_milliseconds_count{job="shop/checkout"}',
            lambda r: keep_delta_fresh(r) and sample_value(r[0]) == 3)
        assert delta_ok[0]["metric"]["otel_scope_name"] == "it.meter"
        sum_res = prom.query('delta_duration_milliseconds_sum{job="shop/checkout"}')
        assert sample_value(sum_res[0]) == 555

        # Monotonic sum: _total, attributes as labels, job/instance, scope, const labels.
        card = one(prom, 'shop_orders_total{payment_method="card"}', 5, **base)
        assert set(card["metric"]) == {"__name__", "payment_method", "job", "instance",
                                       "deployment", "otel_scope_name", "otel_scope_version"}
        one(prom, 'shop_orders_total{payment_method="cash"}', 1, **base)
        one(prom, "net_io_bytes_total", 1024, **base)
        # Non-monotonic sum: a gauge without _total.
        one(prom, "queue_depth", 7, **base)
        assert prom.query("queue_depth_total") == []
        # Gauge with unit 1: _ratio.
        one(prom, "cpu_utilization_ratio", 0.42, cpu="0", **base)

        # Explicit-bucket histogram: cumulative buckets, _sum, _count; le as client_golang
        # spells it (text "1000", OpenMetrics "1000.0").
        for le, count in (("10", 1), ("100", 3), ("1000", 4), ("+Inf", 5)):
            one(prom, f'http_server_duration_milliseconds_bucket{{le="{le}"}}', count,
                http_route="/pay", **base)
        one(prom, "http_server_duration_milliseconds_sum", 5605, **base)
        one(prom, "http_server_duration_milliseconds_count", 5, **base)
        one(prom, 'om_http_server_duration_milliseconds_bucket{le="1000.0"}', 4,
            http_route="/pay", job=JOB)

        # Exponential histogram: a classic histogram over the exponential bucket bounds.
        one(prom, "latency_exp_seconds_count", 4, **base)
        one(prom, "latency_exp_seconds_sum", 10, **base)
        median = one(prom, "histogram_quantile(0.5, latency_exp_seconds_bucket)")
        assert 1.9 <= sample_value(median) <= 2.0, median
        top = one(prom, "histogram_quantile(1, latency_exp_seconds_bucket)")
        assert 3.9 <= sample_value(top) <= 4.0, top

        # Resource: target_info with the other resource attributes.
        info = one(prom, "target_info", 1, job=JOB, instance=INSTANCE)
        assert info["metric"]["deployment_environment"] == "it"
        assert info["metric"]["host_name"] == "h1"
        assert "service_name" not in info["metric"]
        one(prom, "om_target_info", 1, job=JOB, instance=INSTANCE, host_name="h1")

        # Summary and exemplars (hand-made OTLP, the SDK has neither).
        body = summary_and_exemplar_request()

        def resend(res):
            r = post_proto(d, "metrics", body)
            assert r.status_code == 200, r.text
            return res

        prom.wait_for('rpc_latency_seconds{quantile="0.99"}',
                      lambda r: resend(r) and sample_value(r[0]) == 0.4)
        one(prom, 'rpc_latency_seconds{quantile="0.5"}', 0.1, job="payments", instance="pay-1",
            otel_scope_name="handmade")
        one(prom, "rpc_latency_seconds_sum", 2.5, job="payments")
        one(prom, "rpc_latency_seconds_count", 10, job="payments")

        def exemplars(expr):
            def got():
                resend(None)
                data = prom.query_exemplars(expr)
                return [(s["seriesLabels"], e) for s in data for e in s["exemplars"]]
            return wait_until(got, 30, f"exemplars of {expr}", interval=0.5)

        hits = exemplars("om_checkout_latency_seconds_bucket")
        series, ex = hits[0]
        assert series["le"] == "0.1", series  # the first bucket at or above 0.07
        assert ex["labels"] == {"trace_id": TRACE_ID.hex(), "span_id": SPAN_ID.hex()}
        assert float(ex["value"]) == 0.07
        hits = exemplars("om_checkout_items_total")
        assert hits[0][1]["labels"]["trace_id"] == TRACE_ID.hex()
        assert float(hits[0][1]["value"]) == 2
        # The text format has no exemplars.
        assert prom.query_exemplars("checkout_latency_seconds_bucket") == []
        one(prom, "om_checkout_items_total", 42, job="payments")
    except AssertionError:
        print(requests.get(f"http://127.0.0.1:{text_port}/metrics", timeout=5).text)
        raise
    finally:
        cumulative.shutdown()
        delta.shutdown()

    # Expiry: the SDK has stopped; the series leave a fresh scrape after metric_expiration,
    # and Prometheus marks them stale.
    stopped = time.monotonic()
    url = f"http://127.0.0.1:{text_port}/metrics"
    assert "shop_orders_total{" in requests.get(url, timeout=5).text
    wait_until(lambda: "shop_orders_total{" not in requests.get(url, timeout=5).text,
               EXPIRATION + 10, "shop_orders_total to expire")
    waited = time.monotonic() - stopped
    assert waited >= EXPIRATION - 1.5, f"expired after {waited:.1f}s, before {EXPIRATION}s"
    assert "target_info{" not in requests.get(url, timeout=5).text
    prom.wait_for('shop_orders_total{payment_method="card"}', lambda r: r == [], timeout=20,
                  what="shop_orders_total to go stale in Prometheus")
    # It was there: the samples remain in the TSDB, the series is just stale now.
    assert prom.query('last_over_time(shop_orders_total{payment_method="card"}[5m])')


def test_content_negotiation(setup):
    d, prom, text_port, om_port = setup
    body = summary_and_exemplar_request()
    assert post_proto(d, "metrics", body).status_code == 200
    accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")

    def get(port, accept_header=None, **kw):
        headers = {"Accept": accept_header} if accept_header else {}
        return requests.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=5, **kw)

    wait_until(lambda: "checkout_items" in get(om_port).text, 10, "the exporter to have data")
    om = get(om_port, accept)
    assert om.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert om.text.endswith("# EOF\n")
    assert "# TYPE om_checkout_items counter" in om.text
    assert (f'# {{span_id="{SPAN_ID.hex()}",trace_id="{TRACE_ID.hex()}"}} 2.0'
            in om.text), om.text
    # The same exporter answers the text format to a scraper that does not ask for OpenMetrics.
    plain = get(om_port, "text/plain;version=0.0.4")
    assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# EOF" not in plain.text and "trace_id" not in plain.text
    assert "om_checkout_items_total{" in plain.text
    # With enable_open_metrics off, always the text format.
    text = get(text_port, accept)
    assert text.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'checkout_latency_seconds_bucket{deployment="it",instance="pay-1",job="payments",' in text.text
    # gzip when asked; 404 elsewhere; 405 for other methods.
    gz = get(text_port, None, stream=True)
    assert gz.headers.get("Content-Encoding") == "gzip"
    assert requests.get(f"http://127.0.0.1:{text_port}/other", timeout=5).status_code == 404
    assert requests.post(f"http://127.0.0.1:{text_port}/metrics", timeout=5).status_code == 405
    # Prometheus reads both targets.
    prom.wait_for("up", lambda r: len(r) == 2 and all(sample_value(x) == 1 for x in r))


@pytest.mark.parametrize("snippet,message", [
    ("endpoint: 127.0.0.1:notaport", "exporters.prometheus.endpoint: \"127.0.0.1:notaport\""),
    ("namespace: x", "exporters.prometheus.endpoint: endpoint must be set"),
    ("endpoint: 127.0.0.1:1\n    translation_strategy: Underscore",
     "exporters.prometheus.translation_strategy: \"Underscore\" is not one of"),
    ("endpoint: 127.0.0.1:1\n    metric_expiration: 0s",
     "exporters.prometheus.metric_expiration: metric_expiration must be positive"),
    ("endpoint: 127.0.0.1:1\n    const_labels: {\"bad-name\": x}",
     "\"bad-name\" is not a valid Prometheus label name"),
    ("endpoint: 127.0.0.1:1\n    tls: {}", "unknown key \"tls\""),
    ("endpoint: 127.0.0.1:{grpc}", "is already used by receivers.otlp.protocols.grpc.endpoint"),
])
def test_config_errors(tmp_path, otelite_bin, snippet, message):
    ports = Ports()
    text = (f"receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: "
            f"127.0.0.1:{ports.grpc}\nexporters:\n  prometheus:\n    "
            + snippet.replace("{grpc}", str(ports.grpc))
            + "\nservice:\n  pipelines:\n    metrics:\n      receivers: [otlp]\n"
              "      exporters: [prometheus]\n")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    r = run_cli(["validate", "--config", str(path)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert message in r.stderr, r.stderr
    assert f"{path.name}:" in r.stderr or str(path) in r.stderr, r.stderr


def test_prometheus_exporter_takes_metrics_only(tmp_path, otelite_bin):
    ports = Ports()
    text = (f"receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: "
            f"127.0.0.1:{ports.grpc}\nexporters:\n  prometheus:\n    endpoint: "
            f"127.0.0.1:{free_port()}\nservice:\n  pipelines:\n    traces:\n"
            "      receivers: [otlp]\n      exporters: [prometheus]\n")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    r = run_cli(["validate", "--config", str(path)])
    assert r.returncode == 1
    assert "prometheus" in r.stderr and "traces" in r.stderr, r.stderr
