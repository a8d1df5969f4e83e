// The prometheus exporter's metric store: last value per series, delta → cumulative, expiry.
#include <gtest/gtest.h>

#include "exporters/prometheus/metric_store.h"
#include "../test_util.h"

namespace otelite::exporters::prometheus {
namespace {

namespace pb = otelite::testing::pb;
using otelite::testing::AddStringAttr;

constexpr auto kExpiration = std::chrono::seconds(10);
const StoreClock::time_point kT0 = StoreClock::time_point() + std::chrono::hours(1);

// A request with one metric of the given kind; `fill` sets the metric's data.
MetricsRequest Request(const std::string& name, const std::function<void(pb::metrics::Metric&)>& fill,
                       const std::string& service = "svc") {
  MetricsRequest req;
  auto* rm = req.add_resource_metrics();
  AddStringAttr(rm->mutable_resource()->mutable_attributes(), "service.name", service);
  AddStringAttr(rm->mutable_resource()->mutable_attributes(), "service.instance.id", "i-1");
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("scope");
  auto* m = sm->add_metrics();
  m->set_name(name);
  fill(*m);
  return req;
}

MetricsRequest Sum(double value, uint64_t start, uint64_t time, bool delta, bool monotonic = true,
                   const std::string& attr = "a") {
  return Request("s", [&](pb::metrics::Metric& m) {
    auto* s = m.mutable_sum();
    s->set_aggregation_temporality(delta ? pb::metrics::AGGREGATION_TEMPORALITY_DELTA
                                         : pb::metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
    s->set_is_monotonic(monotonic);
    auto* dp = s->add_data_points();
    dp->set_start_time_unix_nano(start);
    dp->set_time_unix_nano(time);
    dp->set_as_double(value);
    AddStringAttr(dp->mutable_attributes(), "k", attr);
  });
}

MetricsRequest Histogram(std::vector<uint64_t> counts, std::vector<double> bounds, uint64_t start,
                         uint64_t time, bool delta) {
  return Request("h", [&](pb::metrics::Metric& m) {
    auto* h = m.mutable_histogram();
    h->set_aggregation_temporality(delta ? pb::metrics::AGGREGATION_TEMPORALITY_DELTA
                                         : pb::metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
    auto* dp = h->add_data_points();
    dp->set_start_time_unix_nano(start);
    dp->set_time_unix_nano(time);
    uint64_t total = 0;
    for (uint64_t c : counts) {
      dp->add_bucket_counts(c);
      total += c;
    }
    for (double b : bounds) dp->add_explicit_bounds(b);
    dp->set_count(total);
    dp->set_sum(double(total) * 10);
  });
}

std::vector<Series> Collect(MetricStore& store, StoreClock::time_point at = kT0) {
  return store.Collect(at);
}

TEST(PrometheusStore, GaugeKeepsTheLatestPoint) {
  MetricStore store(kExpiration);
  auto gauge = [](double v, uint64_t t) {
    return Request("g", [&](pb::metrics::Metric& m) {
      auto* dp = m.mutable_gauge()->add_data_points();
      dp->set_time_unix_nano(t);
      dp->set_as_int(int64_t(v));
    });
  };
  EXPECT_EQ(store.Accumulate(gauge(1, 100), kT0), 1u);
  EXPECT_EQ(store.Accumulate(gauge(5, 200), kT0), 1u);
  EXPECT_EQ(store.Accumulate(gauge(3, 150), kT0), 0u);  // older than the stored point
  auto s = Collect(store);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind, MetricKind::kGauge);
  EXPECT_EQ(s[0].value, 5);
  EXPECT_EQ(s[0].time_unix_nano, 200u);
  ASSERT_TRUE(s[0].resource);
  EXPECT_EQ(ResourceJob(*s[0].resource), "svc");
  EXPECT_EQ(ResourceInstance(*s[0].resource), "i-1");
  EXPECT_EQ(s[0].scope_name, "scope");
}

TEST(PrometheusStore, CumulativeSumIsReplaced) {
  MetricStore store(kExpiration);
  store.Accumulate(Sum(5, 1, 2, false), kT0);
  store.Accumulate(Sum(9, 1, 3, false), kT0);
  auto s = Collect(store);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].value, 9);
  EXPECT_TRUE(s[0].monotonic);
}

TEST(PrometheusStore, DeltaSumsAccumulateWhileAligned) {
  MetricStore store(kExpiration);
  store.Accumulate(Sum(5, 1, 2, true), kT0);
  store.Accumulate(Sum(7, 2, 3, true), kT0);  // starts where the stored point ended
  auto s = Collect(store);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].value, 12);
  EXPECT_EQ(s[0].start_time_unix_nano, 1u);
  EXPECT_EQ(s[0].time_unix_nano, 3u);
  // A gap: the series starts again from this delta.
  store.Accumulate(Sum(4, 10, 11, true), kT0);
  s = Collect(store);
  EXPECT_EQ(s[0].value, 4);
  EXPECT_EQ(s[0].start_time_unix_nano, 10u);
  // Other attributes: another series.
  store.Accumulate(Sum(1, 1, 2, true, true, "b"), kT0);
  EXPECT_EQ(Collect(store).size(), 2u);
}

