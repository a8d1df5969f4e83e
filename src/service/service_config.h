#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "components/registry.h"
#include "config/conf_node.h"
#include "config/duration.h"

namespace otelite {

// One configured component: its id, factory and parsed settings.
struct ComponentEntry {
  ComponentId id;
  const Factory* factory = nullptr;
  std::unique_ptr<ComponentConfig> config;
  std::string path;  // YAML path, e.g. exporters.file/x
  config::Mark mark;
};

struct PipelineConfig {
  std::string id;  // traces, traces/tenant-a
  Signal signal = Signal::kTraces;
  std::vector<ComponentId> receivers;
  std::vector<ComponentId> processors;
  std::vector<ComponentId> exporters;
  config::Mark mark;
};

struct TelemetryConfig {
  std::string metrics_address = "localhost:8888";
  std::string metrics_level = "normal";  // none disables the self-metrics endpoint
  config::Mark metrics_address_mark;
  std::string log_level = "info";
  std::string log_encoding = "console";
};

// The whole configuration after validation.
struct ServiceConfig {
  std::map<ComponentId, ComponentEntry> receivers;
  std::map<ComponentId, ComponentEntry> processors;
  std::map<ComponentId, ComponentEntry> exporters;
  std::map<ComponentId, ComponentEntry> extensions;
  std::vector<ComponentId> enabled_extensions;
  std::vector<PipelineConfig> pipelines;
  TelemetryConfig telemetry;
  config::Duration shutdown_timeout = std::chrono::seconds(25);

  const std::map<ComponentId, ComponentEntry>& Section(Kind kind) const;
};

// Parses and validates the merged configuration. Every problem is added to `errors` (unused
// receivers and exporters as warnings, as otelcol does); the result is usable only when
// errors.HasErrors() is false.
ServiceConfig ParseServiceConfig(const config::ConfNode& root, const Registry& registry,
                                 config::Errors& errors);

}  // namespace otelite
