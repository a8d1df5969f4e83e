#include <nlohmann/json.hpp>

#include "components/registry.h"
#include "config/duration.h"
#include "net/http_server.h"

namespace otelite::extensions::health_check {

inline constexpr char kType[] = "health_check";
inline constexpr char kDefaultEndpoint[] = "localhost:13133";

struct ResponseBody {
  std::string healthy;
  std::string unhealthy;
  static const config::Schema<ResponseBody>& Schema() {
    static const auto s = config::Schema<ResponseBody>()
        .Field("healthy", &ResponseBody::healthy, "body sent with 200 instead of the JSON status")
        .Field("unhealthy", &ResponseBody::unhealthy,
               "body sent with 503 instead of the JSON status");
    return s;
  }
};

struct Config : ComponentConfig {
  std::string endpoint = kDefaultEndpoint;
  std::string path = "/";
  std::optional<ResponseBody> response_body;
  static const config::Schema<Config>& Schema() {
    static const auto s = config::Schema<Config>()
        .Field("endpoint", &Config::endpoint, "host:port to listen on",
             config::HostPort())
        .Field("path", &Config::path, "path of the health endpoint")
        .Field("response_body", &Config::response_body, "fixed bodies instead of the JSON status");
    return s;
  }
};

namespace {

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() %
            1000000;
  char full[64];
  std::snprintf(full, sizeof full, "%s.%06dZ", buf, static_cast<int>(us));
  return full;
}

// 200 with {"status":"Server available","upSince":...,"uptime":...} while the service is ready,
// 503 with "Server not available" while it starts or stops, as otelcol's health_check.
class HealthCheck : public Extension, public net::HttpHandler {
 public:
  explicit HealthCheck(const Config& config) : config_(config) {
    net::HttpServer::Options options;
    options.endpoint = config.endpoint;
    options.body_limit = 4096;
    options.name = "health_check";
    server_ = std::make_unique<net::HttpServer>(options, *this);
  }

  std::string Start(Host& host) override {
    host_ = &host;
    // The wall-clock start, fixed once: upSince must not move between two probes.
    up_since_ = std::chrono::system_clock::now() -
                std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    Clock::now() - host.started_at());
    return server_->Start();
  }
  void Shutdown(Deadline deadline) override { server_->Stop(deadline); }

  net::HttpResponse OnRequest(net::HttpRequest& request) override {
    net::HttpResponse r;
    if (request.Path() != config_.path) {
      r.status = 404;
      return r;
    }
    bool ready = host_ != nullptr && host_->state() == ServiceState::kReady;
    r.status = ready ? 200 : 503;
    if (config_.response_body) {
      r.body = ready ? config_.response_body->healthy : config_.response_body->unhealthy;
      r.Set("Content-Type", "text/plain");
      return r;
    }
    auto up_for = Clock::now() - (host_ ? host_->started_at() : Clock::now());
    nlohmann::json body = {
        {"status", ready ? "Server available" : "Server not available"},
        {"upSince", Rfc3339(up_since_)},
        {"uptime", config::FormatDuration(
                       std::chrono::duration_cast<config::Duration>(up_for))}};
    r.body = body.dump();
    r.Set("Content-Type", "application/json");
    return r;
  }

 private:
  Config config_;
  Host* host_ = nullptr;
  std::chrono::system_clock::time_point up_since_;
  std::unique_ptr<net::HttpServer> server_;
};

class Factory : public TypedFactory<ExtensionFactory, Config> {
 public:
  std::string_view type() const override { return kType; }
  std::string_view description() const override {
    return "HTTP health endpoint for liveness and readiness probes";
  }
  std::vector<ListenAddress> Endpoints(const ComponentConfig& c,
                                       const std::string& path) const override {
    return {{Cast(c).endpoint, path + ".endpoint", {}}};
  }
  std::unique_ptr<Extension> Create(const CreateSettings&, const ComponentConfig& config) const override {
    return std::make_unique<HealthCheck>(Cast(config));
  }
};

}  // namespace

void Register(Registry& registry) {
  registry.Add(std::make_unique<Factory>());
}

}  // namespace otelite::extensions::health_check
