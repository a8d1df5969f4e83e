"""The demo services (deploy/demo) against the real otelite: app (A), auth (B) and db (C) run as
uvicorn processes on loopback ports and export traces, metrics and logs over OTLP/gRPC to one
otelite, whose file exporter output is read back and checked: one trace across the three services
with unbroken parent links, the tenant baggage on every service's spans, SQL spans with db.*
attributes, error and latency injection, request metrics and logs carrying trace ids."""
from __future__ import annotations

import secrets
import time
import uuid

import jwt
import pytest
import requests

from demo_support import (SPAN_KIND, STATUS_ERROR, DemoService, Output, find_point,
                          latest_points, otelite_for_demo, point_value, traces)
from harness import Otelite, Ports, base_config, free_port

USERS = {"alice": "wonderland", "bob": "builder"}
TIMEOUT = 20.0


def telemetry_env(d: Otelite) -> dict[str, str]:
    """OTLP/gRPC to `d`, exported quickly (the SDK's standard variables)."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{d.grpc_target}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "test-id",
    }


class Demo:
    def __init__(self, workdir, otelite: Otelite, out: Output, secret: str) -> None:
        self.workdir = workdir
        self.otelite = otelite
        self.out = out
        self.secret = secret
        self.services: dict[str, DemoService] = {}
        self.extra: list[DemoService] = []
        self.http = requests.Session()
        self.http.trust_env = False

    def url(self, name: str) -> str:
        return self.services[name].url

    def service(self, name: str, env: dict[str, str], label: str) -> DemoService:
        """Starts one more service process (stopped at teardown if still running)."""
        # Each process its own service.name (label), so their metrics never mix.
        base = {**telemetry_env(self.otelite), "OTEL_SERVICE_NAME": label,
                "AUTH_JWT_SECRET": self.secret,
                "AUTH_USERS": ",".join(f"{u}:{p}" for u, p in USERS.items())}
        s = DemoService(name, free_port(), self.workdir, {**base, **env}, label=label).start()
        self.extra.append(s)
        return s

    def login(self, user: str = "alice") -> str:
        r = self.http.post(self.url("app") + "/login",
                           json={"username": user, "password": USERS[user]}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def set_faults(self, **faults) -> None:
        r = self.http.post(self.url("db") + "/admin/faults", json=faults, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json() == {"delay_ms": 0, "jitter_ms": 0, "error_rate": 0.0, **faults}

    def tagged_trace(self, test_id: str, services=("app", "auth", "db"), timeout=TIMEOUT):
        """Waits for the trace whose app server span carries `test-id: test_id`, complete: a
        server span of every service in `services` and no parent missing. Returns the Trace."""

        def complete(out: Output):
            spans = out.spans()
            tagged = [s for s in spans if s.attrs.get("http.request.header.test_id") == [test_id]]
            if not tagged:
                return None
            t = traces(spans)[tagged[0].trace_id]
            if t.dangling() or not all(t.find(svc, SPAN_KIND["SERVER"]) for svc in services):
                return None
            return t

        try:
            return self.out.wait_for(complete, f"the complete trace of test-id {test_id}", timeout)
        except AssertionError as exc:
            spans = self.out.spans()
            tagged = [s for s in spans if s.attrs.get("http.request.header.test_id") == [test_id]]
            detail = "no span carries the test id"
            if tagged:
                t = traces(spans)[tagged[0].trace_id]
                detail = f"trace {tagged[0].trace_id}: {t.spans}; dangling: {t.dangling()}"
            raise AssertionError(f"{exc}; {detail}") from None


@pytest.fixture(scope="module")
def demo(tmp_path_factory, request):
    binary = otelite_for_demo(request)
    workdir = tmp_path_factory.mktemp("demo")
    ports = Ports()
    out_path = workdir / "otelite-out.jsonl"
    d = Otelite(binary, workdir, "otelite", base_config(ports, out_path), ports)
    d.start()
    demo = Demo(workdir, d, Output(out_path), secrets.token_hex(32))
    try:
        for name, env in (("auth", {}), ("db", {"DB_PATH": str(workdir / "items.db")})):
            demo.services[name] = demo.service(name, env, label=name)
        demo.services["app"] = demo.service("app", {"AUTH_URL": demo.url("auth"),
                                                    "DB_URL": demo.url("db")}, label="app")
        for s in demo.services.values():
            s.wait_ready("/healthz")
        demo.services["app"].wait_ready("/readyz")
        yield demo
    finally:
        problems = []
        for s in demo.extra:
            running = s.proc is not None and s.proc.poll() is None
            rc = s.stop()
            if running and not s.stopped_gracefully():
                problems.append(f"{s.label} (pid {s.proc.pid}) did not stop gracefully: rc {rc}")
        d.stop()
        for s in demo.extra:
            print(f"\n===== {s.label} log =====\n{s.log()[-4000:]}")
        assert not problems, problems


def _decode(token: str, secret: str) -> dict:
    return jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})


# --------------------------------------------------------------------------------------------
# the API


def test_login_issues_a_jwt_and_items_require_it(demo: Demo):
    app = demo.url("app")
    token = demo.login("alice")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = _decode(token, demo.secret)
    assert claims["sub"] == "alice" and claims["exp"] > time.time()

    for creds in ({"username": "alice", "password": "wrong"},
                  {"username": "mallory", "password": "wonderland"}):
        r = demo.http.post(app + "/login", json=creds, timeout=10)
        assert r.status_code == 401, (creds, r.status_code, r.text)

    forged = jwt.encode({"sub": "alice", "iat": int(time.time()), "exp": int(time.time()) + 60,
                         "iss": "otelite-demo-auth"}, secrets.token_hex(32), algorithm="HS256")
    expired = jwt.encode({"sub": "alice", "iat": int(time.time()) - 120,
                          "exp": int(time.time()) - 60, "iss": "otelite-demo-auth"},
                         demo.secret, algorithm="HS256")
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"},
                    {"Authorization": f"Bearer {forged}"}, {"Authorization": f"Bearer {expired}"},
                    {"Authorization": token}):
        r = demo.http.get(app + "/items", headers=headers, timeout=10)
        assert r.status_code == 401, (headers, r.status_code, r.text)
        r = demo.http.post(app + "/items", json={"name": "nope"}, headers=headers, timeout=10)
        assert r.status_code == 401, (headers, r.status_code, r.text)

    # Stateless: auth validates the token by its signature alone.
    r = demo.http.post(demo.url("auth") + "/validate",
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200 and r.json()["sub"] == "alice", r.text


def test_items_are_written_through_db_and_listed_per_user(demo: Demo):
    app = demo.url("app")
    alice = {"Authorization": f"Bearer {demo.login('alice')}"}
    bob = {"Authorization": f"Bearer {demo.login('bob')}"}
    names = [f"item-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    created = []
    for n in names:
        r = demo.http.post(app + "/items", json={"name": n}, headers=alice, timeout=10)
        assert r.status_code == 201, r.text
        assert r.json()["name"] == n and r.json()["owner"] == "alice"
        created.append(r.json())
    assert len({c["id"] for c in created}) == 3

    listed = demo.http.get(app + "/items", headers=alice, timeout=10)
    assert listed.status_code == 200, listed.text
    assert [i for i in listed.json() if i["name"] in names] == created
    others = demo.http.get(app + "/items", headers=bob, timeout=10)
    assert others.status_code == 200
    assert not [i for i in others.json() if i["name"] in names], "bob sees alice's items"

    r = demo.http.post(app + "/items", json={"name": ""}, headers=alice, timeout=10)
    assert r.status_code == 422


def test_health_and_readiness(demo: Demo):
    for name in ("app", "auth", "db"):
        assert demo.http.get(demo.url(name) + "/healthz", timeout=5).status_code == 200
        assert demo.http.get(demo.url(name) + "/readyz", timeout=5).status_code == 200, name
    r = demo.http.get(demo.url("app") + "/readyz", timeout=5)
    assert r.json()["checks"] == {"auth": "ready", "db": "ready"}

    # An app whose db is unreachable is alive but not ready, and answers 503 for items.
    lonely = demo.service("app", {"AUTH_URL": demo.url("auth"),
                                  "DB_URL": f"http://127.0.0.1:{free_port()}"}, label="app-no-db")
    lonely.wait_ready("/healthz")
    r = demo.http.get(lonely.url + "/readyz", timeout=5)
    assert r.status_code == 503, r.text
    assert r.json()["checks"]["auth"] == "ready"
    assert r.json()["checks"]["db"].startswith("unreachable"), r.text
    token = demo.login("alice")
    r = demo.http.get(lonely.url + "/items", headers={"Authorization": f"Bearer {token}"},
                      timeout=10)
    assert r.status_code == 503, r.text
    lonely.stop_gracefully()


# --------------------------------------------------------------------------------------------
# one request, one trace


@pytest.fixture(scope="module")
def tagged(demo: Demo):
    """POST /items with a test-id header and `baggage: tenant=acme`; its complete trace."""
    test_id = uuid.uuid4().hex
    token = demo.login("alice")
    item_name = f"traced-{test_id[:8]}"
    r = demo.http.post(demo.url("app") + "/items", json={"name": item_name}, timeout=10,
                       headers={"Authorization": f"Bearer {token}", "test-id": test_id,
                                "baggage": "tenant=acme"})
    assert r.status_code == 201, r.text
    return demo.tagged_trace(test_id), test_id, item_name


def test_one_trace_rooted_at_app_with_unbroken_parent_links(demo: Demo, tagged):
    t, test_id, _ = tagged
    spans = demo.out.spans()
    carrying = [s for s in spans if s.attrs.get("http.request.header.test_id") == [test_id]]
    assert len(carrying) == 1, carrying
    root = carrying[0]
    assert (root.service, root.kind, root.name) == ("app", SPAN_KIND["SERVER"], "POST /items")

    assert t.roots() == [root], f"roots: {t.roots()}"
    assert not t.dangling(), f"broken parent links: {t.dangling()}"
    assert {s.service for s in t.spans} == {"app", "auth", "db"}

    # Every auth and db server span hangs (transitively) under one of app's client spans.
    for service, name in (("auth", "POST /validate"), ("db", "POST /items")):
        servers = t.find(service, SPAN_KIND["SERVER"])
        assert [s.name for s in servers] == [name], servers
        chain = t.ancestors(servers[0])
        assert chain and chain[-1] == root, chain
        first_app = next(a for a in chain if a.service == "app")
        assert first_app.kind == SPAN_KIND["CLIENT"], chain
        assert all(a.service in (service, "app") for a in chain), chain

    # The manual token-check span wraps the call to auth.
    check = t.find("app", SPAN_KIND["INTERNAL"], "check token")
    assert len(check) == 1 and check[0].attrs.get("enduser.id") == "alice"
    auth_server = t.find("auth", SPAN_KIND["SERVER"])[0]
    assert check[0] in t.ancestors(auth_server)
    verify = t.find("auth", name="jwt.verify")
    assert len(verify) == 1 and verify[0].attrs.get("auth.result") == "valid"

    # Baggage and trace context travel together: no other trace carries this request's tenant.
    acme = {s.trace_id for s in spans if s.attrs.get("tenant") == "acme"}
    assert acme == {root.trace_id}


def test_tenant_baggage_is_on_the_spans_of_all_three_services(tagged):
    t, _, _ = tagged
    missing = [s for s in t.spans if s.attrs.get("tenant") != "acme"]
    assert not missing, f"spans without tenant=acme: {missing}"
    assert {s.service for s in t.spans if s.attrs.get("tenant") == "acme"} == {"app", "auth", "db"}


def test_sql_span_has_db_attributes(tagged):
    t, _, item_name = tagged
    sql = t.find("db", name="INSERT items")
    assert len(sql) == 1, t.spans
    span = sql[0]
    assert span.kind == SPAN_KIND["CLIENT"]
    assert span.attrs["db.system"] == "sqlite"
    assert span.attrs["db.operation"] == "INSERT"
    assert span.attrs["db.sql.table"] == "items"
    assert span.attrs["db.statement"].startswith("INSERT INTO items")
    assert item_name not in span.attrs["db.statement"], "values belong in parameters"
    assert span.attrs["enduser.id"] == "alice"
    assert span.attrs["db.response.returned_rows"] == 1
    assert span.status_code != STATUS_ERROR
    assert t.find("db", SPAN_KIND["SERVER"])[0] in t.ancestors(span)


def test_logs_carry_the_trace_ids(demo: Demo, tagged):
    t, _, item_name = tagged

    def correlated(out: Output):
        found = {}
        for res, lr in out.logs():
            if lr.get("traceId") == t.spans[0].trace_id:
                found.setdefault(res.get("service.name"), []).append(lr)
        return found if set(found) == {"app", "auth", "db"} else None

    found = demo.out.wait_for(correlated, "logs of all three services with the trace id")
    for service, records in found.items():
        for lr in records:
            assert lr.get("spanId") in t.by_id, (service, lr)
    bodies = {s: [r["body"]["stringValue"] for r in rs] for s, rs in found.items()}
    assert any("created item" in b for b in bodies["app"]), bodies
    assert any("token valid for user alice" in b for b in bodies["auth"]), bodies
    assert any("inserted item" in b for b in bodies["db"]), bodies


# --------------------------------------------------------------------------------------------
# fault injection


def test_error_injection_fails_calls_with_5xx_and_error_spans(demo: Demo):
    headers = {"Authorization": f"Bearer {demo.login('alice')}"}
    ids = [uuid.uuid4().hex for _ in range(2)]
    demo.set_faults(error_rate=1.0)
    try:
        for test_id in ids:
            r = demo.http.get(demo.url("app") + "/items", headers={**headers, "test-id": test_id},
                              timeout=10)
            assert 500 <= r.status_code < 600, (r.status_code, r.text)
    finally:
        demo.set_faults()
    r = demo.http.get(demo.url("app") + "/items", headers=headers, timeout=10)
    assert r.status_code == 200, "db should answer again once the faults are cleared"

    for test_id in ids:
        t = demo.tagged_trace(test_id)
        sql = t.find("db", name="SELECT items")
        assert len(sql) == 1, t.spans
        assert sql[0].status_code == STATUS_ERROR, sql[0].raw
        assert sql[0].attrs.get("fault.injected") is True
        events = [e["name"] for e in sql[0].raw.get("events", [])]
        assert "exception" in events, sql[0].raw
        db_server = t.find("db", SPAN_KIND["SERVER"])[0]
        assert db_server.status_code == STATUS_ERROR, db_server.raw
        app_server = t.roots()[0]
        assert app_server.status_code == STATUS_ERROR, app_server.raw
        assert app_server.attrs.get("http.status_code") == 502

    # The error counters count exactly these failures (nothing else in this module fails).
    def errors_counted(out: Output):
        m = out.metrics()
        app = find_point(latest_points(m, "app", "demo.errors"),
                         {"http.route": "/items", "http.response.status_code": 502})
        db = find_point(latest_points(m, "db", "demo.errors"),
                        {"http.route": "/items", "http.response.status_code": 500})
        return app and db and point_value(app) == 2 and point_value(db) == 2

    demo.out.wait_for(errors_counted, "demo.errors == 2 on app (502) and db (500)")


def test_latency_injection_slows_the_sql_span(demo: Demo):
    headers = {"Authorization": f"Bearer {demo.login('alice')}"}
    test_id = uuid.uuid4().hex
    demo.set_faults(delay_ms=250, jitter_ms=50)
    try:
        start = time.monotonic()
        r = demo.http.get(demo.url("app") + "/items", headers={**headers, "test-id": test_id},
                          timeout=10)
        elapsed = time.monotonic() - start
    finally:
        demo.set_faults()
    assert r.status_code == 200, r.text
    assert elapsed >= 0.2

    t = demo.tagged_trace(test_id)
    sql = t.find("db", name="SELECT items")[0]
    delay = sql.attrs["fault.delay_ms"]
    assert 200 <= delay <= 300, delay
    assert sql.duration_ms >= delay
    assert sql.status_code != STATUS_ERROR
    assert t.roots()[0].duration_ms >= delay

    for bad in ({"error_rate": 1.5}, {"delay_ms": -1}):
        r = demo.http.post(demo.url("db") + "/admin/faults", json=bad, timeout=10)
        assert r.status_code == 422, (bad, r.text)


# --------------------------------------------------------------------------------------------
# metrics, startup and shutdown


def test_request_metrics_count_every_request(demo: Demo):
    n = 5
    for _ in range(n):
        r = demo.http.get(demo.url("app") + "/no-such-route", timeout=10)
        assert r.status_code == 404
    wanted = {"http.route": "unmatched", "http.request.method": "GET",
              "http.response.status_code": 404}

    def counted(out: Output):
        m = out.metrics()
        count = find_point(latest_points(m, "app", "demo.requests"), wanted)
        hist = find_point(latest_points(m, "app", "demo.request.duration"), wanted)
        return count and hist and point_value(count) == n and point_value(hist) == n

    demo.out.wait_for(counted, f"app's demo.requests and demo.request.duration == {n}")

    def all_services(out: Output):
        m = out.metrics()
        return all(latest_points(m, s, "demo.requests") for s in ("app", "auth", "db"))

    demo.out.wait_for(all_services, "demo.requests from app, auth and db")
    kinds = {m["name"]: m for res, m in demo.out.metrics() if res.get("service.name") == "db"}
    assert kinds["demo.requests"]["sum"]["isMonotonic"] is True
    assert "histogram" in kinds["demo.request.duration"]
    assert kinds["demo.request.duration"]["unit"] == "ms"


def test_auth_refuses_to_start_without_a_proper_secret(demo: Demo):
    s = demo.service("auth", {"AUTH_JWT_SECRET": "short"}, label="auth-weak-secret")
    rc = s.wait_exit(timeout=30)
    assert rc is not None and rc != 0, f"auth started with a weak secret\n{s.log()}"
    assert "AUTH_JWT_SECRET" in s.log()


def test_sigterm_flushes_the_telemetry_still_buffered(demo: Demo):
    # Batches are held for a minute: only the shutdown flush can deliver them in time.
    label = f"auth-stopping-{uuid.uuid4().hex[:6]}"
    s = demo.service("auth", {"OTEL_SERVICE_NAME": label, "OTEL_BSP_SCHEDULE_DELAY": "60000",
                              "OTEL_BLRP_SCHEDULE_DELAY": "60000"}, label=label)
    s.wait_ready("/healthz")
    r = demo.http.post(s.url + "/token", json={"username": "bob", "password": "builder"},
                       timeout=10)
    assert r.status_code == 200
    s.stop_gracefully()

    def flushed(out: Output):
        spans = [sp for sp in out.spans() if sp.service == label]
        logs = [lr["body"].get("stringValue", "") for res, lr in out.logs()
                if res.get("service.name") == label]
        return (any(sp.name == "POST /token" for sp in spans)
                and any("token issued for user bob" in b for b in logs)
                and any("stopping" in b for b in logs))

    demo.out.wait_for(flushed, f"{label}'s span and logs flushed at shutdown")
