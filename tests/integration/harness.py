"""Shared helpers for the otelite integration suite.

Everything here talks to a real otelite process over loopback: it writes configs, starts and
stops the daemon by the PID it started, reads the file exporter's output (json lines, proto,
zstd) and scrapes the self-metrics endpoint.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

# Loopback traffic must never go through a proxy (requests and grpc both honour *_proxy).
for _var in ("NO_PROXY", "no_proxy"):
    _cur = os.environ.get(_var, "")
    if "127.0.0.1" not in _cur:
        os.environ[_var] = ",".join(x for x in (_cur, "127.0.0.1", "localhost") if x)

STARTUP_TIMEOUT = float(os.environ.get("OTELITE_TEST_STARTUP_TIMEOUT", "30"))
OUTPUT_TIMEOUT = float(os.environ.get("OTELITE_TEST_OUTPUT_TIMEOUT", "15"))
STOP_TIMEOUT = float(os.environ.get("OTELITE_TEST_STOP_TIMEOUT", "30"))
POLL = 0.05


def otelite_binary() -> Path:
    env = os.environ.get("OTELITE_BIN")
    return Path(env) if env else REPO_ROOT / "build" / "otelite"


# The copy of the binary the session runs (set by the otelite_bin fixture).
BINARY: Path | None = None


# --------------------------------------------------------------------------------------------
# polling


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = POLL):
    """Polls `predicate` until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_exc = None
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep polling through transient errors
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.1f}s waiting for {what}"
                + (f" (last error: {last_exc!r})" if last_exc else "")
            )
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# ports


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (bind port 0, release), never the same twice."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("could not find a free port")


class Ports:
    def __init__(self) -> None:
        self.grpc = free_port()
        self.http = free_port()
        self.health = free_port()
        self.metrics = free_port()


# --------------------------------------------------------------------------------------------
# config writing (a tiny YAML emitter: block maps, flow lists of scalars)

_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+-][A-Za-z0-9_./:@+ -]*$")
_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dict):
        if v:
            raise ValueError("non-empty dict is not a scalar")
        return "{}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    s = str(v)
    if (
        _PLAIN.match(s)
        and s.lower() not in _SPECIAL
        and not re.match(r"^[-+]?[0-9.]", s)
        and not s.endswith(" ")
        and ": " not in s
        and " #" not in s
    ):
        return s
    return json.dumps(s)


def to_yaml(obj: dict, indent: int = 0) -> str:
    pad = "  " * indent
    out = []
    for k, v in obj.items():
        if isinstance(v, dict) and v:
            out.append(f"{pad}{k}:")
            out.append(to_yaml(v, indent + 1))
        elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
            out.append(f"{pad}{k}:")
            for item in v:
                body = to_yaml(item, indent + 2).lstrip()
                out.append(f"{pad}  - {body}")
        else:
            out.append(f"{pad}{k}: {_scalar(v)}")
    return "\n".join(out)


def base_config(ports: Ports, out_path: Path, *, flush_interval: str = "100ms") -> dict:
    """The contract's example config: otlp (grpc+http) -> file, for all three signals."""
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"127.0.0.1:{ports.grpc}"},
                    "http": {"endpoint": f"127.0.0.1:{ports.http}"},
                }
            }
        },
        "exporters": {
            "file": {"path": str(out_path), "flush_interval": flush_interval},
        },
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}},
        "service": {
            "extensions": ["health_check"],
            "shutdown_timeout": "10s",
            "telemetry": {
                "metrics": {"address": f"127.0.0.1:{ports.metrics}"},
                "logs": {"level": "info", "encoding": "console"},
            },
            "pipelines": {
                "traces": {"receivers": ["otlp"], "exporters": ["file"]},
                "metrics": {"receivers": ["otlp"], "exporters": ["file"]},
                "logs": {"receivers": ["otlp"], "exporters": ["file"]},
            },
        },
    }


# --------------------------------------------------------------------------------------------
# the daemon


