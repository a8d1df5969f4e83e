#pragma once
#include <cstddef>

namespace otelite {

// The process's resident set size in bytes, from /proc/self/statm (0 when unreadable). Read by
// the self-metrics (otelcol_process_memory_rss_bytes) and by the memory limiter.
size_t ResidentBytes();

}  // namespace otelite
