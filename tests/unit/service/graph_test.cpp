// The pipeline graph's building blocks: the fan-out and the queued exporter in front of every
// exporter, with fake exporters (one of them can be made to block).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "core/fanout.h"
#include "exporters/helper/queued_exporter.h"
#include "../test_util.h"

namespace otelite {
namespace {

using namespace std::chrono_literals;
using exporters::QueuedExporter;
using otelite::testing::FakeHost;
using otelite::testing::TracesBatch;
using otelite::testing::WaitFor;
using ::testing::HasSubstr;

// A consumer that records what it gets and answers with a fixed status.
class RecordingConsumer : public Consumer {
 public:
  explicit RecordingConsumer(Status answer = Status::Ok()) : answer_(std::move(answer)) {}
  Status Consume(Batch batch) noexcept override {
    std::lock_guard lock(mu_);
    batches_.push_back(std::move(batch));
    return answer_;
  }
  std::vector<Batch> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  Status answer_;
  mutable std::mutex mu_;
  std::vector<Batch> batches_;
};

// An exporter that counts pushes and, while held, blocks in Push until released.
class FakeExporter : public Exporter {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool held = false;
    int entered = 0;  // pushes that started
    int pushed = 0;   // pushes that finished
    std::vector<std::string> names;  // first span name of every finished push, in order
    bool started = false;
    bool shut_down = false;
    int pushes_at_shutdown = -1;
    Status answer;
  };
  explicit FakeExporter(std::shared_ptr<State> state) : s_(std::move(state)) {}

  std::string Start(Host&) override {
    std::lock_guard lock(s_->mu);
    s_->started = true;
    return {};
  }
  Status Push(const Payload& payload) noexcept override {
    std::unique_lock lock(s_->mu);
    ++s_->entered;
    s_->cv.notify_all();
    s_->cv.wait(lock, [&] { return !s_->held; });
    ++s_->pushed;
    const auto& spans = payload.traces().resource_spans(0).scope_spans(0).spans();
    s_->names.push_back(spans.empty() ? "" : spans[0].name());
    s_->cv.notify_all();
    return s_->answer;
  }
  void Shutdown(Deadline) override {
    std::lock_guard lock(s_->mu);
    if (!s_->shut_down) s_->pushes_at_shutdown = s_->pushed;
    s_->shut_down = true;
  }

 private:
  std::shared_ptr<State> s_;
};

struct FakeHandle {
  std::shared_ptr<FakeExporter::State> state = std::make_shared<FakeExporter::State>();
  void Hold() {
    std::lock_guard lock(state->mu);
    state->held = true;
  }
  void Release() {
    {
      std::lock_guard lock(state->mu);
      state->held = false;
    }
    state->cv.notify_all();
  }
  // Waits (bounded) until `n` pushes have started.
  bool WaitEntered(int n) {
    std::unique_lock lock(state->mu);
    return state->cv.wait_for(lock, 10s, [&] { return state->entered >= n; });
  }
  bool WaitPushed(int n) {
    std::unique_lock lock(state->mu);
    return state->cv.wait_for(lock, 10s, [&] { return state->pushed >= n; });
  }
  int pushed() {
    std::lock_guard lock(state->mu);
    return state->pushed;
  }
  std::vector<std::string> names() {
    std::lock_guard lock(state->mu);
    return state->names;
  }
};

// A logger whose lines the test can read.
std::shared_ptr<spdlog::logger> CapturingLogger(
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt>* sink) {
  *sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto logger = std::make_shared<spdlog::logger>("test", *sink);
  logger->set_pattern("%v");
  return logger;
}

std::unique_ptr<QueuedExporter> MakeQueued(const std::string& name, FakeHandle& fake,
                                           size_t queue_size, SelfTelemetry* telemetry,
                                           std::shared_ptr<spdlog::logger> logger) {
  CreateSettings settings;
  settings.id = ComponentId("fake", name);
  settings.telemetry = telemetry;
  settings.logger = std::move(logger);
  return std::make_unique<QueuedExporter>(settings, std::make_unique<FakeExporter>(fake.state),
                                          QueuedExporter::Options{queue_size, 1});
}

TEST(FanOut, DeliversEveryBatchToEveryConsumerShared) {
  RecordingConsumer a, b, c;
  FanOut fanout({&a, &b, &c});
  EXPECT_EQ(fanout.size(), 3u);
  std::vector<Batch> sent;
  for (int i = 0; i < 5; ++i) {
    sent.push_back(TracesBatch("b" + std::to_string(i)));
    EXPECT_TRUE(fanout.Consume(sent.back()).ok());
  }
  for (RecordingConsumer* r : {&a, &b, &c}) {
    auto got = r->batches();
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(got[i].get(), sent[i].get()) << "the batch is shared, not copied";
    }
  }
}

