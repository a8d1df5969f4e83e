#!/usr/bin/env python3
"""otelite against the OpenTelemetry Collector, side by side: throughput, CPU per span, memory and
latency. `make bench` runs this; see bench/README.md.

Every process (target, sink, load) is started here on loopback with free ports and stopped by the
PID started; the target is pinned with taskset. CPU comes from /proc/<pid>/stat, RSS from
/proc/<pid>/status, latency from the sink (send time stamped by otelite_loadgen, arrival at the
sink), accepted and refused items from the collectors' own otelcol_receiver_* counters.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CONFIGS = BENCH / "configs"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_S = 0.1
MIB = 1 << 20

# Loopback never goes through a proxy.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


_ports: set[int] = set()


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports:
            _ports.add(port)
            return port


def wait_until(pred, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = pred()
            if v:
                return v
        except (OSError, requests.RequestException):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------
# processes


class Proc:
    """One process started here; stopped through its own PID only."""

    def __init__(self, name: str, args: list[str], workdir: Path, env: dict | None = None,
                 cpus: str | None = None, stdout_lines: bool = False) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        full_env = dict(os.environ, **(env or {}))
        if cpus is not None:
            args = ["taskset", "-c", cpus] + args
        self.lines: list[str] = []
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, cwd=workdir, env=full_env,
            stdout=subprocess.PIPE if stdout_lines else self._log, stderr=self._log)
        self._reader = None
        if stdout_lines:
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        rc = self.proc.wait(timeout=timeout)
        if self._reader:
            self._reader.join(timeout=5)
        return rc

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) ignored SIGTERM for {timeout}s: killing it")
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._reader:
            self._reader.join(timeout=5)
        self._log.close()

    def json_lines(self) -> list[dict]:
        out = []
        for line in list(self.lines):
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return out

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:")):
                out[line.split(":")[0]] = int(line.split()[1]) * 1024
    return out


class Sampler:
    """CPU and RSS of one PID every SAMPLE_S seconds, on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float, int]] = []  # (monotonic, cpu s, rss bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sample()
        self._thread.start()

    def sample(self) -> tuple[float, float, int]:
        s = (time.monotonic(), proc_cpu_seconds(self.pid), proc_status(self.pid)["VmRSS"])
        self.samples.append(s)
        return s

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            try:
                self.sample()
            except (OSError, KeyError, IndexError):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, t: float) -> tuple[float, float, int]:
        """The last sample at or before t (the first when none)."""
        best = self.samples[0]
        for s in self.samples:
            if s[0] <= t:
                best = s
        return best


# ------------------------------------------------------------------------------------------------
# metrics


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape(address: str) -> dict[str, float]:
    """Counters by name without `_total` (otelcol 0.155 drops the suffix), summed over labels."""
    text = requests.get(f"http://{address}/metrics", timeout=5).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m:
            continue
        name = m.group(1).removesuffix("_total")
        try:
            out[name] = out.get(name, 0.0) + float(m.group(3))
        except ValueError:
            pass
    return out


ITEM = {"traces": "spans", "metrics": "metric_points", "logs": "log_records"}


def counter(m: dict[str, float], what: str, signal_name: str) -> float:
    return m.get(f"otelcol_{what}_{ITEM[signal_name]}", 0.0)


# ------------------------------------------------------------------------------------------------
# tools


@dataclass
class Tools:
    otelite: Path
    otelcol: Path
    telemetrygen: Path
    loadgen: Path
    sink: Path
    micro: Path

    @staticmethod
    def find(build: Path) -> "Tools":
        tools_bin = Path(os.environ.get("OTELITE_TOOLS_DIR",
                                        Path.home() / ".cache" / "otelite-tools")) / "bin"
        build = build.resolve()
        t = Tools(build / "otelite", tools_bin / "otelcol-otelite", tools_bin / "telemetrygen",
                  build / "bench" / "otelite_loadgen", build / "bench" / "otelite_sink",
                  build / "bench" / "otelite_micro")
        for name, path in vars(t).items():
            if not os.access(path, os.X_OK):
                sys.exit(f"bench: {name} not found at {path} (run `make bench`, which builds "
                         "everything, or scripts/install-go-tools.sh for the Go programs)")
        return t


