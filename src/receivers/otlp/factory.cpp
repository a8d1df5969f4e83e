#include <memory>

#include "components/registry.h"
#include "net/http_server.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/grpc_server.h"
#include "receivers/otlp/http_handler.h"
#include "receivers/otlp/intake.h"

namespace otelite::receivers::otlp {

namespace {

// One receiver serves both transports and all signals it has pipelines for.
class OtlpReceiver : public Receiver {
 public:
  OtlpReceiver(const CreateSettings& settings, const Config& config,
               const SignalConsumers& consumers) {
    if (config.protocols.grpc) {
      grpc_intake_ = std::make_unique<Intake>(settings, consumers, "grpc",
                                              config.protocols.grpc->include_metadata);
      grpc_ = std::make_unique<GrpcServer>(*config.protocols.grpc, *grpc_intake_);
    }
    if (config.protocols.http) {
      http_intake_ = std::make_unique<Intake>(settings, consumers, "http",
                                              config.protocols.http->include_metadata);
      handler_ = std::make_unique<HttpHandler>(*config.protocols.http, *http_intake_);
      net::HttpServer::Options options;
      options.endpoint = config.protocols.http->endpoint;
      options.threads = 2;
      options.body_limit = static_cast<uint64_t>(config.protocols.http->max_request_body_size);
      options.name = settings.id.str() + "/http";
      http_ = std::make_unique<net::HttpServer>(options, *handler_);
    }
  }

  std::string Start(Host&) override {
    if (grpc_) {
      if (std::string err = grpc_->Start(); !err.empty()) return "grpc: " + err;
    }
    if (http_) {
      if (std::string err = http_->Start(); !err.empty()) return "http: " + err;
    }
    return {};
  }

  void Shutdown(Deadline deadline) override {
    if (http_) http_->Stop(deadline);
    if (grpc_) grpc_->Shutdown(deadline);
  }

 private:
  std::unique_ptr<Intake> grpc_intake_, http_intake_;
  std::unique_ptr<GrpcServer> grpc_;
  std::unique_ptr<HttpHandler> handler_;
  std::unique_ptr<net::HttpServer> http_;
};

class Factory : public TypedFactory<ReceiverFactory, Config> {
 public:
  std::string_view type() const override { return kType; }
  std::string_view description() const override {
    return "OTLP over gRPC and HTTP (protobuf and JSON)";
  }
  SignalSet signals() const override { return SignalSet::All(); }
  std::vector<ListenAddress> Endpoints(const ComponentConfig& c,
                                       const std::string& path) const override {
    const auto& cfg = Cast(c);
    std::vector<ListenAddress> out;
    if (cfg.protocols.grpc) {
      out.push_back({cfg.protocols.grpc->endpoint, path + ".protocols.grpc.endpoint", {}});
    }
    if (cfg.protocols.http) {
      out.push_back({cfg.protocols.http->endpoint, path + ".protocols.http.endpoint", {}});
    }
    return out;
  }
  std::unique_ptr<Receiver> Create(const CreateSettings& settings, const ComponentConfig& config,
                                   const SignalConsumers& consumers) const override {
    return std::make_unique<OtlpReceiver>(settings, Cast(config), consumers);
  }
};

}  // namespace

void Register(Registry& registry) { registry.Add(std::make_unique<Factory>()); }

}  // namespace otelite::receivers::otlp