TEST(FanOut, ReturnsTheFirstRefusalButStillDeliversToTheOthers) {
  RecordingConsumer ok1, full(Status::Retryable("queue A is full")),
      broken(Status::Permanent("broken")), ok2;
  FanOut fanout({&ok1, &full, &broken, &ok2});
  Status s = fanout.Consume(TracesBatch("x"));
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.message(), "queue A is full");
  for (RecordingConsumer* r : {&ok1, &full, &broken, &ok2}) EXPECT_EQ(r->batches().size(), 1u);
}

TEST(FanOut, Empty) {
  FanOut fanout({});
  EXPECT_TRUE(fanout.Consume(TracesBatch("x")).ok());
}

TEST(QueuedExporter, DeliversInOrderAndDrainsOnShutdown) {
  FakeHandle fake;
  FakeHost host;
  auto q = MakeQueued("a", fake, 1000, &host.telemetry(), nullptr);
  // Everything queued before the workers start, so Shutdown must drain all of it.
  constexpr int kBatches = 200;
  for (int i = 0; i < kBatches; ++i) {
    ASSERT_TRUE(q->Consume(TracesBatch("n" + std::to_string(i), 2)).ok()) << i;
  }
  EXPECT_EQ(q->queued(), size_t(kBatches));
  ASSERT_EQ(q->Start(host), "");
  q->Shutdown(Clock::now() + 30s);
  EXPECT_EQ(fake.pushed(), kBatches);
  EXPECT_EQ(q->queued(), 0u);
  auto names = fake.names();
  ASSERT_EQ(names.size(), size_t(kBatches));
  for (int i = 0; i < kBatches; ++i) EXPECT_EQ(names[size_t(i)], "n" + std::to_string(i) + "-0");
  {
    std::lock_guard lock(fake.state->mu);
    EXPECT_TRUE(fake.state->shut_down);
    EXPECT_EQ(fake.state->pushes_at_shutdown, kBatches) << "exporter shut down before draining";
  }
  auto counters = host.telemetry().ForExporter(ComponentId("fake", "a"));
  EXPECT_EQ(counters.sent[size_t(Signal::kTraces)]->Value(), 2.0 * kBatches);
  EXPECT_EQ(counters.send_failed[size_t(Signal::kTraces)]->Value(), 0.0);
  EXPECT_EQ(counters.queue_size->Value(), 0.0);
  EXPECT_EQ(counters.queue_capacity->Value(), 1000.0);
}

