#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "components/factory.h"

namespace otelite::exporters::prometheus {

inline constexpr char kType[] = "prometheus";
inline constexpr auto kDefaultMetricExpiration = std::chrono::minutes(5);
inline constexpr char kMetricsPath[] = "/metrics";

// otelcol's translation strategies: whether names are escaped to the classic character set and
// whether type and unit suffixes are added.
inline constexpr char kUnderscoreEscapingWithSuffixes[] = "UnderscoreEscapingWithSuffixes";
inline constexpr char kUnderscoreEscapingWithoutSuffixes[] = "UnderscoreEscapingWithoutSuffixes";
inline constexpr char kNoUTF8EscapingWithSuffixes[] = "NoUTF8EscapingWithSuffixes";
inline constexpr char kNoTranslation[] = "NoTranslation";

// The older way to put resource attributes on every series (otelcol deprecates it in favour of
// resource_constant_labels).
struct ResourceToTelemetryConfig {
  bool enabled = false;
  bool exclude_service_attributes = false;
  static const config::Schema<ResourceToTelemetryConfig>& Schema();
};

// Which resource attributes become labels of every series; wildcard (*) patterns on the keys.
struct ResourceConstantLabelsConfig {
  std::vector<std::string> included;
  std::vector<std::string> excluded;
  static const config::Schema<ResourceConstantLabelsConfig>& Schema();
};

struct Config : ComponentConfig {
  std::string endpoint;  // required, as in otelcol
  std::string namespace_;
  std::map<std::string, std::string> const_labels;
  bool send_timestamps = false;
  config::Duration metric_expiration = kDefaultMetricExpiration;
  bool enable_open_metrics = false;
  bool without_scope_info = false;
  bool add_metric_suffixes = true;
  std::string translation_strategy;  // empty: from add_metric_suffixes
  ResourceToTelemetryConfig resource_to_telemetry_conversion;
  std::optional<ResourceConstantLabelsConfig> resource_constant_labels;
  static const config::Schema<Config>& Schema();

  // The effective translation: from translation_strategy when set, else add_metric_suffixes.
  bool WithSuffixes() const;
  bool Utf8Allowed() const;
};

// Which resource attributes become labels of every series, from resource_constant_labels (when
// set) or resource_to_telemetry_conversion; nullptr when none do.
std::function<bool(const std::string& key)> ResourceLabelSelector(const Config& config);

void Register(Registry& registry);

}  // namespace otelite::exporters::prometheus
