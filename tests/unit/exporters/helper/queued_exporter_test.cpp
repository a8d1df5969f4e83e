// The exporter helper: retry with backoff and throttle, sizers, block_on_overflow,
// wait_for_result, queue disabled, exporter-side batching, and the on-disk queue (with an
// in-memory storage extension; the real file_storage has its own tests).
#include "exporters/helper/queued_exporter.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <future>
#include <map>
#include <set>

#include "extensions/storage/storage.h"
#include "../../test_util.h"

namespace otelite::exporters {
namespace {

using namespace std::chrono_literals;
using testing::FakeHost;
using testing::TracesBatch;
using testing::WaitFor;

// Answers pushes from a script (then with `otherwise`), recording every span name it accepted.
class ScriptedExporter : public Exporter {
 public:
  struct State {
    std::mutex mu;
    std::deque<Status> script;
    Status otherwise;
    std::vector<Clock::time_point> attempts;
    std::vector<std::string> accepted;  // span names
    std::vector<size_t> push_sizes;
    bool hold = false;
    std::condition_variable cv;
  };
  explicit ScriptedExporter(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::string Start(Host&) override { return {}; }
  void Shutdown(Deadline) override {}
  Status Push(const Payload& p) noexcept override {
    std::unique_lock lock(s_->mu);
    s_->cv.wait_for(lock, 10s, [&] { return !s_->hold; });
    s_->attempts.push_back(Clock::now());
    Status answer = s_->otherwise;
    if (!s_->script.empty()) {
      answer = s_->script.front();
      s_->script.pop_front();
    }
    if (answer.ok()) {
      s_->push_sizes.push_back(p.item_count());
      for (const auto& rs : p.traces().resource_spans())
        for (const auto& ss : rs.scope_spans())
          for (const auto& span : ss.spans()) s_->accepted.push_back(span.name());
    }
    return answer;
  }

 private:
  std::shared_ptr<State> s_;
};

struct Fixture {
  std::shared_ptr<ScriptedExporter::State> state = std::make_shared<ScriptedExporter::State>();
  FakeHost host;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);

