// From stored series to the text format and OpenMetrics: names, labels, every kind, target_info,
// exemplars, float spelling, and the format negotiation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "exporters/prometheus/exposition.h"
#include "exporters/prometheus/negotiate.h"

namespace otelite::exporters::prometheus {
namespace {

std::shared_ptr<const Attrs> Resource(Attrs attrs) {
  std::sort(attrs.begin(), attrs.end());
  return std::make_shared<const Attrs>(std::move(attrs));
}

const auto kResource = Resource({{"service.name", "checkout"}, {"service.namespace", "shop"},
                                 {"service.instance.id", "i-1"}, {"host.name", "h1"}});

Series Base(std::string name, MetricKind kind, std::string unit = {}) {
  Series s;
  s.name = std::move(name);
  s.kind = kind;
  s.unit = std::move(unit);
  s.scope_name = "meter";
  s.scope_version = "1.0";
  s.resource = kResource;
  s.time_unix_nano = 1700000000123000000ULL;
  return s;
}

ExpositionOptions Options() {
  ExpositionOptions o;
  o.const_labels = {{"env", "test"}};
  return o;
}

TEST(PrometheusExposition, TextFormatOfEveryKind) {
  Series counter = Base("orders", MetricKind::kSum, "{order}");
  counter.monotonic = true;
  counter.value = 5;
  counter.description = "Orders \"placed\"\nin total";
  counter.attrs = {{"payment.method", "card"}};
  counter.exemplars = {{2, 1, "aa", "bb"}};
  Series updown = Base("queue.depth", MetricKind::kSum);
  updown.value = -2;
  Series gauge = Base("cpu.utilization", MetricKind::kGauge, "1");
  gauge.value = 0.25;
  Series hist = Base("http.duration", MetricKind::kHistogram, "ms");
  hist.bounds = {10, 1e6};
  hist.bucket_counts = {1, 2, 3};
  hist.count = 6;
  hist.sum = 123.5;
  Series summary = Base("rpc.latency", MetricKind::kSummary, "s");
  summary.quantiles = {{0.5, 0.1}, {0.99, 0.4}};
  summary.count = 10;
  summary.sum = 2.5;
  ExpositionOptions o = Options();
  o.without_scope_info = true;
  std::string text = SerializeText(BuildFamilies({counter, updown, gauge, hist, summary}, o));
  const std::string l = R"(env="test",instance="i-1",job="shop/checkout")";
  EXPECT_EQ(text,
            "# TYPE cpu_utilization_ratio gauge\n"
            "cpu_utilization_ratio{" + l + "} 0.25\n"
            "# TYPE http_duration_milliseconds histogram\n"
            "http_duration_milliseconds_bucket{" + l + ",le=\"10\"} 1\n"
            "http_duration_milliseconds_bucket{" + l + ",le=\"1e+06\"} 3\n"
            "http_duration_milliseconds_bucket{" + l + ",le=\"+Inf\"} 6\n"
            "http_duration_milliseconds_sum{" + l + "} 123.5\n"
            "http_duration_milliseconds_count{" + l + "} 6\n"
            "# HELP orders_total Orders \"placed\"\\nin total\n"
            "# TYPE orders_total counter\n"
            "orders_total{" + l + ",payment_method=\"card\"} 5\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth{" + l + "} -2\n"
            "# TYPE rpc_latency_seconds summary\n"
            "rpc_latency_seconds{" + l + ",quantile=\"0.5\"} 0.1\n"
            "rpc_latency_seconds{" + l + ",quantile=\"0.99\"} 0.4\n"
            "rpc_latency_seconds_sum{" + l + "} 2.5\n"
            "rpc_latency_seconds_count{" + l + "} 10\n"
            "# HELP target_info Target metadata\n"
            "# TYPE target_info gauge\n"
            "target_info{host_name=\"h1\",instance=\"i-1\",job=\"shop/checkout\"} 1\n");
}

TEST(PrometheusExposition, OpenMetricsWithExemplars) {
  Series counter = Base("orders", MetricKind::kSum);
  counter.monotonic = true;
  counter.value = 5;
  counter.exemplars = {{1, 1700000000000000000ULL, "0102", "0a0b"},
                       {3, 1700000000500000000ULL, "0304", "0c0d"}};
  Series hist = Base("lat", MetricKind::kHistogram, "s");
  hist.bounds = {0.1, 1};
  hist.bucket_counts = {1, 1, 1};
  hist.count = 3;
  hist.sum = 7;
  hist.exemplars = {{0.5, 1700000000000000000ULL, "ffff", "eeee"},
                    {9, 0, "", "dddd"}};
  ExpositionOptions o = Options();
  o.without_scope_info = true;
  o.send_timestamps = true;
  auto families = BuildFamilies({counter, hist}, o);
  std::string om = SerializeOpenMetrics(families);
  const std::string l = R"(env="test",instance="i-1",job="shop/checkout")";
  EXPECT_EQ(om,
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{" + l + ",le=\"0.1\"} 1 1.700000000123e+09\n"
            "lat_seconds_bucket{" + l + ",le=\"1.0\"} 2 1.700000000123e+09"
            " # {span_id=\"eeee\",trace_id=\"ffff\"} 0.5 1.7e+09\n"
            "lat_seconds_bucket{" + l + ",le=\"+Inf\"} 3 1.700000000123e+09"
            " # {span_id=\"dddd\"} 9.0\n"
            "lat_seconds_sum{" + l + "} 7.0 1.700000000123e+09\n"
            "lat_seconds_count{" + l + "} 3 1.700000000123e+09\n"
            "# TYPE orders counter\n"
            "orders_total{" + l + "} 5.0 1.700000000123e+09"
            " # {span_id=\"0c0d\",trace_id=\"0304\"} 3.0 1.7000000005e+09\n"
            "# HELP target_info Target metadata\n"
            "# TYPE target_info gauge\n"
            "target_info{host_name=\"h1\",instance=\"i-1\",job=\"shop/checkout\"} 1.0\n"
            "# EOF\n");
  // The text format carries timestamps in milliseconds and no exemplars.
  std::string text = SerializeText(families);
  EXPECT_NE(text.find("orders_total{" + l + "} 5 1700000000123\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("trace_id"), std::string::npos);
}

TEST(PrometheusExposition, LabelsFromAttributesScopeResourceAndConstLabels) {
  Series s = Base("m", MetricKind::kGauge);
  s.attrs = {{"a.b", "1"}, {"a_b", "2"}, {"job", "mine"}, {"empty", ""}};
  s.scope_attrs = {{"lib.kind", "sdk"}};
  s.scope_schema_url = "https://opentelemetry.io/schemas/1.21.0";
  ExpositionOptions o = Options();
  o.resource_label = [](const std::string& key) { return key == "host.name"; };
  auto families = BuildFamilies({s}, o);
  ASSERT_EQ(families.size(), 2u);
  const auto& m = families[0].family.metric.at(0);
  std::vector<::prometheus::ClientMetric::Label> want = {
      {"a_b", "1;2"},  // two keys, one label: values joined in key order
      {"env", "test"},
      {"host_name", "h1"},
      {"instance", "i-1"},
      {"job", "shop/checkout"},  // the resource's job wins over an attribute
      {"otel_scope_lib_kind", "sdk"},
      {"otel_scope_name", "meter"},
      {"otel_scope_schema_url", "https://opentelemetry.io/schemas/1.21.0"},
      {"otel_scope_version", "1.0"}};
  EXPECT_EQ(m.label, want);
  o.without_scope_info = true;
  o.resource_label = nullptr;
  auto bare_families = BuildFamilies({s}, o);
  const auto& bare = bare_families[0].family.metric.at(0);
  for (const auto& label : bare.label) {
    EXPECT_FALSE(label.name.starts_with("otel_scope")) << label.name;
    EXPECT_NE(label.name, "host_name");
  }
}

TEST(PrometheusExposition, TargetInfoNeedsJobAndInstance) {
  Series a = Base("m", MetricKind::kGauge);
  Series b = Base("n", MetricKind::kGauge);  // same resource: one target_info
  Series c = Base("o", MetricKind::kGauge);
  c.resource = Resource({{"service.name", "no-instance"}, {"k", "v"}});
  ExpositionOptions o;
  o.naming.namespace_ = "ns";
  auto families = BuildFamilies({a, b, c}, o);
  const Family* info = nullptr;
  for (const auto& f : families) {
    if (f.family.name == "ns_target_info") info = &f;
  }
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->family.metric.size(), 1u);
  std::vector<::prometheus::ClientMetric::Label> want = {
      {"host_name", "h1"}, {"instance", "i-1"}, {"job", "shop/checkout"}};
  EXPECT_EQ(info->family.metric[0].label, want);
  EXPECT_EQ(info->family.metric[0].gauge.value, 1);
}

TEST(PrometheusExposition, TypeConflictsAndDuplicatesAreDropped) {
  Series gauge = Base("a.total", MetricKind::kGauge);
  gauge.value = 1;
  Series counter = Base("a", MetricKind::kSum);
  counter.monotonic = true;
  counter.value = 2;
  Series twin = Base("a_total", MetricKind::kGauge);  // same name and labels as `gauge`
  twin.value = 3;
  size_t dropped = 0;
  ExpositionOptions o;
  auto families = BuildFamilies({gauge, counter, twin}, o, &dropped);
  EXPECT_EQ(dropped, 2u);
  ASSERT_EQ(families[0].family.name, "a_total");
  EXPECT_EQ(families[0].family.type, ::prometheus::MetricType::Gauge);
  ASSERT_EQ(families[0].family.metric.size(), 1u);
  EXPECT_EQ(families[0].family.metric[0].gauge.value, 1);
}

TEST(PrometheusExposition, ExponentialHistogramAsClassicBuckets) {
  Series s = Base("e", MetricKind::kExponentialHistogram, "s");
  s.scale = 0;  // base 2
  s.zero_count = 1;
  s.positive = {0, {1, 2}};  // (1, 2] and (2, 4]
  s.negative = {0, {3}};     // [-2, -1)
  s.count = 7;
  auto b = ExponentialToCumulative(s);
  std::vector<std::pair<double, uint64_t>> want = {
      {-1, 3}, {0, 4}, {2, 5}, {4, 7}, {std::numeric_limits<double>::infinity(), 7}};
  EXPECT_EQ(b, want);
  s.scale = 1;  // base sqrt(2)
  s.negative = {};
  s.zero_count = 0;
  s.positive = {-1, {1}};  // (2^-0.5, 1]
  s.count = 1;
  b = ExponentialToCumulative(s);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_DOUBLE_EQ(b[1].first, 1.0);
  std::string text = SerializeText(BuildFamilies({s}, ExpositionOptions{}));
  EXPECT_NE(text.find("e_seconds_bucket{instance=\"i-1\",job=\"shop/checkout\","
                      "otel_scope_name=\"meter\",otel_scope_version=\"1.0\",le=\"1\"} 1\n"),
            std::string::npos) << text;
}

TEST(PrometheusExposition, GoFloatSpelling) {
  EXPECT_EQ(FormatGoFloat(1), "1");
  EXPECT_EQ(FormatGoFloat(0), "0");
  EXPECT_EQ(FormatGoFloat(0.1), "0.1");
  EXPECT_EQ(FormatGoFloat(-2.5), "-2.5");
  EXPECT_EQ(FormatGoFloat(123456), "123456");
  EXPECT_EQ(FormatGoFloat(1e6), "1e+06");
  EXPECT_EQ(FormatGoFloat(1234567), "1.234567e+06");
  EXPECT_EQ(FormatGoFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatGoFloat(0.00001), "1e-05");
  EXPECT_EQ(FormatGoFloat(std::sqrt(2.0)), "1.4142135623730951");
  EXPECT_EQ(FormatGoFloat(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatGoFloat(std::nan("")), "NaN");
  EXPECT_EQ(FormatGoFloat(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(PrometheusExposition, FormatNegotiation) {
  const char* prometheus =
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
      "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
  EXPECT_EQ(NegotiateFormat(prometheus, true), Format::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat(prometheus, false), Format::kText);
  EXPECT_EQ(NegotiateFormat("", true), Format::kText);
  EXPECT_EQ(NegotiateFormat("text/plain;version=0.0.4", true), Format::kText);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0.2, text/plain", true),
            Format::kText);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0", true), Format::kText);
  EXPECT_EQ(NegotiateFormat("Application/OpenMetrics-Text; version=1.0.0", true),
            Format::kOpenMetrics);
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, gzip;q=0.5"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("identity"));
}

}  // namespace
}  // namespace otelite::exporters::prometheus