def read_text_or_empty(path: Path) -> str:
    """A process's log so far ("" before the process has written it)."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


class Otelite:
    """One otelite process started by this test run; stopped only through its own PID."""

    def __init__(self, binary: Path, workdir: Path, name: str, config: dict | str | None,
                 ports: Ports | None, args: Iterable[str] | None = None,
                 env: dict | None = None, health_path: str = "/") -> None:
        self.binary = binary
        self.workdir = workdir
        self.name = name
        self.ports = ports
        self.health_path = health_path
        self.config_path = workdir / f"{name}.yaml"
        if config is not None:
            text = config if isinstance(config, str) else to_yaml(config) + "\n"
            self.config_path.write_text(text)
        self.args = list(args) if args is not None else ["--config", str(self.config_path)]
        self.env = env
        self.log_path = workdir / f"{name}.stderr.log"
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.expect_clean_exit = True

    # -- lifecycle
    def start(self, wait: bool = True) -> "Otelite":
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        with open(self.log_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                [str(self.binary), *self.args], stdin=subprocess.DEVNULL, stdout=out,
                stderr=err, env=env, cwd=self.workdir,
            )
        if wait:
            self.wait_healthy()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health_url(self, path: str | None = None) -> str:
        assert self.ports is not None
        return f"http://127.0.0.1:{self.ports.health}{path or self.health_path}"

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise AssertionError(
                    f"otelite exited with {rc} before becoming healthy\n--- stderr ---\n{self.stderr()}"
                )
            try:
                r = requests.get(self.health_url(), timeout=1)
                last = f"{r.status_code} {r.text[:200]!r}"
                if r.status_code == 200:
                    return
            except requests.RequestException as exc:
                last = repr(exc)
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"otelite not healthy after {timeout}s (last: {last})\n--- stderr ---\n{self.stderr()}"
                )
            time.sleep(POLL)

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        assert self.proc is not None
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait(timeout=10)
            raise AssertionError(
                f"otelite (pid {self.proc.pid}) did not exit within {timeout}s of the signal; "
                f"killed\n--- stderr ---\n{self.stderr()}"
            )
        return self.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT,
             expect_rc: int | None = 0) -> int:
        """Signals the process, waits for it, and (by default) asserts a clean exit 0."""
        self.send_signal(sig)
        rc = self.wait_exit(timeout)
        if expect_rc is not None:
            assert rc == expect_rc, (
                f"otelite exited with {rc} after {signal.Signals(sig).name}, expected {expect_rc}"
                f"\n--- stderr ---\n{self.stderr()}"
            )
        return rc

    def stderr(self) -> str:
        return read_text_or_empty(self.log_path)

    # -- endpoints
    @property
    def http_base(self) -> str:
        assert self.ports is not None
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def grpc_target(self) -> str:
        assert self.ports is not None
        return f"127.0.0.1:{self.ports.grpc}"

    def scrape(self) -> "Samples":
        assert self.ports is not None
        return scrape_metrics(f"127.0.0.1:{self.ports.metrics}")


def run_cli(args: list[str], cwd: Path | None = None, env: dict | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([str(BINARY or otelite_binary()), *args], cwd=cwd, env=full_env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def running(d: Otelite) -> Otelite:
    """Guards a test that uses a shared daemon: an earlier test may have killed it."""
    assert d.running(), (f"the shared otelite (pid {d.pid}) is not running any more "
                         f"(rc {d.proc.poll()}): an earlier test in this module broke it\n"
                         f"{d.stderr()[-3000:]}")
    return d


# --------------------------------------------------------------------------------------------
# file exporter output


def _decompress_zstd(frame: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj().decompress(frame)


def read_records(path: Path, fmt: str = "json", compression: str | None = None) -> list:
    """Complete records in the file exporter's output.

    json (uncompressed): one JSON object per line; a trailing line without its newline is being
    written and is left out. proto, or any zstd: 4-byte big-endian length + payload; a trailing
    incomplete record is left out. Returns dicts for json, bytes for proto.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    if fmt == "json" and not compression:
        lines = data.split(b"\n")[:-1]
        return [json.loads(line) for line in lines if line.strip()]
    out = []
    pos = 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        if pos + 4 + n > len(data):
            break
        payload = data[pos + 4:pos + 4 + n]
        pos += 4 + n
        if compression == "zstd":
            payload = _decompress_zstd(payload)
        if fmt == "json":
            out.append(json.loads(payload))
        else:
            out.append(payload)
    return out


def any_value(v: dict | None) -> Any:
    """An OTLP/JSON AnyValue as a plain Python value (int64 accepted as string or number)."""
    if not v:
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "boolValue" in v:
        return v["boolValue"]
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return attrs(v["kvlistValue"].get("values", []))
    if "bytesValue" in v:
        return base64.b64decode(v["bytesValue"])
    raise AssertionError(f"unknown AnyValue {v!r}")


