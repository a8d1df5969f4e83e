#pragma once
#include <vector>

#include "core/consumer.h"

namespace otelite {

// Hands every batch to every consumer (the batch is shared, not copied). Each exporter behind a
// fan-out has its own queue, so one slow or failing exporter never blocks the others. When some
// consumer refuses, the first refusal is returned so that the client retries; consumers that had
// accepted will then see that data again (as with otelcol's fan-out).
class FanOut : public Consumer {
 public:
  explicit FanOut(std::vector<Consumer*> consumers) : consumers_(std::move(consumers)) {}
  Status Consume(Batch batch) noexcept override {
    Status result;
    for (size_t i = 0; i < consumers_.size(); ++i) {
      Status s = consumers_[i]->Consume(i + 1 < consumers_.size() ? batch : std::move(batch));
      if (!s.ok() && result.ok()) result = std::move(s);
    }
    return result;
  }
  size_t size() const { return consumers_.size(); }

 private:
  std::vector<Consumer*> consumers_;
};

}  // namespace otelite
