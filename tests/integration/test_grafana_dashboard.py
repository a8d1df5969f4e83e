"""deploy/grafana/otelite-dashboard.json: a well-formed Grafana dashboard whose queries work on the
data the demo really produces. The three demo services run, each with its own otelite sidecar
that has the prometheus exporter (as deploy/k8s/config/otelite-sidecar.yaml), under load with
injected failures; a real Prometheus scrapes every sidecar's self-metrics and its exporter with
the demo's own scrape setup (labels `service` and `pod` per target, `honor_labels` for the
exporter). Every metric a query names must be in Prometheus, and every RED panel's query, with the
dashboard's variables set to "All", must return series for the services."""
from __future__ import annotations

import json
import re
import threading

import pytest
import requests

from demo_support import DEPLOY_DIR, DemoService
from harness import free_port, wait_until
from prometheus_server import PrometheusServer

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
# the dashboard against the demo's real metrics in a real Prometheus

SERVICES = ("auth", "db", "app")
# The dashboard's variables with "All" selected, and a rate window that spans a few 1 s scrapes.
VARIABLES = {"service": ".*", "pod": ".*", "__rate_interval": "20s", "__interval": "5s"}


def substitute(expr: str) -> str:
    for k in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace("${" + k + "}", VARIABLES[k]).replace("$" + k, VARIABLES[k])
    return expr


class DemoPrometheus(PrometheusServer):
    """Prometheus with the demo's scrape setup (deploy/local/cluster.py, deploy/compose): one job
    for the sidecars' self-metrics, one for their prometheus exporters with honor_labels, every
    target labelled with its service and pod."""

    def __init__(self, workdir, sidecars: dict[str, tuple[str, str]]) -> None:
        super().__init__(workdir, targets={})
        self.sidecars = sidecars  # service -> (self-metrics address, exporter address)

    def write_config(self) -> None:
        def job(name: str, which: int, honor: bool) -> dict:
            return {"job_name": name, "honor_labels": honor, "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": [addrs[which]],
                                        "labels": {"service": svc, "pod": f"{svc}-0"}}
                                       for svc, addrs in sorted(self.sidecars.items())]}
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "scrape_configs": [job("otelite-sidecars", 0, False),
                                     job("demo-services", 1, True)]}
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")


@pytest.fixture(scope="module")
def demo_prometheus(module_otelite, tmp_path_factory):
    """The services, each with its sidecar (OTLP in, prometheus exporter out), under load, and a
    Prometheus scraping them; yields the Prometheus while the load goes on."""
    work = tmp_path_factory.mktemp("dash")
    sidecars, addrs = {}, {}
    for svc in SERVICES:
        prom_port = free_port()

        def sidecar_config(cfg: dict, prom_port=prom_port) -> None:
            cfg.setdefault("processors", {})["memory_limiter"] = {
                "check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25}
            cfg["processors"]["batch"] = {"timeout": "200ms"}
            cfg["exporters"]["prometheus"] = {"endpoint": f"127.0.0.1:{prom_port}"}
            for name, pipeline in cfg["service"]["pipelines"].items():
                pipeline["processors"] = ["memory_limiter", "batch"]
            cfg["service"]["pipelines"]["metrics"]["exporters"] = ["prometheus"]

        d = module_otelite.default(mutate=sidecar_config, name=f"sidecar-{svc}")
        sidecars[svc] = d
        addrs[svc] = (f"127.0.0.1:{d.ports.metrics}", f"127.0.0.1:{prom_port}")

    services: dict[str, DemoService] = {}
    stop = threading.Event()
    prom = None
    try:
        for svc in SERVICES:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{sidecars[svc].grpc_target}",
                   "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BLRP_SCHEDULE_DELAY": "200",
                   "OTEL_METRIC_EXPORT_INTERVAL": "1000", "AUTH_JWT_SECRET": "x" * 40,
                   "AUTH_USERS": "alice:wonderland",
                   # as in deploy/k8s: the exporter's job label becomes "otelite-demo/<service>",
                   # so the panels must select by the scrape's `service` label
                   "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=otelite-demo,"
                                               f"service.instance.id={svc}-0"}
            if svc == "app":
                env.update(AUTH_URL=services["auth"].url, DB_URL=services["db"].url)
            services[svc] = DemoService(svc, free_port(), work, env).start()
            services[svc].wait_ready()
        http = requests.Session()
        http.trust_env = False
        app = services["app"].url
        token = http.post(app + "/login", json={"username": "alice", "password": "wonderland"},
                          timeout=10).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        # Half of C's queries fail: app answers 502 and db 500, so there are errors to count.
        assert http.post(services["db"].url + "/admin/faults", json={"error_rate": 0.5},
                         timeout=10).status_code == 200
        statuses: list[int] = []

        def load() -> None:
            while not stop.is_set():
                statuses.append(http.get(app + "/items", headers=auth, timeout=10).status_code)
                statuses.append(http.post(app + "/items", json={"name": "x"}, headers=auth,
                                          timeout=10).status_code)
                stop.wait(0.1)

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        prom = DemoPrometheus(work, addrs).start()
        # every service's counter, scraped more than once, with requests in between
        prom.wait_for('count by (service) (rate(demo_requests_total[20s]) > 0)',
                      lambda r: {e["metric"]["service"] for e in r} == set(SERVICES),
                      timeout=60, what="every service's request rate in Prometheus")
        assert {200, 502} <= set(statuses) and 201 in statuses, sorted(set(statuses))
        yield prom
    finally:
        stop.set()
        if prom is not None:
            prom.stop()
        for s in services.values():
            s.stop()


def test_every_dashboard_metric_is_in_prometheus(demo_prometheus):
    have = set(demo_prometheus.api("/api/v1/label/__name__/values"))
    wanted = set().union(*(metric_names(e) for e in expressions(dashboard())))
    missing = sorted(wanted - have)
    assert not missing, (f"dashboard metrics Prometheus never scraped: {missing}; it has: "
                         f"{sorted(n for n in have if n.startswith(('otelcol', 'demo')))}")


def test_red_panels_show_every_service(demo_prometheus):
    """Each RED query returns data, labelled with the services the sidecars serve: request rate
    and duration for all three, the error ratio for the ones that failed (db and app)."""
    red = [(p["title"], t["expr"]) for p in panels(dashboard()) for t in p.get("targets", [])
           if any(n.startswith("demo_") for n in metric_names(t["expr"]))]
    assert len(red) >= 5, red
    def finite_by_service(result: list[dict]) -> set[str]:
        # a route without requests in the window is 0/0 = NaN there: fine, but every service
        # needs a real value
        return {e["metric"].get("service") for e in result
                if float(e["value"][1]) == float(e["value"][1])}

    for title, expr in red:
        want = {"app", "db"} if "demo_errors" in expr else set(SERVICES)
        result = demo_prometheus.wait_for(
            substitute(expr), lambda r: finite_by_service(r) >= want,
            timeout=30, what=f"panel {title!r}: {expr}")
        assert all(not float(e["value"][1]) < 0 for e in result), (title, result)
    # the variables' queries list the services and pods
    for v in dashboard()["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            label = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip()).group(2)
            found = {e["metric"].get(label) for e in
                     demo_prometheus.query(substitute(variable_expr(q)))}
            assert found >= {"app", "auth", "db"} or found >= {"app-0", "auth-0", "db-0"}, (q, found)