  std::unique_ptr<QueuedExporter> Make(QueuedExporter::Options o, const std::string& name = "x") {
    CreateSettings settings;
    settings.id = ComponentId("scripted", name);
    settings.telemetry = &host.telemetry();
    settings.logger = std::make_shared<spdlog::logger>("test", sink);
    return std::make_unique<QueuedExporter>(
        settings, std::make_unique<ScriptedExporter>(state), std::move(o));
  }
  SelfTelemetry::ExporterCounters counters(const std::string& name = "x") {
    return host.telemetry().ForExporter(ComponentId("scripted", name));
  }
  double sent(const std::string& name = "x") {
    return counters(name).sent[0]->Value();
  }
  double failed(const std::string& name = "x") {
    return counters(name).send_failed[0]->Value();
  }
  size_t attempts() {
    std::lock_guard lock(state->mu);
    return state->attempts.size();
  }
  std::vector<std::string> accepted() {
    std::lock_guard lock(state->mu);
    return state->accepted;
  }
  std::string logs() {
    std::string out;
    for (const auto& line : sink->last_formatted()) out += line;
    return out;
  }
  void Script(std::vector<Status> s, Status otherwise = Status::Ok()) {
    std::lock_guard lock(state->mu);
    state->script.assign(s.begin(), s.end());
    state->otherwise = std::move(otherwise);
  }
};

QueuedExporter::Options Retrying(Clock::duration initial = 10ms) {
  QueuedExporter::Options o;
  o.retry.enabled = true;
  o.retry.initial_interval = initial;
  o.retry.max_interval = 50ms;
  o.retry.max_elapsed_time = 10s;
  o.retry.randomization_factor = 0;
  return o;
}

TEST(ExporterRetry, RetriesRetryableFailuresUntilSent) {
  Fixture f;
  f.Script({Status::Retryable("down"), Status::Retryable("down"), Status::Retryable("down")});
  auto q = f.Make(Retrying());
  ASSERT_EQ(q->Start(f.host), "");
  ASSERT_TRUE(q->Consume(TracesBatch("r", 2)).ok());
  ASSERT_TRUE(WaitFor([&] { return f.sent() == 2; }));
  q->Shutdown(Clock::now() + 5s);
  EXPECT_EQ(f.state->attempts.size(), 4u);
  EXPECT_EQ(f.failed(), 0);
  // Exponential backoff: 10ms, 15ms, 22ms between attempts.
  auto gap = [&](int i) { return f.state->attempts[size_t(i + 1)] - f.state->attempts[size_t(i)]; };
  EXPECT_GE(gap(0), 9ms);
  EXPECT_GE(gap(2), gap(0));
}

TEST(ExporterRetry, HonoursTheServersThrottleDelay) {
  Fixture f;
  f.Script({Status::Retryable("slow down", 300ms)});
  auto q = f.Make(Retrying());
  ASSERT_EQ(q->Start(f.host), "");
  ASSERT_TRUE(q->Consume(TracesBatch("t")).ok());
  ASSERT_TRUE(WaitFor([&] { return f.sent() == 1; }));
  q->Shutdown(Clock::now() + 5s);
  ASSERT_EQ(f.state->attempts.size(), 2u);
  EXPECT_GE(f.state->attempts[1] - f.state->attempts[0], 295ms);
}

TEST(ExporterRetry, PermanentFailureIsDroppedCountedAndNotRetried) {
  Fixture f;
  f.Script({Status::Permanent("bad request")});
  auto q = f.Make(Retrying());
  ASSERT_EQ(q->Start(f.host), "");
  ASSERT_TRUE(q->Consume(TracesBatch("p", 3)).ok());
  ASSERT_TRUE(WaitFor([&] { return f.failed() == 3; }));
  q->Shutdown(Clock::now() + 5s);
  EXPECT_EQ(f.state->attempts.size(), 1u);
  EXPECT_NE(f.logs().find("bad request"), std::string::npos);
}

TEST(ExporterRetry, GivesUpAfterMaxElapsedTime) {
  Fixture f;
  f.Script({}, Status::Retryable("still down"));
  auto o = Retrying();
  o.retry.max_elapsed_time = 100ms;
  auto q = f.Make(o);
  ASSERT_EQ(q->Start(f.host), "");
  ASSERT_TRUE(q->Consume(TracesBatch("g", 4)).ok());
  ASSERT_TRUE(WaitFor([&] { return f.failed() == 4; }));
  q->Shutdown(Clock::now() + 5s);
  EXPECT_NE(f.logs().find("no more retries"), std::string::npos) << f.logs();
  EXPECT_GE(f.state->attempts.size(), 3u);
}

TEST(SendingQueue, ItemsSizerCountsItemsAndRefusesRetryably) {
  Fixture f;
  f.state->hold = true;
  QueuedExporter::Options o;
  o.sizer = QueuedExporter::Sizer::kItems;
  o.queue_size = 10;
  auto q = f.Make(o);
  ASSERT_EQ(q->Start(f.host), "");
  ASSERT_TRUE(q->Consume(TracesBatch("first", 1)).ok());  // taken by the worker, held
  ASSERT_TRUE(WaitFor([&] { return q->queued() == 0; }));
  ASSERT_TRUE(q->Consume(TracesBatch("a", 6)).ok());
  EXPECT_EQ(q->queued(), 6u);
  EXPECT_EQ(f.counters().queue_size->Value(), 6.0);
  Status full = q->Consume(TracesBatch("b", 6));
  EXPECT_TRUE(full.retryable());
  EXPECT_EQ(f.counters().enqueue_failed[0]->Value(), 6.0);
  ASSERT_TRUE(q->Consume(TracesBatch("c", 4)).ok());
  {
    std::lock_guard lock(f.state->mu);
    f.state->hold = false;
  }
  f.state->cv.notify_all();
  q->Shutdown(Clock::now() + 5s);
  EXPECT_EQ(f.sent(), 11.0);
}

TEST(SendingQueue, BlockOnOverflowWaitsForRoom) {
  Fixture f;
  f.state->hold = true;
  QueuedExporter::Options o;
  o.queue_size = 1;
  o.block_on_overflow = true;
  auto q = f.Make(o);
  ASSERT_EQ(q->Start(f.host), "");
  ASSERT_TRUE(q->Consume(TracesBatch("held")).ok());
  ASSERT_TRUE(WaitFor([&] { return q->queued() == 0; }));
  ASSERT_TRUE(q->Consume(TracesBatch("queued")).ok());
  auto blocked = std::async(std::launch::async, [&] { return q->Consume(TracesBatch("waits")); });
  EXPECT_EQ(blocked.wait_for(200ms), std::future_status::timeout) << "waits instead of refusing";
  {
    std::lock_guard lock(f.state->mu);
    f.state->hold = false;
  }
  f.state->cv.notify_all();
  ASSERT_EQ(blocked.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(blocked.get().ok());
  q->Shutdown(Clock::now() + 5s);
  EXPECT_EQ(f.sent(), 3.0);
  EXPECT_EQ(f.counters().enqueue_failed[0]->Value(), 0.0);
}

TEST(SendingQueue, WaitForResultReturnsTheExportsFate) {
  Fixture f;
  f.Script({Status::Permanent("rejected by backend")});
  QueuedExporter::Options o;
  o.wait_for_result = true;
  auto q = f.Make(o);
  ASSERT_EQ(q->Start(f.host), "");
  Status s = q->Consume(TracesBatch("w"));
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ(s.message(), "rejected by backend");
  EXPECT_TRUE(q->Consume(TracesBatch("w2")).ok());
  q->Shutdown(Clock::now() + 5s);
}

TEST(SendingQueue, DisabledExportsInTheCallersThread) {
  Fixture f;
  f.Script({Status::Retryable("once")});
  auto o = Retrying();
  o.enabled = false;
  auto q = f.Make(o);
  ASSERT_EQ(q->Start(f.host), "");
  EXPECT_TRUE(q->Consume(TracesBatch("sync", 2)).ok());
  EXPECT_EQ(f.sent(), 2.0) << "done by the time Consume returns";
  q->Shutdown(Clock::now() + 5s);
}

TEST(SendingQueue, BatchJoinsSmallRequestsIntoFewerExports) {
  Fixture f;
  QueuedExporter::Options o;
  o.batch = helper::QueueBatchSettings{};
  o.batch->min_size = 50;
  o.batch->flush_timeout = 50ms;
  o.num_consumers = 2;
  auto q = f.Make(o);
  ASSERT_EQ(q->Start(f.host), "");
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(q->Consume(Payload::Parse(Signal::kTraces,
                                          testing::MakeTraces("b" + std::to_string(i), 1)
                                              .SerializeAsString()))
                    .ok());
  }
  q->Shutdown(Clock::now() + 5s);
  EXPECT_EQ(f.sent(), 100.0);
  EXPECT_LE(f.state->push_sizes.size(), 4u) << "joined, not sent one by one";
  EXPECT_EQ(q->queued(), 0u);
}

// Storage in memory, shared across "restarts" of the exporter.
struct MemoryStore {
  std::mutex mu;
  std::map<std::string, std::string> data;
  int puts = 0;
};

class MemoryStorageClient : public extensions::StorageClient {
 public:
  explicit MemoryStorageClient(std::shared_ptr<MemoryStore> s) : s_(std::move(s)) {}
  std::string Put(std::string_view k, std::string_view v) override {
    std::lock_guard lock(s_->mu);
    s_->data[std::string(k)] = std::string(v);
    ++s_->puts;
    return {};
  }
  std::string Delete(std::string_view k) override {
    std::lock_guard lock(s_->mu);
    s_->data.erase(std::string(k));
    return {};
  }
  std::string Get(std::string_view k, std::optional<std::string>* v) override {
    std::lock_guard lock(s_->mu);
    auto it = s_->data.find(std::string(k));
    *v = it == s_->data.end() ? std::nullopt : std::optional<std::string>(it->second);
    return {};
  }
  std::string ForEach(
      const std::function<bool(std::string_view, std::string_view)>& fn) override {
    std::lock_guard lock(s_->mu);
    for (const auto& [k, v] : s_->data) {
      if (!fn(k, v)) break;
    }
    return {};
  }

