#pragma once
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "components/factory.h"
#include "telemetry/self_telemetry.h"

namespace otelite::exporters {

// Puts a bounded queue and consumer threads in front of an exporter's Push(), so that a slow or
// failing exporter never blocks the receiver or the other exporters of a pipeline. A full queue
// answers with a retryable status: the client is told to retry, nothing is dropped silently.
// Counts otelcol's exporter metrics: sent, send_failed, enqueue_failed, queue size and capacity.
//
// Thread-safety: Consume() from any thread; Start() and Shutdown() from the service thread.
class QueuedExporter : public Consumer, public Component {
 public:
  struct Options {
    size_t queue_size = 1000;  // batches, as otelcol's sending_queue default
    int num_consumers = 1;     // one keeps the exporter's writes in order
  };
  QueuedExporter(const CreateSettings& settings, std::unique_ptr<Exporter> exporter,
                 Options options);
  ~QueuedExporter() override;

  Status Consume(Batch batch) noexcept override;
  std::string Start(Host& host) override;
  // Stops intake, drains the queue into the exporter until `deadline`, then shuts it down.
  // What is still queued at the deadline is counted as send_failed and logged.
  void Shutdown(Deadline deadline) override;

  size_t queued() const { return size_.load(); }

 private:
  struct Queue;
  void Work();
  void Send(const Batch& batch);

  ComponentId id_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<Exporter> exporter_;
  Options options_;
  std::unique_ptr<Queue> queue_;
  std::atomic<size_t> size_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> abandon_{false};
  std::vector<std::thread> workers_;
  SelfTelemetry::ExporterCounters counters_;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace otelite::exporters
