"""Helpers for the demo tests (test_demo_*.py): where the demo lives, YAML loading, the demo's
Python services as real processes (started and stopped by their own PIDs), an incremental reader
of otelite's file exporter output, and trace-tree analysis of OTLP/JSON spans."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

import requests

from harness import (POLL, REPO_ROOT, attrs, json_logs, json_metrics, json_spans, otelite_binary,
                     read_text_or_empty)

DEPLOY_DIR = REPO_ROOT / "deploy"
DEMO_DIR = DEPLOY_DIR / "demo"
K8S_DIR = DEPLOY_DIR / "k8s"
COMPOSE_FILE = DEPLOY_DIR / "compose" / "docker-compose.yaml"
SERVICES = ("app", "auth", "db")
KUBERNETES_VERSION = "1.29.0"

# OTLP enums as they appear in OTLP/JSON
SPAN_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3}
STATUS_ERROR = 2


def otelite_for_demo(request) -> Path:
    """The otelite binary the session runs (conftest's otelite_bin), or a skip with the reason
    when it has not been built."""
    import pytest

    binary = otelite_binary()
    if not binary.is_file():
        pytest.skip(f"otelite binary not found at {binary}: build it (./scripts/build.sh) or set "
                    "OTELITE_BIN")
    return request.getfixturevalue("otelite_bin")


def load_yaml_docs(path: Path) -> list:
    import yaml

    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# --------------------------------------------------------------------------------------------
# the demo services as processes


def service_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a demo service: ours, without proxies, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "grpc_proxy")}
    env.update({
        "PYTHONPATH": str(DEMO_DIR),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "HOST": "127.0.0.1",
        "GRACEFUL_SHUTDOWN_S": "5",
    })
    env.update(extra)
    return env


class DemoService:
    """One demo service (`python -m app|auth|db`, uvicorn) started by this test run."""

    def __init__(self, name: str, port: int, workdir: Path, env: dict[str, str],
                 label: str | None = None) -> None:
        self.name = name
        self.label = label or name
        self.port = port
        self.workdir = workdir
        self.env = service_env({"PORT": str(port), **env})
        self.log_path = workdir / f"{self.label}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "DemoService":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.name], cwd=self.workdir, env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return read_text_or_empty(self.log_path)

    def wait_ready(self, path: str = "/healthz", timeout: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(f"{self.label} exited with {rc} before answering {path}"
                                     f"\n--- log ---\n{self.log()[-5000:]}")
            try:
                r = requests.get(self.url + path, timeout=2)
                last = f"{r.status_code} {r.text[:200]!r}"
                if r.status_code == 200:
                    return
            except requests.RequestException as exc:
                last = repr(exc)
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self.label} not answering 200 on {path} after {timeout}s "
                                     f"(last: {last})\n--- log ---\n{self.log()[-5000:]}")
            time.sleep(POLL)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after `timeout`."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM to our own PID, then SIGKILL if it has not exited within `timeout`."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.killed = True
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    killed = False

    def stopped_gracefully(self) -> bool:
        """uvicorn finished its shutdown (lifespan included) and exited by itself. After a
        graceful shutdown it re-raises the signal it caught, so -SIGTERM is a clean exit."""
        return (not self.killed and self.proc is not None
                and self.proc.returncode in (0, -signal.SIGTERM)
                and "Application shutdown complete." in self.log())

    def stop_gracefully(self, timeout: float = 15.0) -> None:
        rc = self.stop(timeout)
        assert self.stopped_gracefully(), (
            f"{self.label} (pid {self.proc.pid}) did not stop gracefully on SIGTERM: rc {rc}"
            f"{', killed' if self.killed else ''}\n--- log ---\n{self.log()[-5000:]}")


# --------------------------------------------------------------------------------------------
# otelite's file exporter output


class Output:
    """Reads otelite's OTLP/JSON lines file incrementally (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.records: list[dict] = []

    def refresh(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return self.records
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        self.records.extend(json.loads(line) for line in lines if line.strip())
        return self.records

    def spans(self) -> list["Span"]:
        return [Span(res, sp) for res, _, sp in json_spans(self.refresh())]

    def logs(self) -> list[tuple[dict, dict]]:
        return [(res, lr) for res, _, lr in json_logs(self.refresh())]

    def metrics(self) -> list[tuple[dict, dict]]:
        return [(res, m) for res, _, m in json_metrics(self.refresh())]

    def wait_for(self, predicate, what: str, timeout: float = 20.0):
        """Polls until predicate(self) returns a truthy value (returned) or the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} "
                                     f"in {self.path} ({len(self.records)} records)")
            time.sleep(POLL)


class Span:
    def __init__(self, resource: dict, raw: dict) -> None:
        self.resource = resource
        self.raw = raw
        self.service = resource.get("service.name")
        self.attrs = attrs(raw.get("attributes"))

    trace_id = property(lambda self: self.raw["traceId"])
    span_id = property(lambda self: self.raw["spanId"])
    parent_id = property(lambda self: self.raw.get("parentSpanId") or "")
    name = property(lambda self: self.raw["name"])
    kind = property(lambda self: self.raw.get("kind", 0))
    status_code = property(lambda self: (self.raw.get("status") or {}).get("code", 0))

    @property
    def duration_ms(self) -> float:
        return (int(self.raw["endTimeUnixNano"]) - int(self.raw["startTimeUnixNano"])) / 1e6

    def __eq__(self, other) -> bool:
        return isinstance(other, Span) and (self.trace_id, self.span_id) == (other.trace_id,
                                                                            other.span_id)

    def __hash__(self) -> int:
        return hash((self.trace_id, self.span_id))

    def __repr__(self) -> str:
        return f"<{self.service} {self.name!r} kind={self.kind} {self.span_id}<-{self.parent_id}>"


class Trace:
    """The spans of one trace id and their parent links."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self.spans = list(spans)
        self.by_id = {s.span_id: s for s in self.spans}

    def roots(self) -> list[Span]:
        return [s for s in self.spans if not s.parent_id]

    def dangling(self) -> list[Span]:
        """Spans whose parent is not in the trace (a broken link)."""
        return [s for s in self.spans if s.parent_id and s.parent_id not in self.by_id]

    def ancestors(self, span: Span) -> list[Span]:
        chain, seen = [], {span.span_id}
        cur = span
        while cur.parent_id and cur.parent_id in self.by_id:
            cur = self.by_id[cur.parent_id]
            if cur.span_id in seen:
                raise AssertionError(f"parent cycle at {cur!r}")
            seen.add(cur.span_id)
            chain.append(cur)
        return chain

    def find(self, service: str, kind: int | None = None, name: str | None = None) -> list[Span]:
        return [s for s in self.spans if s.service == service
                and (kind is None or s.kind == kind) and (name is None or s.name == name)]


def traces(spans: Iterable[Span]) -> dict[str, Trace]:
    groups: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        groups[s.trace_id].append(s)
    return {tid: Trace(ss) for tid, ss in groups.items()}


# --------------------------------------------------------------------------------------------
# metrics


def latest_points(metrics: list[tuple[dict, dict]], service: str, name: str) -> list[dict]:
    """The data points of the last export of metric `name` by `service` (cumulative sums and
    histograms: the last export holds the running totals)."""
    last: list[dict] = []
    for res, m in metrics:
        if res.get("service.name") != service or m.get("name") != name:
            continue
        body = m.get("sum") or m.get("histogram") or m.get("gauge") or {}
        last = body.get("dataPoints", [])
    return last


def point_value(point: dict) -> Any:
    for key in ("asInt", "asDouble"):
        if key in point:
            return float(point[key])
    if "count" in point:  # histogram
        return int(point["count"])
    raise AssertionError(f"no value in data point {point}")


def find_point(points: list[dict], wanted: dict) -> dict | None:
    """The first data point whose attributes include `wanted`."""
    for p in points:
        a = attrs(p.get("attributes"))
        if all(a.get(k) == v for k, v in wanted.items()):
            return p
    return None
