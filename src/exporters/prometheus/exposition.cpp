#include "exporters/prometheus/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

namespace otelite::exporters::prometheus {

namespace {

using ::prometheus::ClientMetric;
using ::prometheus::MetricType;

constexpr char kTargetInfo[] = "target_info";
constexpr char kTargetInfoHelp[] = "Target metadata";

using LabelMap = std::map<std::string, std::string>;

void AddJoined(LabelMap& labels, const std::string& name, const std::string& value) {
  if (name.empty()) return;
  auto [it, inserted] = labels.emplace(name, value);
  if (!inserted) it->second += ";" + value;
}

std::vector<ClientMetric::Label> ToLabels(const LabelMap& labels, bool utf8_allowed) {
  std::vector<ClientMetric::Label> out;
  for (const auto& [k, v] : labels) {
    if (v.empty()) continue;  // an empty label is no label to Prometheus
    out.push_back({utf8_allowed ? EscapeLabelName(k) : k, v});
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ClientMetric::Label> SeriesLabels(const Series& s, const ExpositionOptions& o) {
  bool utf8 = o.naming.utf8_allowed;
  LabelMap labels;
  for (const auto& [k, v] : s.attrs) AddJoined(labels, BuildLabelName(k, utf8), v);
  if (o.resource_label && s.resource) {
    for (const auto& [k, v] : *s.resource) {
      if (!o.resource_label(k)) continue;
      std::string name = BuildLabelName(k, utf8);
      if (!name.empty()) labels.emplace(name, v);  // a point attribute of that name wins
    }
  }
  if (!o.without_scope_info) {
    for (const auto& [k, v] : s.scope_attrs) labels[BuildLabelName("otel_scope_" + k, utf8)] = v;
    labels["otel_scope_name"] = s.scope_name;
    labels["otel_scope_version"] = s.scope_version;
    labels["otel_scope_schema_url"] = s.scope_schema_url;
  }
  if (s.resource) {
    if (std::string job = ResourceJob(*s.resource); !job.empty()) labels["job"] = job;
    if (std::string inst = ResourceInstance(*s.resource); !inst.empty()) labels["instance"] = inst;
  }
  for (const auto& [k, v] : o.const_labels) labels[k] = v;
  return ToLabels(labels, utf8);
}

NameType NameTypeOf(const Series& s) {
  switch (s.kind) {
    case MetricKind::kGauge: return NameType::kGauge;
    case MetricKind::kSum:
      return s.monotonic ? NameType::kMonotonicCounter : NameType::kNonMonotonicCounter;
    case MetricKind::kHistogram: return NameType::kHistogram;
    case MetricKind::kExponentialHistogram: return NameType::kExponentialHistogram;
    case MetricKind::kSummary: return NameType::kSummary;
  }
  return NameType::kGauge;
}

MetricType TypeOf(const Series& s) {
  switch (s.kind) {
    case MetricKind::kGauge: return MetricType::Gauge;
    case MetricKind::kSum: return s.monotonic ? MetricType::Counter : MetricType::Gauge;
    case MetricKind::kHistogram:
    case MetricKind::kExponentialHistogram: return MetricType::Histogram;
    case MetricKind::kSummary: return MetricType::Summary;
  }
  return MetricType::Untyped;
}

double BucketBound(int64_t index, int32_t scale) {
  return std::exp2(std::ldexp(double(index), -scale));
}

// The bucket an exemplar belongs to: the first whose bound is at least its value.
size_t BucketOf(const std::vector<ClientMetric::Bucket>& buckets, double value) {
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (value <= buckets[i].upper_bound) return i;
  }
  return buckets.empty() ? 0 : buckets.size() - 1;
}

struct Built {
  ClientMetric metric;
  std::vector<std::optional<Exemplar>> exemplars;
};

Built BuildMetric(const Series& s, const ExpositionOptions& o) {
  Built b;
  ClientMetric& m = b.metric;
  m.label = SeriesLabels(s, o);
  if (o.send_timestamps) m.timestamp_ms = int64_t(s.time_unix_nano / 1000000);
  switch (TypeOf(s)) {
    case MetricType::Counter:
      m.counter.value = s.value;
      b.exemplars.resize(1);
      if (!s.exemplars.empty()) b.exemplars[0] = s.exemplars.back();
      break;
    case MetricType::Gauge: m.gauge.value = s.value; break;
    case MetricType::Summary:
      m.summary.sample_count = s.count;
      m.summary.sample_sum = s.sum;
      for (const auto& [q, v] : s.quantiles) m.summary.quantile.push_back({q, v});
      break;
    case MetricType::Histogram: {
      m.histogram.sample_count = s.count;
      m.histogram.sample_sum = s.sum;
      if (s.kind == MetricKind::kHistogram) {
        uint64_t cumulative = 0;
        for (size_t i = 0; i < s.bounds.size(); ++i) {
          if (i < s.bucket_counts.size()) cumulative += s.bucket_counts[i];
          m.histogram.bucket.push_back({cumulative, s.bounds[i]});
        }
        m.histogram.bucket.push_back({s.count, std::numeric_limits<double>::infinity()});
      } else {
        for (const auto& [bound, count] : ExponentialToCumulative(s)) {
          m.histogram.bucket.push_back({count, bound});
        }
      }
      b.exemplars.resize(m.histogram.bucket.size());
      for (const auto& e : s.exemplars) b.exemplars[BucketOf(m.histogram.bucket, e.value)] = e;
      break;
    }
    case MetricType::Untyped: break;
  }
  return b;
}

// The target_info series of each resource that has both job and instance.
void AddTargetInfo(const std::vector<Series>& series, const ExpositionOptions& o,
                   std::map<std::string, Family>& families) {
  std::set<std::pair<std::string, std::string>> seen;
  std::string name = kTargetInfo;
  if (!o.naming.namespace_.empty()) name = o.naming.namespace_ + "_" + name;
  for (const auto& s : series) {
    if (!s.resource) continue;
    std::string job = ResourceJob(*s.resource), instance = ResourceInstance(*s.resource);
    if (job.empty() || instance.empty() || !seen.emplace(job, instance).second) continue;
    LabelMap labels;
    for (const auto& [k, v] : *s.resource) {
      if (k == "service.name" || k == "service.namespace" || k == "service.instance.id") continue;
      AddJoined(labels, BuildLabelName(k, o.naming.utf8_allowed), v);
    }
    labels["job"] = job;
    labels["instance"] = instance;
    Family& f = families[name];
    if (f.family.name.empty()) {
      f.family.name = name;
      f.family.help = kTargetInfoHelp;
      f.family.type = MetricType::Gauge;
    }
    ClientMetric m;
    m.label = ToLabels(labels, o.naming.utf8_allowed);
    m.gauge.value = 1;
    f.family.metric.push_back(std::move(m));
    f.exemplars.emplace_back();
  }
}

// Escapes \ and newlines, and " too in label values.
std::string Escape(std::string_view s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out.push_back(c);
  }
  return out;
}

// The two formats differ in float spelling, timestamps, counter names and exemplars.
struct Writer {
  bool open_metrics;
  std::string out;

