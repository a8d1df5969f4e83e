#include "core/memory_budget.h"

#include <algorithm>

namespace otelite {

MemoryBudget& MemoryBudget::Process() {
  static MemoryBudget budget;
  return budget;
}

int MemoryBudget::Install(const Limits& limits) {
  std::lock_guard lock(mu_);
  int handle = next_handle_++;
  installed_.emplace_back(handle, limits);
  Recompute();
  return handle;
}

void MemoryBudget::Remove(int handle) {
  std::lock_guard lock(mu_);
  std::erase_if(installed_, [&](const auto& e) { return e.first == handle; });
  Recompute();
}

void MemoryBudget::Recompute() {
  size_t soft = 0, baseline = 0;
  int64_t retry = 1000;
  for (const auto& [_, l] : installed_) {
    if (soft == 0 || l.soft_bytes < soft) {
      soft = l.soft_bytes;
      baseline = l.baseline_bytes;
      retry = l.retry_after.count();
    }
  }
  soft_.store(soft, std::memory_order_relaxed);
  baseline_.store(baseline, std::memory_order_relaxed);
  retry_after_ms_.store(retry, std::memory_order_relaxed);
}

bool MemoryBudget::Admit(size_t incoming) const noexcept {
  size_t soft = soft_.load(std::memory_order_relaxed);
  if (soft == 0) return true;
  if (rss() > soft) return false;
  size_t baseline = std::min(baseline_.load(std::memory_order_relaxed), soft);
  return buffered() + incoming <= soft - baseline;
}

}  // namespace otelite
