"""The one-machine demo (deploy/local) and its evaluation (deploy/demo/load), short version: one
replica of each service in its own network namespace with its otelite sidecar, ~10 s of Locust
load through toxiproxy with one fault (connection resets on the A→B link) and a rolling restart of
app's sidecar, then the evaluation's checks: requests sent = server spans received per service,
every sidecar and service healthy, the `test-id` request one complete trace. Everything the
cluster started is gone afterwards, also when `up` fails half-way."""
from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path

import pytest

from harness import REPO_ROOT

LOAD_DIR = REPO_ROOT / "deploy" / "demo" / "load"
sys.path.insert(0, str(LOAD_DIR))
sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))

import cluster as cl  # noqa: E402
import evaluate  # noqa: E402
from otlp_files import KIND_SERVER, dedupe, pod_spans  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def require_tools() -> None:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus not found: run scripts/install-deps.sh (Debian package)",
                    pytrace=False)


def our_namespaces(prefix: str) -> list[str]:
    return sorted(n for n in cl.existing_netns() if n.startswith(prefix + "-"))


@pytest.fixture
def local_env(otelite_bin, monkeypatch):
    require_tools()
    monkeypatch.setenv("OTELITE_BIN", str(otelite_bin))
    return otelite_bin


def test_quick_scenario_sends_what_it_receives(local_env, tmp_path):
    prefix = f"olt{secrets.token_hex(3)}"
    lines: list[str] = []
    # The fault: connection resets on A→B through toxiproxy (scripts/install-go-tools.sh builds
    # it); without it, an error burst on C.
    toxiproxy = cl.tool_path("toxiproxy-server") is not None
    sc = evaluate.quick_scenario(1, toxiproxy)
    try:
        res = evaluate.run_scenario(sc, 1, tmp_path, prefix=prefix, log=lines.append)
    finally:
        state = cl.Cluster(tmp_path / sc.name)
        leftovers = our_namespaces(prefix)
        alive = [p["name"] for p in state.processes(alive_only=True)]
        if leftovers or alive:
            state.down()
    assert not leftovers, f"namespaces left behind: {leftovers}"
    assert not alive, f"processes left running: {alive}"

    report = "\n".join(lines)
    failed = [f"{c.name}: {c.detail}" for c in res.checks if not c.ok]
    assert not failed, f"failed checks:\n" + "\n".join(failed) + f"\n--- log ---\n{report}"
    names = {c.name for c in res.checks}
    for wanted in ("A: Locust requests = app server spans",
                   "B: answered calls from A = auth server spans",
                   "C: answered calls from A = db server spans", "test-id trace complete",
                   "health: every sidecar and service answered all along"):
        assert wanted in names, f"check {wanted!r} missing: {names}"
    # The sidecars forward (this otelite has otlp_grpc, prometheus and file_storage): the test-id
    # trace reached the trace backend whole, and Prometheus scraped the services' metrics from
    # every sidecar's prometheus exporter.
    backend = "jaeger" if cl.tool_path("jaeger") else "otelite"
    for wanted in (f"forwarding: the test-id trace reached {backend} whole",
                   "forwarding: Prometheus scraped demo_requests_total from every sidecar's "
                   "prometheus exporter"):
        assert wanted in names, f"check {wanted!r} missing: {names}"

    # The load and the fault were real: requests on every endpoint, calls to auth that got no
    # answer during the resets (or requests failing with C's injected errors), and a sidecar
    # restarted under load.
    assert len(res.ledger) >= 40, report
    assert {r["name"] for r in res.ledger} == set(evaluate.ENDPOINTS), report
    if toxiproxy:
        assert res.table["B (auth)"]["calls without answer"] > 0, res.table
    else:
        assert any(r["status"] == 502 for r in res.ledger), report
    assert len(res.restarts) == 1 and res.restarts[0]["old_exit"] == 0, res.restarts
    assert res.trace and res.trace[0].startswith("app [server]"), res.trace

    # The check is the one that catches a loss: the same data with one span taken out fails.
    ledger = evaluate.read_ledger(tmp_path / sc.name / "load" / "scenario.ledger.csv")
    dirs = {p: Path(d["dir"]) for p, d in state.pods.items()}
    spans, dups = dedupe(pod_spans(dirs))
    checks, _ = evaluate.telemetry_vs_load(ledger, spans, dups)
    assert all(c.ok for c in checks), [c.detail for c in checks]
    for service, check in (("app", "A: "), ("db", "C: ")):
        lost = next(s for s in spans if s.service == service and s.kind == KIND_SERVER)
        checks, _ = evaluate.telemetry_vs_load(ledger, [s for s in spans if s is not lost], 0)
        bad = [c.name for c in checks if not c.ok]
        assert any(n.startswith(check) for n in bad), (service, bad)


def test_failed_up_removes_what_it_created(local_env, tmp_path, monkeypatch):
    """A sidecar that cannot start makes `up` fail; it removes every namespace and process it had
    created by then, and a later `down` has nothing left to do."""
    monkeypatch.setattr(cl.Cluster, "sidecar_argv", lambda self: ["/bin/false"])
    prefix = f"olt{secrets.token_hex(3)}"
    c = cl.Cluster(tmp_path / "state")
    with pytest.raises(RuntimeError, match="exited during start"):
        c.up(replicas=1, prefix=prefix, toxiproxy=False, ready_timeout=20)
    assert our_namespaces(prefix) == []
    recorded = cl.Cluster(tmp_path / "state")
    assert recorded.s["prefix"] == prefix and recorded.s["namespaces"] == []
    assert recorded.processes(alive_only=True) == []
    assert recorded.down() == []
