// The memory account (core/memory_budget.h) and the memory_limiter processor.
#include <gtest/gtest.h>
#include <prometheus/counter.h>

#include "components/registry.h"
#include "config/loader.h"
#include "core/memory_budget.h"
#include "processors/memory_limiter/limits.h"
#include "telemetry/process.h"
#include "../test_util.h"

namespace otelite {
namespace {

using namespace std::chrono_literals;
using testing::MakeTraces;
using testing::TempDir;
using testing::WriteFile;

TEST(MemoryBudget, EveryPayloadIsChargedWhileItLivesAndReleasedExactly) {
  MemoryBudget& budget = MemoryBudget::Process();
  size_t before = budget.buffered();
  std::string bytes = MakeTraces("m", 50).SerializeAsString();
  {
    auto wire = Payload::Parse(Signal::kTraces, bytes);
    ASSERT_TRUE(wire);
    size_t with_bytes = budget.buffered();
    EXPECT_GE(with_bytes - before, bytes.size()) << "the wire bytes are charged";
    EXPECT_EQ(with_bytes - before, wire->charged_bytes());
    (void)wire->traces();  // decoding on demand charges the decoded message too
    EXPECT_GT(budget.buffered(), with_bytes);
    EXPECT_EQ(budget.buffered() - before, wire->charged_bytes());
    auto decoded = testing::MakeBatch(Signal::kTraces, MakeTraces("d", 50));
    EXPECT_EQ(budget.buffered() - before, wire->charged_bytes() + decoded->charged_bytes());
  }
  EXPECT_EQ(budget.buffered(), before) << "released exactly when the last reference goes";
}

TEST(MemoryBudget, AdmitsUntilTheTightestSoftLimitLessTheBaseline) {
  MemoryBudget& budget = MemoryBudget::Process();
  ASSERT_FALSE(budget.limited());
  EXPECT_TRUE(budget.Admit(size_t(1) << 40)) << "no limiter, no limit";
  size_t buffered = budget.buffered();
  MemoryBudget::Limits loose{buffered + 10'000'000, buffered + 20'000'000, 0, 1000ms};
  MemoryBudget::Limits tight{buffered + 1'000'000 + 4096, buffered + 2'000'000, 4096, 3000ms};
  int a = budget.Install(loose);
  EXPECT_TRUE(budget.Admit(5'000'000));
  int b = budget.Install(tight);
  EXPECT_TRUE(budget.Admit(1'000'000));
  EXPECT_FALSE(budget.Admit(1'000'001));
  EXPECT_EQ(budget.retry_after(), 3000ms);
  budget.set_rss(tight.soft_bytes + 1);
  EXPECT_FALSE(budget.Admit(0)) << "an RSS above the soft limit refuses everything";
  budget.set_rss(0);
  budget.Remove(b);
  EXPECT_TRUE(budget.Admit(5'000'000));
  budget.Remove(a);
  EXPECT_FALSE(budget.limited());
}

TEST(MemoryLimiterLimits, PercentagesOfTheCgroupLimitElseOfTheHost) {
  TempDir dir;
  WriteFile(dir.path().string() + "/memory.max", "1073741824\n");
  WriteFile(dir.path().string() + "/meminfo", "MemTotal:       16384000 kB\nMemFree: 1 kB\n");
  auto cg = processors::memory_limiter::DetectTotalMemory(dir.path().string() + "/memory.max",
                                                          dir.path().string() + "/meminfo");
  EXPECT_EQ(cg.bytes, 1073741824u);
  EXPECT_EQ(cg.source, "cgroup");
  WriteFile(dir.path().string() + "/memory.max", "max\n");
  auto host = processors::memory_limiter::DetectTotalMemory(dir.path().string() + "/memory.max",
                                                            dir.path().string() + "/meminfo");
  EXPECT_EQ(host.bytes, size_t(16384000) * 1024);
  EXPECT_EQ(host.source, "host");

  auto pct = processors::memory_limiter::ComputeLimits(0, 0, 80, 25, 1000u << 20);
  EXPECT_EQ(pct.limit, (1000u << 20) / 100 * 80);
  EXPECT_EQ(pct.spike, (1000u << 20) / 100 * 25);
  auto mib = processors::memory_limiter::ComputeLimits(500, 0, 0, 0, 0);
  EXPECT_EQ(mib.limit, 500u << 20);
  EXPECT_EQ(mib.spike, (500u << 20) / 5) << "spike defaults to 20% of the limit";
  EXPECT_EQ(mib.soft(), 400u << 20);
}

// A consumer that counts what reaches it.
struct Counting : Consumer {
  std::atomic<size_t> items{0};
  Status Consume(Batch b) noexcept override {
    items += b->item_count();
    return Status::Ok();
  }
};

std::unique_ptr<Processor> MakeLimiter(const std::string& yaml, Consumer& next, SelfTelemetry& t,
                                       std::string* errors = nullptr) {
  const auto* factory = static_cast<const ProcessorFactory*>(
      BuiltinRegistry().Find(Kind::kProcessor, "memory_limiter").factory);
  config::Errors errs;
  auto node = config::ParseYaml(yaml, "limiter.yaml", errs);
  auto cfg = factory->ParseConfig(node, config::Ctx{errs, "processors.memory_limiter"});
  if (errors) {
    errors->clear();
    for (const auto& e : errs.all()) *errors += e.str() + "\n";
  }
  if (errs.HasErrors()) return nullptr;
  CreateSettings settings;
  settings.id = ComponentId("memory_limiter");
  settings.telemetry = &t;
  return factory->Create(settings, *cfg, Signal::kTraces, next);
}

TEST(MemoryLimiter, ConfigErrorsAsOtelcolValidatesThem) {
  Counting next;
  SelfTelemetry t;
  std::string errors;
  EXPECT_FALSE(MakeLimiter("limit_mib: 100\n", next, t, &errors));
  EXPECT_NE(errors.find("check_interval must be greater than zero"), std::string::npos) << errors;
  EXPECT_FALSE(MakeLimiter("check_interval: 1s\n", next, t, &errors));
  EXPECT_NE(errors.find("limit_mib or limit_percentage"), std::string::npos) << errors;
  EXPECT_FALSE(MakeLimiter("check_interval: 1s\nlimit_mib: 100\nspike_limit_mib: 100\n", next, t,
                           &errors));
  EXPECT_NE(errors.find("limiter.yaml:3: processors.memory_limiter.spike_limit_mib"),
            std::string::npos)
      << errors;
  EXPECT_FALSE(MakeLimiter("check_interval: 1s\nlimit_percentage: 101\n", next, t, &errors));
}

TEST(MemoryLimiter, RefusesRetryablyOnceBufferedDataReachesTheSoftLimit) {
  Counting next;
  SelfTelemetry t;
  size_t rss_mib = ResidentBytes() >> 20;
  // Soft limit = RSS now + 48 MiB (limit RSS + 64, spike 16).
  std::string yaml = "check_interval: 50ms\nlimit_mib: " + std::to_string(rss_mib + 64) +
                     "\nspike_limit_mib: 16\n";
  auto limiter = MakeLimiter(yaml, next, t);
  ASSERT_TRUE(limiter);
  testing::FakeHost host;
  ASSERT_EQ(limiter->Start(host), "");
  EXPECT_TRUE(limiter->Consume(testing::TracesBatch("ok", 3)).ok());
  EXPECT_EQ(next.items.load(), 3u);

  // Hold a payload charged with ~60 MiB, more than the room between the baseline and the soft
  // limit, whose pages are reserved but never touched: the RSS stays put, so what refuses here
  // is the exact account, not the RSS check (the integration overload test covers that one).
  std::vector<Batch> held;
  std::string big;
  big.reserve(size_t(60) << 20);
  big.append(MakeTraces("big", 1).SerializeAsString());  // copied into the reserved buffer
  held.push_back(Payload::FromWire(Signal::kTraces, std::move(big), 1));
  ASSERT_GE(held.back()->charged_bytes(), size_t(60) << 20);
  Status s = limiter->Consume(testing::TracesBatch("refused", 2));
  EXPECT_TRUE(s.retryable());
  EXPECT_GE(s.throttle(), 1000ms) << "a throttle hint for the client";
  EXPECT_EQ(next.items.load(), 3u);
  auto refused = t.SignalCounters("otelcol_processor_memory_limiter_refused", "",
                                  {{"processor", "memory_limiter"}});
  EXPECT_EQ(refused[size_t(Signal::kTraces)]->Value(), 2.0);

  held.clear();
  // The exact account drops at once; the RSS the checker last saw follows within check_interval
  // (after malloc_trim hands the freed pages back).
  EXPECT_TRUE(testing::WaitFor([&] { return limiter->Consume(testing::TracesBatch("again", 1)).ok(); },
                               5000ms))
      << "accepting again";
  limiter->Shutdown(Clock::now());
  EXPECT_FALSE(MemoryBudget::Process().limited()) << "limits are removed at shutdown";
}

}  // namespace
}  // namespace otelite
