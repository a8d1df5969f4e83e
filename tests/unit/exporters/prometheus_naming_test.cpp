// OTLP → Prometheus names and labels, with the cases otelcol's translator documents.
#include <gtest/gtest.h>

#include "exporters/prometheus/naming.h"

namespace otelite::exporters::prometheus {
namespace {

std::string Name(std::string_view name, std::string_view unit, NameType type,
                 std::string ns = {}, bool suffixes = true, bool utf8 = false) {
  return BuildMetricName(name, unit, type, NamingOptions{std::move(ns), suffixes, utf8});
}

TEST(PrometheusNaming, UnitSuffixes) {
  EXPECT_EQ(Name("system.filesystem.usage", "By", NameType::kGauge),
            "system_filesystem_usage_bytes");
  EXPECT_EQ(Name("http.server.duration", "ms", NameType::kHistogram),
            "http_server_duration_milliseconds");
  EXPECT_EQ(Name("throughput", "By/s", NameType::kGauge), "throughput_bytes_per_second");
  EXPECT_EQ(Name("speed", "m/s", NameType::kGauge), "speed_meters_per_second");
  EXPECT_EQ(Name("load", "%", NameType::kGauge), "load_percent");
  EXPECT_EQ(Name("temp", "Cel", NameType::kGauge), "temp_celsius");
  EXPECT_EQ(Name("mem", "MiBy", NameType::kGauge), "mem_mebibytes");
  // Annotations add nothing; an unknown unit is used as it is (cleaned).
  EXPECT_EQ(Name("requests", "{request}", NameType::kGauge), "requests");
  EXPECT_EQ(Name("rate", "{request}/s", NameType::kGauge), "rate_per_second");
  EXPECT_EQ(Name("size", "furlongs", NameType::kGauge), "size_furlongs");
  // A unit already among the name's tokens is not repeated.
  EXPECT_EQ(Name("request.duration.seconds", "s", NameType::kHistogram),
            "request_duration_seconds");
}

TEST(PrometheusNaming, TotalAndRatio) {
  EXPECT_EQ(Name("requests", "{request}", NameType::kMonotonicCounter), "requests_total");
  EXPECT_EQ(Name("requests.total", "1", NameType::kMonotonicCounter), "requests_total");
  EXPECT_EQ(Name("total.requests", "", NameType::kMonotonicCounter), "requests_total");
  EXPECT_EQ(Name("net.io", "By", NameType::kMonotonicCounter), "net_io_bytes_total");
  // Non-monotonic sums get no _total; only gauges get _ratio.
  EXPECT_EQ(Name("queue.depth", "1", NameType::kNonMonotonicCounter), "queue_depth");
  EXPECT_EQ(Name("cpu.utilization", "1", NameType::kGauge), "cpu_utilization_ratio");
  EXPECT_EQ(Name("ratio.value", "1", NameType::kGauge), "value_ratio");
}

TEST(PrometheusNaming, InvalidCharactersNamespaceAndDigits) {
  EXPECT_EQ(Name("foo__bar...baz/qux", "", NameType::kGauge), "foo_bar_baz_qux");
  EXPECT_EQ(Name("2xx.count", "", NameType::kGauge), "_2xx_count");
  EXPECT_EQ(Name("disk.io", "By", NameType::kMonotonicCounter, "ns"), "ns_disk_io_bytes_total");
  EXPECT_EQ(Name("k8s:pod.cpu", "", NameType::kGauge), "k8s:pod_cpu");
  EXPECT_EQ(Name("...", "", NameType::kGauge), "");
}

TEST(PrometheusNaming, WithoutSuffixes) {
  EXPECT_EQ(Name("http.server.duration", "ms", NameType::kHistogram, "", false),
            "http_server_duration");
  EXPECT_EQ(Name("requests", "1", NameType::kMonotonicCounter, "", false), "requests");
  EXPECT_EQ(Name("a.b", "s", NameType::kGauge, "my.ns", false), "my_ns_a_b");
  EXPECT_EQ(Name("9lives", "", NameType::kGauge, "", false), "_9lives");
}

TEST(PrometheusNaming, Utf8Allowed) {
  EXPECT_EQ(Name("http.server.duration", "ms", NameType::kHistogram, "", true, true),
            "http.server.duration_milliseconds");
  EXPECT_EQ(Name("foo.total", "", NameType::kMonotonicCounter, "", true, true), "foo_total");
  EXPECT_EQ(Name("bytes.rate", "By/s", NameType::kMonotonicCounter, "", true, true),
            "bytes.rate_bytes_per_second_total");
  EXPECT_EQ(Name("cpu.usage", "1", NameType::kGauge, "", true, true), "cpu.usage_ratio");
  EXPECT_EQ(Name("a.b", "ms", NameType::kGauge, "", false, true), "a.b");
  // What goes on the wire without UTF-8 negotiation.
  EXPECT_EQ(EscapeMetricName("http.server.duration_milliseconds"),
            "http_server_duration_milliseconds");
  EXPECT_EQ(EscapeMetricName("1.x"), "_1_x");
}

TEST(PrometheusNaming, Labels) {
  EXPECT_EQ(BuildLabelName("http.method", false), "http_method");
  EXPECT_EQ(BuildLabelName("123abc", false), "key_123abc");
  EXPECT_EQ(BuildLabelName("_foo", false), "key_foo");
  EXPECT_EQ(BuildLabelName("__foo", false), "__foo");
  EXPECT_EQ(BuildLabelName("a-b/c", false), "a_b_c");
  EXPECT_EQ(BuildLabelName("...", false), "");
  EXPECT_EQ(BuildLabelName("http.method", true), "http.method");
  EXPECT_TRUE(IsValidLabelName("env_1"));
  EXPECT_FALSE(IsValidLabelName("1env"));
  EXPECT_FALSE(IsValidLabelName("bad-name"));
  EXPECT_FALSE(IsValidLabelName(""));
}

TEST(PrometheusNaming, UnitSuffixParts) {
  UnitSuffixes u = BuildUnitSuffixes("By/s");
  EXPECT_EQ(u.main, "bytes");
  EXPECT_EQ(u.per, "per_second");
  u = BuildUnitSuffixes(" ms ");
  EXPECT_EQ(u.main, "milliseconds");
  EXPECT_EQ(u.per, "");
  u = BuildUnitSuffixes("1");
  EXPECT_EQ(u.main, "");
}

}  // namespace
}  // namespace otelite::exporters::prometheus