def version_of(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "unknown"


# ------------------------------------------------------------------------------------------------
# one run


@dataclass
class Load:
    name: str            # label in the tables
    kind: str            # loadgen | telemetrygen
    rate: float = 0      # items per second; 0: flat out
    signal: str = "traces"
    protocol: str = "grpc"


@dataclass
class Scenario:
    pipeline: str        # passthrough | passthrough_memory_limiter | file
    target: str          # otelite | otelcol | null
    load: Load
    cores: int           # 1 or 2

    @property
    def key(self) -> tuple:
        return (self.pipeline, self.load.name, self.cores, self.target)


@dataclass
class Result:
    scenario: Scenario
    rep: int
    accepted_per_s: float = 0.0
    exported_per_s: float = 0.0
    cpu_s_per_million: float = 0.0
    cores_used: float = 0.0
    idle_rss: int = 0
    idle_anon: int = 0  # anonymous memory only (RSS less the mapped files: code of the libraries)
    peak_rss: int = 0
    load_rss: int = 0  # median RSS in the measurement window
    p50_ms: float | None = None
    p99_ms: float | None = None
    refused: float = 0.0
    errors: float = 0.0
    drained: bool = True
    rss_series: list = field(default_factory=list)  # (s since load start, MiB)


class Runner:
    def __init__(self, tools: Tools, workroot: Path, warmup: float, measure: float,
                 idle: float) -> None:
        self.tools = tools
        self.workroot = workroot
        self.warmup = warmup
        self.measure = measure
        self.idle = idle
        self.ncpu = os.cpu_count() or 1

    def cpus(self, cores: int) -> tuple[str, str | None]:
        """CPUs of the target, and of the load and sink (None: anywhere)."""
        if cores >= self.ncpu:
            return f"0-{self.ncpu - 1}", None
        return f"0-{cores - 1}", f"{cores}-{self.ncpu - 1}"

    def run(self, sc: Scenario, rep: int) -> Result:
        work = Path(tempfile.mkdtemp(prefix="run-", dir=self.workroot))
        target_cpus, other_cpus = self.cpus(sc.cores)
        res = Result(sc, rep)
        procs: list[Proc] = []
        try:
            sink = None
            sink_port = free_port()
            if sc.pipeline != "file" or sc.target == "null":
                sink = Proc("sink", [str(self.tools.sink), "--listen", f"127.0.0.1:{sink_port}",
                                     "--report-ms", "100"], work,
                            cpus=target_cpus if sc.target == "null" else other_cpus,
                            stdout_lines=True)
                procs.append(sink)
                wait_until(lambda: sink.lines, 10, "the sink")
            ports = {"BENCH_GRPC_PORT": free_port(), "BENCH_HTTP_PORT": free_port(),
                     "BENCH_SINK_PORT": sink_port, "BENCH_METRICS_PORT": free_port()}
            env = {k: str(v) for k, v in ports.items()}
            env["BENCH_FILE_PATH"] = str(work / "out.jsonl")
            metrics_addr = f"127.0.0.1:{ports['BENCH_METRICS_PORT']}"
            if sc.target == "null":
                target = sink
                grpc_port = sink_port
            else:
                binary = self.tools.otelite if sc.target == "otelite" else self.tools.otelcol
                target = Proc(sc.target, [str(binary), "--config",
                                          str(CONFIGS / f"{sc.pipeline}.yaml")],
                              work, env=env, cpus=target_cpus)
                procs.append(target)
                wait_until(lambda: target.alive() and requests.get(
                    f"http://{metrics_addr}/metrics", timeout=1).ok, 30,
                    f"{sc.target} to serve its metrics")
                grpc_port = ports["BENCH_GRPC_PORT"]
                if not target.alive():
                    raise RuntimeError(f"{sc.target} exited:\n{target.log_tail()}")
            # Idle: started, nothing sent yet.
            time.sleep(self.idle)
            idle = proc_status(target.pid)
            res.idle_rss, res.idle_anon = idle["VmRSS"], idle["RssAnon"]
            sampler = Sampler(target.pid)
            before = self.counts(sc, metrics_addr, sink)
            load = self.start_load(sc, work, grpc_port, ports["BENCH_HTTP_PORT"], other_cpus)
            procs.append(load)
            t0 = time.monotonic()
            w0, w1 = t0 + self.warmup, t0 + self.warmup + self.measure
            time.sleep(max(0.0, w0 - time.monotonic()))
            c0, cpu0 = self.counts(sc, metrics_addr, sink), sampler.sample()
            time.sleep(max(0.0, w1 - time.monotonic()))
            c1, cpu1 = self.counts(sc, metrics_addr, sink), sampler.sample()
            rc = load.wait(timeout=self.warmup + self.measure + 60)
            if rc != 0:
                log(f"{sc.load.kind} exited with {rc}: {load.log_tail(500)}")
            # Drain: everything accepted has left (or the deadline passed).
            accepted = lambda: self.counts(sc, metrics_addr, sink)  # noqa: E731
            try:
                wait_until(lambda: (lambda c: c["exported"] >= c["accepted"] and
                                    c["accepted"] > before["accepted"])(accepted()),
                           30, "the target to drain", interval=0.1)
            except RuntimeError:
                res.drained = False
            c2, cpu2 = accepted(), sampler.sample()
            sampler.stop()

            window = cpu1[0] - cpu0[0]
            res.accepted_per_s = (c1["accepted"] - c0["accepted"]) / window
            res.exported_per_s = (c1["exported"] - c0["exported"]) / window
            res.cores_used = (cpu1[1] - cpu0[1]) / window
            total = c2["accepted"] - before["accepted"]
            if total > 0:
                res.cpu_s_per_million = (cpu2[1] - sampler.samples[0][1]) / total * 1e6
            in_load = [s for s in sampler.samples if s[0] >= t0]
            res.peak_rss = max([s[2] for s in in_load] +
                               [proc_status(target.pid).get("VmHWM", 0)
                                if sc.target != "null" else 0])
            in_window = sorted(s[2] for s in sampler.samples if w0 <= s[0] <= w1)
            res.load_rss = in_window[len(in_window) // 2] if in_window else 0
            res.rss_series = [(round(s[0] - t0, 2), round(s[2] / MIB, 2))
                              for s in sampler.samples]
            res.refused = c2["refused"] - before["refused"]
            res.errors = c2["failed"] - before["failed"]
            if sc.load.kind == "loadgen":
                final = [x for x in load.json_lines() if x.get("final")]
                if final:
                    res.refused += final[-1]["refused"]
                    res.errors += final[-1]["errors"]
            if sink is not None and sc.load.kind == "loadgen":
                lat = sorted(v for x in sink.json_lines() if w0 <= x["t"] <= w1
                             for v in x["lat_us"])
                if lat:
                    res.p50_ms = lat[len(lat) // 2] / 1000
                    res.p99_ms = lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000
            return res
        finally:
            for p in reversed(procs):
                p.stop()
            shutil.rmtree(work, ignore_errors=True)

    def counts(self, sc: Scenario, metrics_addr: str, sink: Proc | None) -> dict[str, float]:
        """Items accepted and exported so far, refusals and failures."""
        sig = sc.load.signal
        if sc.target == "null":
            assert sink is not None
            # The sink reports every 100 ms: take the first report made after now.
            now = time.monotonic()
            report = wait_until(lambda: next(
                (x for x in reversed(sink.json_lines()) if x["t"] >= now), None), 5,
                "a sink report")
            items = report["items"]
            return {"accepted": items, "exported": items, "refused": 0.0, "failed": 0.0}
        m = scrape(metrics_addr)
        return {"accepted": counter(m, "receiver_accepted", sig),
                "exported": counter(m, "exporter_sent", sig),
                "refused": counter(m, "receiver_refused", sig),
                "failed": counter(m, "exporter_send_failed", sig) +
                counter(m, "exporter_enqueue_failed", sig)}

    def start_load(self, sc: Scenario, work: Path, grpc_port: int, http_port: int,
                   cpus: str | None) -> Proc:
        duration = self.warmup + self.measure
        ld = sc.load
        if ld.kind == "loadgen":
            return Proc("loadgen", [str(self.tools.loadgen), "--endpoint",
                                    f"127.0.0.1:{grpc_port}", "--rate", str(ld.rate),
                                    "--duration", str(duration), "--report-ms", "100"],
                        work, cpus=cpus, stdout_lines=True)
        workers = 4
        args = [str(self.tools.telemetrygen), ld.signal, "--otlp-insecure", "--workers",
                str(workers), "--duration", f"{duration}s",
                "--rate", str(ld.rate / workers if ld.rate else 0)]
        if ld.protocol == "http":
            args += ["--otlp-http", "--otlp-endpoint", f"127.0.0.1:{http_port}"]
        else:
            args += ["--otlp-endpoint", f"127.0.0.1:{grpc_port}"]
        return Proc("telemetrygen", args, work, cpus=cpus)


# ------------------------------------------------------------------------------------------------
# the plan


def plan(smoke: bool, ncpu: int) -> list[Scenario]:
    lg100k = Load("loadgen 100k spans/s", "loadgen", rate=100_000)
    lgmax = Load("loadgen flat out", "loadgen", rate=0)
    lg50k = Load("loadgen 50k spans/s", "loadgen", rate=50_000)
    core_counts = [1] if ncpu < 2 else [1, 2]
    if smoke:
        return [Scenario("passthrough", t, Load("loadgen 20k spans/s", "loadgen", 20_000), 1)
                for t in ("otelite", "otelcol", "null")] + [
            Scenario("passthrough", t, Load("telemetrygen logs grpc", "telemetrygen",
                                            signal="logs"), 1) for t in ("otelite", "otelcol")]
    out = []
    for cores in core_counts:
        for load in (lg100k, lgmax):
            for target in ("otelite", "otelcol", "null"):
                out.append(Scenario("passthrough", target, load, cores))
    for target in ("otelite", "otelcol"):
        out.append(Scenario("passthrough_memory_limiter", target, lgmax, 1))
        out.append(Scenario("file", target, lg50k, 1))
        for load in (Load("telemetrygen traces grpc", "telemetrygen"),
                     Load("telemetrygen logs grpc 20k/s", "telemetrygen", rate=20_000,
                          signal="logs"),
                     Load("telemetrygen traces http", "telemetrygen", protocol="http"),
                     Load("telemetrygen metrics grpc", "telemetrygen", signal="metrics"),
                     Load("telemetrygen logs http", "telemetrygen", signal="logs",
                          protocol="http")):
            out.append(Scenario("passthrough", target, load, 1))
    return out


# ------------------------------------------------------------------------------------------------
# micro-benchmarks and profile


def run_micro(tools: Tools, smoke: bool, out: Path) -> list[dict]:
    log("micro-benchmarks")
    args = [str(tools.micro), "--benchmark_format=json", f"--benchmark_out={out}",
            "--benchmark_out_format=json",
            f"--benchmark_min_time={0.05 if smoke else 0.5}"]
    if not smoke:
        args.append("--benchmark_repetitions=3")
        args.append("--benchmark_report_aggregates_only=true")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=900)
    rows = []
    for b in json.loads(out.read_text())["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        rows.append({"name": b.get("run_name", b["name"]).replace("/real_time", ""),
                     "real_ns": b["real_time"], "cpu_ns": b["cpu_time"],
                     "items_per_s": b.get("items_per_second"),
                     "bytes_per_s": b.get("bytes_per_second")})
    return rows


def perf_works() -> bool:
    try:
        r = subprocess.run(["perf", "stat", "-e", "instructions", "true"], capture_output=True,
                           text=True, timeout=20)
        return r.returncode == 0 and "instructions" in r.stderr and "not supported" not in r.stderr
    except (OSError, subprocess.TimeoutExpired):
        return False


CATEGORIES = [  # (category, pattern on "dso symbol"), first match wins
    ("kernel (network stack, syscalls, scheduling)", r"\[kernel|\[k\]"),
    ("protobuf decode (receiver validation)", r"protobuf|_InternalParse|ParseFrom|TcParser|"
                                              r"WireFormat|ReadTag|VerifyUTF8|Utf8"),
    ("memcpy / memmove", r"memcpy|memmove|memset"),
    ("malloc / free", r"malloc|free|_int_|tcache|operator new|operator delete|cfree"),
    ("gRPC core and HTTP/2", r"grpc|chttp2|hpack|absl|upb|gpr_|libaddress|libgpr"),
    ("otelite", r"otelite"),
]


def profile_target(tools: Tools, runner: Runner, work: Path, smoke: bool) -> dict | None:
    """Where otelite spends its CPU on the pass-through pipeline, flat out, on one core."""
    use_perf = perf_works()
    if not use_perf and not shutil.which("valgrind"):
        log("no profiler: perf does not work here and valgrind is missing")
        return None
    log(f"profiling otelite with {'perf' if use_perf else 'callgrind'}")
    target_cpus, other_cpus = runner.cpus(1)
    procs: list[Proc] = []
    try:
        sink_port = free_port()
        sink = Proc("sink", [str(tools.sink), "--listen", f"127.0.0.1:{sink_port}"], work,
                    cpus=other_cpus, stdout_lines=True)
        procs.append(sink)
        wait_until(lambda: sink.lines, 10, "the sink")
        ports = {"BENCH_GRPC_PORT": free_port(), "BENCH_HTTP_PORT": free_port(),
                 "BENCH_SINK_PORT": sink_port, "BENCH_METRICS_PORT": free_port()}
        env = {k: str(v) for k, v in ports.items()}
        cmd = [str(tools.otelite), "--config", str(CONFIGS / "passthrough.yaml")]
        data = work / ("perf.data" if use_perf else "callgrind.out")
        if not use_perf:
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={data}"] + cmd
        target = Proc("otelite", cmd, work, env=env, cpus=target_cpus)
        procs.append(target)
        wait_until(lambda: requests.get(f"http://127.0.0.1:{ports['BENCH_METRICS_PORT']}/metrics",
                                        timeout=1).ok, 120, "otelite to start")
        seconds = 2 if smoke else 5
        load = Proc("loadgen", [str(tools.loadgen), "--endpoint",
                                f"127.0.0.1:{ports['BENCH_GRPC_PORT']}",
                                "--rate", "0" if use_perf else "20000",
                                "--duration", str(seconds + 1.5)],
                    work, cpus=other_cpus, stdout_lines=True)
        procs.append(load)
        time.sleep(1)
        if use_perf:
            subprocess.run(["perf", "record", "-F", "499", "-g", "-o", str(data), "-p",
                            str(target.pid), "--", "sleep", str(seconds)],
                           capture_output=True, timeout=seconds + 60, check=True)
        load.wait(timeout=seconds + 60)
        target.stop(timeout=60)
        if use_perf:
            rep = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--stdio",
                                  "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.3"],
                                 capture_output=True, text=True, timeout=300)
            rows = []
            for line in rep.stdout.splitlines():
                m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$", line)
                if m:
                    rows.append((float(m.group(1)), m.group(2), m.group(4).strip()[:110],
                                 m.group(3) == "k"))
        else:
            rep = subprocess.run(["callgrind_annotate", "--inclusive=no", str(data)],
                                 capture_output=True, text=True, timeout=300)
            rows = []
            total = None
            for line in rep.stdout.splitlines():
                m = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S+):(.*?)\s*(\[.*\])?$", line)
                if m:
                    rows.append((float(m.group(2)), m.group(5) or "", m.group(4)[:110], False))
                elif "PROGRAM TOTALS" in line:
                    total = line
        cats: dict[str, float] = {}
        for pct, dso, sym, kernel in rows:
            text = ("[kernel] " if kernel else "") + f"{dso} {sym}"
            cat = next((c for c, pat in CATEGORIES if re.search(pat, text)), "other")
            cats[cat] = cats.get(cat, 0.0) + pct
        return {"tool": "perf" if use_perf else "callgrind", "top": rows[:25],
                "categories": sorted(cats.items(), key=lambda kv: -kv[1]),
                "covered": sum(r[0] for r in rows)}
    except (subprocess.SubprocessError, RuntimeError, OSError) as exc:
        log(f"profile failed: {exc}")
        return None
    finally:
        for p in reversed(procs):
            p.stop(timeout=60)


