#pragma once
// A minimal protobuf wire-format walker for the benchmark sink: counts the items of an OTLP export
// request and reads the first span's start time of each scope without decoding the message (the
// sink must stay far cheaper than the collectors it measures).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace otelite::bench {

enum class WireSignal { kTraces, kMetrics, kLogs };

struct WireCount {
  uint64_t items = 0;
  bool ok = true;  // false: malformed input (the counts are then partial)
};

// Counts spans, metric data points or log records. For traces, calls `on_probe` with the
// start_time_unix_nano of the first span of every ScopeSpans (the load generator stamps its send
// time there).
WireCount CountItems(WireSignal signal, std::string_view request,
                     const std::function<void(uint64_t start_ns)>& on_probe = {});

}  // namespace otelite::bench
