"""The real Go peers (otelcol, telemetrygen, toxiproxy, Jaeger) for tests and benchmarks.

scripts/install-go-tools.sh builds them from the Go module proxy into
${OTELITE_TOOLS_DIR:-~/.cache/otelite-tools}/bin. Each peer here runs on loopback with free ports,
is stopped through the PID this module started, and writes its output to log files in a work
directory (shown when a wait fails).
"""
from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterable

import requests

from harness import (REPO_ROOT, STARTUP_TIMEOUT, STOP_TIMEOUT, POLL, free_port, read_text_or_empty,
                     scrape_metrics, to_yaml, wait_until)

TOOL_NAMES = ("otelcol-otelite", "telemetrygen", "toxiproxy-server", "toxiproxy-cli", "jaeger")
INSTALL_SCRIPT = "scripts/install-go-tools.sh"
JAEGER_CONFIG = REPO_ROOT / "tests" / "integration" / "jaeger-config.yaml"


def tools_dir() -> Path:
    env = os.environ.get("OTELITE_TOOLS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "otelite-tools"


def _fail(message: str):
    try:
        import pytest
    except ImportError:  # used outside pytest (benchmarks)
        raise RuntimeError(message) from None
    pytest.fail(message, pytrace=False)


def tool_path(name: str) -> Path:
    """The cached binary of a Go peer; fails (never skips) when it has not been built."""
    if name not in TOOL_NAMES:
        raise ValueError(f"unknown tool {name!r}; known: {', '.join(TOOL_NAMES)}")
    path = tools_dir() / "bin" / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        _fail(f"{name} not found at {path}: build it with {INSTALL_SCRIPT} {name} "
              f"(or {INSTALL_SCRIPT} for every Go peer)")
    return path


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# a long-running peer


class Peer:
    """One process started by this module, stopped only through its own PID.

    Use as a context manager: entering starts it and waits until it is ready (`_ready()`),
    leaving stops it (SIGTERM, then SIGKILL after `stop_timeout`)."""

    def __init__(self, name: str, workdir: Path, args: list[str],
                 env: dict | None = None) -> None:
        self.name = name
        self.workdir = Path(workdir)
        self.args = args
        self.env = env
        self.log_path = self.workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = STARTUP_TIMEOUT) -> "Peer":
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(f"{self.name} exited with {rc} before it was ready\n"
                                     f"--- {self.log_path} ---\n{self.log()[-5000:]}")
            try:
                if self._ready():
                    return self
                last = None
            except (OSError, requests.RequestException) as exc:
                last = exc
            if time.monotonic() >= deadline:
                self.stop(expect_clean=False)
                raise AssertionError(f"{self.name} not ready after {timeout}s"
                                     + (f" (last error: {last!r})" if last else "")
                                     + f"\n--- {self.log_path} ---\n{self.log()[-5000:]}")
            time.sleep(POLL)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT, expect_clean: bool = True) -> int | None:
        """SIGTERM to our PID, wait; SIGKILL if it does not exit in time (then an error)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                if expect_clean:
                    raise AssertionError(f"{self.name} (pid {self.proc.pid}) ignored SIGTERM for "
                                         f"{timeout}s; killed\n{self.log()[-3000:]}")
        return self.proc.returncode

    def log(self) -> str:
        return read_text_or_empty(self.log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop(expect_clean=exc_type is None)
        if exc_type is not None:
            print(f"\n===== {self.name} (pid {self.pid}) log =====\n{self.log()[-20000:]}")


# --------------------------------------------------------------------------------------------
# otelcol-otelite


class Otelcol(Peer):
    """The real collector (bench/otelcol/builder-config.yaml) with a config given as a dict.

    Its own telemetry is moved to a free loopback port unless the config sets
    service.telemetry.metrics (otelcol's default, 8888, may be taken); readiness is that metrics
    endpoint answering, plus the health_check extension's endpoint when the config has one."""

    def __init__(self, config: dict, workdir: Path, name: str = "otelcol") -> None:
        config = copy.deepcopy(config)
        service = config.setdefault("service", {})
        telemetry = service.setdefault("telemetry", {})
        if "metrics" not in telemetry:
            telemetry["metrics"] = {"readers": [
                {"pull": {"exporter": {"prometheus": {"host": "127.0.0.1",
                                                      "port": free_port()}}}}]}
        self.metrics_address = _prometheus_reader_address(telemetry["metrics"])
        self.health_endpoint = (config.get("extensions", {}).get("health_check") or {}).get(
            "endpoint") if "health_check" in service.get("extensions", []) else None
        self.config = config
        config_path = Path(workdir) / f"{name}.yaml"
        Path(workdir).mkdir(parents=True, exist_ok=True)
        config_path.write_text(to_yaml(config) + "\n")
        self.config_path = config_path
        super().__init__(name, workdir,
                         [str(tool_path("otelcol-otelite")), "--config", str(config_path)])

    def _ready(self) -> bool:
        if self.metrics_address:
            requests.get(f"http://{self.metrics_address}/metrics", timeout=1).raise_for_status()
        if self.health_endpoint:
            if requests.get(f"http://{self.health_endpoint}/", timeout=1).status_code != 200:
                return False
        return True

    def scrape(self):
        assert self.metrics_address, "this otelcol has no pull metrics reader"
        return scrape_metrics(self.metrics_address)


def _prometheus_reader_address(metrics: dict) -> str | None:
    for reader in metrics.get("readers") or []:
        prom = (reader.get("pull") or {}).get("exporter", {}).get("prometheus")
        if prom:
            return f"{prom.get('host', 'localhost')}:{prom['port']}"
    return None


# --------------------------------------------------------------------------------------------
# toxiproxy


class Toxiproxy(Peer):
    """toxiproxy-server on a free loopback port, driven through its HTTP API."""

    def __init__(self, workdir: Path, name: str = "toxiproxy") -> None:
        self.api_port = free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.http = requests.Session()
        super().__init__(name, workdir, [str(tool_path("toxiproxy-server")),
                                         "-host", "127.0.0.1", "-port", str(self.api_port)])

    def _ready(self) -> bool:
        return self.http.get(f"{self.api}/version", timeout=1).status_code == 200

    def _call(self, method: str, path: str, json_body=None, ok=(200, 201, 204)):
        r = self.http.request(method, self.api + path, json=json_body, timeout=5)
        assert r.status_code in ok, f"toxiproxy {method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def create_proxy(self, name: str, upstream: str, listen_port: int | None = None,
                     enabled: bool = True) -> str:
        """A proxy from a free loopback port (or `listen_port`) to `upstream`; returns the
        listen address host:port."""
        listen = f"127.0.0.1:{listen_port or free_port()}"
        self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream,
                                        "enabled": enabled})
        return listen

    def proxy(self, name: str) -> dict:
        return self._call("GET", f"/proxies/{name}")

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Disabled, the proxy closes its connections and refuses new ones."""
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def disable(self, name: str) -> None:
        self.set_enabled(name, False)

    def enable(self, name: str) -> None:
        self.set_enabled(name, True)

    def add_toxic(self, proxy: str, toxic_type: str, attributes: dict, *,
                  name: str | None = None, stream: str = "downstream",
                  toxicity: float = 1.0) -> str:
        name = name or f"{toxic_type}_{stream}"
        self._call("POST", f"/proxies/{proxy}/toxics",
                   {"name": name, "type": toxic_type, "stream": stream, "toxicity": toxicity,
                    "attributes": attributes})
        return name

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def toxics(self, proxy: str) -> list:
        return self._call("GET", f"/proxies/{proxy}/toxics")

    def stop(self, *a, **kw):
        self.http.close()
        return super().stop(*a, **kw)


# --------------------------------------------------------------------------------------------
# Jaeger v2 (all-in-one, in-memory storage)


class JaegerPorts:
    def __init__(self) -> None:
        self.collector_grpc = free_port()  # jaeger.api_v2.CollectorService (Jaeger's 14250)
        self.otlp_grpc = free_port()       # Jaeger's 4317
        self.otlp_http = free_port()       # Jaeger's 4318
        self.query_http = free_port()      # Jaeger's 16686: /api/services, /api/traces/{id}
        self.query_grpc = free_port()      # Jaeger's 16685
        self.metrics = free_port()         # Jaeger's own telemetry (8888)

    def env(self) -> dict:
        return {
            "JAEGER_COLLECTOR_GRPC_PORT": str(self.collector_grpc),
            "JAEGER_OTLP_GRPC_PORT": str(self.otlp_grpc),
            "JAEGER_OTLP_HTTP_PORT": str(self.otlp_http),
            "JAEGER_QUERY_HTTP_PORT": str(self.query_http),
            "JAEGER_QUERY_GRPC_PORT": str(self.query_grpc),
            "JAEGER_METRICS_PORT": str(self.metrics),
        }


class Jaeger(Peer):
    """Jaeger v2 with tests/integration/jaeger-config.yaml: every port on 127.0.0.1, chosen by
    environment variables; traces kept in memory."""

    def __init__(self, workdir: Path, name: str = "jaeger", config: Path = JAEGER_CONFIG) -> None:
        self.ports = JaegerPorts()
        self.query = f"http://127.0.0.1:{self.ports.query_http}"
        super().__init__(name, workdir, [str(tool_path("jaeger")), "--config", str(config)],
                         env=self.ports.env())

    @property
    def collector_grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports.collector_grpc}"

    @property
    def otlp_grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports.otlp_grpc}"

    @property
    def otlp_http_base(self) -> str:
        return f"http://127.0.0.1:{self.ports.otlp_http}"

    def _ready(self) -> bool:
        return (requests.get(f"{self.query}/api/services", timeout=1).status_code == 200
                and port_open(self.ports.collector_grpc) and port_open(self.ports.otlp_grpc))

    def services(self) -> list[str]:
        r = requests.get(f"{self.query}/api/services", timeout=5)
        r.raise_for_status()
        return r.json().get("data") or []

    def trace(self, trace_id_hex: str) -> dict | None:
        """The trace in the query API's JSON form, or None while it is not there (404)."""
        r = requests.get(f"{self.query}/api/traces/{trace_id_hex}", timeout=5)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        data = r.json().get("data") or []
        return data[0] if data else None