# ------------------------------------------------------------------------------------------------
# aggregation, plots, report


METRICS = ["accepted_per_s", "exported_per_s", "cpu_s_per_million", "cores_used", "idle_rss",
           "idle_anon",
           "peak_rss", "load_rss", "p50_ms", "p99_ms", "refused", "errors"]


def aggregate(results: list[Result]) -> dict[tuple, dict]:
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        groups.setdefault(r.scenario.key, []).append(r)
    out = {}
    for key, rs in groups.items():
        agg = {"scenario": rs[0].scenario, "runs": rs, "drained": all(r.drained for r in rs)}
        for m in METRICS:
            vals = [getattr(r, m) for r in rs if getattr(r, m) is not None]
            agg[m] = (statistics.median(vals), min(vals), max(vals)) if vals else None
        out[key] = agg
    return out


def med(agg: dict, key: tuple, metric: str):
    a = agg.get(key)
    return a[metric][0] if a and a[metric] else None


def plot(agg: dict, out: Path, ncpu: int) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"otelite": "tab:blue", "otelcol": "tab:orange", "null": "tab:gray"}
    files = []
    fig, ax = plt.subplots(figsize=(8, 5))
    for target in ("otelite", "otelcol", "null"):
        xs, ys, labels = [], [], []
        for key, a in agg.items():
            sc = a["scenario"]
            if sc.target != target or sc.pipeline != "passthrough" or sc.load.kind != "loadgen":
                continue
            xs.append(a["cores_used"][0])
            ys.append(a["accepted_per_s"][0])
            labels.append(f"{sc.load.name.replace('loadgen ', '')}, {sc.cores} core"
                          f"{'s' if sc.cores > 1 else ''}")
        ax.scatter(xs, ys, label=target, color=colors[target], s=40)
        for x, y, lab in zip(xs, ys, labels):
            ax.annotate(lab, (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("CPU used by the target (cores)")
    ax.set_ylabel("spans accepted per second")
    ax.set_title("OTLP → batch → OTLP pass-through: throughput against CPU (medians)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "throughput_cpu.png", dpi=110)
    plt.close(fig)
    files.append("throughput_cpu.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=False)
    for ax, load in zip(axes, ("loadgen 100k spans/s", "loadgen flat out")):
        for target in ("otelite", "otelcol"):
            a = agg.get(("passthrough", load, 1, target))
            if not a:
                continue
            series = a["runs"][0].rss_series
            ax.plot([s[0] for s in series], [s[1] for s in series], label=target,
                    color=colors[target])
        ax.set_title(f"RSS over time, {load}, 1 core")
        ax.set_xlabel("seconds since the load started")
        ax.set_ylabel("RSS (MiB)")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rss.png", dpi=110)
    plt.close(fig)
    files.append("rss.png")
    return files


def fmt_num(v, unit: str = "") -> str:
    if v is None:
        return "–"
    if unit == "MiB":
        return f"{v / MIB:.1f}"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.2f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f}k"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.2f}" if v != int(v) else f"{int(v)}"


def cell(a: dict, metric: str, unit: str = "") -> str:
    v = a.get(metric)
    if v is None:
        return "–"
    m, lo, hi = v
    if lo == hi:
        return fmt_num(m, unit)
    return f"{fmt_num(m, unit)} ({fmt_num(lo, unit)}–{fmt_num(hi, unit)})"


def ratio(a, b) -> str:
    return f"{a / b:.2f}" if a is not None and b else "–"


def write_report(out: Path, agg: dict, micro: list[dict], profile: dict | None, info: dict,
                 plots: list[str], smoke: bool) -> Path:
    L: list[str] = []
    P = L.append
    P("# Benchmark results: otelite and the OpenTelemetry Collector, side by side")
    P("")
    P(f"Written by `{info['command']}` on {info['date']} ({info['duration_min']:.1f} minutes). "
      "Rerun it rather than editing this file; how to read it: [README.md](README.md).")
    P("")
    P("## Machine and versions")
    P("")
    for k in ("cpu", "cores", "memory", "kernel", "load_before", "load_after", "otelite",
              "otelcol", "telemetrygen", "runs"):
        P(f"- **{k.replace('_', ' ')}**: {info[k]}")
    P("")

    def key(pipeline, load, cores, target):
        return (pipeline, load, cores, target)

    lite = lambda m, load="loadgen flat out", c=1, p="passthrough": med(  # noqa: E731
        agg, key(p, load, c, "otelite"), m)
    col = lambda m, load="loadgen flat out", c=1, p="passthrough": med(  # noqa: E731
        agg, key(p, load, c, "otelcol"), m)

    if not smoke:
        P("## Headline: otelite / otelcol")
        P("")
        P("Pass-through pipeline (OTLP/gRPC in → batch → OTLP/gRPC out), target pinned to one core "
          "unless stated; medians. A ratio below 1 means otelite uses less.")
        P("")
        P("| figure | otelite | otelcol | otelite / otelcol |")
        P("|---|---|---|---|")
        rows = [
            ("CPU s per million spans, flat out", "cpu_s_per_million", "loadgen flat out", 1, ""),
            ("CPU s per million spans, 100k spans/s", "cpu_s_per_million",
             "loadgen 100k spans/s", 1, ""),
            ("spans/s accepted, flat out, 1 core", "accepted_per_s", "loadgen flat out", 1, ""),
            ("spans/s accepted, flat out, 2 cores", "accepted_per_s", "loadgen flat out", 2, ""),
            ("idle RSS (MiB)", "idle_rss", "loadgen 100k spans/s", 1, "MiB"),
            ("idle anonymous memory (MiB; RSS less mapped files)", "idle_anon",
             "loadgen 100k spans/s", 1, "MiB"),
            ("RSS at 100k spans/s (MiB, median in window)", "load_rss", "loadgen 100k spans/s",
             1, "MiB"),
            ("peak RSS, flat out (MiB)", "peak_rss", "loadgen flat out", 1, "MiB"),
            ("p99 send → export at 100k spans/s (ms)", "p99_ms", "loadgen 100k spans/s", 1, ""),
        ]
        for label, m, load, c, unit in rows:
            a, b = lite(m, load, c), col(m, load, c)
            P(f"| {label} | {fmt_num(a, unit)} | {fmt_num(b, unit)} | {ratio(a, b)} |")
        P("")
        P("## Targets")
        P("")
        P("Recorded, not asserted. Batch timeout is 200 ms in both configurations.")
        P("")
        P("| target | measured | verdict |")
        P("|---|---|---|")
        verdicts = []
        a, b = lite("cpu_s_per_million"), col("cpu_s_per_million")
        if a and b:
            f = b / a
            verdicts.append(("≥ 10× less CPU per span than otelcol (pass-through, flat out)",
                             f"{f:.1f}× less ({a:.2f} vs {b:.2f} CPU s per million spans)",
                             "hit" if f >= 10 else f"missed: {f:.1f}× instead of 10× "
                             f"(needs {a / (b / 10):.1f}× less CPU than now)"))
        a = lite("accepted_per_s")
        if a:
            verdicts.append(("≥ 1 million spans/s on one core", f"{a / 1e6:.2f}M spans/s",
                             "hit" if a >= 1e6 else f"missed by {(1 - a / 1e6) * 100:.0f}% "
                             f"({1e6 / a:.2f}× short)"))
        a = lite("idle_rss", "loadgen 100k spans/s")
        if a:
            verdicts.append(("idle RSS ≤ 8 MiB", f"{a / MIB:.1f} MiB",
                             "hit" if a <= 8 * MIB else
                             f"missed by {(a - 8 * MIB) / MIB:.1f} MiB (anonymous memory: "
                             f"{lite('idle_anon', 'loadgen 100k spans/s') / MIB:.1f} MiB)"))
        a = lite("peak_rss", "loadgen 100k spans/s")
        if a:
            verdicts.append(("RSS under 100k spans/s ≤ 32 MiB", f"{a / MIB:.1f} MiB peak",
                             "hit" if a <= 32 * MIB else
                             f"missed by {(a - 32 * MIB) / MIB:.1f} MiB"))
        a = lite("p99_ms", "loadgen 100k spans/s")
        if a is not None:
            verdicts.append(("p99 receive → export ≤ batch timeout + 5 ms (205 ms) below "
                             "saturation (100k spans/s)", f"{a:.1f} ms",
                             "hit" if a <= 205 else f"missed by {a - 205:.1f} ms"))
        for v in verdicts:
            P(f"| {v[0]} | {v[1]} | {v[2]} |")
        P("")

    P("## All figures")
    P("")
    P("Median of the runs, (min–max) when they differ. *accepted/s*: the target's "
      "`otelcol_receiver_accepted_*` over the measurement window (the sink's count for `null`). "
      "*CPU s/M*: CPU seconds of the target per million items accepted, from the first item to "
      "the last one exported. *cores*: CPU used in the window. *RSS*: idle after start, median in "
      "the window, peak. *p50/p99*: send (stamped by otelite_loadgen) → arrival at the sink. "
      "*refused*: refusals seen by the load and the target's refused counter; *errors*: failed "
      "sends and enqueue failures of the exporter plus other errors seen by the load.")
    P("")
    P("| pipeline | load | cores | target | accepted/s | exported/s | CPU s/M | cores | "
      "items/s per core | idle RSS MiB | idle anon MiB | RSS MiB | peak RSS MiB | p50 ms | "
      "p99 ms | refused | errors |")
    P("|" + "---|" * 17)
    for k in sorted(agg, key=lambda k: (k[0] != "passthrough", k[0], k[2], k[1], k[3])):
        a = agg[k]
        sc = a["scenario"]
        per_core = (a["accepted_per_s"][0] / a["cores_used"][0]
                    if a["accepted_per_s"] and a["cores_used"] and a["cores_used"][0] else None)
        P(f"| {sc.pipeline} | {sc.load.name} | {sc.cores} | {sc.target}"
          f"{'' if a['drained'] else ' (not drained)'} | {cell(a, 'accepted_per_s')} | "
          f"{cell(a, 'exported_per_s')} | {cell(a, 'cpu_s_per_million')} | "
          f"{cell(a, 'cores_used')} | {fmt_num(per_core)} | {cell(a, 'idle_rss', 'MiB')} | "
          f"{cell(a, 'idle_anon', 'MiB')} | "
          f"{cell(a, 'load_rss', 'MiB')} | {cell(a, 'peak_rss', 'MiB')} | {cell(a, 'p50_ms')} | "
          f"{cell(a, 'p99_ms')} | {cell(a, 'refused')} | {cell(a, 'errors')} |")
    P("")
    for p in plots:
        P(f"![{p}]({p})")
        P("")
    if micro:
        P("## Micro-benchmarks (Google Benchmark, bench/micro)")
        P("")
        P("| benchmark | wall time | CPU time | items/s | bytes/s |")
        P("|---|---|---|---|---|")
        for r in micro:
            P(f"| {r['name']} | {r['real_ns'] / 1e3:.2f} µs | {r['cpu_ns'] / 1e3:.2f} µs | "
              f"{fmt_num(r['items_per_s'])} | "
              f"{fmt_num(r['bytes_per_s'] / MIB) + ' MiB' if r['bytes_per_s'] else '–'} |")
        P("")
    if profile:
        P(f"## Profile: otelite, pass-through, flat out, one core ({profile['tool']})")
        P("")
        P("Self time by category (symbols at ≥ 0.3% of samples, "
          f"{profile['covered']:.0f}% of the total):")
        P("")
        P("| category | share |")
        P("|---|---|")
        for c, pct in profile["categories"]:
            P(f"| {c} | {pct:.1f}% |")
        P("")
        P("<details><summary>Top symbols</summary>")
        P("")
        P("| self % | object | symbol |")
        P("|---|---|---|")
        for pct, dso, sym, kernel in profile["top"]:
            sym = sym.strip().replace("|", "\\|")
            P(f"| {pct:.1f} | {dso} | {'[k] ' if kernel else ''}`{sym}` |")
        P("")
        P("</details>")
        P("")
    analysis = BENCH / "analysis.md"
    if analysis.exists() and not smoke:
        P(analysis.read_text().rstrip())
        P("")
    path = out / "RESULTS.md"
    path.write_text("\n".join(L) + "\n")
    return path


def machine_info(tools: Tools) -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) * 1024
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": f"{mem / (1 << 30):.1f} GiB",
        "kernel": platform.release(),
        "otelite": version_of([str(tools.otelite), "--version"]),
        "otelcol": version_of([str(tools.otelcol), "--version"]) + " (" + stamp(tools.otelcol) +
        ")",
        "telemetrygen": stamp(tools.telemetrygen),
    }


def stamp(tool: Path) -> str:
    """The version scripts/install-go-tools.sh recorded for a Go program it built."""
    try:
        return (tool.parent.parent / "stamps" / tool.name).read_text().strip()
    except OSError:
        return "unknown"


def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--out", type=Path, default=BENCH, help="where RESULTS.md and the PNGs go")
    ap.add_argument("--smoke", action="store_true", help="a short run: one repetition, few points")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=1.5)
    ap.add_argument("--measure", type=float, default=4.0)
    ap.add_argument("--idle", type=float, default=1.0)
    ap.add_argument("--command", default="make bench")
    args = ap.parse_args()
    if args.smoke:
        args.reps, args.warmup, args.measure, args.idle = 1, 1.0, 2.0, 0.5
    tools = Tools.find(args.build)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    info = machine_info(tools)
    info["load_before"] = loadavg()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["command"] = args.command
    with tempfile.TemporaryDirectory(prefix="otelite-bench-") as tmp:
        workroot = Path(tmp)
        micro = run_micro(tools, args.smoke, workroot / "micro.json")
        runner = Runner(tools, workroot, args.warmup, args.measure, args.idle)
        scenarios = plan(args.smoke, runner.ncpu)
        results: list[Result] = []
        # Repetitions outermost, so that a change in the machine's load touches every target.
        for rep in range(args.reps):
            for i, sc in enumerate(scenarios):
                log(f"rep {rep + 1}/{args.reps} [{i + 1}/{len(scenarios)}] {sc.pipeline}, "
                    f"{sc.load.name}, {sc.cores} core(s), {sc.target}")
                try:
                    r = runner.run(sc, rep)
                except RuntimeError as exc:
                    log(f"run failed: {exc}")
                    continue
                results.append(r)
                log(f"  accepted {r.accepted_per_s:,.0f}/s, {r.cpu_s_per_million:.2f} CPU s/M, "
                    f"cores {r.cores_used:.2f}, idle {r.idle_rss / MIB:.1f} MiB, peak "
                    f"{r.peak_rss / MIB:.1f} MiB, p99 {r.p99_ms} ms, refused {r.refused:.0f}, "
                    f"errors {r.errors:.0f}")
        profile = profile_target(tools, runner, workroot, args.smoke)
    agg = aggregate(results)
    info["load_after"] = loadavg()
    info["runs"] = (f"{len(results)} runs: {args.reps} repetition(s) of {len(scenarios)} "
                    f"scenarios, warm-up {args.warmup} s, measurement window {args.measure} s")
    info["duration_min"] = (time.monotonic() - started) / 60
    plots = plot(agg, args.out, runner.ncpu)
    path = write_report(args.out, agg, micro, profile, info, plots, args.smoke)
    (args.out / "results.json").write_text(json.dumps(
        [{**{k: v for k, v in vars(r).items() if k not in ("scenario", "rss_series")},
          "pipeline": r.scenario.pipeline, "target": r.scenario.target,
          "load": r.scenario.load.name, "cores": r.scenario.cores} for r in results], indent=1))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
