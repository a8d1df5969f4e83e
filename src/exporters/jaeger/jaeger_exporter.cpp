// The `jaeger` exporter: each batch is translated to one Jaeger api_v2 Batch and sent with one
// unary jaeger.api_v2.CollectorService/PostSpans call on a channel shared by all queue consumers.
#include "components/registry.h"
#include "exporters/jaeger/config.h"
#include "exporters/jaeger/translate.h"
#include "exporters/otlp/status_mapping.h"
#include "jaeger/api_v2/collector.pb.h"
#include "net/grpc_client.h"
#include "pdata/payload.h"

namespace otelite::exporters::jaeger {

namespace {

constexpr int kGrpcUnknown = 2;
constexpr int kGrpcResourceExhausted = 8;

// The OTLP exporters' mapping (exporters/otlp/status_mapping.h), with two codes retryable that
// the OTLP specification makes permanent: Jaeger's collector answers RESOURCE_EXHAUSTED without
// RetryInfo when its queue is full, and Jaeger v2 (an OpenTelemetry Collector) answers UNKNOWN
// when its pipeline refuses the spans (a memory limiter, a full queue). A batch Jaeger cannot
// decode is not among them: this exporter only sends well-formed batches.
Status FromJaegerStatus(const net::GrpcCallResult& r) {
  Status s = otlp::FromGrpcStatus(r.code, r.message, r.details);
  if (!s.retryable() && (r.code == kGrpcUnknown || r.code == kGrpcResourceExhausted)) {
    return Status::Retryable(s.message());
  }
  return s;
}

class JaegerExporter : public Exporter {
 public:
  JaegerExporter(const CreateSettings& settings, const Config& config)
      : config_(config),
        id_(settings.id.str()),
        client_({config.endpoint, config.tls, config.headers, config.compression == "gzip",
                 net::ReconnectBackoffFor(config.retry_on_failure.enabled,
                                          config.retry_on_failure.max_interval)}) {}

  std::string Start(Host&) override { return client_.Start(); }

  Status Push(const Payload& payload) noexcept override {
    try {
      if (payload.signal() != Signal::kTraces) {
        return Status::Permanent("exporter " + id_ + " exports traces only");
      }
      ::jaeger::api_v2::PostSpansRequest request;
      if (TracesToJaeger(payload.traces(), request.mutable_batch()) == 0) return Status::Ok();
      std::string bytes = request.SerializeAsString();
      net::GrpcCallResult r = client_.Call(kPostSpansMethod, bytes, config_.timeout);
      if (!r.refused.empty()) return Status::Permanent("exporter " + id_ + " is " + r.refused);
      if (!r.ok()) return FromJaegerStatus(r);
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::Retryable(std::string("Jaeger export failed: ") + e.what());
    }
  }

  // Cancels the calls in flight (they return CANCELLED) and waits for them until `deadline`.
  void Shutdown(Deadline deadline) override { client_.Shutdown(deadline); }

 private:
  Config config_;
  std::string id_;
  net::GrpcUnaryClient client_;
};

class JaegerFactory : public TypedFactory<ExporterFactory, Config> {
 public:
  std::string_view type() const override { return kType; }
  std::string_view description() const override {
    return "sends traces to Jaeger's gRPC collector API (jaeger.api_v2 PostSpans, port 14250)";
  }
  SignalSet signals() const override { return {Signal::kTraces}; }
  std::unique_ptr<Exporter> Create(const CreateSettings& settings, const ComponentConfig& config,
                                   SignalSet) const override {
    return std::make_unique<JaegerExporter>(settings, Cast(config));
  }
  const helper::ExporterHelperSettings* HelperSettings(
      const ComponentConfig& config) const override {
    return &Cast(config);
  }
};

}  // namespace

void Register(Registry& registry) { registry.Add(std::make_unique<JaegerFactory>()); }

}  // namespace otelite::exporters::jaeger
