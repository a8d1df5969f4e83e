"""Helpers for the data-path tests (test_data_path.py): an upstream otelite forwarding through
toxiproxy to a downstream (otelite or otelcol), real senders that record what they were told,
span counting by id, RSS sampling, and a reader of LevelDB's write-ahead log.

Every process is started here or by the fixtures with its PID kept, and stopped through it."""
from __future__ import annotations

import collections
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from harness import (GRPC_METHODS, Ports, base_config, json_spans, read_records, span_ids,
                     wait_until)

MiB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# configs


def fast_retry(max_elapsed: str = "0s") -> dict:
    """retry_on_failure that notices a recovered downstream within a second."""
    return {"enabled": True, "initial_interval": "100ms", "max_interval": "1s",
            "randomization_factor": 0.2, "max_elapsed_time": max_elapsed}


def upstream_config(ports: Ports, target: str, *, memory_limiter: dict | None = None,
                    batch: dict | None = None, queue: dict | None = None,
                    retry: dict | None = None, timeout: str = "2s",
                    storage_dir: Path | None = None) -> dict:
    """otlp (grpc + http) -> [memory_limiter] -> [batch] -> otlp_grpc to `target`, traces only.

    `storage_dir` adds extension file_storage/q and puts the sending queue on it."""
    exporter = {"endpoint": target, "tls": {"insecure": True}, "timeout": timeout,
                "retry_on_failure": retry or fast_retry(),
                "sending_queue": dict(queue or {})}
    processors = {}
    chain = []
    if memory_limiter is not None:
        processors["memory_limiter"] = memory_limiter
        chain.append("memory_limiter")
    if batch is not None:
        processors["batch"] = batch
        chain.append("batch")
    extensions = {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}}
    service_ext = ["health_check"]
    if storage_dir is not None:
        extensions["file_storage/q"] = {"directory": str(storage_dir), "create_directory": True}
        service_ext.append("file_storage/q")
        exporter["sending_queue"]["storage"] = "file_storage/q"
    pipeline = {"receivers": ["otlp"], "exporters": ["otlp_grpc"]}
    if chain:
        pipeline["processors"] = chain
    cfg = {
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{ports.grpc}"},
            "http": {"endpoint": f"127.0.0.1:{ports.http}"}}}},
        "exporters": {"otlp_grpc": exporter},
        "extensions": extensions,
        "service": {
            "extensions": service_ext,
            "shutdown_timeout": "10s",
            "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"},
                          "logs": {"level": "info"}},
            "pipelines": {"traces": pipeline},
        },
    }
    if processors:
        cfg["processors"] = processors
    return cfg


def downstream_otelite_config(ports: Ports, out: Path) -> dict:
    cfg = base_config(ports, out, flush_interval="100ms")
    cfg["service"]["pipelines"] = {"traces": {"receivers": ["otlp"], "exporters": ["file"]}}
    return cfg


def downstream_otelcol_config(grpc_port: int, out: Path) -> dict:
    """otelcol: otlp grpc receiver -> file exporter (OTLP/JSON lines, like otelite's)."""
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc_port}"}}}},
        "exporters": {"file": {"path": str(out), "flush_interval": "100ms"}},
        "service": {"telemetry": {"logs": {"level": "info"}},
                    "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["file"]}}},
    }


# --------------------------------------------------------------------------------------------
# counting


@dataclass
class Delivery:
    """What arrived downstream compared with what upstream accepted."""
    accepted: set
    arrived: collections.Counter

    @property
    def missing(self) -> set:
        return self.accepted - set(self.arrived)

    @property
    def duplicates(self) -> int:
        """Extra copies: arrivals beyond the first of each span."""
        return sum(n - 1 for n in self.arrived.values() if n > 1)

    @property
    def unexpected(self) -> set:
        return set(self.arrived) - self.accepted

    def summary(self) -> str:
        return (f"accepted {len(self.accepted)}, arrived {len(self.arrived)} distinct "
                f"({sum(self.arrived.values())} with copies), missing {len(self.missing)}, "
                f"duplicates {self.duplicates}, not accepted but arrived {len(self.unexpected)}")


def arrived(path: Path, service: str | None = None) -> collections.Counter:
    """Span ids (with their number of copies) in a file exporter's OTLP/JSON output."""
    if service is None:
        return collections.Counter(span_ids(read_records(path)))
    return collections.Counter(sp["spanId"] for res, _, sp in json_spans(read_records(path))
                               if res.get("service.name") == service)


def wait_delivered(path: Path, accepted: set, timeout: float, service: str | None = None,
                   extra: set = frozenset()) -> Delivery:
    """Waits until every accepted span is in `path`, then a moment more for late copies."""
    holder = {}

    def done():
        holder["c"] = arrived(path, service)
        return accepted <= set(holder["c"])

    try:
        wait_until(done, timeout, f"{len(accepted)} accepted spans downstream", interval=0.2)
    except AssertionError as exc:
        d = Delivery(accepted, holder.get("c", collections.Counter()))
        raise AssertionError(f"{exc}: {d.summary()}; missing e.g. {sorted(d.missing)[:5]}") \
            from None
    time.sleep(0.5)  # copies still in flight (a retry racing the first answer)
    return Delivery(accepted, arrived(path, service))


