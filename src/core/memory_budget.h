#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <vector>

namespace otelite {

// The one account of the memory the data path holds. Every payload charges its bytes (wire bytes
// and, once decoded, its decoded message) when it is created and releases them when the last
// reference goes, so the batcher's buffers, the exporters' queues and the batches in flight are
// all counted, exactly, wherever they are.
//
// A memory_limiter installs limits; receivers and the limiter ask Admit() before taking data in.
// Without limits everything is admitted. Thread-safe; lock-free on the data path.
class MemoryBudget {
 public:
  // The process's budget.
  static MemoryBudget& Process();

  void Charge(size_t bytes) noexcept { buffered_.fetch_add(bytes, std::memory_order_relaxed); }
  void Release(size_t bytes) noexcept { buffered_.fetch_sub(bytes, std::memory_order_relaxed); }
  size_t buffered() const noexcept { return buffered_.load(std::memory_order_relaxed); }

  struct Limits {
    size_t soft_bytes = 0;  // refuse above this (limit - spike)
    size_t hard_bytes = 0;  // limit
    // The process's resident size when nothing is buffered: what the buffers may not use.
    size_t baseline_bytes = 0;
    std::chrono::milliseconds retry_after{1000};
  };
  // Installs the limits of one memory_limiter; the tightest of all installed applies.
  // Returns a handle for Remove().
  int Install(const Limits& limits);
  void Remove(int handle);
  bool limited() const noexcept { return soft_.load(std::memory_order_relaxed) != 0; }

  // The resident size last measured by a memory_limiter (0 when unknown).
  void set_rss(size_t rss) noexcept { rss_.store(rss, std::memory_order_relaxed); }
  size_t rss() const noexcept { return rss_.load(std::memory_order_relaxed); }

  // Whether `incoming` more bytes may come in: false once the buffered bytes plus the incoming
  // would pass the soft limit less the baseline, or the measured RSS is past the soft limit.
  bool Admit(size_t incoming) const noexcept;
  // How long a refused client should wait before retrying.
  std::chrono::milliseconds retry_after() const noexcept {
    return std::chrono::milliseconds(retry_after_ms_.load(std::memory_order_relaxed));
  }

 private:
  void Recompute();

  std::atomic<size_t> buffered_{0};
  std::atomic<size_t> rss_{0};
  std::atomic<size_t> soft_{0};
  std::atomic<size_t> baseline_{0};
  std::atomic<int64_t> retry_after_ms_{1000};
  std::mutex mu_;
  std::vector<std::pair<int, Limits>> installed_;
  int next_handle_ = 1;
};

}  // namespace otelite
