#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace otelite::config {

using Duration = std::chrono::nanoseconds;

// Parses a duration as otelcol's config (Go's time.ParseDuration) writes it: "200ms", "1m30s",
// "1.5h", "0"; units ns, us (µs), ms, s, m, h. A bare number other than 0 is rejected.
std::optional<Duration> ParseDuration(std::string_view text);
// Formats as Go prints durations: "1h2m3.5s", "200ms", "0s".
std::string FormatDuration(Duration d);

}  // namespace otelite::config
