#include "common/otlp_gen.h"

#include <chrono>
#include <cstring>
#include <random>
#include <stdexcept>

namespace otelite::bench {

namespace {

using opentelemetry::proto::common::v1::KeyValue;

void Str(KeyValue* kv, const std::string& key, const std::string& value) {
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

void Int(KeyValue* kv, const std::string& key, int64_t value) {
  kv->set_key(key);
  kv->mutable_value()->set_int_value(value);
}

const char* const kRoutes[] = {"/api/orders", "/api/orders/{id}", "/api/cart", "/health",
                               "/api/users/{id}", "/api/search"};
const char* const kMethods[] = {"GET", "POST", "PUT", "DELETE"};

size_t FindFixed64(const std::string& bytes, uint8_t tag, uint64_t value) {
  char needle[9];
  needle[0] = char(tag);
  std::memcpy(needle + 1, &value, 8);
  size_t at = bytes.find(std::string_view(needle, 9));
  if (at == std::string::npos) throw std::logic_error("probe placeholder not found");
  return at + 1;
}

}  // namespace

opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest MakeTraceRequest(
    int spans, uint64_t seed, int service) {
  std::mt19937_64 rng(seed);
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* res = rs->mutable_resource();
  Str(res->add_attributes(), "service.name", "bench-service-" + std::to_string(service));
  Str(res->add_attributes(), "service.version", "1.4.2");
  Str(res->add_attributes(), "deployment.environment", "production");
  Str(res->add_attributes(), "host.name", "node-" + std::to_string(seed % 16));
  Str(res->add_attributes(), "telemetry.sdk.language", "go");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("bench/http");
  ss->mutable_scope()->set_version("0.1.0");
  uint64_t now = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
  std::string trace_id(16, '\0');
  for (int i = 0; i < spans; ++i) {
    if (i % 8 == 0) {  // eight spans per trace
      uint64_t a = rng(), b = rng();
      std::memcpy(trace_id.data(), &a, 8);
      std::memcpy(trace_id.data() + 8, &b, 8);
    }
    auto* span = ss->add_spans();
    span->set_trace_id(trace_id);
    uint64_t id = rng() | 1, parent = rng() | 1;
    span->set_span_id(std::string(reinterpret_cast<const char*>(&id), 8));
    if (i % 8 != 0) span->set_parent_span_id(std::string(reinterpret_cast<const char*>(&parent), 8));
    const char* route = kRoutes[rng() % std::size(kRoutes)];
    const char* method = kMethods[rng() % std::size(kMethods)];
    span->set_name(std::string(method) + " " + route);
    span->set_kind(i % 8 == 0 ? opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER
                              : opentelemetry::proto::trace::v1::Span::SPAN_KIND_INTERNAL);
    uint64_t duration = 1000 + rng() % 5000000;
    span->set_start_time_unix_nano(i == 0 ? kProbeStart : now - duration);
    span->set_end_time_unix_nano(i == 0 ? kProbeEnd : now);
    Str(span->add_attributes(), "http.request.method", method);
    Str(span->add_attributes(), "http.route", route);
    Int(span->add_attributes(), "http.response.status_code", (rng() % 20 == 0) ? 500 : 200);
    Str(span->add_attributes(), "server.address", "api.example.com");
    Int(span->add_attributes(), "server.port", 443);
    span->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_UNSET);
  }
  return req;
}

EncodedRequest EncodeWithProbe(int spans, uint64_t seed, int service) {
  EncodedRequest out;
  out.bytes = MakeTraceRequest(spans, seed, service).SerializeAsString();
  out.start_offset = FindFixed64(out.bytes, (7 << 3) | 1, kProbeStart);
  out.end_offset = FindFixed64(out.bytes, (8 << 3) | 1, kProbeEnd);
  out.spans = spans;
  return out;
}

}  // namespace otelite::bench
