#!/usr/bin/env python3
"""Evaluation of the demo on the one-machine setup (deploy/local): a report in markdown + PNG.

    sudo .venv/bin/python deploy/demo/load/evaluate.py [--results DIR] [--quick]
         [--replicas 1,3] [--no-overhead] [--keep]

For each replica count it brings the cluster up (deploy/local/cluster.py), runs the scenario
timeline under Locust (steady load, a spike, an error burst on C, toxiproxy faults on the A→B and
A→C links, a rolling restart of the app pods' sidecars, one `test-id` request) and checks:

1. telemetry = load: requests sent by Locust against server spans received, per service;
2. health: every sidecar and service answered its health check all along (a sidecar being
   restarted on purpose excepted), every process is still running, no exporter failed;
3. trace completeness: the `test-id` request is one trace, A's server span its only root, B's and
   C's server spans under it, no broken link;

then (unless --no-overhead) measures the overhead: the same load with the SDK off and no sidecar,
with the otelite sidecar and with the otelcol sidecar (when otelcol-otelite is in the tools cache):
latency percentiles, throughput, the sidecars' CPU and RSS from /proc.

"Sent" under faults: every request Locust made is sent to A (the client→A path has no faults), so
A's server spans must equal Locust's requests, answered or not. A→B and A→C calls are counted from
A's client spans: a call that got an HTTP answer reached the server, so it must have exactly one
server span of the callee as its child; a call without an answer (connection refused, reset,
timeout) may or may not have reached the server, and a server span is then allowed but not
required. Every server span of B and C must have A's client span as its parent (else A's telemetry
was lost). Any difference fails the check.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "local"))

import cluster as cl  # noqa: E402
from otlp_files import (KIND_CLIENT, KIND_SERVER, Span, dedupe, pod_spans,  # noqa: E402
                        traces)

LOCUSTFILE = HERE / "locustfile.py"
ENDPOINTS = ("POST /login", "GET /items", "POST /items")
CONTROL_ROUTES = {"POST /admin/faults", "GET /admin/faults"}


def say(line: str) -> None:
    print(line, flush=True)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Action:
    at: float
    kind: str  # errors, toxic, disable, restart
    link: str = ""  # auth | db (the A→B or A→C link)
    duration: float = 0.0
    params: dict = field(default_factory=dict)

    def label(self) -> str:
        if self.kind == "errors":
            return f"error burst on C (error_rate {self.params['error_rate']})"
        if self.kind == "toxic":
            return f"{self.params['type']} on A→{'B' if self.link == 'auth' else 'C'}"
        if self.kind == "disable":
            return f"outage of A→{'B' if self.link == 'auth' else 'C'}"
        return f"rolling restart of app sidecars (down {self.params.get('down', 2)} s each)"


@dataclass
class Scenario:
    name: str
    stages: list  # [[until_s, users, spawn_rate]]
    actions: list
    rate: float = 2.0
    settle_timeout: float = 60.0
    toxiproxy: bool = True


def full_scenario(replicas: int, toxiproxy: bool = True) -> Scenario:
    u = 5 * replicas
    sc = Scenario(
        name=f"scenario-{replicas}x",
        stages=[[20, u, u], [32, int(2.5 * u), 2 * u], [100, u, u]],
        actions=[
            Action(40, "errors", duration=8, params={"error_rate": 0.5}),
            Action(52, "toxic", "auth", 8, {"type": "latency",
                                             "attributes": {"latency": 300, "jitter": 50}}),
            Action(62, "toxic", "db", 4, {"type": "reset_peer", "attributes": {"timeout": 0}}),
            Action(68, "disable", "auth", 4),
            Action(76, "restart", params={"down": 3}),
        ])
    if not toxiproxy:
        sc.actions = [a for a in sc.actions if a.kind in ("errors", "restart")]
        sc.toxiproxy = False
    return sc


def quick_scenario(replicas: int = 1, toxiproxy: bool = True) -> Scenario:
    """Seconds, not minutes: one fault (connection resets on A→B through toxiproxy, or without
    toxiproxy an error burst on C) and a rolling restart of app's sidecar."""
    u = 4 * replicas
    fault = (Action(3, "toxic", "auth", 2.5, {"type": "reset_peer", "attributes": {"timeout": 0}})
             if toxiproxy else Action(3, "errors", duration=2.5, params={"error_rate": 0.5}))
    return Scenario(name=f"quick-{replicas}x", stages=[[11, u, u]],
                    actions=[fault, Action(6, "restart", params={"down": 1})],
                    settle_timeout=30.0, toxiproxy=toxiproxy)


# --------------------------------------------------------------------------------------------
# load


def read_ledger(path: Path) -> list[dict]:
    rows = []
    if not path.exists():
        return rows
    with open(path, newline="") as f:
        for r in csv.reader(f):
            if len(r) == 5:
                rows.append({"t": float(r[0]), "name": r[1], "ms": float(r[2]),
                             "status": int(r[3]), "error": r[4]})
    return rows