# --------------------------------------------------------------------------------------------
# telemetrygen


def telemetrygen(signal_name: str, endpoint: str, *, protocol: str = "grpc", count: int = 10,
                 workers: int = 1, extra: Iterable[str] = (), timeout: float = 60,
                 workdir: Path | None = None) -> subprocess.CompletedProcess:
    """Runs telemetrygen to completion against `endpoint` (host:port, plaintext).

    signal_name: traces, metrics or logs. For traces, `count` is traces per worker (each a
    parent span and one child by default); for metrics and logs it is items per worker.
    Fails with telemetrygen's output if it does not exit 0 within `timeout`."""
    count_flag = {"traces": "--traces", "metrics": "--metrics", "logs": "--logs"}[signal_name]
    args = [str(tool_path("telemetrygen")), signal_name, "--otlp-insecure",
            "--otlp-endpoint", endpoint, count_flag, str(count), "--workers", str(workers),
            "--rate", "0"]
    if protocol == "http":
        args.append("--otlp-http")
    elif protocol != "grpc":
        raise ValueError(f"protocol must be grpc or http, not {protocol!r}")
    args.extend(extra)
    try:
        result = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=timeout, cwd=workdir)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"telemetrygen did not finish in {timeout}s: {args}\n"
                             f"{exc.stderr or ''}") from None
    assert result.returncode == 0, (f"telemetrygen exited with {result.returncode}: {args}\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result
