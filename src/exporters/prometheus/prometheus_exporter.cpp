#include <spdlog/spdlog.h>

#include <memory>

#include "components/registry.h"
#include "exporters/prometheus/config.h"
#include "exporters/prometheus/exposition.h"
#include "exporters/prometheus/metric_store.h"
#include "exporters/prometheus/negotiate.h"
#include "net/http_server.h"
#include "pdata/compression.h"

namespace otelite::exporters::prometheus {

namespace {

ExpositionOptions OptionsFrom(const Config& c) {
  ExpositionOptions o;
  o.naming.namespace_ = c.namespace_;
  o.naming.with_suffixes = c.WithSuffixes();
  o.naming.utf8_allowed = c.Utf8Allowed();
  o.const_labels = c.const_labels;
  o.send_timestamps = c.send_timestamps;
  o.without_scope_info = c.without_scope_info;
  o.resource_label = ResourceLabelSelector(c);
  return o;
}

// GET /metrics: the store in the format the scraper asked for.
class MetricsEndpoint : public net::HttpHandler {
 public:
  MetricsEndpoint(const StoreCollectable& collectable, bool open_metrics)
      : collectable_(collectable), open_metrics_(open_metrics) {}

  net::HttpResponse OnRequest(net::HttpRequest& request) override {
    net::HttpResponse r;
    if (request.Path() != kMetricsPath) {
      r.status = 404;
      r.Set("Content-Type", "text/plain; charset=utf-8");
      r.body = "404 page not found\n";
      return r;
    }
    if (request.method != "GET" && request.method != "HEAD") {
      r.status = 405;
      r.Set("Allow", "GET, HEAD");
      return r;
    }
    if (NegotiateFormat(request.Header("accept"), open_metrics_) == Format::kOpenMetrics) {
      r.Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8");
      r.body = SerializeOpenMetrics(collectable_.CollectFamilies());
    } else {
      r.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.body = SerializeText(collectable_.CollectFamilies());
    }
    if (AcceptsGzip(request.Header("accept-encoding"))) {
      r.Set("Content-Encoding", "gzip");
      r.body = GzipCompress(r.body);
    }
    if (request.method == "HEAD") r.body.clear();
    return r;
  }

 private:
  const StoreCollectable& collectable_;
  bool open_metrics_;
};

class PrometheusExporter : public Exporter {
 public:
  PrometheusExporter(const CreateSettings& settings, const Config& config)
      : store_(config.metric_expiration),
        collectable_(store_, OptionsFrom(config)),
        endpoint_(collectable_, config.enable_open_metrics) {
    net::HttpServer::Options options;
    options.endpoint = config.endpoint;
    options.threads = 1;
    options.body_limit = 64 << 10;  // scrapes carry no body
    options.name = settings.id.str();
    server_ = std::make_unique<net::HttpServer>(options, endpoint_);
  }

  std::string Start(Host&) override { return server_->Start(); }

  Status Push(const Payload& payload) noexcept override {
    if (payload.signal() != Signal::kMetrics) return Status::Ok();
    store_.Accumulate(payload.metrics(), StoreClock::now());
    return Status::Ok();
  }

  void Shutdown(Deadline deadline) override { server_->Stop(deadline); }

 private:
  MetricStore store_;
  StoreCollectable collectable_;
  MetricsEndpoint endpoint_;
  std::unique_ptr<net::HttpServer> server_;
};

class Factory : public TypedFactory<ExporterFactory, Config> {
 public:
  std::string_view type() const override { return kType; }
  std::string_view description() const override {
    return "serves metrics for Prometheus to scrape (text format and OpenMetrics)";
  }
  SignalSet signals() const override { return {Signal::kMetrics}; }
  std::vector<ListenAddress> Endpoints(const ComponentConfig& c,
                                       const std::string& path) const override {
    return {{Cast(c).endpoint, path + ".endpoint", {}}};
  }
  std::unique_ptr<Exporter> Create(const CreateSettings& settings, const ComponentConfig& config,
                                   SignalSet) const override {
    return std::make_unique<PrometheusExporter>(settings, Cast(config));
  }
};

}  // namespace

void Register(Registry& registry) { registry.Add(std::make_unique<Factory>()); }

}  // namespace otelite::exporters::prometheus
