#include "exporters/prometheus/metric_store.h"

#include <algorithm>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "pdata/any_value.h"
#include "pdata/otlp_json.h"

namespace otelite::exporters::prometheus {

namespace pb {
namespace common = opentelemetry::proto::common::v1;
namespace metrics = opentelemetry::proto::metrics::v1;
}  // namespace pb

namespace {

constexpr uint32_t kNoRecordedValue = 1;

Attrs ToAttrs(const google::protobuf::RepeatedPtrField<pb::common::KeyValue>& kvs) {
  Attrs out;
  out.reserve(kvs.size());
  for (const auto& kv : kvs) out.emplace_back(kv.key(), AttributeString(kv.value()));
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // A key given twice keeps its last value.
  Attrs dedup;
  for (auto& kv : out) {
    if (!dedup.empty() && dedup.back().first == kv.first) {
      dedup.back().second = std::move(kv.second);
    } else {
      dedup.push_back(std::move(kv));
    }
  }
  return dedup;
}

const std::string* Find(const Attrs& attrs, std::string_view key) {
  auto it = std::lower_bound(attrs.begin(), attrs.end(), key,
                             [](const auto& kv, std::string_view k) { return kv.first < k; });
  return it != attrs.end() && it->first == key ? &it->second : nullptr;
}

void AppendAttrs(std::string& key, const Attrs& attrs) {
  for (const auto& [k, v] : attrs) {
    key += k;
    key.push_back('\x1e');
    key += v;
    key.push_back('\x1f');
  }
  key.push_back('\x1d');
}

std::vector<Exemplar> ToExemplars(
    const google::protobuf::RepeatedPtrField<pb::metrics::Exemplar>& in) {
  std::vector<Exemplar> out;
  for (const auto& e : in) {
    Exemplar x;
    x.value = e.value_case() == pb::metrics::Exemplar::kAsInt ? double(e.as_int()) : e.as_double();
    x.time_unix_nano = e.time_unix_nano();
    if (!e.trace_id().empty()) x.trace_id = HexId(e.trace_id());
    if (!e.span_id().empty()) x.span_id = HexId(e.span_id());
    out.push_back(std::move(x));
  }
  return out;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Buckets re-expressed at a coarser scale (each 2^(from-to) neighbours merged).
ExponentialBuckets Downscale(const ExponentialBuckets& b, int32_t from, int32_t to) {
  if (b.counts.empty() || from <= to) return b;
  int64_t factor = int64_t(1) << std::min(from - to, 62);
  ExponentialBuckets out;
  int64_t first = FloorDiv(b.offset, factor);
  int64_t last = FloorDiv(int64_t(b.offset) + int64_t(b.counts.size()) - 1, factor);
  out.offset = int32_t(first);
  out.counts.assign(size_t(last - first + 1), 0);
  for (size_t i = 0; i < b.counts.size(); ++i) {
    out.counts[size_t(FloorDiv(int64_t(b.offset) + int64_t(i), factor) - first)] += b.counts[i];
  }
  return out;
}

ExponentialBuckets Merge(const ExponentialBuckets& a, const ExponentialBuckets& b) {
  if (a.counts.empty()) return b;
  if (b.counts.empty()) return a;
  int64_t first = std::min(a.offset, b.offset);
  int64_t last = std::max(int64_t(a.offset) + int64_t(a.counts.size()),
                          int64_t(b.offset) + int64_t(b.counts.size()));
  ExponentialBuckets out;
  out.offset = int32_t(first);
  out.counts.assign(size_t(last - first), 0);
  for (size_t i = 0; i < a.counts.size(); ++i) out.counts[size_t(a.offset - first) + i] += a.counts[i];
  for (size_t i = 0; i < b.counts.size(); ++i) out.counts[size_t(b.offset - first) + i] += b.counts[i];
  return out;
}

// Adds the older accumulated point `prev` into the newer delta point `cur`.
void AccumulateHistogram(const Series& prev, Series& cur) {
  cur.start_time_unix_nano = prev.start_time_unix_nano;
  if (prev.bounds != cur.bounds || prev.bucket_counts.size() != cur.bucket_counts.size()) {
    return;  // bucket layout changed: the newer point alone
  }
  cur.count += prev.count;
  cur.sum += prev.sum;
  for (size_t i = 0; i < cur.bucket_counts.size(); ++i) cur.bucket_counts[i] += prev.bucket_counts[i];
}

void AccumulateExponential(const Series& prev, Series& cur) {
  cur.start_time_unix_nano = prev.start_time_unix_nano;
  int32_t scale = std::min(prev.scale, cur.scale);
  cur.positive = Merge(Downscale(prev.positive, prev.scale, scale),
                       Downscale(cur.positive, cur.scale, scale));
  cur.negative = Merge(Downscale(prev.negative, prev.scale, scale),
                       Downscale(cur.negative, cur.scale, scale));
  cur.scale = scale;
  cur.zero_count += prev.zero_count;
  cur.zero_threshold = std::max(cur.zero_threshold, prev.zero_threshold);
  cur.count += prev.count;
  cur.sum += prev.sum;
}

}  // namespace

std::string AttributeString(const pb::common::AnyValue& v) { return AnyValueAsString(v); }

std::string ResourceJob(const Attrs& resource) {
  const std::string* name = Find(resource, "service.name");
  if (name == nullptr) return {};
  const std::string* ns = Find(resource, "service.namespace");
  return ns != nullptr ? *ns + "/" + *name : *name;
}

std::string ResourceInstance(const Attrs& resource) {
  const std::string* id = Find(resource, "service.instance.id");
  return id != nullptr ? *id : std::string();
}

size_t MetricStore::Accumulate(const MetricsRequest& request, StoreClock::time_point now) {
  size_t taken = 0;
  std::lock_guard lock(mu_);
  for (const auto& rm : request.resource_metrics()) {
    auto resource = std::make_shared<const Attrs>(ToAttrs(rm.resource().attributes()));
    std::string job = ResourceJob(*resource), instance = ResourceInstance(*resource);
    for (const auto& sm : rm.scope_metrics()) {
      Attrs scope_attrs = ToAttrs(sm.scope().attributes());
      for (const auto& m : sm.metrics()) {
        Series base;
        base.name = m.name();
        base.description = m.description();
        base.unit = m.unit();
        base.scope_name = sm.scope().name();
        base.scope_version = sm.scope().version();
        base.scope_schema_url = sm.schema_url();
        base.scope_attrs = scope_attrs;
        base.resource = resource;
        base.updated = now;
        bool delta = false;
        switch (m.data_case()) {
          case pb::metrics::Metric::kGauge: base.kind = MetricKind::kGauge; break;
          case pb::metrics::Metric::kSum: {
            auto t = m.sum().aggregation_temporality();
            if (t == pb::metrics::AGGREGATION_TEMPORALITY_UNSPECIFIED) continue;
            base.kind = MetricKind::kSum;
            base.monotonic = m.sum().is_monotonic();
            delta = t == pb::metrics::AGGREGATION_TEMPORALITY_DELTA;
            break;
          }
          case pb::metrics::Metric::kHistogram: {
            auto t = m.histogram().aggregation_temporality();
            if (t == pb::metrics::AGGREGATION_TEMPORALITY_UNSPECIFIED) continue;
            base.kind = MetricKind::kHistogram;
            delta = t == pb::metrics::AGGREGATION_TEMPORALITY_DELTA;
            break;
          }
          case pb::metrics::Metric::kExponentialHistogram: {
            auto t = m.exponential_histogram().aggregation_temporality();
            if (t == pb::metrics::AGGREGATION_TEMPORALITY_UNSPECIFIED) continue;
            base.kind = MetricKind::kExponentialHistogram;
            delta = t == pb::metrics::AGGREGATION_TEMPORALITY_DELTA;
            break;
          }
          case pb::metrics::Metric::kSummary: base.kind = MetricKind::kSummary; break;
          default: continue;
        }
        // The key of a series: metric, scope, point attributes, job and instance.
        std::string prefix = base.name;
        prefix.push_back('\x1d');
        prefix += std::to_string(int(base.kind));
        for (const std::string* s : {&base.scope_name, &base.scope_version,
                                     &base.scope_schema_url, &job, &instance}) {
          prefix.push_back('\x1d');
          prefix += *s;
        }
        prefix.push_back('\x1d');
        AppendAttrs(prefix, scope_attrs);

        auto point = [&](const auto& dp, Series& s) -> std::string {
          s.attrs = ToAttrs(dp.attributes());
          s.start_time_unix_nano = dp.start_time_unix_nano();
          s.time_unix_nano = dp.time_unix_nano();
          std::string key = prefix;
          AppendAttrs(key, s.attrs);
          if (dp.flags() & kNoRecordedValue) {
            series_.erase(key);
            return {};
          }
          return key;
        };
        auto take = [&](std::string key, Series&& s) {
          if (!key.empty() && Apply(key, std::move(s), delta)) ++taken;
        };

        switch (m.data_case()) {
          case pb::metrics::Metric::kGauge:
          case pb::metrics::Metric::kSum: {
            const auto& dps = m.data_case() == pb::metrics::Metric::kGauge
                                  ? m.gauge().data_points() : m.sum().data_points();
            for (const auto& dp : dps) {
              Series s = base;
              std::string key = point(dp, s);
              s.value = dp.value_case() == pb::metrics::NumberDataPoint::kAsInt
                            ? double(dp.as_int()) : dp.as_double();
              s.exemplars = ToExemplars(dp.exemplars());
              take(std::move(key), std::move(s));
            }
            break;
          }
          case pb::metrics::Metric::kHistogram:
            for (const auto& dp : m.histogram().data_points()) {
              Series s = base;
              std::string key = point(dp, s);
              s.count = dp.count();
              s.sum = dp.sum();
              s.bounds.assign(dp.explicit_bounds().begin(), dp.explicit_bounds().end());
              s.bucket_counts.assign(dp.bucket_counts().begin(), dp.bucket_counts().end());
              s.exemplars = ToExemplars(dp.exemplars());
              take(std::move(key), std::move(s));
            }
            break;
          case pb::metrics::Metric::kExponentialHistogram:
            for (const auto& dp : m.exponential_histogram().data_points()) {
              Series s = base;
              std::string key = point(dp, s);
              s.count = dp.count();
              s.sum = dp.sum();
              s.scale = dp.scale();
              s.zero_count = dp.zero_count();
              s.zero_threshold = dp.zero_threshold();
              s.positive.offset = dp.positive().offset();
              s.positive.counts.assign(dp.positive().bucket_counts().begin(),
                                       dp.positive().bucket_counts().end());
              s.negative.offset = dp.negative().offset();
              s.negative.counts.assign(dp.negative().bucket_counts().begin(),
                                       dp.negative().bucket_counts().end());
              s.exemplars = ToExemplars(dp.exemplars());
              take(std::move(key), std::move(s));
            }
            break;
          case pb::metrics::Metric::kSummary:
            for (const auto& dp : m.summary().data_points()) {
              Series s = base;
              std::string key = point(dp, s);
              s.count = dp.count();
              s.sum = dp.sum();
              for (const auto& q : dp.quantile_values()) s.quantiles.emplace_back(q.quantile(), q.value());
              take(std::move(key), std::move(s));
            }
            break;
          default: break;
        }
      }
    }
  }
  return taken;
}

bool MetricStore::Apply(const std::string& key, Series&& cur, bool delta) {
  auto it = series_.find(key);
  if (it == series_.end()) {
    series_.emplace(key, std::move(cur));
    return true;
  }
  Series& prev = it->second;
  switch (cur.kind) {
    case MetricKind::kGauge:
    case MetricKind::kSummary:
      if (cur.time_unix_nano < prev.time_unix_nano) return false;
      break;
    case MetricKind::kSum:
      if (cur.time_unix_nano < prev.time_unix_nano) return false;
      // A delta that continues where the stored point ended adds to it; any other delta starts
      // the series again.
      if (delta && cur.start_time_unix_nano == prev.time_unix_nano) {
        cur.start_time_unix_nano = prev.start_time_unix_nano;
        cur.value += prev.value;
      }
      break;
    case MetricKind::kHistogram:
    case MetricKind::kExponentialHistogram:
      if (delta) {
        if (cur.start_time_unix_nano != prev.time_unix_nano) {
          // Overlapping the stored range: a second writer or a replay, dropped. Later: a reset.
          if (cur.start_time_unix_nano <= prev.time_unix_nano) return false;
        } else if (cur.kind == MetricKind::kHistogram) {
          AccumulateHistogram(prev, cur);
        } else {
          AccumulateExponential(prev, cur);
        }
      } else if (cur.time_unix_nano < prev.time_unix_nano) {
        return false;
      }
      break;
  }
  if (cur.exemplars.empty()) cur.exemplars = std::move(prev.exemplars);
  prev = std::move(cur);
  return true;
}

std::vector<Series> MetricStore::Collect(StoreClock::time_point now) {
  std::vector<Series> out;
  std::lock_guard lock(mu_);
  out.reserve(series_.size());
  for (auto it = series_.begin(); it != series_.end();) {
    if (now - it->second.updated > expiration_) {
      it = series_.erase(it);
    } else {
      out.push_back(it->second);
      ++it;
    }
  }
  return out;
}

size_t MetricStore::size() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

}  // namespace otelite::exporters::prometheus
