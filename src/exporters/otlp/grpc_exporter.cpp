// The `otlp_grpc` exporter: one unary Export call per batch on one shared channel, with the
// payload's protobuf bytes sent as they are (net::GrpcUnaryClient: a generic stub, no re-encoding).
#include "components/registry.h"
#include "exporters/otlp/config.h"
#include "exporters/otlp/status_mapping.h"
#include "net/grpc_client.h"
#include "pdata/payload.h"

namespace otelite::exporters::otlp {

namespace {

constexpr const char* kMethods[kSignalCount] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

class GrpcExporter : public Exporter {
 public:
  GrpcExporter(const CreateSettings& settings, const GrpcConfig& config)
      : config_(config),
        id_(settings.id.str()),
        reporter_(settings),
        client_({config.endpoint, config.tls, config.headers,
                 config.compression == "gzip" || config.compression == "zstd",
                 net::ReconnectBackoffFor(config.retry_on_failure.enabled,
                                          config.retry_on_failure.max_interval)}) {}

  std::string Start(Host&) override { return client_.Start(); }

  Status Push(const Payload& payload) noexcept override {
    try {
      return Send(payload);
    } catch (const std::exception& e) {
      return Status::Retryable(std::string("gRPC export failed: ") + e.what());
    }
  }

  // Cancels the calls in flight (they return CANCELLED) and waits for them until `deadline`.
  void Shutdown(Deadline deadline) override { client_.Shutdown(deadline); }

 private:
  Status Send(const Payload& payload) {
    // The payload outlives the call, so its bytes are sent without a copy.
    net::GrpcCallResult r = client_.Call(kMethods[size_t(payload.signal())],
                                         payload.serialized(), config_.timeout);
    if (!r.refused.empty()) return Status::Permanent("exporter " + id_ + " is " + r.refused);
    if (!r.ok()) return FromGrpcStatus(r.code, r.message, r.details);
    PartialSuccess partial;
    if (DecodePartialSuccess(payload.signal(), r.response, false, &partial)) {
      reporter_.Report(payload.signal(), partial);
    }
    return Status::Ok();
  }

  GrpcConfig config_;
  std::string id_;
  PartialSuccessReporter reporter_;
  net::GrpcUnaryClient client_;
};

class GrpcFactory : public TypedFactory<ExporterFactory, GrpcConfig> {
 public:
  std::string_view type() const override { return kGrpcType; }
  std::string_view description() const override {
    return "sends OTLP over gRPC (protobuf bytes as received, gzip, TLS)";
  }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<Exporter> Create(const CreateSettings& settings, const ComponentConfig& config,
                                   SignalSet) const override {
    return std::make_unique<GrpcExporter>(settings, Cast(config));
  }
  const helper::ExporterHelperSettings* HelperSettings(
      const ComponentConfig& config) const override {
    return &Cast(config);
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewGrpcFactory() { return std::make_unique<GrpcFactory>(); }

}  // namespace otelite::exporters::otlp