def locust_total(csv_prefix: Path) -> int | None:
    """Locust's own count of requests (the Aggregated row of its stats CSV)."""
    p = Path(f"{csv_prefix}_stats.csv")
    if not p.exists():
        return None
    with open(p, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") == "Aggregated":
                return int(row["Request Count"])
    return None


def start_locust(c: cl.Cluster, run_dir: Path, label: str, *, stages=None, users: int = 0,
                 duration: float = 0, rate: float = 2.0, test_id: str = "") -> dict:
    apps = [f"http://{c.ip(p)}:{cl.SERVICES['app']}" for p in c.pods_of("app")]
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update({"DEMO_APP_URLS": ",".join(apps), "DEMO_RATE": str(rate),
                "DEMO_LEDGER": str(run_dir / f"{label}.ledger.csv"), "DEMO_TEST_ID": test_id,
                "PYTHONDONTWRITEBYTECODE": "1"})
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", apps[0], "--stop-timeout", "20", "--exit-code-on-error", "0",
            "--csv", str(run_dir / label), "--loglevel", "WARNING", "--only-summary"]
    if stages:
        env["DEMO_STAGES"] = json.dumps(stages)
    else:
        env.pop("DEMO_STAGES", None)
        argv += ["-u", str(users), "-r", str(users), "-t", f"{int(duration)}s"]
    return c.start(f"client/locust-{label}", "client", argv, env, run_dir)


