#pragma once
#include "core/status.h"
#include "pdata/payload.h"

namespace otelite {

// The one interface data flows through: receivers hand batches to a Consumer, processors are
// Consumers that hand on to the next, exporters are Consumers at the end of a pipeline.
//
// Contract: Consume() is thread-safe and is called from receiver threads, so it must not block
// on the network or a slow disk; back-pressure comes back as a retryable Status. The batch is
// shared and immutable: a consumer that wants to change data copies it first.
class Consumer {
 public:
  virtual ~Consumer() = default;
  virtual Status Consume(Batch batch) noexcept = 0;
};

}  // namespace otelite
