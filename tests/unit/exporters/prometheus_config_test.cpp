// The prometheus exporter's settings: defaults, errors, the translation strategy, and which
// resource attributes become labels.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "components/registry.h"
#include "config/loader.h"
#include "exporters/prometheus/config.h"

namespace otelite::exporters::prometheus {
namespace {

struct Parsed {
  std::unique_ptr<ComponentConfig> config;
  std::vector<std::string> errors;
  const Config& cfg() const { return static_cast<const Config&>(*config); }
};

Parsed Parse(const std::string& yaml) {
  config::Errors errors;
  config::ConfNode node = config::ParseYaml(yaml, "c.yaml", errors);
  auto found = BuiltinRegistry().Find(Kind::kExporter, "prometheus");
  EXPECT_NE(found.factory, nullptr);
  Parsed p;
  p.config = found.factory->ParseConfig(node, config::Ctx{errors, "exporters.prometheus"});
  for (const auto& e : errors.all()) p.errors.push_back(e.str());
  return p;
}

TEST(PrometheusConfig, DefaultsAsOtelcol) {
  Parsed p = Parse("endpoint: 127.0.0.1:8889\n");
  EXPECT_THAT(p.errors, ::testing::IsEmpty());
  const Config& c = p.cfg();
  EXPECT_EQ(c.metric_expiration, std::chrono::minutes(5));
  EXPECT_FALSE(c.send_timestamps);
  EXPECT_FALSE(c.enable_open_metrics);
  EXPECT_FALSE(c.without_scope_info);
  EXPECT_TRUE(c.WithSuffixes());
  EXPECT_FALSE(c.Utf8Allowed());
  EXPECT_EQ(ResourceLabelSelector(c), nullptr);
}

TEST(PrometheusConfig, TranslationStrategyOverAddMetricSuffixes) {
  EXPECT_FALSE(Parse("endpoint: :1\nadd_metric_suffixes: false\n").cfg().WithSuffixes());
  Parsed p = Parse("endpoint: :1\nadd_metric_suffixes: false\n"
                   "translation_strategy: NoUTF8EscapingWithSuffixes\n");
  EXPECT_TRUE(p.cfg().WithSuffixes());
  EXPECT_TRUE(p.cfg().Utf8Allowed());
  p = Parse("endpoint: :1\ntranslation_strategy: UnderscoreEscapingWithoutSuffixes\n");
  EXPECT_FALSE(p.cfg().WithSuffixes());
  EXPECT_FALSE(p.cfg().Utf8Allowed());
  p = Parse("endpoint: :1\ntranslation_strategy: NoTranslation\n");
  EXPECT_FALSE(p.cfg().WithSuffixes());
  EXPECT_TRUE(p.cfg().Utf8Allowed());
}

TEST(PrometheusConfig, Errors) {
  Parsed p = Parse(
      "namespace: x\n"                        // 1: no endpoint
      "translation_strategy: Underscores\n"   // 2
      "metric_expiration: -1s\n"              // 3
      "const_labels: {\"a-b\": x, ok: y}\n"   // 4
      "tls: {}\n");                           // 5
  EXPECT_THAT(p.errors, ::testing::UnorderedElementsAre(
      ::testing::HasSubstr("c.yaml:2: exporters.prometheus.translation_strategy: \"Underscores\" "
                           "is not one of: UnderscoreEscapingWithSuffixes"),
      ::testing::HasSubstr("c.yaml:3: exporters.prometheus.metric_expiration: metric_expiration "
                           "must be positive"),
      ::testing::HasSubstr("c.yaml:4: exporters.prometheus.const_labels: \"a-b\" is not a valid "
                           "Prometheus label name"),
      ::testing::HasSubstr("c.yaml:5: exporters.prometheus.tls: unknown key \"tls\""),
      ::testing::HasSubstr("exporters.prometheus.endpoint: endpoint must be set")));
  EXPECT_THAT(Parse("endpoint: localhost\n").errors,
              ::testing::ElementsAre(
                  "c.yaml:1: exporters.prometheus.endpoint: \"localhost\" is not host:port"));
}

TEST(PrometheusConfig, ResourceLabelSelection) {
  auto sel = ResourceLabelSelector(
      Parse("endpoint: :1\nresource_to_telemetry_conversion: {enabled: true}\n").cfg());
  ASSERT_NE(sel, nullptr);
  EXPECT_TRUE(sel("service.name"));
  EXPECT_TRUE(sel("host.name"));
  sel = ResourceLabelSelector(Parse("endpoint: :1\nresource_to_telemetry_conversion: "
                                    "{enabled: true, exclude_service_attributes: true}\n").cfg());
  EXPECT_FALSE(sel("service.instance.id"));
  EXPECT_TRUE(sel("host.name"));
  // resource_constant_labels takes precedence.
  sel = ResourceLabelSelector(Parse(
      "endpoint: :1\nresource_to_telemetry_conversion: {enabled: true}\n"
      "resource_constant_labels: {included: [\"k8s.*\", \"host.name\"], "
      "excluded: [\"k8s.*.uid\"]}\n").cfg());
  EXPECT_TRUE(sel("k8s.pod.name"));
  EXPECT_TRUE(sel("host.name"));
  EXPECT_FALSE(sel("k8s.pod.uid"));
  EXPECT_FALSE(sel("service.name"));
  EXPECT_FALSE(sel("host.names"));
  sel = ResourceLabelSelector(
      Parse("endpoint: :1\nresource_constant_labels: {excluded: [\"*.id\"]}\n").cfg());
  EXPECT_TRUE(sel("service.name"));
  EXPECT_FALSE(sel("service.instance.id"));
  EXPECT_EQ(ResourceLabelSelector(Parse("endpoint: :1\nresource_constant_labels: {}\n").cfg()),
            nullptr);
}

}  // namespace
}  // namespace otelite::exporters::prometheus
