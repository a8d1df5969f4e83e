"""deploy/grafana/otelite-dashboard.json: a well-formed Grafana dashboard whose every PromQL
expression names metrics that really exist: otelite's self-metrics scraped from the running daemon,
and the demo services' RED metrics as they reach Prometheus (scraped from otelite's prometheus
exporter when this build has it; otherwise the OTLP metrics the services really sent, named by the
OpenTelemetry-to-Prometheus rules the otelcol prometheus exporter applies)."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
import requests

from demo_support import DEPLOY_DIR, DemoService, Output
from harness import free_port, scrape_metrics, wait_until

DASHBOARD = DEPLOY_DIR / "grafana" / "otelite-dashboard.json"
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(d: dict) -> list[dict]:
    out = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def variable_expr(query: str) -> str:
    """The series selector of a `label_values(selector, label)` variable query."""
    m = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip())
    return m.group(1) if m else query


def expressions(d: dict) -> list[str]:
    return [t["expr"] for p in panels(d) for t in p.get("targets", [])] + [
        variable_expr(v["query"]["query"] if isinstance(v["query"], dict) else v["query"])
        for v in d["templating"]["list"] if v["type"] == "query"]


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside label matchers, ranges, strings
    and by/without lists that are not functions, keywords or numbers."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS or word.startswith("$"):
            continue
        if e[max(0, m.start() - 1)] == "$":
            continue
        names.add(word)
    return names


def test_metric_name_extraction():
    assert metric_names('sum by (job) (rate(demo_requests_total{job=~"$service"}[$__rate_interval]))'
                        ) == {"demo_requests_total"}
    assert metric_names("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) / y") == {
        "x_bucket", "y"}
    assert metric_names(variable_expr(
        'label_values(otelcol_process_uptime_seconds_total{a="b"}, service)')) == {
        "otelcol_process_uptime_seconds_total"}


def test_dashboard_structure():
    d = dashboard()
    assert d["title"] and re.fullmatch(r"[a-z0-9-]{1,40}", d["uid"])
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    graphs = [p for p in panels(d) if p["type"] != "row"]
    assert len(graphs) >= 10
    for p in graphs:
        where = f"panel {p['id']} {p['title']!r}"
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, where
        assert p["datasource"]["uid"] == "${datasource}", where
        assert p["targets"], where
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), where
        for t in p["targets"]:
            assert t["expr"].count("(") == t["expr"].count(")"), (where, t["expr"])
            assert t["expr"].count("{") == t["expr"].count("}"), (where, t["expr"])
            used = set(re.findall(r"\$(\w+)", t["expr"])) - {"__rate_interval", "__interval"}
            assert used <= set(variables), (where, used - set(variables))
            assert metric_names(t["expr"]), (where, t["expr"])
    # the two halves the dashboard is for
    names = set().union(*(metric_names(e) for e in expressions(d)))
    assert any(n.startswith("otelcol_receiver_") for n in names)
    assert any(n.startswith("otelcol_exporter_queue") for n in names)
    assert {"otelcol_process_cpu_seconds_total", "otelcol_process_memory_rss_bytes"} <= names
    assert any(n.startswith("demo_request_duration") for n in names)


# --------------------------------------------------------------------------------------------
# the names that exist


def prometheus_name(metric: dict) -> list[str]:
    """The series names an OTLP metric gets in Prometheus through otelcol's prometheus exporter
    (suffixes on: unit, then _total for monotonic sums; histograms as _bucket/_sum/_count)."""
    units = {"ms": "milliseconds", "s": "seconds", "By": "bytes", "us": "microseconds",
             "ns": "nanoseconds", "min": "minutes", "h": "hours", "d": "days", "KiBy": "kibibytes"}
    name = re.sub(r"[^A-Za-z0-9_:]", "_", metric["name"])
    name = re.sub(r"__+", "_", name).strip("_")
    unit = re.sub(r"\{[^}]*\}", "", metric.get("unit", "")).strip()
    unit = units.get(unit, "" if unit == "1" else re.sub(r"[^A-Za-z0-9_]", "_", unit))
    if unit and not name.endswith("_" + unit):
        name += "_" + unit
    if "sum" in metric and metric["sum"].get("isMonotonic"):
        return [name + "_total"]
    if "histogram" in metric:
        return [name + s for s in ("_bucket", "_sum", "_count")]
    return [name]


def test_prometheus_name_rules():
    assert prometheus_name({"name": "demo.requests", "unit": "{request}",
                            "sum": {"isMonotonic": True}}) == ["demo_requests_total"]
    assert prometheus_name({"name": "demo.request.duration", "unit": "ms", "histogram": {}}) == [
        "demo_request_duration_milliseconds_bucket", "demo_request_duration_milliseconds_sum",
        "demo_request_duration_milliseconds_count"]


def has_prometheus_exporter(binary) -> bool:
    out = subprocess.run([str(binary), "components"], capture_output=True, text=True).stdout
    return "  prometheus [" in out


@pytest.fixture(scope="module")
def exposed_names(module_otelite, otelite_bin, tmp_path_factory) -> set[str]:
    """Every metric name otelite exposes while the demo services send it their telemetry."""
    work = tmp_path_factory.mktemp("dash")
    prom_port = free_port()
    with_prom = has_prometheus_exporter(otelite_bin)

    def add_prometheus(cfg: dict) -> None:
        if with_prom:
            cfg["exporters"]["prometheus"] = {"endpoint": f"127.0.0.1:{prom_port}"}
            cfg["service"]["pipelines"]["metrics"]["exporters"].append("prometheus")

    d = module_otelite.default(mutate=add_prometheus)
    out = Output(d.out)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{d.grpc_target}",
           "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100",
           "OTEL_METRIC_EXPORT_INTERVAL": "300", "AUTH_JWT_SECRET": "x" * 40,
           "AUTH_USERS": "alice:wonderland"}
    services = {}
    try:
        for name in ("auth", "db", "app"):
            port = free_port()
            extra = {}
            if name == "app":
                extra = {"AUTH_URL": services["auth"].url, "DB_URL": services["db"].url}
            services[name] = DemoService(name, port, work, {**env, **extra}).start()
            services[name].wait_ready()
        http = requests.Session()
        http.trust_env = False
        app = services["app"].url
        token = http.post(app + "/login", json={"username": "alice", "password": "wonderland"},
                          timeout=10).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert http.post(app + "/items", json={"name": "x"}, headers=auth,
                         timeout=10).status_code == 201
        assert http.post(services["db"].url + "/admin/faults", json={"error_rate": 1.0},
                         timeout=10).status_code == 200
        assert http.get(app + "/items", headers=auth, timeout=10).status_code == 502

        def otlp_names():
            found = {n for _, m in out.metrics() for n in prometheus_name(m)}
            return found if "demo_errors_total" in found else None

        names = out.wait_for(lambda o: otlp_names(), "the demo's error counter", timeout=20)
        if with_prom:
            names = wait_until(
                lambda: (lambda s: s if "demo_errors_total" in s else None)(
                    scrape_metrics(f"127.0.0.1:{prom_port}").names()),
                20, "demo metrics on the prometheus exporter")
        names |= d.scrape().names()
        return names
    finally:
        for s in services.values():
            s.stop()


def test_every_dashboard_metric_exists(exposed_names):
    d = dashboard()
    wanted = set().union(*(metric_names(e) for e in expressions(d)))
    missing = sorted(wanted - exposed_names)
    assert not missing, (f"dashboard metrics nobody exposes: {missing}; exposed: "
                         f"{sorted(n for n in exposed_names if n.startswith(('otelcol', 'demo')))}")