def wait_locust(c: cl.Cluster, rec: dict, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while cl.is_ours_and_alive(rec):
        if time.monotonic() > deadline:
            c.stop(rec)
            raise RuntimeError(f"Locust ({rec['name']}) still running after {timeout:.0f}s")
        time.sleep(0.2)
    c.stop(rec)  # reaps it


# --------------------------------------------------------------------------------------------
# health and resources, sampled in a thread (inside the client namespace)


class Monitor:
    def __init__(self, c: cl.Cluster, interval: float = 0.5) -> None:
        self.c = c
        self.interval = interval
        self.health: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        self.usage: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Monitor":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        targets = self.c.health_targets()
        while not self._stop.is_set():
            now = time.time()
            for name, url in targets.items():
                self.health[name].append((now, cl.http_ok(url, timeout=1.0)))
            for p in self.c.processes():
                if p["name"].startswith("client/") or "stopped" in p:
                    continue
                u = cl.proc_cpu_rss(p["pid"]) if cl.is_ours_and_alive(p) else None
                if u:
                    self.usage[p["name"]].append((now, u[0], u[1]))
            self._stop.wait(self.interval)

    def failures(self, expected: dict[str, list[tuple[float, float]]]) -> dict[str, int]:
        """Failed health probes per target outside its expected windows."""
        out = {}
        for name, samples in self.health.items():
            wins = expected.get(name, [])
            bad = [t for t, ok in samples if not ok and not any(a <= t <= b for a, b in wins)]
            if bad:
                out[name] = len(bad)
        return out

    def resources(self, name_suffix: str, t0: float, t1: float) -> dict[str, dict]:
        """CPU (average cores) and RSS (max, MiB) per process whose name ends with the suffix,
        between t0 and t1 (a restarted process's samples are joined)."""
        out = {}
        for name, samples in self.usage.items():
            if not name.endswith(name_suffix):
                continue
            s = [x for x in samples if t0 <= x[0] <= t1]
            if len(s) < 2:
                continue
            # A restart resets the CPU counter: add up the increases only.
            cpu = sum(max(0.0, b[1] - a[1]) for a, b in zip(s, s[1:]))
            out[name] = {"cpu_cores": cpu / (s[-1][0] - s[0][0]),
                         "rss_max_mib": max(x[2] for x in s) / 2**20,
                         "rss_mean_mib": sum(x[2] for x in s) / len(s) / 2**20}
        return out


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name of one process: each thread's run time from
    /proc/<pid>/task/*/schedstat (nanoseconds, exact; the per-thread utime/stime of `stat` are
    tick samples that undercount threads waking briefly and often). Threads of the same name with
    a different trailing number (a pool) are added up."""
    out: dict[str, float] = defaultdict(float)
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            stat = (task / "stat").read_text()
            run_ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        out[re.sub(r"[-_]?\d+$", "", comm) or comm] += run_ns / 1e9
    return dict(out)


def threads_delta(before: dict[str, dict], after: dict[str, dict], seconds: float) -> dict:
    """Per sidecar process: thread name -> average share of one core between two snapshots."""
    out = {}
    for name, a in after.items():
        b = before.get(name, {})
        d = {k: (v - b.get(k, 0.0)) / seconds for k, v in a.items()}
        out[name] = dict(sorted(((k, v) for k, v in d.items() if v > 0), key=lambda kv: -kv[1]))
    return out


def sidecar_threads(c: cl.Cluster) -> dict[str, dict]:
    return {p["name"]: thread_cpu(p["pid"]) for p in c.processes()
            if p["name"].endswith("/sidecar") and cl.is_ours_and_alive(p)}


def scrape(url: str) -> dict[str, float]:
    """Sums of a Prometheus text endpoint's samples by metric name."""
    from prometheus_client.parser import text_string_to_metric_families

    code, body = cl.http("GET", url, timeout=5)
    if code != 200:
        raise RuntimeError(f"{url}: {code}")
    sums: dict[str, float] = defaultdict(float)
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            sums[s.name] += s.value
    return sums


# --------------------------------------------------------------------------------------------
# faults


def toxiproxy_names(c: cl.Cluster, link: str) -> list[str]:
    return [f"{link}-{c.pods[p]['index']}" for p in c.pods_of(link)]


def apply(c: cl.Cluster, a: Action, on: bool) -> None:
    if a.kind == "errors":
        body = a.params if on else {}
        for pod in c.pods_of("db"):
            code, text = cl.http("POST", f"http://{c.ip(pod)}:{cl.SERVICES['db']}/admin/faults",
                                 body)
            if code != 200:
                raise RuntimeError(f"db faults on {pod}: {code} {text[:200]!r}")
        return
    api = c.toxiproxy_url()
    for proxy in toxiproxy_names(c, a.link):
        if a.kind == "toxic":
            if on:
                code, text = cl.http("POST", f"{api}/proxies/{proxy}/toxics",
                                     {"name": "fault", "type": a.params["type"],
                                      "stream": "downstream", "toxicity": 1.0,
                                      "attributes": a.params["attributes"]})
            else:
                code, text = cl.http("DELETE", f"{api}/proxies/{proxy}/toxics/fault")
        elif a.kind == "disable":
            code, text = cl.http("POST", f"{api}/proxies/{proxy}", {"enabled": not on})
        else:
            raise ValueError(a.kind)
        if code not in (200, 204):
            raise RuntimeError(f"toxiproxy {a.kind} {proxy}: {code} {text[:200]!r}")


# --------------------------------------------------------------------------------------------
# the checks


def callee(span: Span) -> str | None:
    path = urlparse(span.url).path
    if path in ("/token", "/validate"):
        return "auth"
    if path.startswith("/items"):
        return "db"
    return None


def telemetry_vs_load(ledger: list[dict], spans: list[Span], dups: int) -> tuple[list[Check], dict]:
    checks, table = [], {}
    app_server = [s for s in spans if s.service == "app" and s.kind == KIND_SERVER]
    sent = Counter(r["name"] for r in ledger)
    recv = Counter(s.route_key for s in app_server)
    for ep in sorted(set(sent) | set(recv)):
        table[f"A {ep}"] = {"sent": sent[ep], "received": recv[ep]}
    unanswered = sum(1 for r in ledger if r["status"] == 0)
    checks.append(Check(
        "A: Locust requests = app server spans", sent == recv,
        f"sent {sum(sent.values())} ({unanswered} without an answer), received "
        f"{sum(recv.values())}" + ("" if sent == recv else
                                   f"; by endpoint sent {dict(sent)} received {dict(recv)}")))

    calls = [s for s in spans if s.service == "app" and s.kind == KIND_CLIENT and callee(s)]
    for svc, letter in (("auth", "B"), ("db", "C")):
        mine = [s for s in calls if callee(s) == svc]
        ids = {s.span_id for s in mine}
        # db's /admin/faults calls are this evaluation's own (the error burst), not A's
        server = [s for s in spans if s.service == svc and s.kind == KIND_SERVER
                  and s.route_key not in CONTROL_ROUTES]
        children: dict[str, int] = Counter(s.parent_id for s in server)
        answered = [s for s in mine if s.http_status is not None]
        no_answer = [s for s in mine if s.http_status is None]
        missing = [s for s in answered if children[s.span_id] != 1]
        orphans = [s for s in server if s.parent_id not in ids]
        reached = sum(1 for s in no_answer if children[s.span_id])
        ok = not missing and not orphans and len(server) == len(answered) + reached
        table[f"{letter} ({svc})"] = {"sent": len(answered), "received": len(server),
                                      "calls without answer": len(no_answer),
                                      "of which reached": reached}
        checks.append(Check(
            f"{letter}: answered calls from A = {svc} server spans", ok,
            f"{len(answered)} answered calls, {len(server)} server spans, {len(no_answer)} calls "
            f"without an answer ({reached} of them reached {svc}), {len(missing)} answered calls "
            f"without their server span, {len(orphans)} server spans without A's client span"))
    checks.append(Check("no span delivered twice", dups == 0, f"{dups} duplicates"))
    return checks, table


def trace_check(spans: list[Span], test_id: str) -> tuple[Check, list[str]]:
    tagged = [s for s in spans if s.service == "app" and s.kind == KIND_SERVER
              and s.attrs.get("http.request.header.test_id") in ([test_id], test_id)]
    if len(tagged) != 1:
        return Check("test-id trace complete", False,
                     f"{len(tagged)} app server spans carry test-id {test_id}"), []
    root = tagged[0]
    t = traces(spans)[root.trace_id]
    problems = []
    if t.roots() != [root]:
        problems.append(f"roots: {[(r.service, r.name) for r in t.roots()]}")
    if t.dangling():
        problems.append(f"broken links: {[(s.service, s.name) for s in t.dangling()]}")
    for svc in ("auth", "db"):
        srv = [s for s in t.spans if s.service == svc and s.kind == KIND_SERVER]
        if not srv:
            problems.append(f"no {svc} server span")
        for s in srv:
            parent = t.by_id.get(s.parent_id)
            if parent is None or parent.service != "app" or parent.kind != KIND_CLIENT:
                problems.append(f"{svc} server span's parent is not an app client span")
    for s in t.spans:
        if s is not root and root not in t.ancestors(s):
            problems.append(f"{s.service} {s.name!r} is not under the root")
            break
    services = sorted({s.service for s in t.spans})
    detail = (f"trace {root.trace_id}: {len(t.spans)} spans from {', '.join(services)}, root "
              f"{root.name!r}" + (f"; {'; '.join(problems)}" if problems else ""))
    return Check("test-id trace complete", not problems, detail), t.render()


def forwarding_checks(c: cl.Cluster, spans: list[Span], test_id: str,
                      timeout: float = 30.0) -> list[Check]:
    """With the forward overlay: the test-id trace reached the trace backend whole (Jaeger's query
    API, or the central otelite's file), and Prometheus scraped every service's request counter
    from its sidecar's prometheus exporter. The file exporters stay the count of record; these
    show the production paths carry the same data."""
    checks = []
    tagged = [s for s in spans if s.service == "app" and s.kind == KIND_SERVER
              and s.attrs.get("http.request.header.test_id") in ([test_id], test_id)]
    obs = c.ip("obs")
    if tagged:
        trace_id = tagged[0].trace_id
        want = len(traces(spans)[trace_id].spans)
        backend = c.s.get("trace_backend")

        def backend_count() -> int:
            if backend == "jaeger":
                code, body = cl.http("GET", f"http://{obs}:{cl.JAEGER_QUERY}/api/traces/{trace_id}")
                if code != 200:
                    return 0
                data = json.loads(body).get("data") or []
                return len({sp["spanID"] for t in data for sp in t["spans"]})
            path = c.dir / "obs" / "traces.jsonl"
            return sum(1 for s in dedupe(pod_spans({"obs": path.parent}))[0]
                       if s.trace_id == trace_id) if path.exists() else 0

        deadline, got = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            got = backend_count()
            if got >= want:
                break
            time.sleep(1)
        checks.append(Check(f"forwarding: the test-id trace reached {backend} whole", got == want,
                            f"{got} of its {want} spans in {backend} (trace {trace_id})"))
    query = "count by (service) (demo_requests_total)"
    deadline, seen = time.monotonic() + timeout, set()
    want_svcs = {d["service"] for d in c.pods.values()}
    while time.monotonic() < deadline:
        code, body = cl.http("GET", f"http://{obs}:{cl.PROMETHEUS_PORT}/api/v1/query?"
                             + urlencode({"query": query}))
        if code == 200:
            seen = {r["metric"].get("service") for r in json.loads(body)["data"]["result"]}
        if want_svcs <= seen:
            break
        time.sleep(1)
    checks.append(Check("forwarding: Prometheus scraped demo_requests_total from every sidecar's "
                        "prometheus exporter", want_svcs <= seen,
                        f"services with series: {sorted(x for x in seen if x) or 'none'}"))
    return checks


# --------------------------------------------------------------------------------------------
# runs


@dataclass
class RunResult:
    name: str
    replicas: int
    checks: list
    table: dict
    trace: list
    events: list
    ledger: list
    spans_app_server_t: list
    resources: dict
    t0: float
    duration: float
    restarts: list


def run_scenario(sc: Scenario, replicas: int, work: Path, prefix: str | None = None,
                 log=say) -> RunResult:
    """Brings a cluster up, runs the scenario, checks, brings it down (always)."""
    state = work / sc.name
    run_dir = state / "load"
    c = cl.Cluster(state)
    try:
        c.up(replicas=replicas, sidecar="otelite", toxiproxy=sc.toxiproxy, prefix=prefix)
        run_dir.mkdir(parents=True, exist_ok=True)
        log(f"[{sc.name}] up: {len(c.pods)} pods, prefix {c.prefix}")
        with cl.netns(c.ns("client")):
            return _run_scenario(c, sc, replicas, run_dir, log)
    finally:
        for line in c.down():
            if "killed" in line:
                log(f"[{sc.name}] down: {line}")


def _run_scenario(c: cl.Cluster, sc: Scenario, replicas: int, run_dir: Path, log) -> RunResult:
    test_id = uuid.uuid4().hex
    mon = Monitor(c).start()
    events = []
    expected: dict[str, list[tuple[float, float]]] = defaultdict(list)
    total = sc.stages[-1][0]
    t0 = time.time()
    locust = start_locust(c, run_dir, "scenario", stages=sc.stages, rate=sc.rate,
                          test_id=test_id)
    active: list[tuple[float, Action]] = []
    try:
        for a in sorted(sc.actions, key=lambda a: a.at):
            while time.time() < t0 + a.at:
                _end_due(c, active, events, t0)
                time.sleep(0.05)
            _end_due(c, active, events, t0)
            if a.kind == "restart":
                for pod in c.pods_of("app"):
                    ev = c.restart_sidecar(pod, down_s=a.params.get("down", 2))
                    expected[f"{pod}/sidecar"].append((ev["sigterm"] - 1, ev["ready"] + 1))
                    events.append({"label": f"restart of {pod}'s sidecar",
                                   "start": ev["sigterm"] - t0, "end": ev["ready"] - t0,
                                   "old_exit": ev["old_exit"]})
                    log(f"[{sc.name}] {pod} sidecar restarted: old one exited "
                        f"{ev['old_exit']}, new one ready {ev['ready'] - ev['sigterm']:.1f}s "
                        "after SIGTERM")
            else:
                apply(c, a, True)
                active.append((time.time() + a.duration, a))
                events.append({"label": a.label(), "start": time.time() - t0, "end": None})
                log(f"[{sc.name}] t={time.time() - t0:.1f}s {a.label()} for {a.duration}s")
        while active:
            _end_due(c, active, events, t0)
            time.sleep(0.05)
        wait_locust(c, locust, total + 60)
    finally:
        for _, a in active:
            with contextlib.suppress(Exception):
                apply(c, a, False)
        if cl.is_ours_and_alive(locust):
            c.stop(locust)
    t_end = time.time()
    ledger = read_ledger(run_dir / "scenario.ledger.csv")
    log(f"[{sc.name}] load done: {len(ledger)} requests in {t_end - t0:.0f}s")

    # Telemetry arrives within a second or two (batch delay 0.5 s); a sidecar restart can delay
    # a pod's spans by the SDK's retry backoff. Wait until the counts agree or stop changing.
    dirs = {p: Path(d["dir"]) for p, d in c.pods.items()}
    deadline = time.monotonic() + sc.settle_timeout
    last_n, stable_since = -1, time.monotonic()
    while True:
        spans, dups = dedupe(pod_spans(dirs))
        checks, table = telemetry_vs_load(ledger, spans, dups)
        if all(ch.ok for ch in checks):
            break
        if len(spans) != last_n:
            last_n, stable_since = len(spans), time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - stable_since > 15:
            break
        time.sleep(0.5)
    mon.stop()

    # Locust's stats CSV is a snapshot taken while the run stops: requests finishing during the
    # graceful stop can be missing from it. The ledger (Locust's request event) has every one.
    checks[0].detail += (f"; Locust's summary CSV counted {locust_total(run_dir / 'scenario')} "
                         "before the graceful stop ended")
    failures = mon.failures(expected)
    checks.append(Check("health: every sidecar and service answered all along", not failures,
                        f"{sum(len(v) for v in mon.health.values())} probes of "
                        f"{len(mon.health)} targets; failures outside restarts: "
                        f"{failures or 'none'}"))
    dead = [p["name"] for p in c.processes() if "stopped" not in p
            and not p["name"].startswith("client/") and not cl.is_ours_and_alive(p)]
    checks.append(Check("health: every process still running", not dead,
                        f"{len(c.processes(alive_only=True))} running; exited: {dead or 'none'}"))
    send_failed = refused = 0.0
    for pod, d in c.pods.items():
        m = scrape(f"http://{d['ip']}:{cl.SIDECAR_METRICS}/metrics")
        send_failed += sum(v for k, v in m.items() if k.startswith("otelcol_exporter_send_failed"))
        refused += m.get("otelcol_receiver_refused_spans_total", 0.0)
    checks.append(Check("health: no sidecar exporter failed", send_failed == 0,
                        f"otelcol_exporter_send_failed_* {send_failed:.0f}; spans refused (and "
                        f"retried by the SDK) {refused:.0f}"))
    tc, rendered = trace_check(spans, test_id)
    checks.append(tc)
    if c.s.get("forwarding"):
        checks += forwarding_checks(c, spans, test_id)
    restarts = [e for e in events if "old_exit" in e]
    checks.append(Check("rolling restart: old sidecars exited cleanly on SIGTERM",
                        all(e["old_exit"] in (0, "stopped") for e in restarts) and bool(restarts)
                        == any(a.kind == "restart" for a in sc.actions),
                        f"{len(restarts)} restarts: {[e['old_exit'] for e in restarts]}"))
    resources = {"sidecar": mon.resources("/sidecar", t0, t_end),
                 "service": mon.resources("/service", t0, t_end)}
    for ch in checks:
        log(f"[{sc.name}] {'PASS' if ch.ok else 'FAIL'} {ch.name}: {ch.detail}")
    return RunResult(sc.name, replicas, checks, table, rendered, events, ledger,
                     [s.start_ns / 1e9 for s in spans if s.service == "app"
                      and s.kind == KIND_SERVER], resources, t0, t_end - t0, restarts)


def _end_due(c: cl.Cluster, active: list, events: list, t0: float) -> None:
    """Turns off the faults whose time is up."""
    now = time.time()
    for item in list(active):
        end, a = item
        if now >= end:
            apply(c, a, False)
            active.remove(item)
            for ev in events:
                if ev["label"] == a.label() and ev["end"] is None:
                    ev["end"] = now - t0


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    a = np.asarray(values)
    return {f"p{q}": float(np.percentile(a, q)) for q in (50, 95, 99)}


def run_overhead(mode: str, work: Path, users: int, duration: float, sat_users: int,
                 sat_duration: float, warmup: float = 5.0, log=say) -> dict:
    """One sidecar mode (none, otelite, otelcol): a paced run (latency at equal load) and an
    unpaced one (throughput), with the sidecar's CPU and RSS."""
    state = work / f"overhead-{mode}"
    c = cl.Cluster(state)
    try:
        c.up(replicas=1, sidecar=mode, toxiproxy=False)
        run_dir = state / "load"
        run_dir.mkdir(parents=True, exist_ok=True)
        with cl.netns(c.ns("client")):
            mon = Monitor(c, interval=1.0).start()
            out: dict = {"mode": mode, "loadavg_before": os.getloadavg()[0]}
            for label, u, d, rate in (("paced", users, duration, 2.0),
                                      ("saturation", sat_users, sat_duration, 0.0)):
                t0 = time.time()
                threads0 = sidecar_threads(c)
                rec = start_locust(c, run_dir, label, users=u, duration=d, rate=rate)
                wait_locust(c, rec, d + 60)
                t1 = time.time()
                threads = threads_delta(threads0, sidecar_threads(c), t1 - t0)
                rows = read_ledger(run_dir / f"{label}.ledger.csv")
                steady = [r for r in rows if r["t"] >= t0 + warmup]
                span = max(r["t"] for r in rows) - (t0 + warmup) if steady else 0
                ok_rows = [r for r in steady if 200 <= r["status"] < 300]
                out[label] = {
                    "users": u, "requests": len(rows), "errors": len(steady) - len(ok_rows),
                    "throughput_rps": len(steady) / span if span > 0 else 0.0,
                    **percentiles([r["ms"] for r in ok_rows]),
                    "resources": {"sidecar": mon.resources("/sidecar", t0 + warmup, t1),
                                  "service": mon.resources("/service", t0 + warmup, t1)},
                    "sidecar_threads": threads,
                }
                out[label]["ledger"] = rows
                log(f"[overhead {mode}] {label}: {len(rows)} requests, "
                    f"{out[label]['throughput_rps']:.1f} req/s, p50 {out[label]['p50']:.1f} ms, "
                    f"p99 {out[label]['p99']:.1f} ms")
            mon.stop()
            out["loadavg_after"] = os.getloadavg()[0]
            if mode != "none":
                dirs = {p: Path(d["dir"]) for p, d in c.pods.items()}
                sent = sum(len(out[k]["ledger"]) for k in ("paced", "saturation"))

                def app_spans():
                    spans, _ = dedupe(pod_spans(dirs))
                    return sum(1 for s in spans if s.service == "app" and s.kind == KIND_SERVER)

                deadline = time.monotonic() + 30
                got = app_spans()
                while got != sent and time.monotonic() < deadline:
                    time.sleep(0.5)
                    got = app_spans()
                out["telemetry"] = {"sent": sent, "received": got}
                log(f"[overhead {mode}] sent {sent}, app server spans {got}")
        return out
    finally:
        c.down()


# --------------------------------------------------------------------------------------------
# the report


def plot_load(res: RunResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = int(res.duration) + 1
    sent = [0] * end
    for r in res.ledger:
        i = int(r["t"] - res.t0)
        if 0 <= i < end:
            sent[i] += 1
    recv = [0] * end
    for t in res.spans_app_server_t:
        i = int(t - res.t0)
        if 0 <= i < end:
            recv[i] += 1
    errs = [0] * end
    for r in res.ledger:
        i = int(r["t"] - res.t0)
        if 0 <= i < end and not (200 <= r["status"] < 300):
            errs[i] += 1
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(range(end), sent, label="requests sent (Locust)", lw=2)
    ax.plot(range(end), recv, label="app server spans received", lw=1, ls="--")
    ax.plot(range(end), errs, label="requests failed (non-2xx or no answer)", lw=1, color="red")
    for ev in res.events:
        e = ev["end"] if ev["end"] is not None else ev["start"] + 1
        ax.axvspan(ev["start"], e, alpha=0.15, color="orange")
        ax.text(ev["start"], ax.get_ylim()[1] * 0.95, ev["label"], rotation=90, fontsize=7,
                va="top")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("per second")
    ax.set_title(f"{res.name}: load vs telemetry ({res.replicas} replica(s) per service)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_overhead(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    modes = [r["mode"] for r in results]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    x = np.arange(len(modes))
    for i, q in enumerate(("p50", "p95", "p99")):
        axes[0].bar(x + (i - 1) * 0.25, [r["paced"][q] for r in results], 0.25, label=q)
    axes[0].set_xticks(x, modes)
    axes[0].set_ylabel("ms")
    axes[0].set_title("latency at equal load (paced)")
    axes[0].legend(fontsize=8)
    axes[1].bar(x, [r["saturation"]["throughput_rps"] for r in results])
    axes[1].set_xticks(x, modes)
    axes[1].set_ylabel("requests/s")
    axes[1].set_title("throughput (unpaced)")
    cpu = [sum(v["cpu_cores"] for v in r["saturation"]["resources"]["sidecar"].values()) * 100
           for r in results]
    rss = [sum(v["rss_max_mib"] for v in r["saturation"]["resources"]["sidecar"].values())
           for r in results]
    axes[2].bar(x - 0.2, cpu, 0.4, label="CPU % of a core")
    axes[2].bar(x + 0.2, rss, 0.4, label="RSS max, MiB")
    axes[2].set_xticks(x, modes)
    axes[2].set_title("sidecars (3 pods), unpaced")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fmt_res(res: dict) -> str:
    if not res:
        return "—"
    cpu = sum(v["cpu_cores"] for v in res.values()) * 100
    rss = sum(v["rss_max_mib"] for v in res.values())
    return f"{cpu:.1f}% CPU, {rss:.1f} MiB RSS"


def write_report(out: Path, runs: list[RunResult], overhead: list[dict], notes: list[str],
                 started: float) -> bool:
    ok = all(ch.ok for r in runs for ch in r.checks)
    L = ["# otelite demo: evaluation on one machine", "",
         f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
         f"{time.time() - started:.0f} s, by `deploy/demo/load/evaluate.py`. Machine: "
         f"{os.cpu_count()} CPUs ({platform.machine()}), Linux {platform.release()}, "
         f"Python {platform.python_version()}. **Overall: {'PASS' if ok else 'FAIL'}**.", ""]
    L += [f"- {n}" for n in notes]
    L.append("")
    for r in runs:
        L += [f"## {r.name}: {r.replicas} replica(s) of each service, each with its own sidecar",
              "", f"{len(r.ledger)} requests in {r.duration:.0f} s. Timeline:", ""]
        for ev in r.events:
            end = f"–{ev['end']:.1f}" if ev["end"] is not None else ""
            L.append(f"- {ev['start']:.1f}{end} s: {ev['label']}")
        L += ["", "| check | result | detail |", "|---|---|---|"]
        L += [f"| {ch.name} | {'PASS' if ch.ok else '**FAIL**'} | {ch.detail} |"
              for ch in r.checks]
        L += ["", "| service / endpoint | sent | received | calls without answer | of which "
              "reached |", "|---|---|---|---|---|"]
        for k, v in r.table.items():
            L.append(f"| {k} | {v['sent']} | {v['received']} | "
                     f"{v.get('calls without answer', '—')} | {v.get('of which reached', '—')} |")
        L += ["", f"Sidecars during the run: {fmt_res(r.resources['sidecar'])} (sum over "
              f"{len(r.resources['sidecar'])}); services: {fmt_res(r.resources['service'])}.",
              "", f"![load vs telemetry]({r.name}.png)", "", "The `test-id` trace:", "", "```"]
        L += r.trace or ["(not found)"]
        L += ["```", ""]
    if overhead:
        L += ["## Overhead", "",
              "The same load on 1 replica of each service, direct links (no toxiproxy): *paced* "
              "is a fixed request rate (latency at equal load), *saturation* users without pauses "
              "(throughput). `none` has the SDK disabled (`OTEL_SDK_DISABLED=true`) and no "
              "sidecar. CPU is the average share of one core over the run (sum of the 3 "
              "sidecars), RSS the largest resident size seen (sum), both from /proc of the PIDs "
              "started. Latencies are of successful requests after a 5 s warm-up. The machine is "
              "shared: its 1-minute load average before/after each mode is given, compare modes "
              "with that in mind.", "",
              "| mode | paced req/s | p50 ms | p95 ms | p99 ms | saturation req/s | sat. p50 | "
              "sat. p99 | sidecars paced | sidecars saturation | services saturation | "
              "sent = received | load avg |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in overhead:
            p, s = r["paced"], r["saturation"]
            tel = r.get("telemetry")
            eq = "—" if tel is None else (f"{tel['sent']} = {tel['received']}"
                                          if tel["sent"] == tel["received"]
                                          else f"**{tel['sent']} ≠ {tel['received']}**")
            L.append(f"| {r['mode']} | {p['throughput_rps']:.1f} | {p['p50']:.1f} | "
                     f"{p['p95']:.1f} | {p['p99']:.1f} | {s['throughput_rps']:.1f} | "
                     f"{s['p50']:.1f} | {s['p99']:.1f} | {fmt_res(p['resources']['sidecar'])} | "
                     f"{fmt_res(s['resources']['sidecar'])} | "
                     f"{fmt_res(s['resources']['service'])} | {eq} | "
                     f"{r['loadavg_before']:.1f}/{r['loadavg_after']:.1f} |")
        L += ["", "Where the sidecars' CPU goes (paced and saturation runs; per thread name, "
              "summed over the 3 sidecars, from /proc/<pid>/task/*/schedstat; a pool's numbered "
              "threads are added up; threads under 0.05% left out):", ""]
        for r in overhead:
            if r["mode"] == "none":
                continue
            for label in ("paced", "saturation"):
                tot: dict[str, float] = defaultdict(float)
                for th in r[label].get("sidecar_threads", {}).values():
                    for k, v in th.items():
                        tot[k] += v
                top = sorted(tot.items(), key=lambda kv: -kv[1])
                L.append(f"- {r['mode']}, {label}: {sum(tot.values()) * 100:.2f}% in all — " +
                         ", ".join(f"`{k}` {v * 100:.2f}%" for k, v in top if v >= 0.0005))
        L += ["", "![overhead](overhead.png)", ""]
    (out / "report.md").write_text("\n".join(L) + "\n")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=HERE / "results",
                    help="where report.md, the PNGs and summary.json go")
    ap.add_argument("--replicas", default="1,3", help="replica counts to run, e.g. 1,3")
    ap.add_argument("--quick", action="store_true", help="a short version (seconds)")
    ap.add_argument("--no-overhead", action="store_true")
    ap.add_argument("--overhead-seconds", type=float, default=40)
    ap.add_argument("--keep", action="store_true", help="keep the state dirs (spans, logs)")
    a = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("evaluate.py needs root (network namespaces)", file=sys.stderr)
        return 2
    started = time.time()
    a.results.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="otelite-eval-"))
    la = os.getloadavg()
    notes = [f"load average (1, 5, 15 min) at the start: {la[0]:.2f}, {la[1]:.2f}, {la[2]:.2f}"]
    runs: list[RunResult] = []
    overhead: list[dict] = []
    try:
        for n in (int(x) for x in a.replicas.split(",") if x):
            if not cl.tool_path("toxiproxy-server"):
                notes.append("toxiproxy: not available (run scripts/install-go-tools.sh): no "
                             "network faults")
            toxi = bool(cl.tool_path("toxiproxy-server"))
            sc = quick_scenario(n, toxi) if a.quick else full_scenario(n, toxi)
            res = run_scenario(sc, n, work)
            plot_load(res, a.results / f"{res.name}.png")
            runs.append(res)
        if not a.no_overhead:
            modes = ["none", "otelite"]
            otelcol = cl.tool_path("otelcol-otelite")
            if otelcol:
                modes.append("otelcol")
                info = subprocess.run([str(otelcol), "components"], capture_output=True,
                                      text=True).stdout
                version = next((ln.split(":", 1)[1].strip() for ln in info.splitlines()
                                if ln.strip().startswith("version:")), "?")
                notes.append(f"otelcol: otelcol-otelite {version} (Collector Builder), same "
                             "pipelines as the otelite sidecar (deploy/local/otelcol-sidecar.yaml"
                             " and, when forwarding, otelcol-forward.yaml)")
            else:
                notes.append("otelcol: not available (run scripts/install-go-tools.sh)")
            d = 8 if a.quick else a.overhead_seconds
            for mode in modes:
                overhead.append(run_overhead(mode, work, users=8, duration=d, sat_users=16,
                                             sat_duration=d))
            plot_overhead(overhead, a.results / "overhead.png")
        la = os.getloadavg()
        notes.append(f"load average (1, 5, 15 min) at the end: {la[0]:.2f}, {la[1]:.2f}, "
                     f"{la[2]:.2f}")
        ok = write_report(a.results, runs, overhead, notes, started)
        summary = {"ok": ok, "runs": [{"name": r.name, "replicas": r.replicas,
                                       "requests": len(r.ledger), "table": r.table,
                                       "checks": [ch.__dict__ for ch in r.checks],
                                       "resources": r.resources} for r in runs],
                   "overhead": [{k: ({kk: vv for kk, vv in v.items() if kk != "ledger"}
                                     if isinstance(v, dict) else v) for k, v in o.items()}
                                for o in overhead], "notes": notes}
        (a.results / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        print(f"report: {a.results / 'report.md'} ({'PASS' if ok else 'FAIL'})")
        return 0 if ok else 1
    finally:
        if a.keep:
            print(f"state kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
