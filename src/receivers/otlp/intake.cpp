#include "receivers/otlp/intake.h"

#include "core/memory_budget.h"

namespace otelite::receivers::otlp {

Intake::Intake(const CreateSettings& settings, const SignalConsumers& consumers,
               std::string transport, bool include_metadata)
    : consumers_(consumers), transport_(std::move(transport)), include_metadata_(include_metadata) {
  if (settings.telemetry != nullptr) {
    counters_ = settings.telemetry->ForReceiver(settings.id, transport_);
    refused_requests_ = settings.telemetry->Counter(
        "otelite_receiver_refused_requests_total",
        "Requests refused before their body was read or decoded, because the memory limit was "
        "reached (their items are not known, so they are not in otelcol_receiver_refused_*)",
        {{"receiver", settings.id.str()}, {"transport", transport_}, {"reason", "memory_limit"}});
  }
}

Status Intake::Admit(size_t bytes) noexcept {
  MemoryBudget& budget = MemoryBudget::Process();
  if (budget.Admit(bytes)) return Status::Ok();
  Add(refused_requests_, 1);
  return Status::Retryable("data refused due to high memory usage", budget.retry_after());
}

Status Intake::Accept(Batch batch) noexcept {
  auto i = static_cast<size_t>(batch->signal());
  size_t items = batch->item_count();
  Status status = consumers_[i]->Consume(std::move(batch));
  Add(status.ok() ? counters_.accepted[i] : counters_.refused[i], double(items));
  // Every retryable refusal tells the client when to come back (RetryInfo, Retry-After), also
  // when the refusing component gave no delay (a full sending queue, a stopping service).
  if (status.retryable() && status.throttle().count() <= 0) {
    return Status::Retryable(status.message(), kDefaultRetryAfter);
  }
  return status;
}

}  // namespace otelite::receivers::otlp
