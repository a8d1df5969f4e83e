"""The file exporter's formats: json lines, length-prefixed proto, and zstd frames of either."""
from __future__ import annotations

import json
import struct

import pytest

from harness import json_spans, read_records, wait_for_records, wait_until
from sdk_helpers import send_spans


@pytest.mark.parametrize("fmt,compression", [("proto", None), ("json", "zstd"), ("proto", "zstd")])
def test_file_formats(otelite, tmp_path, fmt, compression):
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    path = tmp_path / f"traces.{fmt}{'.zst' if compression else ''}"

    def mutate(cfg):
        settings = {"path": str(path), "flush_interval": "100ms", "format": fmt}
        if compression:
            settings["compression"] = compression
        cfg["exporters"]["file/x"] = settings
        cfg["service"]["pipelines"]["traces"]["exporters"] = ["file/x"]

    d = otelite.default(mutate=mutate)
    ids = send_spans("http", d, 4, service="fmt") + send_spans("grpc", d, 3, service="fmt")

    def spans_of(recs):
        if fmt == "json":
            return [sp["spanId"] for _, _, sp in json_spans(recs)]
        out = []
        for raw in recs:
            req = trace_service_pb2.ExportTraceServiceRequest.FromString(raw)
            out += [s.span_id.hex() for rs in req.resource_spans for ss in rs.scope_spans
                    for s in ss.spans]
        return out

    wait_for_records(path, lambda r: set(ids) <= set(spans_of(r)), f"spans in {path}",
                     fmt=fmt, compression=compression)
    d.stop()
    data = path.read_bytes()
    recs = read_records(path, fmt, compression)
    # the file is exactly a sequence of whole records: nothing trailing
    consumed = 0
    while consumed < len(data):
        (n,) = struct.unpack(">I", data[consumed:consumed + 4])
        consumed += 4 + n
    assert consumed == len(data), "the file ends on a record boundary"
    if compression == "zstd":
        assert data[4:8] == b"\x28\xb5\x2f\xfd", "records are zstd frames"
    assert sorted(spans_of(recs)) == sorted(ids)
    if fmt == "proto":
        req = trace_service_pb2.ExportTraceServiceRequest.FromString(recs[0])
        assert req.resource_spans[0].resource.attributes[0].key  # a real, populated request
    # the json file of the other signals is untouched by this pipeline
    assert not json_spans(read_records(d.out))


def test_json_lines_are_complete_objects_while_running(otelite):
    """While the daemon runs and is flushing, every complete line parses on its own."""
    d = otelite.default()
    ids = []
    for _ in range(5):
        ids += send_spans("http", d, 20, service="lines")
    wait_until(lambda: set(ids) <= {sp["spanId"] for _, _, sp in json_spans(read_records(d.out))},
               15, "all spans")
    for line in d.out.read_bytes().split(b"\n")[:-1]:
        assert line.startswith(b"{") and line.endswith(b"}")
        assert b"resourceSpans" in line


def test_rotation_by_size(otelite, tmp_path):
    """rotation.max_megabytes: 1 and ~3 MiB written: several files, each a bounded sequence of
    whole JSON lines, and together every span exactly once."""
    from harness import make_trace_request, post_proto

    rot_dir = tmp_path / "rot"
    rot_dir.mkdir()

    def mutate(cfg):
        cfg["exporters"]["file/rot"] = {"path": str(rot_dir / "traces.jsonl"),
                                        "flush_interval": "100ms",
                                        "rotation": {"max_megabytes": 1, "max_backups": 100}}
        cfg["service"]["pipelines"]["traces"]["exporters"] = ["file/rot"]

    d = otelite.default(mutate=mutate)
    ids = []
    for _ in range(30):
        req, batch = make_trace_request(2, big_attr=50 * 1024)
        assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
        ids += batch
    d.stop()
    files = sorted(rot_dir.iterdir())
    assert len(files) >= 3, [f.name for f in files]
    got = []
    for f in files:
        assert f.stat().st_size <= 1024 * 1024 + 128 * 1024, (f.name, f.stat().st_size)
        data = f.read_bytes()
        assert data.endswith(b"\n"), f.name
        got += [sp["spanId"] for _, _, sp in json_spans([json.loads(l) for l in data.splitlines()])]
    assert sorted(got) == sorted(ids)
