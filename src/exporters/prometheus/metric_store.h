#pragma once
// The exporter's metric store: one data point per time series, as otelcol's prometheus exporter
// keeps them. Delta sums and histograms are accumulated into cumulative ones; series not updated
// within the expiration are dropped when collected.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pdata/payload.h"

namespace opentelemetry::proto::common::v1 {
class AnyValue;
}

namespace otelite::exporters::prometheus {

using StoreClock = std::chrono::steady_clock;

// Attributes as (key, value) with the value in its string form, sorted by key.
using Attrs = std::vector<std::pair<std::string, std::string>>;

enum class MetricKind { kGauge, kSum, kHistogram, kExponentialHistogram, kSummary };

struct Exemplar {
  double value = 0;
  uint64_t time_unix_nano = 0;
  std::string trace_id;  // lowercase hex, empty when absent
  std::string span_id;
};

struct ExponentialBuckets {
  int32_t offset = 0;
  std::vector<uint64_t> counts;
};

// One time series with its latest (or accumulated) point.
struct Series {
  std::string name, description, unit;
  MetricKind kind = MetricKind::kGauge;
  bool monotonic = false;
  std::string scope_name, scope_version, scope_schema_url;
  Attrs scope_attrs;
  Attrs attrs;
  std::shared_ptr<const Attrs> resource;  // every resource attribute

  uint64_t start_time_unix_nano = 0;
  uint64_t time_unix_nano = 0;
  double value = 0;  // gauge, sum

  uint64_t count = 0;  // histograms and summaries
  double sum = 0;
  std::vector<double> bounds;           // histogram
  std::vector<uint64_t> bucket_counts;  // histogram: bounds.size() + 1 when well-formed

  int32_t scale = 0;  // exponential histogram
  uint64_t zero_count = 0;
  double zero_threshold = 0;
  ExponentialBuckets positive, negative;

  std::vector<std::pair<double, double>> quantiles;  // summary: (quantile, value)
  std::vector<Exemplar> exemplars;

  StoreClock::time_point updated;
};

// The string form of an attribute value as otelcol prints it into a label: strings as they are,
// numbers in decimal, booleans as true/false, bytes in base64, arrays and maps as JSON.
std::string AttributeString(const opentelemetry::proto::common::v1::AnyValue& value);

// job and instance as otelcol derives them from the resource: job is service.namespace/service.name
// (or service.name alone), instance is service.instance.id. Empty when the attribute is absent.
std::string ResourceJob(const Attrs& resource);
std::string ResourceInstance(const Attrs& resource);

// Thread-safe: Accumulate runs on the exporter's queue thread, Collect on the HTTP threads.
class MetricStore {
 public:
  explicit MetricStore(StoreClock::duration expiration) : expiration_(expiration) {}

  // Stores every point of the request; returns how many were taken (stored or accumulated).
  size_t Accumulate(const MetricsRequest& request, StoreClock::time_point now);
  // Drops the series not updated within the expiration, returns a copy of the others.
  std::vector<Series> Collect(StoreClock::time_point now);
  size_t size() const;

 private:
  // Applies one new point (already in `incoming`) to the series under `key`.
  bool Apply(const std::string& key, Series&& incoming, bool delta);

  StoreClock::duration expiration_;
  mutable std::mutex mu_;
  std::map<std::string, Series> series_;
};

}  // namespace otelite::exporters::prometheus