TEST(QueuedExporter, ShutdownDrainsWhatArrivesWhileRunning) {
  FakeHandle fake;
  FakeHost host;
  // The queue is exactly filled, so that polling Consume below can never add to it.
  auto q = MakeQueued("a", fake, 50, &host.telemetry(), nullptr);
  ASSERT_EQ(q->Start(host), "");
  fake.Hold();
  ASSERT_TRUE(q->Consume(TracesBatch("first")).ok());
  ASSERT_TRUE(fake.WaitEntered(1));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(q->Consume(TracesBatch("more")).ok());
  ASSERT_FALSE(q->Consume(TracesBatch("over")).ok());
  auto done = std::async(std::launch::async, [&] { q->Shutdown(Clock::now() + 30s); });
  // Intake stops at once ("shutting down" instead of "full"), before the queue is drained.
  ASSERT_TRUE(WaitFor([&] {
    Status s = q->Consume(TracesBatch("late"));
    return !s.ok() && s.message().find("shutting down") != std::string::npos;
  }));
  fake.Release();
  ASSERT_EQ(done.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(fake.pushed(), 51);
}

TEST(QueuedExporter, FullQueueIsRetryable) {
  FakeHandle fake;
  FakeHost host;
  auto q = MakeQueued("a", fake, 3, &host.telemetry(), nullptr);
  ASSERT_EQ(q->Start(host), "");
  fake.Hold();
  ASSERT_TRUE(q->Consume(TracesBatch("in-push")).ok());
  ASSERT_TRUE(fake.WaitEntered(1));  // taken off the queue, stuck in Push
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->Consume(TracesBatch("queued", 4)).ok()) << i;
  Status s = q->Consume(TracesBatch("refused", 4));
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.message(), "sending queue of exporter fake/a is full");
  EXPECT_EQ(q->queued(), 3u);
  auto counters = host.telemetry().ForExporter(ComponentId("fake", "a"));
  EXPECT_EQ(counters.enqueue_failed[size_t(Signal::kTraces)]->Value(), 4.0);
  EXPECT_EQ(counters.queue_size->Value(), 3.0);
  fake.Release();
  q->Shutdown(Clock::now() + 30s);
  EXPECT_EQ(fake.pushed(), 4);
}

TEST(QueuedExporter, BlockedExporterDoesNotStopTheOther) {
  FakeHandle slow, fast;
  FakeHost host;
  auto qs = MakeQueued("slow", slow, 5, &host.telemetry(), nullptr);
  auto qf = MakeQueued("fast", fast, 1000, &host.telemetry(), nullptr);
  ASSERT_EQ(qs->Start(host), "");
  ASSERT_EQ(qf->Start(host), "");
  FanOut fanout({qs.get(), qf.get()});

  slow.Hold();
  ASSERT_TRUE(fanout.Consume(TracesBatch("b0")).ok());
  ASSERT_TRUE(slow.WaitEntered(1));
  ASSERT_TRUE(fast.WaitPushed(1));

  // The slow exporter's queue takes 5 more; then the fan-out reports it full, while the fast
  // exporter keeps receiving every batch.
  int accepted_by_all = 1, refused = 0;
  constexpr int kBatches = 40;
  for (int i = 1; i < kBatches; ++i) {
    Status s = fanout.Consume(TracesBatch("b" + std::to_string(i)));
    if (s.ok()) {
      ++accepted_by_all;
    } else {
      EXPECT_TRUE(s.retryable());
      EXPECT_THAT(s.message(), HasSubstr("queue of exporter fake/slow is full"));
      ++refused;
    }
    ASSERT_TRUE(fast.WaitPushed(i + 1)) << "the fast exporter stalled at batch " << i;
  }
  EXPECT_EQ(accepted_by_all, 6);
  EXPECT_EQ(refused, kBatches - 6);
  EXPECT_EQ(slow.pushed(), 0);
  EXPECT_EQ(fast.pushed(), kBatches);

  slow.Release();
  qs->Shutdown(Clock::now() + 30s);
  qf->Shutdown(Clock::now() + 30s);
  EXPECT_EQ(slow.pushed(), 6);
  EXPECT_EQ(fast.pushed(), kBatches);
  auto names = slow.names();
  EXPECT_EQ(names.front(), "b0-0");
  EXPECT_EQ(names.back(), "b5-0");
}