 private:
  std::shared_ptr<MemoryStore> s_;
};

class MemoryStorage : public extensions::StorageExtension {
 public:
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  std::string Start(Host&) override { return {}; }
  void Shutdown(Deadline) override {}
  std::unique_ptr<extensions::StorageClient> GetClient(Kind, const ComponentId&,
                                                       const std::string&, std::string*) override {
    return std::make_unique<MemoryStorageClient>(store);
  }
  size_t size() {
    std::lock_guard lock(store->mu);
    return store->data.size();
  }
};

TEST(PersistentQueue, QueuedBatchesSurviveARestartAndAreExportedOnce) {
  Fixture f;
  MemoryStorage storage;
  f.host.extensions[ComponentId("file_storage")] = &storage;
  f.Script({}, Status::Retryable("backend down"));
  auto o = Retrying(20ms);
  o.storage = "file_storage";
  {
    auto q = f.Make(o);
    ASSERT_EQ(q->Start(f.host), "");
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(q->Consume(TracesBatch("d" + std::to_string(i))).ok());
    EXPECT_EQ(storage.size(), 5u) << "on disk before the client hears OK";
    ASSERT_TRUE(WaitFor([&] { return f.attempts() >= 2; }));
    q->Shutdown(Clock::now() + 2s);
    EXPECT_EQ(storage.size(), 5u) << "kept for the next start, not dropped";
    EXPECT_EQ(f.failed(), 0.0);
    EXPECT_NE(f.logs().find("5 queued batches (5 items) stay in storage"), std::string::npos)
        << f.logs();
  }
  // Garbage in the store is skipped with a warning, never a crash.
  storage.store->data[std::string("\0\0\0\0\0\0\0\x63", 8)] = "not a record";
  f.Script({}, Status::Ok());
  auto q = f.Make(o, "x");
  ASSERT_EQ(q->Start(f.host), "");
  ASSERT_TRUE(WaitFor([&] { return f.accepted().size() == 5; }));
  q->Shutdown(Clock::now() + 5s);
  auto names = f.accepted();
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), 5u);
  EXPECT_EQ(storage.size(), 0u) << "exported batches leave the store";
  EXPECT_NE(f.logs().find("skipped 1 unreadable"), std::string::npos) << f.logs();
  EXPECT_NE(f.logs().find("restored 5 queued batches"), std::string::npos) << f.logs();
}

