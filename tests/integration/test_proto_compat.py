"""Wire-compatibility check of otelite's own OTLP .proto files (proto/).

The proto tree is compiled with protoc into a FileDescriptorSet and every
message, enum and service is compared, recursively, against the descriptors
shipped in the pinned ``opentelemetry-proto`` PyPI package (see
requirements.txt).  Differences in either direction fail the test: a field
upstream has and we lack, and a field we have that the pinned upstream lacks.

The proto root defaults to <repo>/proto and may be overridden with the
OTELITE_PROTO_ROOT environment variable.  The helpers take the root as a
parameter, which the mutation tests use to check a modified temp copy.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf.descriptor import FieldDescriptor

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROTO_ROOT = REPO_ROOT / "proto"

# Upstream generated modules that define OTLP v1.
UPSTREAM_MODULES = [
    "opentelemetry.proto.common.v1.common_pb2",
    "opentelemetry.proto.resource.v1.resource_pb2",
    "opentelemetry.proto.trace.v1.trace_pb2",
    "opentelemetry.proto.metrics.v1.metrics_pb2",
    "opentelemetry.proto.logs.v1.logs_pb2",
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
    "opentelemetry.proto.collector.logs.v1.logs_service_pb2",
]

# google.rpc files: we only carry a subset of messages, so these are checked
# one way (everything we define must match googleapis-common-protos).
GOOGLE_RPC_MODULES = [
    "google.rpc.status_pb2",
    "google.rpc.error_details_pb2",
]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def proto_root() -> Path:
    return Path(os.environ.get("OTELITE_PROTO_ROOT", DEFAULT_PROTO_ROOT)).resolve()


def compile_descriptor_set(root: Path, out_dir: Path) -> descriptor_pb2.FileDescriptorSet:
    """Run protoc on every .proto under `root`; return the FileDescriptorSet."""
    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.fail("protoc not found on PATH")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.proto"))
    assert files, f"no .proto files under {root}"
    out = Path(out_dir) / "otelite.pb"
    proc = subprocess.run(
        [protoc, f"-I{root}", "--include_imports", f"--descriptor_set_out={out}", *files],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"protoc failed:\n{proc.stderr}"
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(out.read_bytes())
    return fds


def build_pool(fds: descriptor_pb2.FileDescriptorSet) -> descriptor_pool.DescriptorPool:
    """Load a FileDescriptorSet into a fresh pool (kept apart from the default one)."""
    pool = descriptor_pool.DescriptorPool()
    # --include_imports emits files in dependency order.
    for fdp in fds.file:
        pool.AddSerializedFile(fdp.SerializeToString())
    return pool


def _type_name(f: FieldDescriptor) -> str:
    if f.message_type is not None:
        return f.message_type.full_name
    if f.enum_type is not None:
        return f.enum_type.full_name
    return ""


def _oneof(f: FieldDescriptor):
    return f.containing_oneof.name if f.containing_oneof is not None else None


def _packed_option(f: FieldDescriptor):
    opts = f.GetOptions()
    return opts.packed if opts.HasField("packed") else None


def _set_diff(diffs, where, kind, up_names, our_names, one_way=False):
    for n in sorted(set(up_names) - set(our_names)):
        if not one_way:
            diffs.append(f"{where}: {kind} {n!r} missing in ours")
    for n in sorted(set(our_names) - set(up_names)):
        diffs.append(f"{where}: extra {kind} {n!r} in ours (not in upstream)")
    return sorted(set(up_names) & set(our_names))


def compare_enum(up, ours, diffs):
    where = up.full_name
    if up.full_name != ours.full_name:
        diffs.append(f"{where}: full name differs (ours {ours.full_name})")
    for name in _set_diff(diffs, where, "enum value", up.values_by_name, ours.values_by_name):
        u, o = up.values_by_name[name].number, ours.values_by_name[name].number
        if u != o:
            diffs.append(f"{where}.{name}: number upstream={u} ours={o}")


FIELD_ATTRS = {
    "number": lambda f: f.number,
    "type": lambda f: f.type,
    "label": lambda f: f.label,
    "type_name": _type_name,
    "oneof": _oneof,
    "json_name": lambda f: f.json_name,
    "has_presence": lambda f: f.has_presence,
    "packed_option": _packed_option,
}


def compare_message(up, ours, diffs, one_way=False):
    where = up.full_name
    if up.full_name != ours.full_name:
        diffs.append(f"{where}: full name differs (ours {ours.full_name})")

    for name in _set_diff(diffs, where, "field", up.fields_by_name, ours.fields_by_name):
        uf, of = up.fields_by_name[name], ours.fields_by_name[name]
        for attr, get in FIELD_ATTRS.items():
            u, o = get(uf), get(of)
            if u != o:
                diffs.append(f"{where}.{name}: {attr} upstream={u!r} ours={o!r}")

    # oneofs: same set, same members
    for name in _set_diff(diffs, where, "oneof", up.oneofs_by_name, ours.oneofs_by_name):
        u = sorted(f.name for f in up.oneofs_by_name[name].fields)
        o = sorted(f.name for f in ours.oneofs_by_name[name].fields)
        if u != o:
            diffs.append(f"{where}.{name}: oneof members upstream={u} ours={o}")

    # reserved numbers / names (not wire data, but guards against reuse)
    up_p, our_p = descriptor_pb2.DescriptorProto(), descriptor_pb2.DescriptorProto()
    up.CopyToProto(up_p)
    ours.CopyToProto(our_p)
    u_rr = sorted((r.start, r.end) for r in up_p.reserved_range)
    o_rr = sorted((r.start, r.end) for r in our_p.reserved_range)
    if u_rr != o_rr:
        diffs.append(f"{where}: reserved ranges upstream={u_rr} ours={o_rr}")
    if sorted(up_p.reserved_name) != sorted(our_p.reserved_name):
        diffs.append(
            f"{where}: reserved names upstream={sorted(up_p.reserved_name)} "
            f"ours={sorted(our_p.reserved_name)}"
        )

    for name in _set_diff(diffs, where, "nested message", up.nested_types_by_name,
                          ours.nested_types_by_name):
        compare_message(up.nested_types_by_name[name], ours.nested_types_by_name[name], diffs)
    for name in _set_diff(diffs, where, "nested enum", up.enum_types_by_name,
                          ours.enum_types_by_name):
        compare_enum(up.enum_types_by_name[name], ours.enum_types_by_name[name], diffs)


def compare_service(up, ours, diffs):
    where = up.full_name
    for name in _set_diff(diffs, where, "method", up.methods_by_name, ours.methods_by_name):
        um, om = up.methods_by_name[name], ours.methods_by_name[name]
        for attr, get in {
            "input_type": lambda m: m.input_type.full_name,
            "output_type": lambda m: m.output_type.full_name,
            "client_streaming": lambda m: m.client_streaming,
            "server_streaming": lambda m: m.server_streaming,
        }.items():
            u, o = get(um), get(om)
            if u != o:
                diffs.append(f"{where}.{name}: {attr} upstream={u!r} ours={o!r}")


def compare_file(up_file, our_file, diffs, one_way=False):
    where = up_file.name
    if up_file.package != our_file.package:
        diffs.append(f"{where}: package upstream={up_file.package} ours={our_file.package}")
    for name in _set_diff(diffs, where, "message", up_file.message_types_by_name,
                          our_file.message_types_by_name, one_way):
        compare_message(up_file.message_types_by_name[name],
                        our_file.message_types_by_name[name], diffs)
    for name in _set_diff(diffs, where, "enum", up_file.enum_types_by_name,
                          our_file.enum_types_by_name, one_way):
        compare_enum(up_file.enum_types_by_name[name], our_file.enum_types_by_name[name], diffs)
    for name in _set_diff(diffs, where, "service", up_file.services_by_name,
                          our_file.services_by_name, one_way):
        compare_service(up_file.services_by_name[name], our_file.services_by_name[name], diffs)


def _find_file(pool, name, diffs):
    try:
        return pool.FindFileByName(name)
    except KeyError:
        diffs.append(f"{name}: file missing in ours")
        return None


def compare_tree(root: Path, tmp_dir: Path) -> list[str]:
    """Compile `root` and return all OTLP differences against upstream (empty = identical)."""
    fds = compile_descriptor_set(root, tmp_dir)
    pool = build_pool(fds)
    diffs: list[str] = []

    upstream_files = set()
    for mod_name in UPSTREAM_MODULES:
        up_file = importlib.import_module(mod_name).DESCRIPTOR
        upstream_files.add(up_file.name)
        our_file = _find_file(pool, up_file.name, diffs)
        if our_file is not None:
            compare_file(up_file, our_file, diffs)

    # No extra OTLP files beyond the upstream set.
    for fdp in fds.file:
        if fdp.name.startswith("opentelemetry/") and fdp.name not in upstream_files:
            diffs.append(f"{fdp.name}: extra OTLP file in ours (not in upstream)")
    return diffs


def compare_google_rpc(root: Path, tmp_dir: Path) -> list[str]:
    """Everything we define in google/rpc must match googleapis-common-protos."""
    pool = build_pool(compile_descriptor_set(root, tmp_dir))
    diffs: list[str] = []
    for mod_name in GOOGLE_RPC_MODULES:
        up_file = importlib.import_module(mod_name).DESCRIPTOR
        our_file = _find_file(pool, up_file.name, diffs)
        if our_file is not None:
            compare_file(up_file, our_file, diffs, one_way=True)
    return diffs


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


def test_otlp_protos_match_upstream(tmp_path):
    diffs = compare_tree(proto_root(), tmp_path)
    assert diffs == [], "proto/ differs from upstream OTLP:\n" + "\n".join(diffs)


def test_google_rpc_protos_match_googleapis(tmp_path):
    diffs = compare_google_rpc(proto_root(), tmp_path)
    assert diffs == [], "proto/google/rpc differs from googleapis:\n" + "\n".join(diffs)
    pool = build_pool(compile_descriptor_set(proto_root(), tmp_path))
    # The messages otelite relies on must be present.
    pool.FindMessageTypeByName("google.rpc.Status")
    pool.FindMessageTypeByName("google.rpc.RetryInfo")


def _sample_requests():
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    attrs = [
        common_pb2.KeyValue(key="s", value=common_pb2.AnyValue(string_value="x")),
        common_pb2.KeyValue(key="i", value=common_pb2.AnyValue(int_value=-7)),
        common_pb2.KeyValue(key="a", value=common_pb2.AnyValue(array_value=common_pb2.ArrayValue(
            values=[common_pb2.AnyValue(double_value=1.5), common_pb2.AnyValue(bytes_value=b"\x01")]))),
    ]
    res = {"attributes": attrs, "dropped_attributes_count": 1}
    scope = {"name": "lib", "version": "1", "attributes": attrs}

    traces = trace_service_pb2.ExportTraceServiceRequest()
    rs = traces.resource_spans.add(schema_url="u")
    rs.resource.MergeFrom(rs.resource.__class__(**res))
    ss = rs.scope_spans.add(schema_url="u2")
    ss.scope.MergeFrom(ss.scope.__class__(**scope))
    sp = ss.spans.add(trace_id=b"t" * 16, span_id=b"s" * 8, parent_span_id=b"p" * 8,
                      name="op", kind=2, start_time_unix_nano=1, end_time_unix_nano=2,
                      flags=0x301, attributes=attrs, dropped_events_count=3)
    sp.events.add(time_unix_nano=5, name="ev", attributes=attrs)
    sp.links.add(trace_id=b"t" * 16, span_id=b"l" * 8, trace_state="k=v", flags=1)
    sp.status.code = 2
    sp.status.message = "boom"

    metrics = metrics_service_pb2.ExportMetricsServiceRequest()
    sm = metrics.resource_metrics.add().scope_metrics.add()
    m = sm.metrics.add(name="g", unit="1", metadata=attrs)
    m.gauge.data_points.add(as_int=-3, time_unix_nano=9, flags=1).exemplars.add(
        as_double=2.5, span_id=b"s" * 8, filtered_attributes=attrs)
    m = sm.metrics.add(name="s")
    m.sum.is_monotonic = True
    m.sum.aggregation_temporality = 2
    m.sum.data_points.add(as_double=4.25, attributes=attrs)
    m = sm.metrics.add(name="h")
    m.histogram.data_points.add(count=3, sum=0.0, bucket_counts=[1, 2], explicit_bounds=[1.0],
                                min=0.0, max=9.0)
    m = sm.metrics.add(name="eh")
    dp = m.exponential_histogram.data_points.add(count=4, scale=-2, zero_count=1,
                                                 zero_threshold=0.5, sum=1.0)
    dp.positive.offset = -3
    dp.positive.bucket_counts.extend([1, 2])
    dp.negative.offset = 2
    m = sm.metrics.add(name="su")
    m.summary.data_points.add(count=2, sum=3.0).quantile_values.add(quantile=0.5, value=1.0)
    metrics_pb2.MetricsData(resource_metrics=metrics.resource_metrics)  # sanity

    logs = logs_service_pb2.ExportLogsServiceRequest()
    sl = logs.resource_logs.add().scope_logs.add()
    sl.log_records.add(time_unix_nano=1, observed_time_unix_nano=2, severity_number=17,
                       severity_text="ERROR", body=common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=attrs)),
                       attributes=attrs, flags=1, trace_id=b"t" * 16, span_id=b"s" * 8)
    return [traces, metrics, logs]


def test_wire_roundtrip_with_our_descriptors(tmp_path):
    """Bytes produced by upstream classes parse into ours and re-serialise identically."""
    pool = build_pool(compile_descriptor_set(proto_root(), tmp_path))
    for msg in _sample_requests():
        wire = msg.SerializeToString(deterministic=True)
        cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(msg.DESCRIPTOR.full_name))
        ours = cls()
        ours.ParseFromString(wire)
        assert ours.SerializeToString(deterministic=True) == wire
        # Unknown fields would also round-trip, so additionally require that
        # ours decoded every field as a known one: text format omits unknown
        # fields, so it must match upstream's rendering exactly.
        assert text_format.MessageToString(ours) == text_format.MessageToString(msg)
        back = type(msg)()
        back.ParseFromString(ours.SerializeToString())
        assert back == msg


# Each mutation: (file, exact original text, replacement, substring expected in a diff).
MUTATIONS = [
    pytest.param("opentelemetry/proto/trace/v1/trace.proto", "  string name = 5;",
                 "  string name = 55;", "opentelemetry.proto.trace.v1.Span.name: number",
                 id="field-number"),
    pytest.param("opentelemetry/proto/trace/v1/trace.proto", "  fixed32 flags = 16;",
                 "  uint32 flags = 16;", "opentelemetry.proto.trace.v1.Span.flags: type",
                 id="field-type"),
    pytest.param("opentelemetry/proto/metrics/v1/metrics.proto",
                 "  double zero_threshold = 14;\n", "",
                 "ExponentialHistogramDataPoint: field 'zero_threshold' missing in ours",
                 id="missing-field"),
    pytest.param("opentelemetry/proto/logs/v1/logs.proto", "  bytes span_id = 10;",
                 "  bytes span_id = 10;\n  string event_name = 12;",
                 "LogRecord: extra field 'event_name' in ours",
                 id="extra-field"),
    pytest.param("opentelemetry/proto/logs/v1/logs.proto", "  SEVERITY_NUMBER_WARN3 = 15;",
                 "  SEVERITY_NUMBER_WARN3 = 115;",
                 "SeverityNumber.SEVERITY_NUMBER_WARN3: number",
                 id="enum-value"),
    pytest.param("opentelemetry/proto/metrics/v1/metrics.proto",
                 "    ExponentialHistogram exponential_histogram = 10;\n    Summary summary = 11;\n  }",
                 "    ExponentialHistogram exponential_histogram = 10;\n  }\n  Summary summary = 11;",
                 "Metric.summary: oneof",
                 id="oneof-membership"),
    pytest.param("opentelemetry/proto/metrics/v1/metrics.proto",
                 "    repeated uint64 bucket_counts = 2;",
                 "    repeated uint64 bucket_counts = 2 [json_name = \"bucketCountz\"];",
                 "Buckets.bucket_counts: json_name",
                 id="nested-json-name"),
    pytest.param("opentelemetry/proto/collector/logs/v1/logs_service.proto",
                 "returns (ExportLogsServiceResponse)",
                 "returns (ExportLogsPartialSuccess)",
                 "LogsService.Export: output_type",
                 id="method-output"),
]


@pytest.mark.parametrize("rel_path,old,new,expected", MUTATIONS)
def test_comparison_detects_mutation(tmp_path, rel_path, old, new, expected):
    """The comparison is not vacuous: a modified temp copy of proto/ is reported."""
    copy = tmp_path / "proto"
    shutil.copytree(proto_root(), copy)
    target = copy / rel_path
    text = target.read_text()
    assert text.count(old) == 1, f"mutation anchor {old!r} not unique in {rel_path}"
    target.write_text(text.replace(old, new))

    out = tmp_path / "out"
    out.mkdir()
    diffs = compare_tree(copy, out)
    assert any(expected in d for d in diffs), (
        f"expected a difference containing {expected!r}, got:\n" + "\n".join(diffs))
    # The real tree is untouched and still clean.
    assert (proto_root() / rel_path).read_text() == text
