"""Fan-out (two exporters on a pipeline, two pipelines on a receiver) and fan-in (two
receivers into one pipeline)."""
from __future__ import annotations

from harness import (Ports, base_config, grpc_channel, grpc_raw_call, json_metrics,
                     json_spans, log_bodies, make_logs_request, make_metrics_request,
                     make_trace_request, post_proto, read_records, wait_for_records,
                     wait_for_spans, wait_metric)


def _send_all_signals(d):
    """Traces, metrics and logs over both transports; returns what to look for."""
    t1, ids1 = make_trace_request(3)
    t2, ids2 = make_trace_request(4)
    m1, name1 = make_metrics_request(2, name="fan.grpc")
    m2, name2 = make_metrics_request(3, name="fan.http")
    l1, b1 = make_logs_request(2)
    l2, b2 = make_logs_request(5)
    with grpc_channel(d.grpc_target) as ch:
        grpc_raw_call(ch, "traces", t1.SerializeToString())
        grpc_raw_call(ch, "metrics", m1.SerializeToString())
        grpc_raw_call(ch, "logs", l1.SerializeToString())
    for sig, req in (("traces", t2), ("metrics", m2), ("logs", l2)):
        assert post_proto(d, sig, req.SerializeToString()).status_code == 200
    return ids1 + ids2, {name1: 2, name2: 3}, b1 + b2


def _check_file(path, ids, metric_points, bodies):
    recs = read_records(path)
    assert sorted(s["spanId"] for _, _, s in json_spans(recs)) == sorted(ids), path
    got_points = {}
    for _, _, m in json_metrics(recs):
        got_points[m["name"]] = got_points.get(m["name"], 0) + len(m["gauge"]["dataPoints"])
    assert got_points == metric_points, path
    assert sorted(log_bodies(recs)) == sorted(bodies), path


def test_two_exporters_on_one_pipeline(otelite, tmp_path):
    b = tmp_path / "b.jsonl"

    def mutate(cfg):
        cfg["exporters"]["file/b"] = {"path": str(b), "flush_interval": "100ms"}
        cfg["exporters"]["debug"] = {"verbosity": "basic"}
        for p in cfg["service"]["pipelines"].values():
            p["exporters"] = ["file", "file/b", "debug"]

    d = otelite.default(mutate=mutate)
    ids, points, bodies = _send_all_signals(d)
    for path in (d.out, b):
        wait_for_records(path, lambda r: set(ids) <= {s["spanId"] for _, _, s in json_spans(r)}
                         and set(bodies) <= set(log_bodies(r))
                         and set(points) <= {m["name"] for _, _, m in json_metrics(r)},
                         f"everything in {path}")
    for exporter in ("file", "file/b"):
        wait_metric(d, "otelcol_exporter_sent_spans_total", 7, exporter=exporter)
        wait_metric(d, "otelcol_exporter_sent_metric_points_total", 5, exporter=exporter)
        wait_metric(d, "otelcol_exporter_sent_log_records_total", 7, exporter=exporter)
    s = d.scrape()
    assert s.value("otelcol_receiver_accepted_spans_total", receiver="otlp") == 7
    d.stop()
    _check_file(d.out, ids, points, bodies)
    _check_file(b, ids, points, bodies)


def test_two_pipelines_one_receiver(otelite, tmp_path):
    b = tmp_path / "b.jsonl"

    def mutate(cfg):
        cfg["exporters"]["file/b"] = {"path": str(b), "flush_interval": "100ms"}
        pipes = cfg["service"]["pipelines"]
        pipes["traces/b"] = {"receivers": ["otlp"], "exporters": ["file/b"]}
        pipes["logs/b"] = {"receivers": ["otlp"], "exporters": ["file/b"]}

    d = otelite.default(mutate=mutate)
    t, ids = make_trace_request(6)
    lreq, bodies = make_logs_request(4)
    assert post_proto(d, "traces", t.SerializeToString()).status_code == 200
    assert post_proto(d, "logs", lreq.SerializeToString()).status_code == 200
    mreq, mname = make_metrics_request(2, name="only.main")
    assert post_proto(d, "metrics", mreq.SerializeToString()).status_code == 200
    wait_for_spans(d.out, ids)
    wait_for_spans(b, ids)
    wait_metric(d, "otelcol_exporter_sent_spans_total", 6, exporter="file")
    wait_metric(d, "otelcol_exporter_sent_spans_total", 6, exporter="file/b")
    wait_metric(d, "otelcol_exporter_sent_log_records_total", 4, exporter="file/b")
    s = wait_metric(d, "otelcol_exporter_sent_metric_points_total", 2, exporter="file")
    assert s.value("otelcol_exporter_sent_metric_points_total", exporter="file/b") == 0
    assert s.value("otelcol_receiver_accepted_spans_total", receiver="otlp") == 6, \
        "the receiver accepted 6 spans, whatever the number of pipelines"
    d.stop()
    for path in (d.out, b):
        recs = read_records(path)
        assert sorted(sp["spanId"] for _, _, sp in json_spans(recs)) == sorted(ids), path
        assert sorted(log_bodies(recs)) == sorted(bodies), path
    assert [m["name"] for _, _, m in json_metrics(read_records(d.out))] == [mname]
    assert not json_metrics(read_records(b)), "no metrics pipeline feeds file/b"


def test_two_receivers_one_pipeline(otelite, tmp_path):
    ports, ports2 = Ports(), Ports()
    out = tmp_path / "out.jsonl"
    cfg = base_config(ports, out)
    cfg["receivers"]["otlp/2"] = {"protocols": {
        "grpc": {"endpoint": f"127.0.0.1:{ports2.grpc}"},
        "http": {"endpoint": f"127.0.0.1:{ports2.http}"}}}
    for p in cfg["service"]["pipelines"].values():
        p["receivers"] = ["otlp", "otlp/2"]
    d = otelite(cfg, ports=ports)
    t1, ids1 = make_trace_request(3)
    t2, ids2 = make_trace_request(4)
    t3, ids3 = make_trace_request(2)
    assert post_proto(d, "traces", t1.SerializeToString()).status_code == 200
    with grpc_channel(f"127.0.0.1:{ports2.grpc}") as ch:
        grpc_raw_call(ch, "traces", t2.SerializeToString())
    import requests

    r = requests.post(f"http://127.0.0.1:{ports2.http}/v1/traces", data=t3.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200
    wait_for_spans(out, ids1 + ids2 + ids3)
    wait_metric(d, "otelcol_receiver_accepted_spans_total", 3, receiver="otlp")
    wait_metric(d, "otelcol_receiver_accepted_spans_total", 4, receiver="otlp/2", transport="grpc")
    wait_metric(d, "otelcol_receiver_accepted_spans_total", 2, receiver="otlp/2", transport="http")
    wait_metric(d, "otelcol_exporter_sent_spans_total", 9, exporter="file")
    d.stop()
    got = [s["spanId"] for _, _, s in json_spans(read_records(out))]
    assert sorted(got) == sorted(ids1 + ids2 + ids3)
