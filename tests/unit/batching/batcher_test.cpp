// The shared batcher: triggers, splitting, back-pressure, shutdown, metadata partitions, and
// many producer threads (this file also runs under ThreadSanitizer in CI).
#include "batching/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "../test_util.h"

namespace otelite::batching {
namespace {

using namespace std::chrono_literals;
using testing::MakeTraces;
using testing::WaitFor;

// Everything emitted, with an answer the test can change.
struct Sink {
  std::mutex mu;
  std::vector<Batch> batches;
  Status answer;
  std::atomic<int> calls{0};

  Batcher::Emit emit() {
    return [this](Batch b, std::vector<Done>& done) {
      ++calls;
      std::lock_guard lock(mu);
      if (!answer.ok()) return answer;
      batches.push_back(b);
      for (auto& d : done) d(Status::Ok());
      return Status::Ok();
    };
  }
  void set_answer(Status s) {
    std::lock_guard lock(mu);
    answer = std::move(s);
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu);
    std::vector<size_t> out;
    for (const auto& b : batches) out.push_back(b->item_count());
    return out;
  }
  std::vector<std::string> names() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& b : batches)
      for (const auto& rs : b->traces().resource_spans())
        for (const auto& ss : rs.scope_spans())
          for (const auto& s : ss.spans()) out.push_back(s.name());
    return out;
  }
  size_t total() {
    size_t n = 0;
    for (size_t s : sizes()) n += s;
    return n;
  }
};

// An encoded traces payload (as a receiver makes it) with `spans` spans named <name>-<i>.
Batch Wire(const std::string& name, int spans) {
  return Payload::Parse(Signal::kTraces, MakeTraces(name, spans).SerializeAsString());
}

Options With(size_t min, size_t max, Clock::duration timeout) {
  Options o;
  o.min_size = min;
  o.max_size = max;
  o.timeout = timeout;
  return o;
}

TEST(Batcher, SizeTriggerSendsAtOnceWithoutDecoding) {
  Sink sink;
  Batcher b(With(10, 0, 1h), sink.emit());
  b.Start();
  std::vector<Batch> in = {Wire("a", 4), Wire("b", 4), Wire("c", 4)};
  for (auto& p : in) ASSERT_TRUE(b.Add({p, nullptr}).ok());
  ASSERT_TRUE(WaitFor([&] { return sink.total() == 12; }));
  EXPECT_EQ(sink.sizes(), std::vector<size_t>{12});
  // Joined as bytes: the batch's encoding is the inputs' encodings back to back.
  EXPECT_EQ(sink.batches[0]->serialized(),
            in[0]->serialized() + in[1]->serialized() + in[2]->serialized());
  b.Shutdown(Clock::now() + 5s);
}

TEST(Batcher, TimeoutSendsWhatIsThere) {
  Sink sink;
  Batcher b(With(1000, 0, 50ms), sink.emit());
  b.Start();
  auto start = Clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.Add({Wire("t" + std::to_string(i), 1), nullptr}).ok());
  ASSERT_TRUE(WaitFor([&] { return sink.total() == 5; }));
  EXPECT_GE(Clock::now() - start, 45ms);
  EXPECT_EQ(sink.sizes(), std::vector<size_t>{5});
  b.Shutdown(Clock::now() + 5s);
}

TEST(Batcher, MaxSizeSplitsAndKeepsOrder) {
  Sink sink;
  Batcher b(With(7, 7, 100ms), sink.emit());
  b.Start();
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(b.Add({Wire(n, 5), nullptr}).ok());
  ASSERT_TRUE(WaitFor([&] { return sink.total() == 15; }));
  EXPECT_EQ(sink.sizes(), (std::vector<size_t>{7, 7, 1}));
  std::vector<std::string> expected;
  for (const char* n : {"a", "b", "c"})
    for (int i = 0; i < 5; ++i) expected.push_back(std::string(n) + "-" + std::to_string(i));
  EXPECT_EQ(sink.names(), expected);
  b.Shutdown(Clock::now() + 5s);
}

TEST(Batcher, SplitPieceReportsOnceWhenBothHalvesAreDone) {
  Sink sink;
  Batcher b(With(3, 3, 20ms), sink.emit());
  b.Start();
  std::atomic<int> calls{0};
  ASSERT_TRUE(b.Add({Wire("x", 5), [&](const Status& s) {
                       EXPECT_TRUE(s.ok());
                       ++calls;
                     }}).ok());
  ASSERT_TRUE(WaitFor([&] { return sink.total() == 5; }));
  b.Shutdown(Clock::now() + 5s);
  EXPECT_EQ(sink.sizes(), (std::vector<size_t>{3, 2}));
  EXPECT_EQ(calls.load(), 1);
}