// Past the shutdown deadline, batches the exporter-side batcher made from pieces on disk are
// still on disk: kept for the next start, not counted or logged as dropped.
TEST(PersistentQueue, BatchedPiecesLeftAtTheDeadlineStayOnDiskUncounted) {
  Fixture f;
  MemoryStorage storage;
  f.host.extensions[ComponentId("file_storage")] = &storage;
  f.Script({}, Status::Retryable("backend down"));
  auto o = Retrying(20ms);
  o.storage = "file_storage";
  o.num_consumers = 1;
  o.batch = helper::QueueBatchSettings{};
  o.batch->min_size = 1;  // every piece is a batch of its own
  o.batch->flush_timeout = 10ms;
  {
    std::lock_guard lock(f.state->mu);
    f.state->hold = true;  // the one consumer is stuck in its first export
  }
  auto q = f.Make(o);
  ASSERT_EQ(q->Start(f.host), "");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->Consume(TracesBatch("p" + std::to_string(i))).ok());
  EXPECT_EQ(storage.size(), 3u);
  std::thread release([&] {
    std::this_thread::sleep_for(300ms);
    std::lock_guard lock(f.state->mu);
    f.state->hold = false;
    f.state->cv.notify_all();
  });
  q->Shutdown(Clock::now() + 100ms);
  release.join();
  EXPECT_EQ(storage.size(), 3u) << "every piece stays for the next start";
  EXPECT_EQ(f.failed(), 0.0) << f.logs();
  EXPECT_EQ(f.logs().find("dropped"), std::string::npos) << f.logs();
  EXPECT_NE(f.logs().find("3 queued batches (3 items) stay in storage"), std::string::npos)
      << f.logs();
}

TEST(PersistentQueue, MissingStorageExtensionFailsStartClearly) {
  Fixture f;
  QueuedExporter::Options o;
  o.storage = "file_storage/missing";
  auto q = f.Make(o);
  std::string err = q->Start(f.host);
  EXPECT_NE(err.find("\"file_storage/missing\" is not an enabled storage extension"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace otelite::exporters