TEST(QueuedExporter, ShutdownPastTheDeadlineCountsLeftoversAndReturns) {
  FakeHandle fake;
  FakeHost host;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink;
  constexpr int kQueued = 10;
  // The queue is exactly filled, so that polling Consume below can never add to it.
  auto q = MakeQueued("stuck", fake, kQueued, &host.telemetry(), CapturingLogger(&sink));
  ASSERT_EQ(q->Start(host), "");
  fake.Hold();
  ASSERT_TRUE(q->Consume(TracesBatch("in-push", 1)).ok());
  ASSERT_TRUE(fake.WaitEntered(1));
  for (int i = 0; i < kQueued; ++i) ASSERT_TRUE(q->Consume(TracesBatch("left", 3)).ok());

  auto done = std::async(std::launch::async, [&] { q->Shutdown(Clock::now() - 1s); });
  // Once intake is closed the deadline has already been found passed; let the stuck push end.
  ASSERT_TRUE(WaitFor([&] {
    return q->Consume(TracesBatch("late")).message().find("shutting down") != std::string::npos;
  }));
  fake.Release();
  ASSERT_EQ(done.wait_for(30s), std::future_status::ready) << "Shutdown did not return";

  auto counters = host.telemetry().ForExporter(ComponentId("fake", "stuck"));
  double sent = counters.sent[0]->Value();
  double failed = counters.send_failed[0]->Value();
  // Every span is accounted for once: sent, or dropped at the deadline.
  EXPECT_EQ(sent + failed, 1.0 + 3.0 * kQueued);
  EXPECT_GE(failed, 3.0) << "nothing was left over although the deadline had passed";
  EXPECT_LT(fake.pushed(), 1 + kQueued);
  {
    std::lock_guard lock(fake.state->mu);
    EXPECT_TRUE(fake.state->shut_down);
  }
  bool logged = false;
  for (const auto& line : sink->last_formatted()) {
    if (line.find("shutdown deadline passed: dropped") != std::string::npos) logged = true;
  }
  EXPECT_TRUE(logged);
}

TEST(QueuedExporter, FailedPushIsCountedNotRetried) {
  FakeHandle fake;
  fake.state->answer = Status::Permanent("disk full");
  FakeHost host;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink;
  auto q = MakeQueued("failing", fake, 10, &host.telemetry(), CapturingLogger(&sink));
  ASSERT_EQ(q->Start(host), "");
  ASSERT_TRUE(q->Consume(TracesBatch("x", 2)).ok());
  q->Shutdown(Clock::now() + 30s);
  EXPECT_EQ(fake.pushed(), 1);
  auto counters = host.telemetry().ForExporter(ComponentId("fake", "failing"));
  EXPECT_EQ(counters.send_failed[0]->Value(), 2.0);
  EXPECT_EQ(counters.sent[0]->Value(), 0.0);
  ASSERT_FALSE(sink->last_formatted().empty());
  EXPECT_THAT(sink->last_formatted().back(), HasSubstr("disk full"));
}

TEST(QueuedExporter, ConsumeAfterShutdownIsRetryableAndShutdownIsIdempotent) {
  FakeHandle fake;
  FakeHost host;
  auto q = MakeQueued("a", fake, 10, &host.telemetry(), nullptr);
  ASSERT_EQ(q->Start(host), "");
  q->Shutdown(Clock::now() + 5s);
  q->Shutdown(Clock::now() + 5s);
  Status s = q->Consume(TracesBatch("late", 2));
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.message(), "exporter fake/a is shutting down");
  EXPECT_EQ(host.telemetry().ForExporter(ComponentId("fake", "a")).enqueue_failed[0]->Value(), 2.0);
}

TEST(QueuedExporter, WorksWithoutTelemetryAndWithoutStart) {
  FakeHandle fake;
  auto q = MakeQueued("a", fake, 10, nullptr, nullptr);
  ASSERT_TRUE(q->Consume(TracesBatch("never-sent")).ok());
  q->Shutdown(Clock::now() + 1s);  // never started: nothing pushed, the exporter untouched
  EXPECT_EQ(fake.pushed(), 0);
  std::lock_guard lock(fake.state->mu);
  EXPECT_FALSE(fake.state->shut_down);
}

}  // namespace
}  // namespace otelite
