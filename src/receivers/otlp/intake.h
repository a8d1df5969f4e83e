#pragma once
#include <chrono>
#include <string>

#include "components/factory.h"
#include "telemetry/self_telemetry.h"

namespace otelite::receivers::otlp {

// The transport-independent half of the receiver: hands a decoded request to the signal's
// pipelines and counts accepted and refused items under the transport's label.
class Intake {
 public:
  // The delay a retryable refusal asks for when the component that refused named none.
  static constexpr std::chrono::milliseconds kDefaultRetryAfter{1000};

  Intake(const CreateSettings& settings, const SignalConsumers& consumers, std::string transport,
         bool include_metadata = false);

  bool Serves(Signal signal) const { return consumers_[size_t(signal)] != nullptr; }
  // Before a request's body is read or decoded: whether the memory budget has room for `bytes`
  // more. A refusal is retryable with the budget's throttle hint, and counted.
  Status Admit(size_t bytes) noexcept;
  Status Accept(Batch batch) noexcept;
  const std::string& transport() const { return transport_; }
  // Whether requests carry their client metadata into the pipelines (include_metadata).
  bool include_metadata() const { return include_metadata_; }

 private:
  SignalConsumers consumers_;
  std::string transport_;
  bool include_metadata_;
  SelfTelemetry::ReceiverCounters counters_;
  prometheus::Counter* refused_requests_ = nullptr;
};

}  // namespace otelite::receivers::otlp
