// Processor `memory_limiter`: refuses data, retryably and with a throttle hint, before the
// process passes its memory limit. Two measures, both against the soft limit (limit - spike):
//  - exactly: the bytes every live payload holds (MemoryBudget), checked on every batch and by
//    the receivers before they read a body;
//  - the process RSS, read every check_interval (glibc's free memory is returned with
//    malloc_trim when it is above the soft limit, as otelcol forces a GC).
#include <malloc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "components/registry.h"
#include "core/memory_budget.h"
#include "processors/memory_limiter/limits.h"
#include "telemetry/process.h"
#include "telemetry/self_telemetry.h"

namespace otelite::processors::memory_limiter {

struct Config : ComponentConfig {
  config::Duration check_interval = std::chrono::seconds(0);
  int64_t limit_mib = 0;
  int64_t spike_limit_mib = 0;
  int64_t limit_percentage = 0;
  int64_t spike_limit_percentage = 0;
  config::Duration min_gc_interval_when_soft_limited = std::chrono::seconds(10);
  config::Duration min_gc_interval_when_hard_limited = std::chrono::seconds(0);

  static const config::Schema<Config>& Schema() {
    static const auto s =
        config::Schema<Config>()
            .Field("check_interval", &Config::check_interval,
                   "how often the process RSS is measured (required, e.g. 1s)",
                   config::NonNegative())
            .Field("limit_mib", &Config::limit_mib, "hard limit in MiB",
                   config::AtLeast(0))
            .Field("spike_limit_mib", &Config::spike_limit_mib,
                   "headroom below limit_mib; data is refused above limit - spike (default 20% of "
                   "the limit)",
                   config::AtLeast(0))
            .Field("limit_percentage", &Config::limit_percentage,
                   "hard limit as a percentage of the cgroup's memory.max, else of host memory "
                   "(used when limit_mib is 0)",
                   config::InRange(0, 100))
            .Field("spike_limit_percentage", &Config::spike_limit_percentage,
                   "headroom as a percentage, with limit_percentage", config::InRange(0, 100))
            .Field("min_gc_interval_when_soft_limited",
                   &Config::min_gc_interval_when_soft_limited,
                   "accepted for otelcol configs; otelite has no garbage collector",
                   config::NonNegative())
            .Field("min_gc_interval_when_hard_limited",
                   &Config::min_gc_interval_when_hard_limited,
                   "accepted for otelcol configs; otelite has no garbage collector",
                   config::NonNegative())
            .Check([](const Config& c, const config::Checker& check) {
              if (c.check_interval.count() <= 0) {
                check.Error("check_interval", "check_interval must be greater than zero");
              }
              if (c.limit_mib == 0 && c.limit_percentage == 0) {
                check.Error("limit_mib",
                            "one of limit_mib or limit_percentage must be greater than zero");
              }
              if (c.limit_mib > 0 && c.spike_limit_mib >= c.limit_mib) {
                check.Error("spike_limit_mib", "spike_limit_mib must be smaller than limit_mib");
              }
              if (c.limit_mib == 0 && c.limit_percentage > 0 &&
                  c.spike_limit_percentage >= c.limit_percentage) {
                check.Error("spike_limit_percentage",
                            "spike_limit_percentage must be smaller than limit_percentage");
              }
            });
    return s;
  }
};

namespace {

class MemoryLimiter : public Processor {
 public:
  MemoryLimiter(const CreateSettings& settings, const Config& config, Consumer& next)
      : logger_(settings.logger ? settings.logger : spdlog::default_logger()),
        config_(config),
        next_(next) {
    if (settings.telemetry != nullptr) {
      refused_ = settings.telemetry->SignalCounters(
          "otelcol_processor_memory_limiter_refused",
          "Items refused by the memory limiter (the client was told to retry)",
          {{"processor", settings.id.str()}});
      buffered_ = settings.telemetry->Gauge(
          "otelite_memory_buffered_bytes",
          "Bytes of telemetry held in the pipelines (batches, queues), as the memory limiter counts them",
          {});
    }
  }
  ~MemoryLimiter() override { Shutdown(Clock::now()); }

