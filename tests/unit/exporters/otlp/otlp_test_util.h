#pragma once
// Helpers of the OTLP exporter tests: build an exporter from YAML through the registry (as the
// service does), read the self-metrics, time a call.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>

#include "../../test_util.h"
#include "components/registry.h"
#include "config/loader.h"
#include "exporters/helper/settings.h"

namespace otelite::testing {

struct Made {
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<Exporter> exporter;
  std::vector<std::string> errors;  // "file:line: path: message", warnings included
};

inline const ExporterFactory& OtlpFactory(const std::string& type) {
  auto found = BuiltinRegistry().Find(Kind::kExporter, type);
  if (found.factory == nullptr) throw std::runtime_error("no exporter type " + type);
  return *static_cast<const ExporterFactory*>(found.factory);
}

// Parses `yaml` as the settings of exporter `type`/x; errors and warnings land in `errors`.
inline Made ParseOtlp(const std::string& type, const std::string& yaml) {
  config::Errors errors;
  config::ConfNode node = config::ParseYaml(yaml, "config.yaml", errors);
  Made m;
  m.config = OtlpFactory(type).ParseConfig(node, config::Ctx{errors, "exporters." + type});
  for (const auto& e : errors.all()) m.errors.push_back(e.str());
  return m;
}

// A created and started exporter; the test fails on config errors or a start error.
inline Made MakeOtlp(const std::string& type, const std::string& yaml, FakeHost& host) {
  Made m = ParseOtlp(type, yaml);
  for (const auto& e : m.errors) ADD_FAILURE() << e;
  CreateSettings settings;
  settings.id = ComponentId(type, "x");
  settings.telemetry = &host.telemetry();
  m.exporter = OtlpFactory(type).Create(settings, *m.config, SignalSet::All());
  std::string err = m.exporter->Start(host);
  EXPECT_EQ(err, "");
  return m;
}

// The value of `name{exporter="<exporter>"}` in the Prometheus text, -1 when absent.
inline double MetricValue(const std::string& text, const std::string& name,
                          const std::string& exporter) {
  std::regex re("(^|\\n)" + name + "\\{exporter=\"" + exporter + "\"\\} ([0-9.e+]+)");
  std::smatch m;
  if (!std::regex_search(text, m, re)) return -1;
  return std::stod(m[2].str());
}

template <class F>
std::chrono::milliseconds Timed(F&& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace otelite::testing
