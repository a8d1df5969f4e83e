#!/usr/bin/env python3
"""The demo on one machine, no containers: each "pod" is a Linux network namespace.

    cluster.py up [--replicas N] [--sidecar otelite|otelcol|none] [--no-toxiproxy]
    cluster.py status
    cluster.py restart-sidecar POD [--down SECONDS]      # a rolling restart of one pod's sidecar
    cluster.py exec NAMESPACE -- COMMAND...               # e.g. exec client -- curl ...
    cluster.py port-forward NAMESPACE PORT [LOCAL_PORT]   # e.g. port-forward obs 9090
    cluster.py down

All of them take --state DIR (default: $OTELITE_LOCAL_STATE or .local-demo in the repository).
Run as root (network namespaces), with the Python of the project's virtualenv (the services run
with the same interpreter).

Layout, all of it inside namespaces of its own (nothing is added to the root namespace):

    <prefix>-net      the "cluster network": a bridge, one veth per namespace below
    <prefix>-app-0 …  one pod per replica of app (A), auth (B), db (C): the service (uvicorn)
                      and its sidecar (otelite or otelcol) on the pod's 127.0.0.1:4317
    <prefix>-mesh     toxiproxy: the A→B and A→C links pass through it (faults on demand)
    <prefix>-obs      Prometheus (scrapes every sidecar) and the trace backend (Jaeger when it
                      is in the tools cache, otherwise a central otelite writing a file)
    <prefix>-client   where the load generator and the health checks run

Everything `up` creates (namespaces, processes with their PID and start time, files) is recorded in
DIR/state.json as it is created; `down` stops exactly those processes (SIGTERM, then SIGKILL) and
deletes exactly those namespaces, also after a failed `up`.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEMO_DIR = REPO / "deploy" / "demo"

SERVICES = {"app": 8080, "auth": 8081, "db": 8082}
SIDECAR_HEALTH = 13133
SIDECAR_METRICS = 8888
SIDECAR_PROM_EXPORTER = 8889
TOXIPROXY_API = 8474
PROMETHEUS_PORT = 9090
JAEGER_QUERY = 16686  # Jaeger v2 query API and UI in the observability namespace
# The port on the mesh namespace that leads to replica i of a service (app replica i calls replica
# i of auth and db: client-side balancing, deterministic, so every link is known).
PROXY_BASE = {"auth": 18100, "db": 18200}
MAX_REPLICAS = 9
USERS = "alice:wonderland,bob:builder"
CLONE_NEWNET = 0x40000000


def tools_dir() -> Path:
    return Path(os.environ.get("OTELITE_TOOLS_DIR")
                or Path.home() / ".cache" / "otelite-tools") / "bin"


def tool_path(name: str) -> Path | None:
    """A Go tool built by scripts/install-go-tools.sh (otelcol-otelite, toxiproxy-server, jaeger),
    or None when it is not in the cache."""
    p = tools_dir() / name
    return p if p.is_file() and os.access(p, os.X_OK) else None


def otelite_binary() -> Path:
    return Path(os.environ.get("OTELITE_BIN") or REPO / "build" / "otelite")


def default_state_dir() -> Path:
    return Path(os.environ.get("OTELITE_LOCAL_STATE") or REPO / ".local-demo")


# --------------------------------------------------------------------------------------------
# network namespaces


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def netns(name: str) -> Iterator[None]:
    """Runs the block with the calling thread in network namespace `name` (sockets created in it
    stay there), then returns to where it was. Threads started inside inherit the namespace."""
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(here)
    finally:
        os.close(target)
        os.close(here)


def enter_netns(name: str) -> None:
    """Moves the calling thread into namespace `name` for good."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def existing_netns() -> set[str]:
    out = run("ip", "netns", "list").stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def host_networks() -> list[ipaddress.IPv4Network]:
    nets = []
    for line in run("ip", "-4", "-o", "addr", "show").stdout.splitlines():
        for tok in line.split():
            if "/" in tok and tok[0].isdigit():
                nets.append(ipaddress.ip_network(tok, strict=False))
    for line in run("ip", "-4", "route", "show", "table", "all").stdout.splitlines():
        tok = line.split()[0] if line.split() else ""
        if tok and tok[0].isdigit():
            with contextlib.suppress(ValueError):
                nets.append(ipaddress.ip_network(tok if "/" in tok else tok + "/32", strict=False))
    return nets


