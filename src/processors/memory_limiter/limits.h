#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace otelite::processors::memory_limiter {

// The memory the limits are a percentage of: the cgroup v2 limit (`memory.max`) when it is set,
// else the host's memory (MemTotal).
struct TotalMemory {
  size_t bytes = 0;
  std::string source;  // "cgroup", "host"
};
TotalMemory DetectTotalMemory(const std::string& cgroup_memory_max = "/sys/fs/cgroup/memory.max",
                              const std::string& meminfo = "/proc/meminfo");

// The hard limit and the spike allowance in bytes, from the settings as otelcol computes them:
// limit_mib (spike_limit_mib, default 20% of it) or else limit_percentage (spike_limit_percentage)
// of the total memory.
struct Computed {
  size_t limit = 0;
  size_t spike = 0;
  size_t soft() const { return limit > spike ? limit - spike : 0; }
};
Computed ComputeLimits(int64_t limit_mib, int64_t spike_limit_mib, int64_t limit_percentage,
                       int64_t spike_limit_percentage, size_t total_memory);

}  // namespace otelite::processors::memory_limiter
