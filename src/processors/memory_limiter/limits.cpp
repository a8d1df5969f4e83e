#include "processors/memory_limiter/limits.h"

#include <fstream>
#include <sstream>

namespace otelite::processors::memory_limiter {

TotalMemory DetectTotalMemory(const std::string& cgroup_memory_max, const std::string& meminfo) {
  {
    std::ifstream in(cgroup_memory_max);
    std::string value;
    if (in >> value && value != "max") {
      try {
        size_t bytes = std::stoull(value);
        if (bytes > 0) return {bytes, "cgroup"};
      } catch (...) {
      }
    }
  }
  std::ifstream in(meminfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      std::istringstream fields(line.substr(9));
      size_t kib = 0;
      fields >> kib;
      return {kib * 1024, "host"};
    }
  }
  return {0, "unknown"};
}

Computed ComputeLimits(int64_t limit_mib, int64_t spike_limit_mib, int64_t limit_percentage,
                       int64_t spike_limit_percentage, size_t total_memory) {
  constexpr size_t kMiB = 1024 * 1024;
  Computed c;
  if (limit_mib > 0) {
    c.limit = size_t(limit_mib) * kMiB;
    c.spike = spike_limit_mib > 0 ? size_t(spike_limit_mib) * kMiB : c.limit / 5;
  } else {
    c.limit = total_memory / 100 * size_t(limit_percentage);
    c.spike = total_memory / 100 * size_t(spike_limit_percentage);
  }
  return c;
}

}  // namespace otelite::processors::memory_limiter
