#pragma once
// From the metric store to what a scraper reads: the series as prometheus-cpp's data model
// (MetricFamily), exemplars beside it, and the two exposition formats.
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "exporters/prometheus/metric_store.h"
#include "exporters/prometheus/naming.h"

namespace otelite::exporters::prometheus {

struct ExpositionOptions {
  NamingOptions naming;
  std::map<std::string, std::string> const_labels;
  bool send_timestamps = false;
  bool without_scope_info = false;
  // Which resource attributes (by key) become labels of every series; none when unset.
  std::function<bool(const std::string& key)> resource_label;
};

// One family with, per metric, its exemplars: one slot for a counter, one per bucket (in
// ClientMetric::histogram.bucket order) for a histogram, none for other types.
struct Family {
  ::prometheus::MetricFamily family;
  std::vector<std::vector<std::optional<Exemplar>>> exemplars;
};

// Builds the families from the stored series: names and labels translated, one target_info
// series per resource with job and instance, families sorted by name and metrics by labels.
// A series whose name clashes with a family of another type, or that repeats the name and
// labels of an earlier one, is left out and counted in `dropped` (when given).
std::vector<Family> BuildFamilies(const std::vector<Series>& series,
                                  const ExpositionOptions& options, size_t* dropped = nullptr);

// Prometheus text format 0.0.4, spelled as client_golang (otelcol) spells it.
std::string SerializeText(const std::vector<Family>& families);
// OpenMetrics 1.0 text, with exemplars on counters and histogram buckets.
std::string SerializeOpenMetrics(const std::vector<Family>& families);

// A float as Go's strconv.FormatFloat(v, 'g', -1, 64) prints it (as client_golang does).
std::string FormatGoFloat(double v);

// The exponential histogram's buckets as classic cumulative (upper bound, count) pairs, ending
// with +Inf: negative buckets, the zero bucket (bound zero_threshold), positive buckets.
std::vector<std::pair<double, uint64_t>> ExponentialToCumulative(const Series& s);

// A prometheus-cpp Collectable over the metric store: each Collect() drops expired series and
// returns the rest as families.
class StoreCollectable : public ::prometheus::Collectable {
 public:
  StoreCollectable(MetricStore& store, ExpositionOptions options)
      : store_(store), options_(std::move(options)) {}
  std::vector<::prometheus::MetricFamily> Collect() const override;
  // The families with their exemplars, for OpenMetrics.
  std::vector<Family> CollectFamilies() const;

 private:
  MetricStore& store_;
  ExpositionOptions options_;
};

}  // namespace otelite::exporters::prometheus
