#include <spdlog/spdlog.h>

#include "components/registry.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "pdata/otlp_json.h"

namespace otelite::exporters::debug {

inline constexpr char kType[] = "debug";

struct Config : ComponentConfig {
  std::string verbosity = "basic";
  int64_t sampling_initial = 2;
  int64_t sampling_thereafter = 1;
  static const config::Schema<Config>& Schema() {
    static const auto s = config::Schema<Config>()
        .Field("verbosity", &Config::verbosity,
               "basic: a summary per batch; normal: a line per item; detailed: every field",
               config::OneOf({"basic", "normal", "detailed"}))
        .Field("sampling_initial", &Config::sampling_initial,
               "batches logged each second before sampling starts", config::AtLeast(1))
        .Field("sampling_thereafter", &Config::sampling_thereafter,
               "then one batch in this many is logged", config::AtLeast(1));
    return s;
  }
};

namespace {

class DebugExporter : public Exporter {
 public:
  DebugExporter(const CreateSettings& settings, const Config& config)
      : logger_(settings.logger ? settings.logger : spdlog::default_logger()), config_(config) {}

  std::string Start(Host&) override { return {}; }
  void Shutdown(Deadline) override {}

  Status Push(const Payload& p) noexcept override {
    if (!Sampled()) return Status::Ok();
    switch (p.signal()) {
      case Signal::kTraces:
        logger_->info("Traces: {} resource spans, {} spans", p.traces().resource_spans_size(),
                      p.item_count());
        break;
      case Signal::kMetrics:
        logger_->info("Metrics: {} resource metrics, {} data points",
                      p.metrics().resource_metrics_size(), p.item_count());
        break;
      case Signal::kLogs:
        logger_->info("Logs: {} resource logs, {} log records", p.logs().resource_logs_size(),
                      p.item_count());
        break;
    }
    if (config_.verbosity == "normal") LogItems(p);
    if (config_.verbosity == "detailed") {
      std::string json;
      std::string err = EncodeOtlpJson(p.message(), &json);
      logger_->info("{}", err.empty() ? json : err);
    }
    return Status::Ok();
  }

 private:
  // otelcol's sampling: the first `sampling_initial` batches of each second, then every
  // `sampling_thereafter`-th.
  bool Sampled() {
    auto second = std::chrono::duration_cast<std::chrono::seconds>(
                      Clock::now().time_since_epoch()).count();
    std::lock_guard lock(mu_);
    if (second != window_) {
      window_ = second;
      count_ = 0;
    }
    ++count_;
    if (count_ <= config_.sampling_initial) return true;
    return (count_ - config_.sampling_initial) % config_.sampling_thereafter == 0;
  }

  void LogItems(const Payload& p) {
    switch (p.signal()) {
      case Signal::kTraces:
        for (const auto& rs : p.traces().resource_spans())
          for (const auto& ss : rs.scope_spans())
            for (const auto& span : ss.spans())
              logger_->info("{} {} {} parent={}", span.name(), HexId(span.trace_id()),
                            HexId(span.span_id()), HexId(span.parent_span_id()));
        break;
      case Signal::kMetrics:
        for (const auto& rm : p.metrics().resource_metrics())
          for (const auto& sm : rm.scope_metrics())
            for (const auto& m : sm.metrics()) logger_->info("{} {}", m.name(), m.unit());
        break;
      case Signal::kLogs:
        for (const auto& rl : p.logs().resource_logs())
          for (const auto& sl : rl.scope_logs())
            for (const auto& r : sl.log_records())
              logger_->info("{} {} {}", r.severity_text(), r.body().string_value(),
                            HexId(r.trace_id()));
        break;
    }
  }

  std::shared_ptr<spdlog::logger> logger_;
  Config config_;
  std::mutex mu_;
  int64_t window_ = 0;
  int64_t count_ = 0;
};

class Factory : public TypedFactory<ExporterFactory, Config> {
 public:
  std::string_view type() const override { return kType; }
  std::string_view description() const override {
    return "prints what it receives through otelite's logger";
  }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<Exporter> Create(const CreateSettings& settings, const ComponentConfig& config,
                                   SignalSet) const override {
    return std::make_unique<DebugExporter>(settings, Cast(config));
  }
};

}  // namespace

void Register(Registry& registry) { registry.Add(std::make_unique<Factory>()); }

}  // namespace otelite::exporters::debug
