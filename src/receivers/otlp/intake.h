#pragma once
#include <string>

#include "components/factory.h"
#include "telemetry/self_telemetry.h"

namespace otelite::receivers::otlp {

// The transport-independent half of the receiver: hands a decoded request to the signal's
// pipelines and counts accepted and refused items under the transport's label.
class Intake {
 public:
  Intake(const CreateSettings& settings, const SignalConsumers& consumers,
         std::string transport);

  bool Serves(Signal signal) const { return consumers_[size_t(signal)] != nullptr; }
  Status Accept(Batch batch) noexcept;
  const std::string& transport() const { return transport_; }

 private:
  SignalConsumers consumers_;
  std::string transport_;
  SelfTelemetry::ReceiverCounters counters_;
};

}  // namespace otelite::receivers::otlp