def attrs(lst: list | None) -> dict:
    return {kv["key"]: any_value(kv.get("value")) for kv in (lst or [])}


def sdk_attrs(a) -> dict:
    """SDK attributes (tuples for arrays) in the same plain form as attrs()."""
    out = {}
    for k, v in dict(a or {}).items():
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


def json_spans(records: list) -> list[tuple[dict, dict, dict]]:
    """(resource attributes, scope, span) for every span in json records."""
    out = []
    for rec in records:
        for rs in rec.get("resourceSpans", []):
            res = attrs(rs.get("resource", {}).get("attributes"))
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    out.append((res, ss.get("scope", {}), sp))
    return out


def json_logs(records: list) -> list[tuple[dict, dict, dict]]:
    out = []
    for rec in records:
        for rl in rec.get("resourceLogs", []):
            res = attrs(rl.get("resource", {}).get("attributes"))
            for sl in rl.get("scopeLogs", []):
                for lr in sl.get("logRecords", []):
                    out.append((res, sl.get("scope", {}), lr))
    return out


def json_metrics(records: list) -> list[tuple[dict, dict, dict]]:
    out = []
    for rec in records:
        for rm in rec.get("resourceMetrics", []):
            res = attrs(rm.get("resource", {}).get("attributes"))
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    out.append((res, sm.get("scope", {}), m))
    return out


def span_ids(records: list) -> list[str]:
    return [sp["spanId"] for _, _, sp in json_spans(records)]


def log_bodies(records: list) -> list:
    return [any_value(lr.get("body")) for _, _, lr in json_logs(records)]


def wait_for_spans(path: Path, wanted: Iterable[str], timeout: float = OUTPUT_TIMEOUT,
                   fmt: str = "json", compression: str | None = None) -> list:
    """Polls the output file until every span id in `wanted` is there; returns the records."""
    wanted = set(wanted)
    holder: dict = {}

    def have_all():
        recs = read_records(path, fmt, compression)
        holder["recs"] = recs
        return wanted <= set(span_ids(recs))

    try:
        wait_until(have_all, timeout, f"{len(wanted)} spans in {path}")
    except AssertionError as exc:
        got = set(span_ids(holder.get("recs", [])))
        raise AssertionError(f"{exc}; missing {len(wanted - got)} of {len(wanted)}: "
                             f"{sorted(wanted - got)[:5]}") from None
    return holder["recs"]


def wait_for_records(path: Path, predicate: Callable[[list], bool], what: str,
                     timeout: float = OUTPUT_TIMEOUT, fmt: str = "json",
                     compression: str | None = None) -> list:
    holder: dict = {}

    def check():
        recs = read_records(path, fmt, compression)
        holder["recs"] = recs
        return predicate(recs)

    wait_until(check, timeout, what)
    return holder["recs"]


# --------------------------------------------------------------------------------------------
# self-metrics


class Samples:
    def __init__(self, samples: list) -> None:
        self.samples = samples

    def find(self, name: str, **labels) -> list:
        return [s for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels) -> float:
        """Sum of the matching samples; 0 when there is none."""
        return sum(s.value for s in self.find(name, **labels))

    def has(self, name: str, **labels) -> bool:
        return bool(self.find(name, **labels))

    def names(self) -> set[str]:
        return {s.name for s in self.samples}


def scrape_metrics(address: str) -> Samples:
    from prometheus_client.parser import text_string_to_metric_families

    r = requests.get(f"http://{address}/metrics", timeout=5)
    r.raise_for_status()
    samples = []
    for fam in text_string_to_metric_families(r.text):
        samples.extend(fam.samples)
    return Samples(samples)


def wait_metric(d: Otelite, name: str, expected: float, timeout: float = OUTPUT_TIMEOUT,
                **labels) -> Samples:
    """Polls the self-metrics until `name{labels}` equals `expected`; fails with the last value."""
    holder: dict = {}

    def check():
        s = d.scrape()
        holder["s"] = s
        return s.value(name, **labels) == expected

    try:
        wait_until(check, timeout, f"{name}{labels} == {expected}")
    except AssertionError:
        s = holder.get("s")
        got = s.value(name, **labels) if s else None
        rel = [f"{x.name}{x.labels}={x.value}" for x in (s.samples if s else [])
               if x.name.startswith(name.rsplit("_", 1)[0][:30])]
        raise AssertionError(f"{name}{labels}: expected {expected}, got {got}; related: {rel}") from None
    return holder["s"]


