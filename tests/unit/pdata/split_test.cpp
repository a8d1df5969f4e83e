// Concatenation of encoded requests and splitting of decoded ones (pdata/split.h).
#include "pdata/split.h"

#include <gtest/gtest.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "../test_util.h"

namespace otelite {
namespace {

using testing::AddStringAttr;
using testing::MakeBatch;
using testing::MakeLogs;
using testing::MakeTraces;
using testing::pb::metrics::Metric;

// Two resources, the first with two scopes: 3 + 2 + 4 spans named r<res>s<scope>-<i>.
TracesRequest ThreeScopes() {
  TracesRequest req;
  int sizes[2][2] = {{3, 2}, {4, 0}};
  for (int r = 0; r < 2; ++r) {
    auto* rs = req.add_resource_spans();
    AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name",
                  "svc" + std::to_string(r));
    rs->set_schema_url("https://schema/" + std::to_string(r));
    for (int s = 0; s < (r == 0 ? 2 : 1); ++s) {
      auto* ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name("scope" + std::to_string(r) + std::to_string(s));
      for (int i = 0; i < sizes[r][s]; ++i) {
        ss->add_spans()->set_name("r" + std::to_string(r) + "s" + std::to_string(s) + "-" +
                                  std::to_string(i));
      }
    }
  }
  return req;
}

// (service, scope, span) for every span, in order.
std::vector<std::string> Flatten(const TracesRequest& req) {
  std::vector<std::string> out;
  for (const auto& rs : req.resource_spans())
    for (const auto& ss : rs.scope_spans())
      for (const auto& span : ss.spans())
        out.push_back(rs.resource().attributes(0).value().string_value() + "|" + rs.schema_url() +
                      "|" + ss.scope().name() + "|" + span.name());
  return out;
}

TEST(Concat, JoinsEncodedRequestsWithoutDecodingIntoTheirMerge) {
  auto a = Payload::Parse(Signal::kTraces, MakeTraces("a", 2).SerializeAsString());
  auto b = Payload::Parse(Signal::kTraces, ThreeScopes().SerializeAsString());
  auto c = Payload::Parse(Signal::kTraces, MakeTraces("c", 1).SerializeAsString());
  Batch joined = Concat(Signal::kTraces, {a, b, c});
  EXPECT_EQ(joined->item_count(), 2u + 9u + 1u);
  EXPECT_EQ(joined->serialized(), a->serialized() + b->serialized() + c->serialized());
  TracesRequest expected;
  expected.MergeFrom(a->traces());
  expected.MergeFrom(b->traces());
  expected.MergeFrom(c->traces());
  EXPECT_EQ(Flatten(joined->traces()), Flatten(expected));
  EXPECT_EQ(joined->traces().resource_spans_size(), 4);
}

TEST(SplitAt, TracesAtEveryPositionKeepOrderResourceAndScope) {
  TracesRequest req = ThreeScopes();
  auto all = Flatten(req);
  ASSERT_EQ(all.size(), 9u);
  Batch batch = MakeBatch(Signal::kTraces, req);
  for (size_t n = 1; n < all.size(); ++n) {
    auto [front, back] = SplitAt(*batch, n);
    EXPECT_EQ(front->item_count(), n);
    EXPECT_EQ(back->item_count(), all.size() - n);
    auto f = Flatten(front->traces());
    auto b = Flatten(back->traces());
    f.insert(f.end(), b.begin(), b.end());
    EXPECT_EQ(f, all) << "split at " << n;
    // No empty resource or scope entries are left behind on either side.
    for (const Batch& half : {front, back}) {
      for (const auto& rs : half->traces().resource_spans()) {
        EXPECT_GT(rs.scope_spans_size(), 0) << n;
        for (const auto& ss : rs.scope_spans()) EXPECT_GT(ss.spans_size(), 0) << n;
      }
    }
  }
}

TEST(SplitAt, LogsKeepEveryRecordOnce) {
  LogsRequest req = MakeLogs("x", 5);
  req.MergeFrom(MakeLogs("y", 3));
  Batch batch = MakeBatch(Signal::kLogs, req);
  for (size_t n = 1; n < 8; ++n) {
    auto [front, back] = SplitAt(*batch, n);
    std::vector<std::string> bodies;
    for (const Batch& half : {front, back})
      for (const auto& rl : half->logs().resource_logs())
        for (const auto& sl : rl.scope_logs())
          for (const auto& lr : sl.log_records()) bodies.push_back(lr.body().string_value());
    ASSERT_EQ(bodies.size(), 8u);
    EXPECT_EQ(bodies.front(), "x-0");
    EXPECT_EQ(bodies[4], "x-4");
    EXPECT_EQ(bodies.back(), "y-2");
    EXPECT_EQ(front->item_count(), n);
  }
}

// Metrics of every kind with several points each; a point is "<metric>#<i>".
MetricsRequest AllKinds() {
  MetricsRequest req;
  auto* sm = req.add_resource_metrics()->add_scope_metrics();
  sm->mutable_scope()->set_name("meter");
  auto add = [&](const std::string& name, int points, auto fill) {
    Metric* m = sm->add_metrics();
    m->set_name(name);
    m->set_unit("ms");
    for (int i = 0; i < points; ++i) fill(m, i);
  };
  add("gauge", 2, [](Metric* m, int i) { m->mutable_gauge()->add_data_points()->set_as_int(i); });
  add("sum", 3, [](Metric* m, int i) {
    m->mutable_sum()->set_is_monotonic(true);
    m->mutable_sum()->set_aggregation_temporality(
        testing::pb::metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
    m->mutable_sum()->add_data_points()->set_as_int(i);
  });
  add("histogram", 2,
      [](Metric* m, int i) { m->mutable_histogram()->add_data_points()->set_count(uint64_t(i)); });
  add("exp", 1, [](Metric* m, int i) {
    m->mutable_exponential_histogram()->add_data_points()->set_count(uint64_t(i));
  });
  add("summary", 2,
      [](Metric* m, int i) { m->mutable_summary()->add_data_points()->set_count(uint64_t(i)); });
  return req;
}

std::vector<std::string> Points(const MetricsRequest& req) {
  std::vector<std::string> out;
  for (const auto& rm : req.resource_metrics())
    for (const auto& sm : rm.scope_metrics())
      for (const auto& m : sm.metrics()) {
        int n = 0;
        switch (m.data_case()) {
          case Metric::kGauge: n = m.gauge().data_points_size(); break;
          case Metric::kSum:
            n = m.sum().data_points_size();
            EXPECT_TRUE(m.sum().is_monotonic()) << "a cut sum keeps its kind";
            break;
          case Metric::kHistogram: n = m.histogram().data_points_size(); break;
          case Metric::kExponentialHistogram: n = m.exponential_histogram().data_points_size(); break;
          case Metric::kSummary: n = m.summary().data_points_size(); break;
          default: break;
        }
        EXPECT_GT(n, 0) << "no metric without points: " << m.name();
        EXPECT_EQ(m.unit(), "ms");
        for (int i = 0; i < n; ++i) out.push_back(m.name() + "/" + sm.scope().name());
      }
  return out;
}

TEST(SplitAt, MetricsCutInsideAMetricKeepItsIdentityOnBothSides) {
  MetricsRequest req = AllKinds();
  Batch batch = MakeBatch(Signal::kMetrics, req);
  ASSERT_EQ(batch->item_count(), 10u);
  auto all = Points(req);
  for (size_t n = 1; n < 10; ++n) {
    auto [front, back] = SplitAt(*batch, n);
    EXPECT_EQ(front->item_count(), n);
    EXPECT_EQ(back->item_count(), 10 - n);
    auto f = Points(front->metrics());
    auto b = Points(back->metrics());
    f.insert(f.end(), b.begin(), b.end());
    EXPECT_EQ(f, all) << "split at " << n;
  }
  // Inside "sum" (points 2..4): the second point of sum starts the back half.
  auto [front, back] = SplitAt(*batch, 3);
  const auto& back_sum = back->metrics().resource_metrics(0).scope_metrics(0).metrics(0);
  EXPECT_EQ(back_sum.name(), "sum");
  EXPECT_EQ(back_sum.sum().data_points(0).as_int(), 1);
}

}  // namespace
}  // namespace otelite
