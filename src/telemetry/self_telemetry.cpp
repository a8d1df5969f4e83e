#include "telemetry/self_telemetry.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>

#include <chrono>

#include "net/http_server.h"
#include "telemetry/process.h"
#include "otelite_version.h"

namespace otelite {

namespace {

using prometheus::Family;

std::string CounterName(std::string_view kind, std::string_view what, Signal s) {
  return "otelcol_" + std::string(kind) + "_" + std::string(what) + "_" +
         std::string(SignalItemName(s)) + "_total";
}

// Process metrics, computed when scraped: uptime, RSS and CPU time.
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    auto one = [&](std::string name, std::string help, MetricType type, double value) {
      prometheus::MetricFamily f;
      f.name = std::move(name);
      f.help = std::move(help);
      f.type = type;
      prometheus::ClientMetric m;
      if (type == MetricType::Counter) m.counter.value = value;
      else m.gauge.value = value;
      f.metric.push_back(m);
      out.push_back(std::move(f));
    };
    double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    one("otelcol_process_uptime_seconds_total", "Uptime of the process", MetricType::Counter,
        uptime);
    one("otelcol_process_memory_rss_bytes", "Total physical memory (resident set size)",
        MetricType::Gauge, double(ResidentBytes()));
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    one("otelcol_process_cpu_seconds_total", "Total CPU user and system time in seconds",
        MetricType::Counter, cpu);
    prometheus::MetricFamily info;
    info.name = "otelite_build_info";
    info.help = "Build information of otelite";
    info.type = MetricType::Gauge;
    prometheus::ClientMetric m;
    m.label = {{"service_name", "otelite"}, {"service_version", OTELITE_VERSION}};
    m.gauge.value = 1;
    info.metric.push_back(m);
    out.push_back(std::move(info));
    return out;
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

struct SelfTelemetry::Families {
  std::array<Family<prometheus::Counter>*, kSignalCount> receiver_accepted{};
  std::array<Family<prometheus::Counter>*, kSignalCount> receiver_refused{};
  std::array<Family<prometheus::Counter>*, kSignalCount> exporter_sent{};
  std::array<Family<prometheus::Counter>*, kSignalCount> exporter_send_failed{};
  std::array<Family<prometheus::Counter>*, kSignalCount> exporter_enqueue_failed{};
  Family<prometheus::Gauge>* queue_size = nullptr;
  Family<prometheus::Gauge>* queue_capacity = nullptr;
};

SelfTelemetry::SelfTelemetry()
    : registry_(std::make_shared<prometheus::Registry>()), families_(std::make_unique<Families>()) {
  auto counter = [&](std::string name, std::string help) {
    return &prometheus::BuildCounter().Name(std::move(name)).Help(std::move(help)).Register(
        *registry_);
  };
  for (Signal s : kAllSignals) {
    auto i = static_cast<size_t>(s);
    std::string item(SignalItemName(s));
    families_->receiver_accepted[i] = counter(
        CounterName("receiver", "accepted", s),
        "Number of " + item + " successfully pushed into the pipeline.");
    families_->receiver_refused[i] = counter(
        CounterName("receiver", "refused", s),
        "Number of " + item + " that could not be pushed into the pipeline.");
    families_->exporter_sent[i] = counter(
        CounterName("exporter", "sent", s),
        "Number of " + item + " successfully sent to destination.");
    families_->exporter_send_failed[i] = counter(
        CounterName("exporter", "send_failed", s),
        "Number of " + item + " in failed attempts to send to destination.");
    families_->exporter_enqueue_failed[i] = counter(
        CounterName("exporter", "enqueue_failed", s),
        "Number of " + item + " failed to be added to the sending queue.");
  }
  families_->queue_size = &prometheus::BuildGauge()
                               .Name("otelcol_exporter_queue_size")
                               .Help("Current size of the sending queue (in batches)")
                               .Register(*registry_);
  families_->queue_capacity = &prometheus::BuildGauge()
                                   .Name("otelcol_exporter_queue_capacity")
                                   .Help("Fixed capacity of the sending queue (in batches)")
                                   .Register(*registry_);
  process_collector_ = std::make_shared<ProcessCollector>();
}

// /metrics on otelite's own HTTP server: prometheus-cpp's registry and text serializer, without
// a second web server (and its threads) in the process.
struct SelfTelemetry::Endpoint : net::HttpHandler {
  explicit Endpoint(const SelfTelemetry& t) : telemetry(t) {}
  net::HttpResponse OnRequest(net::HttpRequest& request) override {
    net::HttpResponse r;
    if (request.Path() != "/metrics") {
      r.status = 404;
      return r;
    }
    if (request.method != "GET" && request.method != "HEAD") {
      r.status = 405;
      r.Set("Allow", "GET, HEAD");
      return r;
    }
    r.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = telemetry.Scrape();
    return r;
  }
  const SelfTelemetry& telemetry;
  std::unique_ptr<net::HttpServer> server;
};

SelfTelemetry::~SelfTelemetry() { Stop(); }

std::string SelfTelemetry::Serve(const std::string& address) {
  endpoint_ = std::make_unique<Endpoint>(*this);
  net::HttpServer::Options options;
  options.endpoint = address;
  options.body_limit = 4096;
  options.name = "self-metrics";
  endpoint_->server = std::make_unique<net::HttpServer>(options, *endpoint_);
  if (std::string err = endpoint_->server->Start(); !err.empty()) {
    endpoint_.reset();
    return "cannot serve self-metrics: " + err;
  }
  return {};
}

void SelfTelemetry::Stop() {
  if (endpoint_) endpoint_->server->Stop(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  endpoint_.reset();
}

std::string SelfTelemetry::Scrape() const {
  auto families = registry_->Collect();
  auto process = std::static_pointer_cast<ProcessCollector>(process_collector_)->Collect();
  families.insert(families.end(), process.begin(), process.end());
  return prometheus::TextSerializer().Serialize(families);
}

SelfTelemetry::ReceiverCounters SelfTelemetry::ForReceiver(const ComponentId& id,
                                                           std::string_view transport) {
  ReceiverCounters c;
  prometheus::Labels labels{{"receiver", id.str()}, {"transport", std::string(transport)}};
  for (size_t i = 0; i < kSignalCount; ++i) {
    c.accepted[i] = &families_->receiver_accepted[i]->Add(labels);
    c.refused[i] = &families_->receiver_refused[i]->Add(labels);
  }
  return c;
}

SelfTelemetry::ExporterCounters SelfTelemetry::ForExporter(const ComponentId& id) {
  ExporterCounters c;
  prometheus::Labels labels{{"exporter", id.str()}};
  for (size_t i = 0; i < kSignalCount; ++i) {
    c.sent[i] = &families_->exporter_sent[i]->Add(labels);
    c.send_failed[i] = &families_->exporter_send_failed[i]->Add(labels);
    c.enqueue_failed[i] = &families_->exporter_enqueue_failed[i]->Add(labels);
  }
  c.queue_size = &families_->queue_size->Add(labels);
  c.queue_capacity = &families_->queue_capacity->Add(labels);
  return c;
}

template <class Metric, class Builder, class... Args>
Metric* SelfTelemetry::Dynamic(Builder builder, const std::string& name, const std::string& help,
                               const Labels& labels, Args&&... args) {
  std::lock_guard lock(dynamic_mu_);
  auto& family = dynamic_families_[name];
  if (family == nullptr) family = &builder.Name(name).Help(help).Register(*registry_);
  return &static_cast<Family<Metric>*>(family)->Add(labels, std::forward<Args>(args)...);
}

prometheus::Counter* SelfTelemetry::Counter(const std::string& name, const std::string& help,
                                            const Labels& labels) {
  return Dynamic<prometheus::Counter>(prometheus::BuildCounter(), name, help, labels);
}

prometheus::Gauge* SelfTelemetry::Gauge(const std::string& name, const std::string& help,
                                        const Labels& labels) {
  return Dynamic<prometheus::Gauge>(prometheus::BuildGauge(), name, help, labels);
}

prometheus::Histogram* SelfTelemetry::Histogram(const std::string& name, const std::string& help,
                                                const Labels& labels,
                                                const std::vector<double>& buckets) {
  return Dynamic<prometheus::Histogram>(prometheus::BuildHistogram(), name, help, labels,
                                        buckets);
}

std::array<prometheus::Counter*, kSignalCount> SelfTelemetry::SignalCounters(
    const std::string& prefix, const std::string& help, const Labels& labels) {
  std::array<prometheus::Counter*, kSignalCount> out{};
  for (Signal s : kAllSignals) {
    out[size_t(s)] = Counter(prefix + "_" + std::string(SignalItemName(s)) + "_total",
                             help + " (" + std::string(SignalItemName(s)) + ")", labels);
  }
  return out;
}

void Add(prometheus::Counter* counter, double n) {
  if (counter != nullptr && n > 0) counter->Increment(n);
}

void Set(prometheus::Gauge* gauge, double value) {
  if (gauge != nullptr) gauge->Set(value);
}

void Observe(prometheus::Histogram* histogram, double value) {
  if (histogram != nullptr) histogram->Observe(value);
}

}  // namespace otelite