# --------------------------------------------------------------------------------------------
# hand-made OTLP requests


def new_trace_id() -> bytes:
    return secrets.token_bytes(16)


def new_span_id() -> bytes:
    return secrets.token_bytes(8)


def make_trace_request(n: int, service: str = "handmade", name_prefix: str = "span",
                       big_attr: int = 0):
    """(ExportTraceServiceRequest, [span id hex]) with n spans in one trace."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(
        common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value=service)))
    ss = rs.scope_spans.add()
    ss.scope.name = "otelite.tests"
    tid = new_trace_id()
    ids = []
    now = time.time_ns()
    for i in range(n):
        sid = new_span_id()
        sp = ss.spans.add(trace_id=tid, span_id=sid, name=f"{name_prefix}-{i}",
                          kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
                          start_time_unix_nano=now, end_time_unix_nano=now + 1000)
        sp.attributes.append(common_pb2.KeyValue(key="i", value=common_pb2.AnyValue(int_value=i)))
        if big_attr:
            sp.attributes.append(common_pb2.KeyValue(
                key="big", value=common_pb2.AnyValue(string_value="x" * big_attr)))
        ids.append(sid.hex())
    return req, ids


def make_metrics_request(points: int, name: str = "handmade.gauge"):
    """(ExportMetricsServiceRequest, name) with one gauge metric of `points` int points."""
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2

    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(
        common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="handmade")))
    sm = rm.scope_metrics.add()
    m = sm.metrics.add(name=name, unit="1")
    now = time.time_ns()
    for i in range(points):
        dp = m.gauge.data_points.add(time_unix_nano=now, as_int=i)
        dp.attributes.append(common_pb2.KeyValue(key="p", value=common_pb2.AnyValue(int_value=i)))
    return req, name


def make_logs_request(n: int, prefix: str | None = None):
    """(ExportLogsServiceRequest, [bodies]) with n log records with unique string bodies."""
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2

    prefix = prefix or f"log-{secrets.token_hex(6)}"
    req = logs_service_pb2.ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(
        common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="handmade")))
    sl = rl.scope_logs.add()
    bodies = []
    now = time.time_ns()
    for i in range(n):
        body = f"{prefix}-{i}"
        sl.log_records.add(time_unix_nano=now, severity_number=9, severity_text="INFO",
                           body=common_pb2.AnyValue(string_value=body))
        bodies.append(body)
    return req, bodies


SIGNAL_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}
GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}


def post_proto(d: Otelite, signal_name: str, body: bytes, encoding: str | None = None,
               path: str | None = None, session: requests.Session | None = None,
               timeout: float = 10) -> requests.Response:
    headers = {"Content-Type": "application/x-protobuf"}
    if encoding == "gzip":
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    elif encoding == "zstd":
        import zstandard

        body = zstandard.ZstdCompressor().compress(body)
        headers["Content-Encoding"] = "zstd"
    http = session or requests
    return http.post(d.http_base + (path or SIGNAL_PATHS[signal_name]), data=body,
                     headers=headers, timeout=timeout)


def post_json(d: Otelite, signal_name: str, obj: Any, path: str | None = None,
              timeout: float = 10) -> requests.Response:
    body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
    return requests.post(d.http_base + (path or SIGNAL_PATHS[signal_name]), data=body,
                         headers={"Content-Type": "application/json"}, timeout=timeout)


def grpc_channel(target: str, max_send_mib: int = 64):
    import grpc

    return grpc.insecure_channel(target, options=[
        ("grpc.max_send_message_length", max_send_mib * 1024 * 1024),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.enable_http_proxy", 0),
    ])


def grpc_raw_call(channel, signal_name: str, body: bytes, timeout: float = 10) -> bytes:
    """Calls the signal's Export method with raw bytes (identity serializers)."""
    method = channel.unary_unary(GRPC_METHODS[signal_name],
                                 request_serializer=lambda b: b,
                                 response_deserializer=lambda b: b)
    return method(body, timeout=timeout)


# --------------------------------------------------------------------------------------------
# durations


_GO_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h))+$")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    if text in ("0", "0s"):
        return 0.0
    if not _GO_DURATION.match(text):
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(n) * _UNIT[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text))