TEST(PrometheusStore, DeltaUpDownSumsAccumulateToo) {
  MetricStore store(kExpiration);
  store.Accumulate(Sum(10, 1, 2, true, false), kT0);
  store.Accumulate(Sum(-3, 2, 3, true, false), kT0);
  auto s = Collect(store);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].value, 7);
  EXPECT_FALSE(s[0].monotonic);
}

TEST(PrometheusStore, UnspecifiedTemporalityIsDropped) {
  MetricStore store(kExpiration);
  auto req = Sum(1, 1, 2, false);
  req.mutable_resource_metrics(0)->mutable_scope_metrics(0)->mutable_metrics(0)->mutable_sum()
      ->set_aggregation_temporality(pb::metrics::AGGREGATION_TEMPORALITY_UNSPECIFIED);
  EXPECT_EQ(store.Accumulate(req, kT0), 0u);
  EXPECT_EQ(store.size(), 0u);
}

TEST(PrometheusStore, DeltaHistogramsAccumulate) {
  MetricStore store(kExpiration);
  store.Accumulate(Histogram({1, 2, 0}, {10, 100}, 1, 2, true), kT0);
  store.Accumulate(Histogram({0, 1, 4}, {10, 100}, 2, 3, true), kT0);
  auto s = Collect(store);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].bucket_counts, (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(s[0].count, 8u);
  EXPECT_EQ(s[0].sum, 80);
  EXPECT_EQ(s[0].start_time_unix_nano, 1u);
  // Overlapping the stored range: dropped.
  EXPECT_EQ(store.Accumulate(Histogram({9, 9, 9}, {10, 100}, 2, 4, true), kT0), 0u);
  EXPECT_EQ(Collect(store)[0].count, 8u);
  // New bucket bounds: the newer point alone.
  store.Accumulate(Histogram({1, 1}, {50}, 3, 4, true), kT0);
  s = Collect(store);
  EXPECT_EQ(s[0].bounds, (std::vector<double>{50}));
  EXPECT_EQ(s[0].count, 2u);
  // Starting after the stored point ended: a reset.
  store.Accumulate(Histogram({0, 5}, {50}, 9, 10, true), kT0);
  EXPECT_EQ(Collect(store)[0].count, 5u);
}

TEST(PrometheusStore, CumulativeHistogramIsReplacedUnlessOlder) {
  MetricStore store(kExpiration);
  store.Accumulate(Histogram({1, 1}, {5}, 1, 5, false), kT0);
  store.Accumulate(Histogram({2, 2}, {5}, 1, 6, false), kT0);
  EXPECT_EQ(store.Accumulate(Histogram({9, 9}, {5}, 1, 4, false), kT0), 0u);
  EXPECT_EQ(Collect(store)[0].count, 4u);
}