TEST(Batcher, ManyProducersLoseAndDuplicateNothing) {
  Sink sink;
  Options o = With(500, 800, 5ms);
  o.max_pending_items = 1u << 30;
  Batcher b(o, sink.emit());
  b.Start();
  constexpr int kThreads = 8, kPerThread = 1500;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto p = Wire("p" + std::to_string(t) + "_" + std::to_string(i), 1 + i % 3);
        while (!b.Add({p, nullptr}).ok()) std::this_thread::yield();
      }
    });
  }
  for (auto& p : producers) p.join();
  b.Shutdown(Clock::now() + 30s);
  auto names = sink.names();
  std::set<std::string> unique(names.begin(), names.end());
  size_t expected = 0;
  for (int i = 0; i < kPerThread; ++i) expected += size_t(1 + i % 3);
  expected *= kThreads;
  EXPECT_EQ(names.size(), expected);
  EXPECT_EQ(unique.size(), expected) << "duplicates";
  for (size_t s : sink.sizes()) EXPECT_LE(s, 800u);
  EXPECT_EQ(b.pending_items(), 0u);
}

TEST(Batcher, RetryableDownstreamHoldsTheBatchAndPushesBackThenDelivers) {
  Sink sink;
  sink.set_answer(Status::Retryable("downstream full"));
  Options o = With(1, 0, 1ms);
  o.max_pending_items = 20;
  Batcher b(o, sink.emit());
  b.Start();
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    Status s = b.Add({Wire("r" + std::to_string(i), 2), nullptr});
    if (s.ok()) ++accepted;
    else refused = s;
  }
  EXPECT_TRUE(refused.retryable()) << "a full batcher tells the client to retry";
  EXPECT_LE(accepted, 10);
  ASSERT_TRUE(WaitFor([&] { return sink.calls.load() >= 3; })) << "the held batch is retried";
  sink.set_answer(Status::Ok());
  ASSERT_TRUE(WaitFor([&] { return sink.total() == size_t(accepted) * 2; }));
  b.Shutdown(Clock::now() + 5s);
  EXPECT_EQ(sink.total(), size_t(accepted) * 2) << "every accepted item arrives";
}

TEST(Batcher, PermanentRefusalAndShutdownDeadlineAreReportedAsDrops) {
  Sink sink;
  sink.set_answer(Status::Permanent("bad data"));
  std::atomic<size_t> dropped{0};
  Hooks hooks;
  hooks.on_drop = [&](Signal, size_t items, const Status&) { dropped += items; };
  Batcher b(With(1, 0, 1ms), sink.emit(), hooks);
  b.Start();
  Status fate;
  std::atomic<bool> called{false};
  ASSERT_TRUE(b.Add({Wire("p", 3), [&](const Status& s) {
                       fate = s;
                       called = true;
                     }}).ok());
  ASSERT_TRUE(WaitFor([&] { return called.load(); }));
  EXPECT_FALSE(fate.ok());
  EXPECT_FALSE(fate.retryable());
  EXPECT_EQ(dropped.load(), 3u);

  sink.set_answer(Status::Retryable("never"));
  ASSERT_TRUE(b.Add({Wire("q", 4), nullptr}).ok());
  auto start = Clock::now();
  b.Shutdown(Clock::now() + 200ms);
  EXPECT_LT(Clock::now() - start, 2s) << "shutdown ends at the deadline";
  EXPECT_EQ(dropped.load(), 7u);
  EXPECT_TRUE(b.Add({Wire("late", 1), nullptr}).retryable());
}

TEST(Batcher, ShutdownFlushesWhatIsPending) {
  Sink sink;
  Batcher b(With(1000, 0, 1h), sink.emit());
  b.Start();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b.Add({Wire("s", 3), nullptr}).ok());
  b.Shutdown(Clock::now() + 5s);
  EXPECT_EQ(sink.total(), 30u);
}

Batch WithTenant(const std::string& name, const std::string& tenant) {
  auto md = std::make_shared<ClientMetadata>();
  (*md)["x-tenant"] = {tenant};
  (*md)["user-agent"] = {"test"};
  return Payload::Parse(Signal::kTraces, MakeTraces(name, 1).SerializeAsString(), md);
}

TEST(Batcher, MetadataKeysPartitionAndLimitCardinality) {
  Sink sink;
  Options o = With(1000, 0, 20ms);
  o.metadata_keys = {"x-tenant"};
  o.metadata_cardinality_limit = 2;
  Batcher b(o, sink.emit());
  b.Start();
  for (const char* t : {"a", "b", "a", "b", "a"}) ASSERT_TRUE(b.Add({WithTenant(t, t), nullptr}).ok());
  Status third = b.Add({WithTenant("c", "c"), nullptr});
  EXPECT_FALSE(third.ok());
  EXPECT_FALSE(third.retryable());
  ASSERT_TRUE(WaitFor([&] { return sink.total() == 5; }));
  b.Shutdown(Clock::now() + 5s);
  std::map<std::string, size_t> by_tenant;
  for (const auto& batch : sink.batches) {
    ASSERT_NE(batch->metadata(), nullptr);
    EXPECT_EQ(batch->metadata()->size(), 1u) << "only the partition's keys travel on";
    by_tenant[batch->metadata()->at("x-tenant").at(0)] += batch->item_count();
  }
  EXPECT_EQ(by_tenant, (std::map<std::string, size_t>{{"a", 3}, {"b", 2}}));
}

}  // namespace
}  // namespace otelite::batching