def pick_subnet() -> ipaddress.IPv4Network:
    """A /24 of the shared address space 100.64.0.0/10 that no address or route of the host
    overlaps (the namespaces are not connected to the host, but a clash would still confuse)."""
    taken = host_networks()
    for _ in range(200):
        net = ipaddress.ip_network(f"100.{random.randint(64, 127)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise RuntimeError("no free /24 in 100.64.0.0/10")


# --------------------------------------------------------------------------------------------
# processes (started by us, recorded with their start time so a reused PID is never signalled)


def proc_starttime(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def is_ours_and_alive(rec: dict) -> bool:
    st = proc_state(rec["pid"])
    return (st is not None and st != "Z"
            and proc_starttime(rec["pid"]) == rec["starttime"])


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_process(rec: dict, timeout: float = 30.0) -> str:
    """SIGTERM to a recorded process, SIGKILL after `timeout`; returns how it ended."""
    pid = rec["pid"]
    if not is_ours_and_alive(rec):
        _reap(pid)
        return "not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_ours_and_alive(rec):
            return "stopped"
        time.sleep(0.05)
    if is_ours_and_alive(rec):
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            _reap(pid)
            if not is_ours_and_alive(rec):
                break
            time.sleep(0.05)
        return "killed"
    return "stopped"


def proc_cpu_rss(pid: int) -> tuple[float, int] | None:
    """(CPU seconds used, RSS bytes) of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks, rss


# --------------------------------------------------------------------------------------------
# HTTP inside namespaces (no proxy: the environment's proxy would be outside)

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method: str, url: str, body: Any = None, timeout: float = 5.0) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"} if data else {})
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        return http("GET", url, timeout=timeout)[0] == 200
    except (OSError, urllib.error.URLError):
        return False


# --------------------------------------------------------------------------------------------
# the cluster


class Cluster:
    """The state of one one-machine cluster (DIR/state.json), and what can be done with it."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir).resolve()
        self.file = self.dir / "state.json"
        self.s: dict = json.loads(self.file.read_text()) if self.file.exists() else {}
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    # -- state ---------------------------------------------------------------------------------

    def save(self) -> None:
        with self._lock:
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.s, indent=1))
            tmp.replace(self.file)

    @property
    def prefix(self) -> str:
        return self.s["prefix"]

    def ns(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    @property
    def pods(self) -> dict[str, dict]:
        return self.s.get("pods", {})

    def pods_of(self, service: str) -> list[str]:
        return sorted(p for p, d in self.pods.items() if d["service"] == service)

    def ip(self, short: str) -> str:
        return self.s["ips"][short]

    def processes(self, alive_only: bool = False) -> list[dict]:
        procs = self.s.get("processes", [])
        return [p for p in procs if not alive_only or is_ours_and_alive(p)]

    def process(self, name: str) -> dict | None:
        """The latest recorded process with this name (a restart records a new one)."""
        found = [p for p in self.s.get("processes", []) if p["name"] == name]
        return found[-1] if found else None

    # -- creating --------------------------------------------------------------------------------

    def _add_netns(self, short: str, ip: str | None) -> None:
        name = self.ns(short)
        run("ip", "netns", "add", name)
        self.s["namespaces"].append(name)
        self.save()
        run("ip", "-n", name, "link", "set", "lo", "up")
        if ip is None:
            return
        idx = len(self.s["ips"])
        veth = f"v{idx}"
        net = self.ns("net")
        # Both ends are created in the cluster's namespaces: nothing appears in the root one.
        run("ip", "-n", net, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
            "netns", name)
        run("ip", "-n", net, "link", "set", veth, "master", "br0", "up")
        run("ip", "-n", name, "addr", "add", f"{ip}/{self.s['subnet'].split('/')[1]}",
            "dev", "eth0")
        run("ip", "-n", name, "link", "set", "eth0", "up")
        self.s["ips"][short] = ip
        self.save()

    def start(self, name: str, ns_short: str, argv: list[str], env: dict[str, str],
              cwd: Path) -> dict:
        """Starts argv inside namespace ns_short, in a session of its own, logging to
        DIR/logs/<name>.log; records it before returning."""
        log_path = self.dir / "logs" / f"{name.replace('/', '.')}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            # `ip netns exec` execs the command itself: the PID is the command's.
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns(ns_short), *argv],
                                    cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        starttime = None
        for _ in range(100):
            starttime = proc_starttime(proc.pid)
            if starttime is not None:
                break
            time.sleep(0.01)
        rec = {"name": name, "ns": self.ns(ns_short), "pid": proc.pid, "starttime": starttime,
               "argv": argv, "log": str(log_path), "started": time.time()}
        self._children[proc.pid] = proc
        with self._lock:
            self.s["processes"].append(rec)
        self.save()
        return rec

    def stop(self, rec: dict, timeout: float = 30.0) -> tuple[str, int | None]:
        """Stops one recorded process; (how, exit code when it was our child)."""
        how = stop_process(rec, timeout)
        rc = None
        child = self._children.pop(rec["pid"], None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                rc = child.wait(timeout=5)
        rec["stopped"] = time.time()
        rec["exit"] = how if rc is None else rc
        self.save()
        return how, rc

    def up(self, replicas: int = 1, sidecar: str = "otelite", toxiproxy: bool = True,
           prefix: str | None = None, forward: str = "auto", ready_timeout: float = 60.0) -> None:
        if self.file.exists() and self.s.get("namespaces"):
            raise RuntimeError(f"{self.dir} already holds a cluster ({self.s['prefix']}): "
                               "run `down` first")
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root")
        if not 1 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be 1..{MAX_REPLICAS}")
        if sidecar not in ("otelite", "otelcol", "none"):
            raise ValueError(f"unknown sidecar {sidecar!r} (otelite, otelcol, none)")
        binaries = {"otelite": otelite_binary(), "otelcol": tool_path("otelcol-otelite")}
        if sidecar == "otelcol" and binaries["otelcol"] is None:
            raise RuntimeError("otelcol-otelite is not in the tools cache "
                               f"({tools_dir()}): run scripts/install-go-tools.sh")
        if not binaries["otelite"].is_file():
            raise RuntimeError(f"{binaries['otelite']} not found: run ./scripts/build.sh")
        toxi_bin = tool_path("toxiproxy-server") if toxiproxy else None
        if toxiproxy and toxi_bin is None:
            raise RuntimeError("toxiproxy-server is not in the tools cache "
                               f"({tools_dir()}): run scripts/install-go-tools.sh, or --no-toxiproxy")

        self.dir.mkdir(parents=True, exist_ok=True)
        prefix = prefix or f"ol{secrets.token_hex(3)}"
        if len(prefix) > 16 or not prefix.replace("-", "").isalnum():
            raise ValueError("prefix: up to 16 letters, digits or dashes")
        clash = [n for n in existing_netns() if n.startswith(prefix + "-")]
        if clash:
            raise RuntimeError(f"namespaces with prefix {prefix} exist already: {clash}")
        subnet = pick_subnet()
        hosts = list(subnet.hosts())
        self.s = {"prefix": prefix, "subnet": str(subnet), "replicas": replicas,
                  "sidecar": sidecar, "toxiproxy": bool(toxi_bin), "namespaces": [],
                  "processes": [], "ips": {}, "pods": {}, "restarts": [],
                  "secret": secrets.token_hex(32), "created": time.time()}
        self.save()
        try:
            self._up(replicas, sidecar, binaries, toxi_bin, hosts, forward, ready_timeout)
        except BaseException:
            print("up failed: removing what it created", file=sys.stderr)
            self.down()
            raise

    def _up(self, replicas, sidecar, binaries, toxi_bin, hosts, forward, ready_timeout) -> None:
        net = self.ns("net")
        run("ip", "netns", "add", net)
        self.s["namespaces"].append(net)
        self.save()
        run("ip", "-n", net, "link", "set", "lo", "up")
        run("ip", "-n", net, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", net, "addr", "add", f"{hosts[0]}/{self.s['subnet'].split('/')[1]}",
            "dev", "br0")
        run("ip", "-n", net, "link", "set", "br0", "up")
        self.s["ips"]["net"] = str(hosts[0])

        self._add_netns("obs", str(hosts[1]))
        self._add_netns("client", str(hosts[2]))
        if toxi_bin:
            self._add_netns("mesh", str(hosts[3]))
        for k, svc in enumerate(SERVICES):
            for i in range(replicas):
                pod = f"{svc}-{i}"
                self._add_netns(pod, str(hosts[9 + 10 * k + i]))
                pod_dir = self.dir / "pods" / pod
                pod_dir.mkdir(parents=True, exist_ok=True)
                self.s["pods"][pod] = {"service": svc, "index": i, "dir": str(pod_dir),
                                       "ip": self.ip(pod), "port": SERVICES[svc]}
        self.save()

        fwd = self._forwarding(forward, sidecar)
        self.s["forwarding"] = fwd
        self._start_obs(fwd)
        if toxi_bin:
            self._start_toxiproxy(toxi_bin, replicas)
        if sidecar != "none":
            for pod in self.pods:
                self.start_sidecar(pod)
        # Services downstream first, as a rollout would (app's readiness needs auth and db).
        for svc in ("db", "auth", "app"):
            for pod in self.pods_of(svc):
                self._start_service(pod)
        self.wait_ready(ready_timeout)
        self.s["ready"] = time.time()
        self.save()

    def _forwarding(self, forward: str, sidecar: str) -> bool:
        """Whether the sidecars use the forward overlay (traces to the trace backend, metrics to
        Prometheus). auto: when the sidecar binary has the otlp_grpc and prometheus exporters and
        the file_storage extension (otelite today, and the otelcol-otelite build)."""
        if forward == "off" or sidecar == "none":
            return False
        binary = tool_path("otelcol-otelite") if sidecar == "otelcol" else otelite_binary()
        out = run(str(binary), "components").stdout
        have = all(re.search(rf"(^|\s|name: ){c}(\s|\[|$)", out, re.M)
                   for c in ("otlp_grpc", "prometheus", "file_storage"))
        if forward == "on" and not have:
            raise RuntimeError(f"--forward on: {binary} lacks otlp_grpc, prometheus or file_storage")
        return have

    def sidecar_argv(self) -> list[str]:
        kind = self.s["sidecar"]
        if kind == "otelcol":
            argv = [str(tool_path("otelcol-otelite")), "--config",
                    str(HERE / "otelcol-sidecar.yaml")]
            if self.s.get("forwarding"):
                argv += ["--config", str(HERE / "otelcol-forward.yaml")]
            return argv
        argv = [str(otelite_binary()), "--config", str(HERE / "otelite-sidecar.yaml")]
        if self.s.get("forwarding"):
            argv += ["--config", str(HERE / "otelite-forward.yaml")]
        return argv

    def start_sidecar(self, pod: str) -> dict:
        d = self.pods[pod]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OTELITE_POD_DIR": d["dir"],
               "OTELITE_CENTRAL_ENDPOINT": f"{self.ip('obs')}:4317"}
        return self.start(f"{pod}/sidecar", pod, self.sidecar_argv(), env, Path(d["dir"]))

    def service_env(self, pod: str) -> dict[str, str]:
        d = self.pods[pod]
        svc, i = d["service"], d["index"]
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "grpc_proxy",
                                    "no_proxy")}
        env.update({
            "PYTHONPATH": str(DEMO_DIR), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
            "HOST": "0.0.0.0", "PORT": str(d["port"]), "GRACEFUL_SHUTDOWN_S": "5",
            "UVICORN_LOG_LEVEL": "warning",
            "AUTH_JWT_SECRET": self.s["secret"], "AUTH_USERS": USERS,
            "DB_PATH": str(Path(d["dir"]) / "items.db"),
            "OTEL_SERVICE_NAME": svc,
            "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={pod},k8s.pod.name={pod}",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "test-id",
            # Export often; keep a queue deep enough to ride out a sidecar restart (the SDK's
            # default of 2048 spans lasts a few seconds at the demo's load; see deploy/README.md).
            "OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_BSP_MAX_QUEUE_SIZE": "100000",
            "OTEL_BLRP_SCHEDULE_DELAY": "500", "OTEL_BLRP_MAX_QUEUE_SIZE": "100000",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
        })
        if self.s["sidecar"] == "none":
            env["OTEL_SDK_DISABLED"] = "true"
        if svc == "app":
            if self.s["toxiproxy"]:
                mesh = self.ip("mesh")
                env["AUTH_URL"] = f"http://{mesh}:{PROXY_BASE['auth'] + i}"
                env["DB_URL"] = f"http://{mesh}:{PROXY_BASE['db'] + i}"
            else:
                env["AUTH_URL"] = f"http://{self.ip(f'auth-{i}')}:{SERVICES['auth']}"
                env["DB_URL"] = f"http://{self.ip(f'db-{i}')}:{SERVICES['db']}"
        return env

    def _start_service(self, pod: str) -> dict:
        d = self.pods[pod]
        return self.start(f"{pod}/service", pod, [sys.executable, "-m", d["service"]],
                          self.service_env(pod), Path(d["dir"]))

    def _start_obs(self, forwarding: bool) -> None:
        obs_dir = self.dir / "obs"
        (obs_dir / "prometheus").mkdir(parents=True, exist_ok=True)
        jaeger = tool_path("jaeger")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OTELITE_POD_DIR": str(obs_dir)}
        if jaeger:
            self.s["trace_backend"] = "jaeger"
            self.start("obs/jaeger", "obs", [str(jaeger)],
                       {**env, "JAEGER_LISTEN_HOST": "0.0.0.0"}, obs_dir)
        else:
            self.s["trace_backend"] = "otelite"
            self.start("obs/otelite", "obs",
                       [str(otelite_binary()), "--config", str(HERE / "otelite-central.yaml")],
                       env, obs_dir)
        prom_cfg = obs_dir / "prometheus.yml"
        prom_cfg.write_text(self.prometheus_config(forwarding))
        self.start("obs/prometheus", "obs", [
            "prometheus", f"--config.file={prom_cfg}",
            f"--storage.tsdb.path={obs_dir / 'prometheus'}",
            f"--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}",
            "--storage.tsdb.retention.time=1d", "--web.enable-lifecycle"], env, obs_dir)

    def prometheus_config(self, forwarding: bool) -> str:
        """Static targets (the pods are known): every sidecar's self-metrics, and with
        forwarding, the services' metrics from each sidecar's Prometheus exporter."""
        def job(name: str, port: int, honor_labels: bool = False) -> list[str]:
            lines = [f"  - job_name: {name}"]
            if honor_labels:
                lines.append("    honor_labels: true")
            lines.append("    static_configs:")
            for pod, d in sorted(self.pods.items()):
                lines += [f"      - targets: ['{d['ip']}:{port}']",
                          f"        labels: {{pod: {pod}, service: {d['service']}}}"]
            return lines

        lines = ["# written by deploy/local/cluster.py", "global:", "  scrape_interval: 5s",
                 "  evaluation_interval: 5s", "scrape_configs:"]
        if self.s["sidecar"] != "none":
            lines += job("otelite-sidecars", SIDECAR_METRICS)
        if forwarding:
            # the exporter sets job (service.name) and instance (service.instance.id) itself
            lines += job("demo-services", SIDECAR_PROM_EXPORTER, honor_labels=True)
        lines += ["  - job_name: prometheus", "    static_configs:",
                  f"      - targets: ['localhost:{PROMETHEUS_PORT}']"]
        return "\n".join(lines) + "\n"

    def _start_toxiproxy(self, binary: Path, replicas: int) -> None:
        mesh_dir = self.dir / "mesh"
        mesh_dir.mkdir(parents=True, exist_ok=True)
        self.start("mesh/toxiproxy", "mesh",
                   [str(binary), "-host", "0.0.0.0", "-port", str(TOXIPROXY_API)],
                   {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, mesh_dir)
        api = self.toxiproxy_url()
        with netns(self.ns("client")):
            wait_for(lambda: http_ok(f"{api}/version"), 20, "toxiproxy's API")
            for svc in ("auth", "db"):
                for i in range(replicas):
                    body = {"name": f"{svc}-{i}", "listen": f"0.0.0.0:{PROXY_BASE[svc] + i}",
                            "upstream": f"{self.ip(f'{svc}-{i}')}:{SERVICES[svc]}",
                            "enabled": True}
                    code, text = http("POST", f"{api}/proxies", body)
                    if code not in (200, 201):
                        raise RuntimeError(f"toxiproxy: creating {body}: {code} {text[:200]!r}")

    def toxiproxy_url(self) -> str:
        return f"http://{self.ip('mesh')}:{TOXIPROXY_API}"

    # -- health --------------------------------------------------------------------------------

    def health_targets(self) -> dict[str, str]:
        """name -> URL answering 200 while healthy (checked from the client namespace)."""
        t = {}
        for pod, d in self.pods.items():
            if self.s["sidecar"] != "none":
                t[f"{pod}/sidecar"] = f"http://{d['ip']}:{SIDECAR_HEALTH}/"
            t[f"{pod}/service"] = f"http://{d['ip']}:{d['port']}/healthz"
        return t

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        targets = self.health_targets()
        targets["obs/prometheus"] = f"http://{self.ip('obs')}:{PROMETHEUS_PORT}/-/ready"
        for pod in self.pods_of("app"):
            targets[f"{pod}/ready"] = f"http://{self.ip(pod)}:{SERVICES['app']}/readyz"
        with netns(self.ns("client")):
            pending = dict(targets)
            while pending:
                for name, url in list(pending.items()):
                    if http_ok(url):
                        del pending[name]
                dead = [p["name"] for p in self.processes() if "stopped" not in p
                        and not is_ours_and_alive(p)]
                if dead:
                    raise RuntimeError(f"exited during start: {dead} (logs in {self.dir}/logs)")
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {timeout:.0f}s: {sorted(pending)} "
                                       f"(logs in {self.dir}/logs)")
                time.sleep(0.1)

    # -- rolling restart -------------------------------------------------------------------------

    def restart_sidecar(self, pod: str, down_s: float = 2.0, ready_timeout: float = 30.0) -> dict:
        """Stops the pod's sidecar with SIGTERM (it drains and exits), keeps it down for
        `down_s` while the service goes on exporting into retries, starts a new one and waits
        for its health check. Returns the times, for the evaluation."""
        old = self.process(f"{pod}/sidecar")
        if old is None:
            raise RuntimeError(f"{pod} has no sidecar")
        t0 = time.time()
        how, rc = self.stop(old)
        t_stopped = time.time()
        time.sleep(down_s)
        self.start_sidecar(pod)
        url = f"http://{self.pods[pod]['ip']}:{SIDECAR_HEALTH}/"
        with netns(self.ns("client")):
            wait_for(lambda: http_ok(url), ready_timeout, f"{pod}'s new sidecar")
        ev = {"pod": pod, "sigterm": t0, "exited": t_stopped, "ready": time.time(),
              "old_exit": how if rc is None else rc}
        self.s["restarts"].append(ev)
        self.save()
        return ev

    # -- removing --------------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stops every recorded process still running, deletes every recorded namespace.
        Returns what it did (one line each)."""
        done = []
        procs = [p for p in self.s.get("processes", []) if p.get("pid")]
        # Load and services first, sidecars after them (the services flush into them), then the
        # rest.
        order = {"service": 0, "sidecar": 1}
        procs.sort(key=lambda p: order.get(p["name"].rsplit("/", 1)[-1], 2))
        for p in procs:
            if "stopped" in p and not is_ours_and_alive(p):
                continue
            how, rc = self.stop(p)
            done.append(f"{p['name']} (pid {p['pid']}): {how}" + (f", exit {rc}" if rc is not None
                                                                   else ""))
        present = existing_netns() if shutil.which("ip") else set()
        for name in reversed(self.s.get("namespaces", [])):
            if name not in present:
                continue
            # Anything still inside one of our namespaces was started by us (a child of a
            # recorded process): it goes with the namespace.
            for pid in run("ip", "netns", "pids", name, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
                    done.append(f"{name}: killed leftover pid {pid}")
            run("ip", "netns", "del", name)
            done.append(f"namespace {name}: deleted")
        if self.s:
            self.s["namespaces"] = []
            self.s["down"] = time.time()
            self.save()
        return done

    def status(self) -> dict:
        present = existing_netns()
        out = {"prefix": self.s.get("prefix"), "subnet": self.s.get("subnet"),
               "sidecar": self.s.get("sidecar"), "replicas": self.s.get("replicas"),
               "namespaces": {n: n in present for n in self.s.get("namespaces", [])},
               "processes": {p["name"]: {"pid": p["pid"], "alive": is_ours_and_alive(p)}
                             for p in self.s.get("processes", [])}}
        if self.s.get("namespaces") and self.ns("client") in present:
            with netns(self.ns("client")):
                out["health"] = {n: http_ok(u) for n, u in self.health_targets().items()}
        return out


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# port-forward: a local port in the root namespace to a port in one of the namespaces


def port_forward(cluster: Cluster, ns_short: str, port: int, local_port: int) -> None:
    target_ns = cluster.ns(ns_short)
    ip = cluster.ip(ns_short)
    lsock = socket.create_server(("127.0.0.1", local_port))
    print(f"forwarding 127.0.0.1:{lsock.getsockname()[1]} -> {target_ns} {ip}:{port} "
          "(Ctrl-C stops)", flush=True)

    def pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def handle(conn: socket.socket) -> None:
        enter_netns(target_ns)  # this thread only
        with conn, socket.create_connection((ip, port), timeout=10) as up:
            up.settimeout(None)
            t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
            t.start()
            pipe(conn, up)
            t.join()

    with lsock:
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state", type=Path, default=default_state_dir(),
                    help="state directory (default: $OTELITE_LOCAL_STATE or .local-demo)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", help="create the namespaces and start everything")
    u.add_argument("--replicas", type=int, default=1)
    u.add_argument("--sidecar", choices=("otelite", "otelcol", "none"), default="otelite")
    u.add_argument("--no-toxiproxy", action="store_true")
    u.add_argument("--prefix", help="namespace name prefix (default: ol + 6 random hex digits)")
    u.add_argument("--forward", choices=("auto", "on", "off"), default="auto",
                   help="sidecars forward to the observability namespace (auto: when otelite "
                        "has the otlp_grpc and prometheus exporters)")
    sub.add_parser("down", help="stop everything `up` started, delete its namespaces")
    sub.add_parser("status")
    r = sub.add_parser("restart-sidecar", help="SIGTERM a pod's sidecar, start it again")
    r.add_argument("pod")
    r.add_argument("--down", type=float, default=2.0, help="seconds it stays down")
    e = sub.add_parser("exec", help="run a command in one of the namespaces")
    e.add_argument("namespace", help="client, obs, mesh, app-0, ...")
    e.add_argument("command", nargs=argparse.REMAINDER)
    f = sub.add_parser("port-forward", help="127.0.0.1:LOCAL in the root namespace to PORT "
                                            "in a namespace")
    f.add_argument("namespace")
    f.add_argument("port", type=int)
    f.add_argument("local_port", type=int, nargs="?", default=0)
    a = ap.parse_args(argv)

    c = Cluster(a.state)
    if a.cmd == "up":
        c.up(replicas=a.replicas, sidecar=a.sidecar, toxiproxy=not a.no_toxiproxy,
             prefix=a.prefix, forward=a.forward)
        print(f"up: prefix {c.prefix}, subnet {c.s['subnet']}, {len(c.pods)} pods "
              f"({a.sidecar} sidecars), state in {c.dir}")
        for short, ip in sorted(c.s["ips"].items()):
            print(f"  {c.ns(short):24} {ip}")
        print(f"  Prometheus: http://{c.ip('obs')}:{PROMETHEUS_PORT} (inside the namespaces; "
              f"`{Path(sys.argv[0]).name} port-forward obs {PROMETHEUS_PORT}` to reach it)")
        return 0
    if not c.s:
        print(f"no cluster recorded in {c.dir}", file=sys.stderr)
        return 1
    if a.cmd == "down":
        for line in c.down():
            print(line)
        return 0
    if a.cmd == "status":
        print(json.dumps(c.status(), indent=1))
        return 0
    if a.cmd == "restart-sidecar":
        print(json.dumps(c.restart_sidecar(a.pod, a.down)))
        return 0
    if a.cmd == "exec":
        cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
        os.execvp("ip", ["ip", "netns", "exec", c.ns(a.namespace), *cmd])
    if a.cmd == "port-forward":
        with contextlib.suppress(KeyboardInterrupt):
            port_forward(c, a.namespace, a.port, a.local_port)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