TEST(PrometheusStore, DeltaExponentialHistogramsMergeAtTheCoarserScale) {
  auto exp = [](int32_t scale, int32_t offset, std::vector<uint64_t> counts, uint64_t start,
                uint64_t time) {
    return Request("e", [&](pb::metrics::Metric& m) {
      auto* h = m.mutable_exponential_histogram();
      h->set_aggregation_temporality(pb::metrics::AGGREGATION_TEMPORALITY_DELTA);
      auto* dp = h->add_data_points();
      dp->set_start_time_unix_nano(start);
      dp->set_time_unix_nano(time);
      dp->set_scale(scale);
      dp->set_zero_count(1);
      dp->mutable_positive()->set_offset(offset);
      uint64_t total = 1;
      for (uint64_t c : counts) {
        dp->mutable_positive()->add_bucket_counts(c);
        total += c;
      }
      dp->set_count(total);
      dp->set_sum(1);
    });
  };
  MetricStore store(kExpiration);
  // Scale 1 buckets 0 and 1 are both bucket 0 at scale 0; bucket 2 at scale 1 is bucket 1.
  store.Accumulate(exp(1, 0, {1, 2, 4}, 1, 2), kT0);
  store.Accumulate(exp(0, 0, {10}, 2, 3), kT0);
  auto s = Collect(store);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].scale, 0);
  EXPECT_EQ(s[0].positive.offset, 0);
  EXPECT_EQ(s[0].positive.counts, (std::vector<uint64_t>{13, 4}));
  EXPECT_EQ(s[0].zero_count, 2u);
  EXPECT_EQ(s[0].count, 19u);
  EXPECT_EQ(s[0].sum, 2);
}

TEST(PrometheusStore, NoRecordedValueRemovesTheSeries) {
  MetricStore store(kExpiration);
  store.Accumulate(Sum(5, 1, 2, false), kT0);
  auto req = Sum(0, 1, 3, false);
  req.mutable_resource_metrics(0)->mutable_scope_metrics(0)->mutable_metrics(0)->mutable_sum()
      ->mutable_data_points(0)->set_flags(1);
  store.Accumulate(req, kT0);
  EXPECT_EQ(store.size(), 0u);
}

TEST(PrometheusStore, SeriesExpireAfterTheExpirationWithoutUpdates) {
  MetricStore store(kExpiration);
  store.Accumulate(Sum(1, 1, 2, false, true, "old"), kT0);
  store.Accumulate(Sum(1, 1, 2, false, true, "fresh"), kT0);
  store.Accumulate(Sum(2, 1, 3, false, true, "fresh"), kT0 + std::chrono::seconds(8));
  EXPECT_EQ(Collect(store, kT0 + kExpiration).size(), 2u);  // exactly at the limit: kept
  auto s = Collect(store, kT0 + kExpiration + std::chrono::seconds(1));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].attrs, (Attrs{{"k", "fresh"}}));
  EXPECT_EQ(store.size(), 1u);  // the expired one is gone for good
  EXPECT_TRUE(Collect(store, kT0 + std::chrono::seconds(19)).empty());
}

TEST(PrometheusStore, SameJobAndInstanceIsOneSeries) {
  MetricStore store(kExpiration);
  auto req = Sum(1, 1, 2, false);
  store.Accumulate(req, kT0);
  auto* attrs = req.mutable_resource_metrics(0)->mutable_resource()->mutable_attributes();
  AddStringAttr(attrs, "host.name", "other");
  req.mutable_resource_metrics(0)->mutable_scope_metrics(0)->mutable_metrics(0)->mutable_sum()
      ->mutable_data_points(0)->set_time_unix_nano(3);
  store.Accumulate(req, kT0);
  auto s = Collect(store);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].resource->size(), 3u);  // the later resource
  store.Accumulate(Sum(1, 1, 2, false, true, "a"), kT0);
  store.Accumulate(Request("s", [](pb::metrics::Metric&) {}, "other-svc"), kT0);
  EXPECT_EQ(Collect(store).size(), 1u);  // a metric without data is ignored
}

TEST(PrometheusStore, AttributeStrings) {
  pb::common::AnyValue v;
  v.set_int_value(-42);
  EXPECT_EQ(AttributeString(v), "-42");
  v.set_double_value(0.5);
  EXPECT_EQ(AttributeString(v), "0.5");
  v.set_double_value(3);
  EXPECT_EQ(AttributeString(v), "3");
  v.set_bool_value(true);
  EXPECT_EQ(AttributeString(v), "true");
  v.set_bytes_value("\x01\x02\x03\x04");
  EXPECT_EQ(AttributeString(v), "AQIDBA==");
  auto* arr = v.mutable_array_value();
  arr->add_values()->set_string_value("a");
  arr->add_values()->set_int_value(1);
  EXPECT_EQ(AttributeString(v), R"(["a",1])");
  auto* kv = v.mutable_kvlist_value()->add_values();
  kv->set_key("k");
  kv->mutable_value()->set_bool_value(false);
  EXPECT_EQ(AttributeString(v), R"({"k":false})");
}

}  // namespace
}  // namespace otelite::exporters::prometheus