  // OpenMetrics spells integral floats with ".0" (as client_golang does).
  std::string Float(double v) const {
    std::string s = FormatGoFloat(v);
    if (open_metrics && std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  }

  void Labels(const std::vector<ClientMetric::Label>& labels, const char* extra_name,
              const std::string& extra_value) {
    if (labels.empty() && extra_name == nullptr) return;
    out.push_back('{');
    bool first = true;
    for (const auto& l : labels) {
      if (!first) out.push_back(',');
      first = false;
      out += l.name + "=\"" + Escape(l.value, true) + "\"";
    }
    if (extra_name != nullptr) {
      if (!first) out.push_back(',');
      out += std::string(extra_name) + "=\"" + extra_value + "\"";
    }
    out.push_back('}');
  }

  void ExemplarOf(const std::optional<Exemplar>& e) {
    if (!open_metrics || !e) return;
    out += " # {";
    bool first = true;
    if (!e->span_id.empty()) {
      out += "span_id=\"" + e->span_id + "\"";
      first = false;
    }
    if (!e->trace_id.empty()) {
      out += std::string(first ? "" : ",") + "trace_id=\"" + e->trace_id + "\"";
    }
    out += "} " + Float(e->value);
    if (e->time_unix_nano != 0) {
      out += " " + FormatGoFloat(double(e->time_unix_nano / 1000000) / 1000.0);
    }
  }

  void Sample(const std::string& name, const ClientMetric& m, const std::string& value,
              const char* extra_name = nullptr, const std::string& extra_value = {},
              const std::optional<Exemplar>& exemplar = std::nullopt) {
    out += name;
    Labels(m.label, extra_name, extra_value);
    out += " " + value;
    if (m.timestamp_ms != 0) {
      out += " " + (open_metrics ? FormatGoFloat(double(m.timestamp_ms) / 1000.0)
                                 : std::to_string(m.timestamp_ms));
    }
    ExemplarOf(exemplar);
    out.push_back('\n');
  }

  void Write(const Family& f) {
    const auto& mf = f.family;
    std::string base = mf.name;
    // OpenMetrics names a counter family without _total and its sample with it.
    if (open_metrics && mf.type == MetricType::Counter && base.size() > 6 &&
        base.ends_with("_total")) {
      base.resize(base.size() - 6);
    }
    if (!mf.help.empty()) out += "# HELP " + base + " " + Escape(mf.help, open_metrics) + "\n";
    out += "# TYPE " + base + " " + TypeName(mf.type) + "\n";
    for (size_t i = 0; i < mf.metric.size(); ++i) {
      const ClientMetric& m = mf.metric[i];
      const auto& ex = f.exemplars[i];
      switch (mf.type) {
        case MetricType::Counter:
          Sample(open_metrics ? base + "_total" : base, m, Float(m.counter.value), nullptr, {},
                 ex.empty() ? std::nullopt : ex[0]);
          break;
        case MetricType::Gauge: Sample(base, m, Float(m.gauge.value)); break;
        case MetricType::Untyped: Sample(base, m, Float(m.untyped.value)); break;
        case MetricType::Summary:
          for (const auto& q : m.summary.quantile) {
            Sample(base, m, Float(q.value), "quantile", Float(q.quantile));
          }
          Sample(base + "_sum", m, Float(m.summary.sample_sum));
          Sample(base + "_count", m, std::to_string(m.summary.sample_count));
          break;
        case MetricType::Histogram:
          for (size_t b = 0; b < m.histogram.bucket.size(); ++b) {
            const auto& bucket = m.histogram.bucket[b];
            Sample(base + "_bucket", m, std::to_string(bucket.cumulative_count), "le",
                   Float(bucket.upper_bound), b < ex.size() ? ex[b] : std::nullopt);
          }
          Sample(base + "_sum", m, Float(m.histogram.sample_sum));
          Sample(base + "_count", m, std::to_string(m.histogram.sample_count));
          break;
      }
    }
  }

  std::string TypeName(MetricType t) const {
    switch (t) {
      case MetricType::Counter: return "counter";
      case MetricType::Gauge: return "gauge";
      case MetricType::Summary: return "summary";
      case MetricType::Histogram: return "histogram";
      case MetricType::Untyped: return open_metrics ? "unknown" : "untyped";
    }
    return "untyped";
  }
};

}  // namespace

std::string FormatGoFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char sci[64];
  auto r = std::to_chars(sci, sci + sizeof(sci), v, std::chars_format::scientific);
  std::string_view s(sci, size_t(r.ptr - sci));
  auto e = s.find('e');
  int exp = 0;
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  // strconv's shortest 'g' uses the exponent form below 1e-4 and from 1e+06 on.
  if (exp < -4 || exp >= 6) return std::string(s);
  char fix[64];
  auto f = std::to_chars(fix, fix + sizeof(fix), v, std::chars_format::fixed);
  return std::string(fix, size_t(f.ptr - fix));
}

std::vector<std::pair<double, uint64_t>> ExponentialToCumulative(const Series& s) {
  std::vector<std::pair<double, uint64_t>> buckets;  // (upper bound, count in bucket)
  // Negative bucket i holds values in [-base^(i+1), -base^i): its upper bound is -base^i.
  for (size_t j = 0; j < s.negative.counts.size(); ++j) {
    buckets.emplace_back(-BucketBound(int64_t(s.negative.offset) + int64_t(j), s.scale),
                         s.negative.counts[j]);
  }
  buckets.emplace_back(s.zero_threshold, s.zero_count);
  // Positive bucket i holds values in (base^i, base^(i+1)].
  for (size_t j = 0; j < s.positive.counts.size(); ++j) {
    buckets.emplace_back(BucketBound(int64_t(s.positive.offset) + int64_t(j) + 1, s.scale),
                         s.positive.counts[j]);
  }
  std::stable_sort(buckets.begin(), buckets.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<double, uint64_t>> out;
  uint64_t cumulative = 0;
  for (const auto& [bound, count] : buckets) {
    cumulative += count;
    if (!out.empty() && out.back().first == bound) {
      out.back().second = cumulative;
    } else {
      out.emplace_back(bound, cumulative);
    }
  }
  out.emplace_back(std::numeric_limits<double>::infinity(), std::max(s.count, cumulative));
  return out;
}

std::vector<Family> BuildFamilies(const std::vector<Series>& series,
                                  const ExpositionOptions& options, size_t* dropped) {
  std::map<std::string, Family> families;
  size_t lost = 0;
  AddTargetInfo(series, options, families);
  for (const auto& s : series) {
    std::string name = BuildMetricName(s.name, s.unit, NameTypeOf(s), options.naming);
    if (options.naming.utf8_allowed) name = EscapeMetricName(name);
    if (name.empty()) {
      ++lost;
      continue;
    }
    MetricType type = TypeOf(s);
    auto [it, inserted] = families.try_emplace(name);
    Family& f = it->second;
    if (inserted) {
      f.family.name = name;
      f.family.help = s.description;
      f.family.type = type;
    } else if (f.family.type != type) {
      ++lost;  // otelcol: "instrument type conflict", the later one is dropped
      continue;
    }
    Built b = BuildMetric(s, options);
    f.family.metric.push_back(std::move(b.metric));
    f.exemplars.push_back(std::move(b.exemplars));
  }
  std::vector<Family> out;
  out.reserve(families.size());
  for (auto& [name, f] : families) {
    // Sort the metrics by labels and drop repeats of the same labels (the first one stays).
    std::vector<size_t> order(f.family.metric.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return f.family.metric[a].label < f.family.metric[b].label;
    });
    Family sorted;
    sorted.family.name = f.family.name;
    sorted.family.help = f.family.help;
    sorted.family.type = f.family.type;
    for (size_t i : order) {
      if (!sorted.family.metric.empty() &&
          sorted.family.metric.back().label == f.family.metric[i].label) {
        ++lost;
        continue;
      }
      sorted.family.metric.push_back(std::move(f.family.metric[i]));
      sorted.exemplars.push_back(std::move(f.exemplars[i]));
    }
    out.push_back(std::move(sorted));
  }
  if (dropped != nullptr) *dropped = lost;
  return out;
}

std::string SerializeText(const std::vector<Family>& families) {
  Writer w{false, {}};
  for (const auto& f : families) w.Write(f);
  return std::move(w.out);
}

std::string SerializeOpenMetrics(const std::vector<Family>& families) {
  Writer w{true, {}};
  for (const auto& f : families) w.Write(f);
  w.out += "# EOF\n";
  return std::move(w.out);
}

std::vector<::prometheus::MetricFamily> StoreCollectable::Collect() const {
  std::vector<::prometheus::MetricFamily> out;
  for (auto& f : CollectFamilies()) out.push_back(std::move(f.family));
  return out;
}

std::vector<Family> StoreCollectable::CollectFamilies() const {
  return BuildFamilies(store_.Collect(StoreClock::now()), options_);
}

}  // namespace otelite::exporters::prometheus