  Status Consume(Batch batch) noexcept override {
    MemoryBudget& budget = MemoryBudget::Process();
    // The batch is charged already: admit nothing more.
    if (!budget.Admit(0)) {
      Add(refused_[size_t(batch->signal())], double(batch->item_count()));
      return Status::Retryable("data refused due to high memory usage", budget.retry_after());
    }
    return next_.Consume(std::move(batch));
  }

  std::string Start(Host&) override {
    TotalMemory total = DetectTotalMemory();
    computed_ = ComputeLimits(config_.limit_mib, config_.spike_limit_mib, config_.limit_percentage,
                              config_.spike_limit_percentage, total.bytes);
    if (computed_.soft() == 0) return "the memory limit leaves no room (limit minus spike is 0)";
    size_t baseline = ResidentBytes();
    if (baseline >= computed_.soft()) {
      return "the process already uses " + std::to_string(baseline >> 20) +
             " MiB, at or above the soft limit of " + std::to_string(computed_.soft() >> 20) +
             " MiB";
    }
    MemoryBudget::Limits limits;
    limits.soft_bytes = computed_.soft();
    limits.hard_bytes = computed_.limit;
    limits.baseline_bytes = baseline;
    limits.retry_after = std::max<std::chrono::milliseconds>(
        std::chrono::seconds(1),
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.check_interval));
    handle_ = MemoryBudget::Process().Install(limits);
    logger_->info("memory limits: hard {} MiB, soft {} MiB ({}{}), idle RSS {} MiB",
                  computed_.limit >> 20, computed_.soft() >> 20,
                  config_.limit_mib > 0 ? "limit_mib" : "limit_percentage of ",
                  config_.limit_mib > 0 ? "" : total.source, baseline >> 20);
    thread_ = std::thread([this] { Check(); });
    return {};
  }

  void Shutdown(Deadline) override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (handle_ != 0) MemoryBudget::Process().Remove(handle_);
    handle_ = 0;
  }

 private:
  void Check() {
    pthread_setname_np(pthread_self(), "otelite-memlim");
    MemoryBudget& budget = MemoryBudget::Process();
    std::unique_lock lock(mu_);
    while (!stopped_) {
      size_t rss = ResidentBytes();
      if (rss > computed_.soft()) {
        malloc_trim(0);  // hand freed memory back before judging
        rss = ResidentBytes();
      }
      budget.set_rss(rss);
      Set(buffered_, double(budget.buffered()));
      bool over = !budget.Admit(0);
      if (over != refusing_) {
        refusing_ = over;
        if (over) {
          logger_->warn("memory usage is above the soft limit: refusing data (RSS {} MiB, "
                        "buffered {} MiB, soft limit {} MiB)",
                        rss >> 20, budget.buffered() >> 20, computed_.soft() >> 20);
        } else {
          logger_->info("memory usage is below the soft limit again: accepting data (RSS {} MiB)",
                        rss >> 20);
        }
      }
      cv_.wait_for(lock, config_.check_interval);
    }
  }

  std::shared_ptr<spdlog::logger> logger_;
  Config config_;
  Consumer& next_;
  Computed computed_;
  int handle_ = 0;
  std::array<prometheus::Counter*, kSignalCount> refused_{};
  prometheus::Gauge* buffered_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool refusing_ = false;
  std::thread thread_;
};

class Factory : public TypedFactory<ProcessorFactory, Config> {
 public:
  std::string_view type() const override { return "memory_limiter"; }
  std::string_view description() const override {
    return "refuses data (retryable, with a throttle hint) before the process passes its memory "
           "limit";
  }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<Processor> Create(const CreateSettings& settings, const ComponentConfig& config,
                                    Signal, Consumer& next) const override {
    return std::make_unique<MemoryLimiter>(settings, Cast(config), next);
  }
};

}  // namespace

void Register(Registry& registry) { registry.Add(std::make_unique<Factory>()); }

}  // namespace otelite::processors::memory_limiter
