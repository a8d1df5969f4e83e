#include "pdata/split.h"

#include <type_traits>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otelite {

Batch Concat(Signal signal, const std::vector<Batch>& parts,
             std::shared_ptr<const ClientMetadata> metadata) {
  size_t size = 0, items = 0;
  for (const auto& p : parts) {
    size += p->serialized().size();
    items += p->item_count();
  }
  std::string bytes;
  bytes.reserve(size);
  for (const auto& p : parts) bytes += p->serialized();
  return Payload::FromWire(signal, std::move(bytes), items, std::move(metadata));
}

namespace {

using opentelemetry::proto::metrics::v1::Metric;

// Splits a RepeatedPtrField of items: the first `n` stay, the rest move into `rest`.
template <class Field>
void CutAfter(Field& items, int n, Field& rest) {
  for (int i = n; i < items.size(); ++i) rest.Add()->Swap(items.Mutable(i));
  items.DeleteSubrange(n, items.size() - n);
}

// Copies `src` into `dst` without the repeated field `field(src)` (which `dst` gets empty).
template <class Msg, class GetField>
void CopyWithout(Msg& src, Msg* dst, GetField field) {
  std::remove_reference_t<decltype(*field(&src))> saved;
  saved.Swap(field(&src));
  dst->CopyFrom(src);
  field(&src)->Swap(&saved);
}

// The resource → scope → items structure of traces and logs (and of metrics, at metric level).
// `resources(request)`, `scopes(resource)` and `items(scope)` return the mutable repeated fields.
template <class Request, class GetResources, class GetScopes, class GetItems>
void SplitTree(Request& front, Request& back, size_t n, GetResources resources, GetScopes scopes,
               GetItems items) {
  auto& rs_list = *resources(&front);
  size_t taken = 0;
  int r = 0;
  while (r < rs_list.size() && taken < n) {
    auto* rs = rs_list.Mutable(r);
    auto& ss_list = *scopes(rs);
    int s = 0;
    bool cut_inside = false;
    while (s < ss_list.size() && taken < n) {
      auto* ss = ss_list.Mutable(s);
      auto& its = *items(ss);
      if (taken + size_t(its.size()) <= n) {
        taken += size_t(its.size());
        ++s;
        continue;
      }
      // The cut falls inside this scope: the remainder goes under copies of resource and scope.
      int keep = int(n - taken);
      taken = n;
      auto* back_rs = resources(&back)->Add();
      CopyWithout(*rs, back_rs, scopes);
      auto* back_ss = scopes(back_rs)->Add();
      CopyWithout(*ss, back_ss, items);
      CutAfter(its, keep, *items(back_ss));
      ++s;
      cut_inside = true;
      break;
    }
    if (s < ss_list.size()) {
      // Scopes after the cut move whole, under a copy of the resource unless one was made.
      decltype(rs) back_rs;
      if (cut_inside) {
        back_rs = resources(&back)->Mutable(resources(&back)->size() - 1);
      } else {
        back_rs = resources(&back)->Add();
        CopyWithout(*rs, back_rs, scopes);
      }
      for (int t = s; t < ss_list.size(); ++t) scopes(back_rs)->Add()->Swap(ss_list.Mutable(t));
      ss_list.DeleteSubrange(s, ss_list.size() - s);
    }
    ++r;
  }
  // Whole resources after the cut.
  for (int t = r; t < rs_list.size(); ++t) resources(&back)->Add()->Swap(rs_list.Mutable(t));
  if (r < rs_list.size()) rs_list.DeleteSubrange(r, rs_list.size() - r);
}

// Moves the points of `m` after the first `keep` into `rest`, which becomes a copy of the metric
// without those first points.
void CutMetric(Metric& m, int keep, Metric& rest) {
  rest.CopyFrom(m);
  auto cut = [&](auto& mine, auto& theirs) {
    theirs.DeleteSubrange(0, keep);
    mine.DeleteSubrange(keep, mine.size() - keep);
  };
  switch (m.data_case()) {
    case Metric::kGauge:
      cut(*m.mutable_gauge()->mutable_data_points(), *rest.mutable_gauge()->mutable_data_points());
      break;
    case Metric::kSum:
      cut(*m.mutable_sum()->mutable_data_points(), *rest.mutable_sum()->mutable_data_points());
      break;
    case Metric::kHistogram:
      cut(*m.mutable_histogram()->mutable_data_points(),
          *rest.mutable_histogram()->mutable_data_points());
      break;
    case Metric::kExponentialHistogram:
      cut(*m.mutable_exponential_histogram()->mutable_data_points(),
          *rest.mutable_exponential_histogram()->mutable_data_points());
      break;
    case Metric::kSummary:
      cut(*m.mutable_summary()->mutable_data_points(),
          *rest.mutable_summary()->mutable_data_points());
      break;
    case Metric::DATA_NOT_SET: break;
  }
}

// Metrics: the items are data points, one level below the metric. Each metric of a scope is
// first cut so that the point at index n starts a metric; then the tree splits at metric level.
void SplitMetrics(MetricsRequest& front, MetricsRequest& back, size_t n) {
  size_t taken = 0;
  for (auto& rm : *front.mutable_resource_metrics()) {
    for (auto& sm : *rm.mutable_scope_metrics()) {
      auto& metrics = *sm.mutable_metrics();
      for (int i = 0; i < metrics.size(); ++i) {
        size_t points = DataPointCount(metrics.Get(i));
        if (taken < n && taken + points > n) {
          Metric rest;
          CutMetric(*metrics.Mutable(i), int(n - taken), rest);
          // Insert the rest right after the cut metric.
          metrics.Add()->Swap(&rest);
          for (int j = metrics.size() - 1; j > i + 1; --j) metrics.SwapElements(j, j - 1);
          points = DataPointCount(metrics.Get(i));
        }
        taken += points;
      }
    }
  }
  // Now every metric is wholly on one side of n: split the tree with metrics as the items, by
  // counting how many whole metrics make up the first n points.
  size_t metrics_before = 0, points = 0;
  for (const auto& rm : front.resource_metrics())
    for (const auto& sm : rm.scope_metrics())
      for (const auto& m : sm.metrics()) {
        if (points >= n) break;
        points += DataPointCount(m);
        ++metrics_before;
      }
  SplitTree(
      front, back, metrics_before, [](MetricsRequest* r) { return r->mutable_resource_metrics(); },
      [](auto* rm) { return rm->mutable_scope_metrics(); },
      [](auto* sm) { return sm->mutable_metrics(); });
}

}  // namespace

