#include "exporters/prometheus/config.h"

#include "exporters/prometheus/naming.h"

namespace otelite::exporters::prometheus {

const config::Schema<ResourceToTelemetryConfig>& ResourceToTelemetryConfig::Schema() {
  static const auto s = config::Schema<ResourceToTelemetryConfig>()
      .Field("enabled", &ResourceToTelemetryConfig::enabled,
             "every resource attribute becomes a label of every series (deprecated in otelcol: "
             "use resource_constant_labels)")
      .Field("exclude_service_attributes", &ResourceToTelemetryConfig::exclude_service_attributes,
             "leave out service.name, service.namespace and service.instance.id (already in job "
             "and instance)");
  return s;
}

const config::Schema<ResourceConstantLabelsConfig>& ResourceConstantLabelsConfig::Schema() {
  static const auto s = config::Schema<ResourceConstantLabelsConfig>()
      .Field("included", &ResourceConstantLabelsConfig::included,
             "wildcard patterns of resource attribute keys to add as labels; empty with a "
             "non-empty excluded means all")
      .Field("excluded", &ResourceConstantLabelsConfig::excluded,
             "wildcard patterns of keys to leave out, over included");
  return s;
}

const config::Schema<Config>& Config::Schema() {
  static const auto s = config::Schema<Config>()
      .Field("endpoint", &Config::endpoint,
             "host:port to serve /metrics on (required, as in otelcol)")
      .Field("namespace", &Config::namespace_, "prefix of every metric name (namespace_name)")
      .Field("const_labels", &Config::const_labels, "labels added to every series")
      .Field("send_timestamps", &Config::send_timestamps,
             "expose each sample with the timestamp of its data point")
      .Field("metric_expiration", &Config::metric_expiration,
             "a series not updated for this long is no longer exposed")
      .Field("enable_open_metrics", &Config::enable_open_metrics,
             "answer OpenMetrics (with exemplars) to scrapers that accept it")
      .Field("without_scope_info", &Config::without_scope_info,
             "leave out the otel_scope_* labels")
      .Field("add_metric_suffixes", &Config::add_metric_suffixes,
             "type and unit suffixes (_total, _seconds, _ratio); ignored when "
             "translation_strategy is set (deprecated in otelcol)")
      .Field("translation_strategy", &Config::translation_strategy,
             "how names are translated: UnderscoreEscapingWithSuffixes, "
             "UnderscoreEscapingWithoutSuffixes, NoUTF8EscapingWithSuffixes or NoTranslation; "
             "empty: from add_metric_suffixes",
             config::OneOf({"", kUnderscoreEscapingWithSuffixes, kUnderscoreEscapingWithoutSuffixes,
                            kNoUTF8EscapingWithSuffixes, kNoTranslation}))
      .Field("resource_to_telemetry_conversion", &Config::resource_to_telemetry_conversion,
             "resource attributes as labels (older setting)")
      .Field("resource_constant_labels", &Config::resource_constant_labels,
             "resource attributes as labels, chosen by key (over "
             "resource_to_telemetry_conversion)")
      .Check([](const Config& c, const config::Checker& check) {
        if (c.endpoint.empty()) {
          check.Error("endpoint", "endpoint must be set (host:port)");
        } else if (std::string why = config::HostPort()(c.endpoint); !why.empty()) {
          check.Error("endpoint", why);
        }
        if (c.metric_expiration.count() <= 0) {
          check.Error("metric_expiration", "metric_expiration must be positive");
        }
        for (const auto& [name, value] : c.const_labels) {
          if (!IsValidLabelName(name) || name.starts_with("__")) {
            check.Error("const_labels", "\"" + name + "\" is not a valid Prometheus label name");
          }
        }
      });
  return s;
}

namespace {

// A key matches a pattern where each * stands for any run of characters.
bool WildcardMatch(std::string_view pattern, std::string_view key) {
  size_t p = 0, k = 0, star = std::string_view::npos, mark = 0;
  while (k < key.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = k;
    } else if (p < pattern.size() && pattern[p] == key[k]) {
      ++p;
      ++k;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      k = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool IsServiceAttribute(const std::string& key) {
  return key == "service.name" || key == "service.namespace" || key == "service.instance.id";
}

}  // namespace

std::function<bool(const std::string&)> ResourceLabelSelector(const Config& c) {
  if (c.resource_constant_labels) {
    auto sel = *c.resource_constant_labels;
    if (sel.included.empty() && sel.excluded.empty()) return nullptr;
    return [sel](const std::string& key) {
      auto any = [&](const std::vector<std::string>& patterns) {
        for (const auto& p : patterns) {
          if (WildcardMatch(p, key)) return true;
        }
        return false;
      };
      if (any(sel.excluded)) return false;
      return sel.included.empty() || any(sel.included);
    };
  }
  if (c.resource_to_telemetry_conversion.enabled) {
    bool exclude = c.resource_to_telemetry_conversion.exclude_service_attributes;
    return [exclude](const std::string& key) { return !exclude || !IsServiceAttribute(key); };
  }
  return nullptr;
}

bool Config::WithSuffixes() const {
  if (translation_strategy.empty()) return add_metric_suffixes;
  return translation_strategy == kUnderscoreEscapingWithSuffixes ||
         translation_strategy == kNoUTF8EscapingWithSuffixes;
}

bool Config::Utf8Allowed() const {
  return translation_strategy == kNoUTF8EscapingWithSuffixes ||
         translation_strategy == kNoTranslation;
}

}  // namespace otelite::exporters::prometheus
