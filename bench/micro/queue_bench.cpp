// The lock-free queue the batcher takes pieces through (moodycamel::ConcurrentQueue) against a
// mutex-guarded deque, with 1 and 2 producer threads and one consumer thread draining in bulk.
#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace {

// What travels through the batcher's queue: a shared pointer and a callback-sized payload.
struct Item {
  std::shared_ptr<int> batch;
  void* done[4] = {};
};

class MutexQueue {
 public:
  void enqueue(Item&& item) {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(item));
  }
  size_t try_dequeue_bulk(Item* out, size_t max) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    while (n < max && !q_.empty()) {
      out[n++] = std::move(q_.front());
      q_.pop_front();
    }
    return n;
  }
  size_t size_approx() {
    std::lock_guard lock(mu_);
    return q_.size();
  }

 private:
  std::mutex mu_;
  std::deque<Item> q_;
};

template <class Queue>
struct Fixture {
  static inline Queue* queue = nullptr;
  static inline std::atomic<bool> stop{false};
  static inline std::thread consumer;

  static void Setup(const benchmark::State&) {
    queue = new Queue();
    stop = false;
    consumer = std::thread([] {
      Item items[64];
      while (!stop.load(std::memory_order_relaxed)) {
        size_t n = queue->try_dequeue_bulk(items, 64);
        for (size_t i = 0; i < n; ++i) items[i].batch.reset();
        if (n == 0) std::this_thread::yield();
      }
    });
  }
  static void Teardown(const benchmark::State&) {
    stop = true;
    consumer.join();
    delete queue;
    queue = nullptr;
  }
  static void Run(benchmark::State& state) {
    auto batch = std::make_shared<int>(1);
    for (auto _ : state) {
      // Bounded, as the batcher is: wait while the consumer is far behind.
      while (queue->size_approx() > 100000) std::this_thread::yield();
      queue->enqueue(Item{batch});
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
  }
};

using LockFree = Fixture<moodycamel::ConcurrentQueue<Item>>;
using Locked = Fixture<MutexQueue>;

BENCHMARK(LockFree::Run)
    ->Name("BM_Queue_LockFree")
    ->Setup(LockFree::Setup)
    ->Teardown(LockFree::Teardown)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(Locked::Run)
    ->Name("BM_Queue_Mutex")
    ->Setup(Locked::Setup)
    ->Teardown(Locked::Teardown)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

}  // namespace