std::pair<Batch, Batch> SplitAt(const Payload& payload, size_t n) {
  Signal signal = payload.signal();
  auto front = Payload::NewRequest(signal);
  front->CopyFrom(payload.message());
  auto back = Payload::NewRequest(signal);
  switch (signal) {
    case Signal::kTraces:
      SplitTree(
          static_cast<TracesRequest&>(*front), static_cast<TracesRequest&>(*back), n,
          [](TracesRequest* r) { return r->mutable_resource_spans(); },
          [](auto* rs) { return rs->mutable_scope_spans(); },
          [](auto* ss) { return ss->mutable_spans(); });
      break;
    case Signal::kLogs:
      SplitTree(
          static_cast<LogsRequest&>(*front), static_cast<LogsRequest&>(*back), n,
          [](LogsRequest* r) { return r->mutable_resource_logs(); },
          [](auto* rl) { return rl->mutable_scope_logs(); },
          [](auto* sl) { return sl->mutable_log_records(); });
      break;
    case Signal::kMetrics:
      SplitMetrics(static_cast<MetricsRequest&>(*front), static_cast<MetricsRequest&>(*back), n);
      break;
  }
  auto metadata = payload.shared_metadata();
  return {std::make_shared<const Payload>(signal, std::move(front), std::string(), metadata),
          std::make_shared<const Payload>(signal, std::move(back), std::string(), metadata)};
}

}  // namespace otelite
