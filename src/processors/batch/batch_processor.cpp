// Processor `batch`: otelcol's batch processor on the shared batcher (batching/batcher.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "batching/batcher.h"
#include "components/registry.h"
#include "telemetry/self_telemetry.h"

namespace otelite::processors::batch {

struct Config : ComponentConfig {
  int64_t send_batch_size = 8192;
  config::Duration timeout = std::chrono::milliseconds(200);
  int64_t send_batch_max_size = 0;
  std::vector<std::string> metadata_keys;
  int64_t metadata_cardinality_limit = 1000;

  static const config::Schema<Config>& Schema() {
    static const auto s =
        config::Schema<Config>()
            .Field("send_batch_size", &Config::send_batch_size,
                   "items (spans, metric points, log records) at which a batch is sent without "
                   "waiting for the timeout; a trigger, not a size",
                   config::AtLeast(0))
            .Field("timeout", &Config::timeout,
                   "send a batch this long after its first item, whatever its size; 0 sends at once",
                   config::NonNegative())
            .Field("send_batch_max_size", &Config::send_batch_max_size,
                   "upper bound of a batch; larger ones are split; 0: no bound",
                   config::AtLeast(0))
            .Field("metadata_keys", &Config::metadata_keys,
                   "client metadata keys (receivers' include_metadata) to batch separately by")
            .Field("metadata_cardinality_limit", &Config::metadata_cardinality_limit,
                   "most distinct metadata value combinations; data beyond is refused",
                   config::AtLeast(1))
            .Check([](const Config& c, const config::Checker& check) {
              if (c.send_batch_max_size > 0 && c.send_batch_max_size < c.send_batch_size) {
                check.Error("send_batch_max_size",
                            "send_batch_max_size must be greater or equal to send_batch_size");
              }
              std::vector<std::string> seen;
              for (auto k : c.metadata_keys) {
                std::transform(k.begin(), k.end(), k.begin(), ::tolower);
                if (std::find(seen.begin(), seen.end(), k) != seen.end()) {
                  check.Error("metadata_keys", "duplicate entry in metadata_keys: " + k);
                }
                seen.push_back(k);
              }
            });
    return s;
  }
};

namespace {

// otelcol's buckets for otelcol_processor_batch_batch_send_size.
const std::vector<double> kSendSizeBuckets = {10,   25,   50,   75,    100,   250,   500,   750,
                                              1000, 2000, 3000, 4000,  5000,  6000,  7000,  8000,
                                              9000, 10000, 20000, 30000, 50000, 100000};

class BatchProcessor : public Processor {
 public:
  BatchProcessor(const CreateSettings& settings, const Config& config, Consumer& next)
      : logger_(settings.logger ? settings.logger : spdlog::default_logger()),
        next_(next),
        batcher_(MakeOptions(config),
                 [this](Batch batch, std::vector<batching::Done>& done) {
                   Status s = next_.Consume(std::move(batch));
                   if (s.ok()) {
                     for (auto& d : done) d(s);
                   }
                   return s;
                 },
                 MakeHooks(settings)) {}

  // Refusals (full, or past the metadata cardinality limit) go back to the receiver, which
  // counts them and tells the client.
  Status Consume(Batch batch) noexcept override { return batcher_.Add({std::move(batch), nullptr}); }
  std::string Start(Host&) override {
    batcher_.Start();
    return {};
  }
  void Shutdown(Deadline deadline) override { batcher_.Shutdown(deadline); }

 private:
  static batching::Options MakeOptions(const Config& c) {
    batching::Options o;
    o.min_size = size_t(c.send_batch_size);
    o.max_size = size_t(c.send_batch_max_size);
    o.timeout = c.timeout;
    for (auto k : c.metadata_keys) {
      std::transform(k.begin(), k.end(), k.begin(), ::tolower);
      o.metadata_keys.push_back(k);
    }
    o.metadata_cardinality_limit = size_t(c.metadata_cardinality_limit);
    return o;
  }

  batching::Hooks MakeHooks(const CreateSettings& settings) {
    batching::Hooks h;
    SelfTelemetry* t = settings.telemetry;
    if (t != nullptr) {
      SelfTelemetry::Labels labels{{"processor", settings.id.str()}};
      send_size_ = t->Histogram("otelcol_processor_batch_batch_send_size",
                                "Number of units in the batch", labels, kSendSizeBuckets);
      size_trigger_ = t->Counter("otelcol_processor_batch_batch_size_trigger_send_total",
                                 "Number of times the batch was sent due to a size trigger",
                                 labels);
      timeout_trigger_ = t->Counter("otelcol_processor_batch_timeout_trigger_send_total",
                                    "Number of times the batch was sent due to a timeout trigger",
                                    labels);
      cardinality_ = t->Gauge("otelcol_processor_batch_metadata_cardinality",
                              "Number of distinct metadata value combinations being processed",
                              labels);
      dropped_ = t->SignalCounters("otelcol_processor_dropped",
                                   "Items the processor had accepted and could not hand on",
                                   labels);
    }
    h.on_send = [this](size_t items, size_t, batching::Trigger trigger) {
      Observe(send_size_, double(items));
      Add(trigger == batching::Trigger::kSize ? size_trigger_ : timeout_trigger_, 1);
    };
    h.on_drop = [this](Signal signal, size_t items, const Status& why) {
      Add(dropped_[size_t(signal)], double(items));
      logger_->error("dropped {} {} held by the batch processor: {}", items,
                     SignalItemName(signal), why.message());
    };
    h.on_partitions = [this](size_t n) { Set(cardinality_, double(n)); };
    return h;
  }

  std::shared_ptr<spdlog::logger> logger_;
  Consumer& next_;
  prometheus::Histogram* send_size_ = nullptr;
  prometheus::Counter* size_trigger_ = nullptr;
  prometheus::Counter* timeout_trigger_ = nullptr;
  prometheus::Gauge* cardinality_ = nullptr;
  std::array<prometheus::Counter*, kSignalCount> dropped_{};
  batching::Batcher batcher_;  // last: its thread uses the members above
};

class Factory : public TypedFactory<ProcessorFactory, Config> {
 public:
  std::string_view type() const override { return "batch"; }
  std::string_view description() const override {
    return "groups data into batches by size and time (lock-free intake, no re-encoding)";
  }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<Processor> Create(const CreateSettings& settings, const ComponentConfig& config,
                                    Signal, Consumer& next) const override {
    return std::make_unique<BatchProcessor>(settings, Cast(config), next);
  }
};

}  // namespace

void Register(Registry& registry) { registry.Add(std::make_unique<Factory>()); }

}  // namespace otelite::processors::batch
