#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace otelite {

// The telemetry signals otelite carries. Profiles are not supported (see config validation).
enum class Signal : uint8_t { kTraces = 0, kMetrics = 1, kLogs = 2 };
inline constexpr std::array<Signal, 3> kAllSignals = {Signal::kTraces, Signal::kMetrics,
                                                      Signal::kLogs};
inline constexpr size_t kSignalCount = kAllSignals.size();

constexpr std::string_view SignalName(Signal s) {
  switch (s) {
    case Signal::kTraces: return "traces";
    case Signal::kMetrics: return "metrics";
    case Signal::kLogs: return "logs";
  }
  return "?";
}

// The item a signal counts in self-metrics, as otelcol names it: spans, metric_points, log_records.
constexpr std::string_view SignalItemName(Signal s) {
  switch (s) {
    case Signal::kTraces: return "spans";
    case Signal::kMetrics: return "metric_points";
    case Signal::kLogs: return "log_records";
  }
  return "?";
}

std::optional<Signal> ParseSignal(std::string_view name);

// A small set of signals, used by factories to declare what a component supports.
class SignalSet {
 public:
  constexpr SignalSet() = default;
  constexpr SignalSet(std::initializer_list<Signal> signals) {
    for (Signal s : signals) bits_ |= Bit(s);
  }
  static constexpr SignalSet All() { return {Signal::kTraces, Signal::kMetrics, Signal::kLogs}; }
  constexpr bool Has(Signal s) const { return (bits_ & Bit(s)) != 0; }
  constexpr void Add(Signal s) { bits_ |= Bit(s); }
  constexpr bool Empty() const { return bits_ == 0; }

 private:
  static constexpr uint8_t Bit(Signal s) { return uint8_t(1u << static_cast<uint8_t>(s)); }
  uint8_t bits_ = 0;
};

}  // namespace otelite