# --------------------------------------------------------------------------------------------
# the OpenTelemetry Python SDK as the source


class SdkSource:
    """The real Python SDK (TracerProvider, BatchSpanProcessor, the OTLP gRPC exporter) with an
    exporter wrapper that records, per export call, the span ids and the result: a span is
    accepted when the export that carried it returned SUCCESS."""

    def __init__(self, target: str, service: str, *, batch: int = 100,
                 delay_ms: int = 100, timeout: float = 10) -> None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

        self.service = service
        self.created: list[str] = []
        self.accepted: set[str] = set()
        self.failed: set[str] = set()
        self.exports = 0
        lock = threading.Lock()
        outer = self

        class Recording(OTLPSpanExporter):
            def export(self, spans):
                ids = [format(s.get_span_context().span_id, "016x") for s in spans]
                result = super().export(spans)
                with lock:
                    outer.exports += 1
                    (outer.accepted if result == SpanExportResult.SUCCESS
                     else outer.failed).update(ids)
                return result

        self.exporter = Recording(endpoint=target, insecure=True, timeout=timeout)
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(BatchSpanProcessor(
            self.exporter, max_queue_size=100000, max_export_batch_size=batch,
            schedule_delay_millis=delay_ms))
        self.tracer = self.provider.get_tracer("otelite.tests.data_path")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send(self, n: int, start: int = 0) -> list[str]:
        ids = []
        for i in range(start, start + n):
            with self.tracer.start_as_current_span(f"op-{i}", attributes={"i": i}) as sp:
                ids.append(format(sp.get_span_context().span_id, "016x"))
        self.created.extend(ids)
        return ids

    def start_stream(self, per_second: float) -> None:
        """Creates spans at `per_second` on a thread until stop_stream()."""
        def run():
            i = 0
            t0 = time.monotonic()
            while not self._stop.is_set():
                self.send(1, i)
                i += 1
                ahead = t0 + i / per_second - time.monotonic()
                if ahead > 0:
                    self._stop.wait(ahead)
        self._thread = threading.Thread(target=run, name="sdk-stream", daemon=True)
        self._thread.start()

    def stop_stream(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def flush(self, timeout_ms: int = 30000) -> bool:
        return self.provider.force_flush(timeout_ms)

    def close(self) -> None:
        self.stop_stream()
        self.provider.shutdown()

    def report(self) -> str:
        return (f"SDK: created {len(self.created)}, accepted {len(self.accepted)}, "
                f"failed {len(self.failed)}, in {self.exports} exports")


# --------------------------------------------------------------------------------------------
# hand-made requests with random (incompressible) payload


def random_trace_request(n: int, attr_bytes: int, service: str):
    """(serialized ExportTraceServiceRequest, [span id hex]) of n spans, each with an attribute
    of `attr_bytes` random hex characters."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2

    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(
        common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value=service)))
    ss = rs.scope_spans.add()
    ss.scope.name = "otelite.tests.flood"
    tid = secrets.token_bytes(16)
    now = time.time_ns()
    ids = []
    for i in range(n):
        sid = secrets.token_bytes(8)
        sp = ss.spans.add(trace_id=tid, span_id=sid, name=f"flood-{i}",
                          start_time_unix_nano=now, end_time_unix_nano=now + 1000)
        sp.attributes.append(common_pb2.KeyValue(
            key="payload", value=common_pb2.AnyValue(string_value=secrets.token_hex(attr_bytes // 2))))
        ids.append(sid.hex())
    return req.SerializeToString(), ids


def retry_info_delay(rpc_error) -> float | None:
    """The google.rpc.RetryInfo delay (seconds) in a gRPC error's status details, else None."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in rpc_error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            st = status_pb2.Status.FromString(value)
            for detail in st.details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


@dataclass
class ClientTally:
    """A flood client's own account: spans sent, accepted (OK) and refused (retryable, with the
    retry hint); anything else is an error the test reports."""
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    refused_requests: int = 0
    refused_without_hint: int = 0
    request_bytes: int = 0  # the largest request sent
    accepted_ids: set = field(default_factory=set)
    refused_ids: set = field(default_factory=set)
    errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def size(self, body: bytes):
        with self.lock:
            self.request_bytes = max(self.request_bytes, len(body))

    def ok(self, ids):
        with self.lock:
            self.sent += len(ids)
            self.accepted += len(ids)
            self.accepted_ids.update(ids)

    def refuse(self, ids, hint: bool):
        with self.lock:
            self.sent += len(ids)
            self.refused += len(ids)
            self.refused_requests += 1
            self.refused_ids.update(ids)
            if not hint:
                self.refused_without_hint += 1

    def error(self, what: str, ids):
        with self.lock:
            self.sent += len(ids)
            if len(self.errors) < 20:
                self.errors.append(what)
            else:
                self.errors[-1] = f"... and more, last: {what}"


def flood(grpc_target: str, http_base: str, seconds: float, *, grpc_clients: int,
          http_clients: int, spans: int, attr_bytes: int, service: str,
          pause_after_refusal: float = 0.02, max_requests: int = 100000) -> ClientTally:
    """Concurrent gRPC and HTTP clients sending requests of `spans` spans for `seconds`.

    A refused client waits `pause_after_refusal` (not the hinted delay: this is a flood) and
    sends new data; a request's fate is what its answer says."""
    import grpc

    tally = ClientTally()
    stop = time.monotonic() + seconds
    budget = threading.Semaphore(max_requests)

    def grpc_client():
        with grpc.insecure_channel(grpc_target, options=[("grpc.enable_http_proxy", 0)]) as ch:
            call = ch.unary_unary(GRPC_METHODS["traces"], request_serializer=lambda b: b,
                                  response_deserializer=lambda b: b)
            while time.monotonic() < stop and budget.acquire(blocking=False):
                body, ids = random_trace_request(spans, attr_bytes, service)
                tally.size(body)
                try:
                    call(body, timeout=10)
                    tally.ok(ids)
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.UNAVAILABLE:
                        tally.refuse(ids, retry_info_delay(e) is not None)
                        time.sleep(pause_after_refusal)
                    else:
                        tally.error(f"grpc {e.code()}: {e.details()}", ids)

    def http_client():
        with requests.Session() as s:
            while time.monotonic() < stop and budget.acquire(blocking=False):
                body, ids = random_trace_request(spans, attr_bytes, service)
                tally.size(body)
                try:
                    r = s.post(http_base + "/v1/traces", data=body, timeout=10,
                               headers={"Content-Type": "application/x-protobuf"})
                except requests.RequestException as e:
                    tally.error(f"http {e!r}", ids)
                    continue
                if r.status_code == 200:
                    tally.ok(ids)
                elif r.status_code == 503:
                    tally.refuse(ids, bool(r.headers.get("Retry-After", "").strip()))
                    time.sleep(pause_after_refusal)
                else:
                    tally.error(f"http {r.status_code}: {r.text[:200]}", ids)

    threads = [threading.Thread(target=grpc_client, name=f"grpc-{i}", daemon=True)
               for i in range(grpc_clients)]
    threads += [threading.Thread(target=http_client, name=f"http-{i}", daemon=True)
                for i in range(http_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    assert not any(t.is_alive() for t in threads), "a flood client did not finish"
    return tally


# --------------------------------------------------------------------------------------------
# resident memory


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds on a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def _run(self):
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - t0, rss_bytes(self.pid)))
            except (OSError, AssertionError):
                return
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak(self) -> int:
        return max(v for _, v in self.samples)


# --------------------------------------------------------------------------------------------
# LevelDB's write-ahead log (https://github.com/google/leveldb/blob/main/doc/log_format.md)

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class LogRecord:
    start: int   # offset of its first physical record's header
    end: int     # offset just past its last fragment
    puts: dict   # key -> value
    deletes: list


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _write_batch(data: bytes) -> tuple[dict, list]:
    (count,) = struct.unpack_from("<I", data, 8)
    pos = 12
    puts, deletes = {}, []
    for _ in range(count):
        tag = data[pos]
        pos += 1
        n, pos = _varint(data, pos)
        key = data[pos:pos + n]
        pos += n
        if tag == 1:
            n, pos = _varint(data, pos)
            puts[key] = data[pos:pos + n]
            pos += n
        elif tag == 0:
            deletes.append(key)
        else:
            raise AssertionError(f"unknown WriteBatch tag {tag}")
    return puts, deletes


def read_leveldb_log(data: bytes) -> list[LogRecord]:
    """The whole logical records (write batches) of a LevelDB log, in order."""
    out = []
    pos = 0
    pending = b""
    start = None
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        length, kind = struct.unpack_from("<HB", data, pos + 4)
        if kind == 0 and length == 0:  # zero padding (preallocated space)
            break
        if pos + HEADER + length > len(data):
            break  # torn tail
        frag = data[pos + HEADER:pos + HEADER + length]
        if kind in (FULL, FIRST):
            start = pos
            pending = b""
        pending += frag
        pos += HEADER + length
        if kind in (FULL, LAST):
            puts, deletes = _write_batch(pending)
            out.append(LogRecord(start, pos, puts, deletes))
            pending = b""
    return out


def queued_span_ids(value: bytes) -> list[str]:
    """Span ids in one of otelite's queue records: version, signal, item count (8 bytes,
    big-endian), then the ExportTraceServiceRequest."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    assert value[0] == 1, f"unknown queue record version {value[0]}"
    req = trace_service_pb2.ExportTraceServiceRequest.FromString(value[10:])
    return [sp.span_id.hex() for rs in req.resource_spans for ss in rs.scope_spans
            for sp in ss.spans]


def newest_log(db_root: Path) -> Path:
    logs = sorted(db_root.rglob("*.log"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    assert logs, f"no LevelDB .log under {db_root}: {sorted(db_root.rglob('*'))}"
    return logs[-1]

