#include "exporters/jaeger/translate.h"

#include <string_view>

#include "jaeger/api_v2/model.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "pdata/any_value.h"

namespace otelite::exporters::jaeger {

namespace {

namespace jm = ::jaeger::api_v2;
namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;
using Attributes = google::protobuf::RepeatedPtrField<common::KeyValue>;
using Tags = google::protobuf::RepeatedPtrField<jm::KeyValue>;

constexpr size_t kTraceIdSize = 16;
constexpr size_t kSpanIdSize = 8;

// Jaeger's ids are fixed-size big-endian byte strings, as OTLP's are. An id of another length
// (invalid OTLP, which Jaeger would refuse with the whole batch) is right-aligned: shorter ids
// are padded with leading zeros, longer ones keep their last bytes.
std::string FixedId(const std::string& id, size_t size) {
  if (id.size() == size) return id;
  if (id.size() > size) return id.substr(id.size() - size);
  return std::string(size - id.size(), '\0') + id;
}

bool IsZero(const std::string& id) {
  for (char c : id) {
    if (c != '\0') return false;
  }
  return true;
}

void SetTimestamp(uint64_t unix_nano, google::protobuf::Timestamp* out) {
  out->set_seconds(int64_t(unix_nano / 1000000000u));
  out->set_nanos(int32_t(unix_nano % 1000000000u));
}

void SetDuration(uint64_t start, uint64_t end, google::protobuf::Duration* out) {
  // Seconds and nanos carry the same sign, as google.protobuf.Duration requires.
  int64_t d = int64_t(end - start);
  out->set_seconds(d / 1000000000);
  out->set_nanos(int32_t(d % 1000000000));
}

void AddString(Tags* tags, std::string_view key, std::string_view value) {
  jm::KeyValue* kv = tags->Add();
  kv->set_key(std::string(key));
  kv->set_v_type(jm::STRING);
  kv->set_v_str(std::string(value));
}

void AddInt(Tags* tags, std::string_view key, int64_t value) {
  jm::KeyValue* kv = tags->Add();
  kv->set_key(std::string(key));
  kv->set_v_type(jm::INT64);
  kv->set_v_int64(value);
}

void AddBool(Tags* tags, std::string_view key, bool value) {
  jm::KeyValue* kv = tags->Add();
  kv->set_key(std::string(key));
  kv->set_v_type(jm::BOOL);
  kv->set_v_bool(value);
}

// Primitive values keep their type; arrays and maps become their JSON text (the specification's
// rule for arrays, and otelcol's for maps); an empty value is an empty string.
void AddAttribute(Tags* tags, const common::KeyValue& attr) {
  const common::AnyValue& v = attr.value();
  jm::KeyValue* kv = tags->Add();
  kv->set_key(attr.key());
  switch (v.value_case()) {
    case common::AnyValue::kBoolValue:
      kv->set_v_type(jm::BOOL);
      kv->set_v_bool(v.bool_value());
      break;
    case common::AnyValue::kIntValue:
      kv->set_v_type(jm::INT64);
      kv->set_v_int64(v.int_value());
      break;
    case common::AnyValue::kDoubleValue:
      kv->set_v_type(jm::FLOAT64);
      kv->set_v_float64(v.double_value());
      break;
    case common::AnyValue::kBytesValue:
      kv->set_v_type(jm::BINARY);
      kv->set_v_binary(v.bytes_value());
      break;
    default:  // string, array, map, empty
      kv->set_v_type(jm::STRING);
      kv->set_v_str(AnyValueAsString(v));
      break;
  }
}

void AddAttributes(Tags* tags, const Attributes& attrs, std::string_view skip = {}) {
  for (const auto& attr : attrs) {
    if (!skip.empty() && attr.key() == skip) continue;
    AddAttribute(tags, attr);
  }
}

void FillProcess(const opentelemetry::proto::resource::v1::Resource& resource,
                 jm::Process* process) {
  std::string service;
  bool found = false;
  for (const auto& attr : resource.attributes()) {
    if (attr.key() == kServiceNameAttr) {
      service = AnyValueAsString(attr.value());  // the last one, if given twice
      found = true;
    }
  }
  process->set_service_name(found ? service : kDefaultServiceName);
  AddAttributes(process->mutable_tags(), resource.attributes(), kServiceNameAttr);
}

const char* SpanKindName(trace::Span::SpanKind kind) {
  switch (kind) {
    case trace::Span::SPAN_KIND_CLIENT: return "client";
    case trace::Span::SPAN_KIND_SERVER: return "server";
    case trace::Span::SPAN_KIND_PRODUCER: return "producer";
    case trace::Span::SPAN_KIND_CONSUMER: return "consumer";
    case trace::Span::SPAN_KIND_INTERNAL: return "internal";
    default: return nullptr;
  }
}

jm::SpanRefType LinkRefType(const trace::Span::Link& link) {
  for (const auto& attr : link.attributes()) {
    if (attr.key() == kRefTypeAttr) {
      return attr.value().string_value() == "child_of" ? jm::CHILD_OF : jm::FOLLOWS_FROM;
    }
  }
  return jm::FOLLOWS_FROM;
}

void AddReferences(const trace::Span& span, const std::string& trace_id, jm::Span* out) {
  bool has_parent = !span.parent_span_id().empty() && !IsZero(span.parent_span_id());
  std::string parent = has_parent ? FixedId(span.parent_span_id(), kSpanIdSize) : std::string();
  if (has_parent) {
    // First, as the specification requires (backends look for the parent there).
    jm::SpanRef* ref = out->add_references();
    ref->set_trace_id(trace_id);
    ref->set_span_id(parent);
    ref->set_ref_type(jm::CHILD_OF);
  }
  for (const auto& link : span.links()) {
    std::string link_trace = FixedId(link.trace_id(), kTraceIdSize);
    std::string link_span = FixedId(link.span_id(), kSpanIdSize);
    jm::SpanRefType type = LinkRefType(link);
    if (has_parent && link_trace == trace_id && link_span == parent) {
      // A link to the parent itself: one reference, with the link's type.
      out->mutable_references(0)->set_ref_type(type);
      continue;
    }
    jm::SpanRef* ref = out->add_references();
    ref->set_trace_id(std::move(link_trace));
    ref->set_span_id(std::move(link_span));
    ref->set_ref_type(type);
  }
}

void AddLogs(const trace::Span& span, jm::Span* out) {
  for (const auto& event : span.events()) {
    jm::Log* log = out->add_logs();
    SetTimestamp(event.time_unix_nano(), log->mutable_timestamp());
    bool has_event_attr = false;
    for (const auto& attr : event.attributes()) has_event_attr |= attr.key() == kEventField;
    // An `event` attribute takes precedence over the event's name.
    if (!event.name().empty() && !has_event_attr) {
      AddString(log->mutable_fields(), kEventField, event.name());
    }
    AddAttributes(log->mutable_fields(), event.attributes());
    if (event.dropped_attributes_count() > 0) {
      AddInt(log->mutable_fields(), kDroppedAttributesTag, event.dropped_attributes_count());
    }
  }
}

void AddTags(const trace::Span& span, const common::InstrumentationScope& scope, jm::Span* out) {
  Tags* tags = out->mutable_tags();
  if (!scope.name().empty()) AddString(tags, kScopeNameTag, scope.name());
  if (!scope.version().empty()) AddString(tags, kScopeVersionTag, scope.version());
  const auto code = span.status().code();
  // With an ERROR status the `error` tag is ours (the specification lets it override an
  // attribute of that name), so there is exactly one.
  AddAttributes(tags, span.attributes(),
                code == trace::Status::STATUS_CODE_ERROR ? kErrorTag : std::string_view());
  if (const char* kind = SpanKindName(span.kind())) AddString(tags, kSpanKindTag, kind);
  if (code == trace::Status::STATUS_CODE_OK) {
    AddString(tags, kStatusCodeTag, "OK");
  } else if (code == trace::Status::STATUS_CODE_ERROR) {
    AddString(tags, kStatusCodeTag, "ERROR");
    AddBool(tags, kErrorTag, true);
  }
  if (!span.status().message().empty()) {
    AddString(tags, kStatusDescriptionTag, span.status().message());
  }
  if (!span.trace_state().empty()) AddString(tags, kTraceStateTag, span.trace_state());
  if (span.dropped_attributes_count() > 0) {
    AddInt(tags, kDroppedAttributesTag, span.dropped_attributes_count());
  }
  if (span.dropped_events_count() > 0) AddInt(tags, kDroppedEventsTag, span.dropped_events_count());
  if (span.dropped_links_count() > 0) AddInt(tags, kDroppedLinksTag, span.dropped_links_count());
}

void AddSpan(const trace::Span& span, const common::InstrumentationScope& scope,
             jm::Span* out) {
  std::string trace_id = FixedId(span.trace_id(), kTraceIdSize);
  out->set_span_id(FixedId(span.span_id(), kSpanIdSize));
  out->set_operation_name(span.name());
  AddReferences(span, trace_id, out);
  out->set_trace_id(std::move(trace_id));
  SetTimestamp(span.start_time_unix_nano(), out->mutable_start_time());
  SetDuration(span.start_time_unix_nano(), span.end_time_unix_nano(), out->mutable_duration());
  AddTags(span, scope, out);
  AddLogs(span, out);
}

}  // namespace

size_t TracesToJaeger(const TracesRequest& request, jm::Batch* out) {
  out->Clear();
  size_t count = 0;
  bool first_resource = true;
  for (const auto& rs : request.resource_spans()) {
    size_t spans = 0;
    for (const auto& ss : rs.scope_spans()) spans += size_t(ss.spans_size());
    if (spans == 0) continue;
    jm::Process process;
    FillProcess(rs.resource(), &process);
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        jm::Span* js = out->add_spans();
        AddSpan(span, ss.scope(), js);
        if (!first_resource) *js->mutable_process() = process;
      }
    }
    if (first_resource) *out->mutable_process() = std::move(process);
    first_resource = false;
    count += spans;
  }
  return count;
}

}  // namespace otelite::exporters::jaeger
