#include "receivers/otlp/intake.h"

namespace otelite::receivers::otlp {

Intake::Intake(const CreateSettings& settings, const SignalConsumers& consumers,
               std::string transport)
    : consumers_(consumers), transport_(std::move(transport)) {
  if (settings.telemetry != nullptr) {
    counters_ = settings.telemetry->ForReceiver(settings.id, transport_);
  }
}

Status Intake::Accept(Batch batch) noexcept {
  auto i = static_cast<size_t>(batch->signal());
  size_t items = batch->item_count();
  Status status = consumers_[i]->Consume(std::move(batch));
  Add(status.ok() ? counters_.accepted[i] : counters_.refused[i], double(items));
  return status;
}

}  // namespace otelite::receivers::otlp
