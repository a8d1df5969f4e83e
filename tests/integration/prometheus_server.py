"""A real Prometheus server for tests: Debian's `prometheus` binary, started on a free loopback
port with a temporary TSDB directory and a scrape config written for the test, stopped by the PID
it was started with. Queries go through Prometheus's HTTP API.

    prom = PrometheusServer(workdir, targets={"otelite": ["127.0.0.1:8889"]}).start()
    prom.wait_for("up{job='otelite'} == 1")
    prom.query("some_metric_total")      # -> [{"metric": {...}, "value": [ts, "5"]}, ...]
    prom.stop()

The `prometheus` fixture in conftest.py makes these and stops them at teardown.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import requests

from harness import free_port, read_text_or_empty, wait_until

STARTUP_TIMEOUT = float(os.environ.get("OTELITE_TEST_PROMETHEUS_STARTUP_TIMEOUT", "60"))


def prometheus_binary() -> str | None:
    """The Prometheus server: $PROMETHEUS_BIN, else `prometheus` on PATH (Debian's package)."""
    env = os.environ.get("PROMETHEUS_BIN")
    if env:
        return env
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").is_file() else None)


class PrometheusServer:
    """One Prometheus process owned by a test.

    targets: scrape job name -> list of host:port targets (scraped at /metrics).
    honor_labels keeps the job and instance labels the target exposes (as otelcol's docs advise
    for its prometheus exporter), instead of renaming them exported_job / exported_instance.
    """

    def __init__(self, workdir: Path, targets: dict[str, list[str]], *,
                 scrape_interval: str = "1s", honor_labels: bool = True,
                 exemplars: bool = True, name: str = "prometheus",
                 extra_args: list[str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.name = name
        self.port = free_port()
        self.data_dir = self.workdir / f"{name}-data"
        self.config_path = self.workdir / f"{name}.yml"
        self.log_path = self.workdir / f"{name}.log"
        self.targets = targets
        self.scrape_interval = scrape_interval
        self.honor_labels = honor_labels
        self.exemplars = exemplars
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen | None = None

    # -- lifecycle
    def write_config(self) -> None:
        jobs = []
        for job, addrs in self.targets.items():
            jobs.append({
                "job_name": job,
                "honor_labels": self.honor_labels,
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": list(addrs)}],
            })
        config = {"global": {"scrape_interval": self.scrape_interval,
                             "evaluation_interval": self.scrape_interval},
                  "scrape_configs": jobs}
        # JSON is YAML: no YAML emitter needed.
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")

    def start(self) -> "PrometheusServer":
        binary = prometheus_binary()
        if binary is None:
            raise AssertionError("prometheus not found: run scripts/install-deps.sh "
                                 "(Debian package `prometheus`) or set PROMETHEUS_BIN")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        args = [binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=info"]
        if self.exemplars:
            args.append("--enable-feature=exemplar-storage")
        args += self.extra_args
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=self.workdir)
        try:
            wait_until(self._ready, STARTUP_TIMEOUT, f"{self.name} ready on port {self.port}",
                       interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.name} log ---\n{self.log()[-5000:]}") from None
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        rc = self.proc.poll()
        if rc is not None:
            raise AssertionError(f"{self.name} exited with {rc}\n{self.log()[-5000:]}")
        return requests.get(self.url("/-/ready"), timeout=1).status_code == 200

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM to the process this object started, then wait (SIGKILL after `timeout`)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return read_text_or_empty(self.log_path)

    # -- the HTTP API
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def api(self, path: str, **params) -> Any:
        r = requests.get(self.url(path), params=params, timeout=10)
        body = r.json()
        if r.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"{path} {params}: HTTP {r.status_code} {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """An instant query at the current time: the vector's elements (metric, value)."""
        data = self.api("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", data
        return data["result"]

    def query_exemplars(self, expr: str, window: float = 3600) -> list[dict]:
        now = time.time()
        return self.api("/api/v1/query_exemplars", query=expr, start=now - window, end=now + 60)

    def series(self, match: str, window: float = 3600) -> list[dict]:
        now = time.time()
        return self.api("/api/v1/series", **{"match[]": match, "start": now - window,
                                               "end": now + 60})

    def targets_health(self) -> dict[str, str]:
        data = self.api("/api/v1/targets")
        return {t["scrapeUrl"]: t["health"] for t in data["activeTargets"]}

    def wait_for(self, expr: str, predicate: Callable[[list[dict]], Any] | None = None,
                 timeout: float = 30, what: str | None = None) -> list[dict]:
        """Polls `expr` until `predicate(result)` holds (default: a non-empty result)."""
        holder: dict = {}

        def check():
            res = self.query(expr)
            holder["r"] = res
            return predicate(res) if predicate else bool(res)

        try:
            wait_until(check, timeout, what or f"query {expr!r}", interval=0.25)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last result: {holder.get('r')}; targets: "
                                 f"{self.targets_health()}") from None
        return holder["r"]


def sample_value(element: dict) -> float:
    """The float of one instant-vector element."""
    return float(element["value"][1])
