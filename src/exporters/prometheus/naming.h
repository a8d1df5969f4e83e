#pragma once
// OTLP → Prometheus names, following the OpenTelemetry specification's Prometheus compatibility
// rules as otelcol's prometheus exporter applies them.
#include <string>
#include <string_view>

namespace otelite::exporters::prometheus {

// The OTLP metric kinds as the naming rules tell them apart.
enum class NameType { kGauge, kMonotonicCounter, kNonMonotonicCounter, kHistogram,
                      kExponentialHistogram, kSummary };

struct NamingOptions {
  std::string namespace_;
  bool with_suffixes = true;  // unit suffixes, _total for counters, _ratio for unit "1" gauges
  bool utf8_allowed = false;  // keep characters outside [a-zA-Z0-9_:] in the built name
};

// The unit as a name suffix: "s" → "seconds", "By/s" → "bytes_per_second", "1" and
// annotations in braces ("{request}") → "". Split in the main and the "per" part.
struct UnitSuffixes {
  std::string main;
  std::string per;  // "per_second", or empty
};
UnitSuffixes BuildUnitSuffixes(std::string_view unit);

// The metric name as built (may be empty when the name has no valid character at all, in which
// case the metric cannot be exposed).
std::string BuildMetricName(std::string_view name, std::string_view unit, NameType type,
                            const NamingOptions& options);

// A label name from an attribute key: invalid characters become _, a leading digit gets "key_"
// and a single leading underscore gets "key" (double underscores are kept). Unchanged when
// `utf8_allowed`. Empty for an empty key.
std::string BuildLabelName(std::string_view key, bool utf8_allowed);

// What goes on the wire for a name when the scraper did not ask for UTF-8 names: every
// character outside the classic set becomes _, and a leading digit gets a _ prefix.
std::string EscapeMetricName(std::string_view name);
std::string EscapeLabelName(std::string_view name);

bool IsValidLabelName(std::string_view name);

}  // namespace otelite::exporters::prometheus
