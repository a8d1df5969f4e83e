#pragma once
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <vector>
#include <string>
#include <string_view>

#include "core/component_id.h"
#include "core/signal.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace otelite::net {
class HttpServer;
}

namespace otelite {

// otelite's own metrics, with otelcol's names and labels so that existing dashboards and alerts
// keep working. Counters are exposed with the `_total` suffix, as otelcol (v0.120 and later)
// exposes them on its Prometheus endpoint.
class SelfTelemetry {
 public:
  SelfTelemetry();
  ~SelfTelemetry();

  // Serves /metrics (Prometheus text format) on host:port. Empty on success, else the reason.
  std::string Serve(const std::string& address);
  void Stop();
  // The exposition text, as /metrics serves it.
  std::string Scrape() const;

  // Counters for one receiver and transport ("grpc", "http").
  struct ReceiverCounters {
    std::array<prometheus::Counter*, kSignalCount> accepted{};
    std::array<prometheus::Counter*, kSignalCount> refused{};
  };
  ReceiverCounters ForReceiver(const ComponentId& id, std::string_view transport);

  // Counters and gauges for one exporter.
  struct ExporterCounters {
    std::array<prometheus::Counter*, kSignalCount> sent{};
    std::array<prometheus::Counter*, kSignalCount> send_failed{};
    std::array<prometheus::Counter*, kSignalCount> enqueue_failed{};
    prometheus::Gauge* queue_size = nullptr;
    prometheus::Gauge* queue_capacity = nullptr;
  };
  ExporterCounters ForExporter(const ComponentId& id);

  // Any other metric, by name and labels (the family is created on first use). Counter names
  // carry their `_total` suffix. Thread-safe.
  using Labels = std::map<std::string, std::string>;
  prometheus::Counter* Counter(const std::string& name, const std::string& help,
                               const Labels& labels);
  prometheus::Gauge* Gauge(const std::string& name, const std::string& help,
                           const Labels& labels);
  prometheus::Histogram* Histogram(const std::string& name, const std::string& help,
                                   const Labels& labels, const std::vector<double>& buckets);
  // The three counters of a per-signal family: `<prefix>_{spans,metric_points,log_records}_total`.
  std::array<prometheus::Counter*, kSignalCount> SignalCounters(const std::string& prefix,
                                                                const std::string& help,
                                                                const Labels& labels);

  prometheus::Registry& registry() { return *registry_; }

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  // The family `name` (made by `builder` on first use) and its metric with `labels`.
  template <class Metric, class Builder, class... Args>
  Metric* Dynamic(Builder builder, const std::string& name, const std::string& help,
                  const Labels& labels, Args&&... args);
  std::mutex dynamic_mu_;
  std::map<std::string, void*> dynamic_families_;
  struct Endpoint;
  std::shared_ptr<void> process_collector_;
  std::unique_ptr<Endpoint> endpoint_;
};

// Adds `n` to a counter (a null counter is ignored, so components work without telemetry).
void Add(prometheus::Counter* counter, double n);
void Set(prometheus::Gauge* gauge, double value);
void Observe(prometheus::Histogram* histogram, double value);

}  // namespace otelite
