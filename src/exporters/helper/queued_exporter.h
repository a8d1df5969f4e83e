#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "batching/batcher.h"
#include "components/factory.h"
#include "exporters/helper/settings.h"
#include "telemetry/self_telemetry.h"

namespace otelite::extensions {
class StorageClient;
}

namespace otelite::exporters {

// otelcol's exporterhelper around an exporter's Push(): the sending queue (in memory or on disk
// through a storage extension), exporter-side batching, retry with exponential backoff, and the
// exporter self-metrics (sent, send_failed, enqueue_failed, queue size and capacity).
//
// Nothing accepted is lost silently: a full queue refuses (retryable: the client retries) or,
// with block_on_overflow, waits; a batch that fails permanently, runs out of retries or is still
// queued at the shutdown deadline is counted in send_failed and logged. With storage, a batch
// stays on disk until it was exported (or failed permanently), so it survives a crash or restart,
// and what is queued at shutdown is kept for the next start instead of dropped.
//
// Thread-safety: Consume() from any thread; Start() and Shutdown() from the service thread.
class QueuedExporter : public Consumer, public Component {
 public:
  enum class Sizer { kRequests, kItems, kBytes };
  struct Options {
    size_t queue_size = 1000;  // capacity, in `sizer` units
    int num_consumers = 1;     // one keeps a local exporter's writes in order
    bool enabled = true;       // false: Consume() exports in the caller's thread
    Sizer sizer = Sizer::kRequests;
    bool block_on_overflow = false;
    bool wait_for_result = false;
    std::string storage;  // storage extension id; empty: in memory
    std::optional<helper::QueueBatchSettings> batch;
    helper::RetrySettings retry = NoRetry();

    // A network exporter's sending_queue and retry_on_failure settings.
    static Options From(const helper::ExporterHelperSettings& settings);
    static helper::RetrySettings NoRetry() {
      helper::RetrySettings r;
      r.enabled = false;
      return r;
    }
  };
  QueuedExporter(const CreateSettings& settings, std::unique_ptr<Exporter> exporter,
                 Options options);
  ~QueuedExporter() override;

  Status Consume(Batch batch) noexcept override;
  std::string Start(Host& host) override;
  // Stops intake, drains the queue into the exporter until `deadline`, then shuts it down.
  void Shutdown(Deadline deadline) override;

  // Units (of the sizer) waiting in the queue (with `batch`: in the batcher and in flight too).
  size_t queued() const { return used_.load(); }

 private:
  struct Job {
    Batch batch;        // null for a job still on disk
    uint64_t key = 0;   // storage key; 0 when in memory only
    Signal signal = Signal::kTraces;
    size_t items = 0;
    size_t units = 0;
    std::vector<batching::Done> done;
    bool wake_up = false;  // no data: tells a worker to stop
  };
  struct Queue;

  // Queue units of a batch of `items` items; `bytes` is asked only by the bytes sizer.
  size_t Units(size_t items, const std::function<size_t()>& bytes) const;
  Status Reserve(size_t units, Signal signal, size_t items);
  void Release(size_t units);
  Status Enqueue(Batch batch, batching::Done done);
  void Dispatch(Job job);
  void Work();
  // Exports with retries; the status is the batch's final fate. `*kept` tells that retrying
  // stopped because of shutdown and the batch stays in storage.
  Status ExportWithRetry(const Payload& payload, bool* kept);
  void Finish(Job& job, const Status& status, bool keep_on_disk);
  // Whether a batch that failed with `s` stays on disk for the next start (shutting down).
  bool Keep(const Status& s) const;
  // Retrying ends past the shutdown deadline, or at shutdown when the batch stays on disk.
  bool StopRetrying() const;
  std::string Restore();
  bool Wait(std::chrono::milliseconds d);  // false when shutting down

  ComponentId id_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<Exporter> exporter_;
  Options options_;
  std::unique_ptr<Queue> queue_;
  std::unique_ptr<batching::Batcher> batcher_;
  std::unique_ptr<extensions::StorageClient> storage_;
  std::atomic<uint64_t> next_key_{1};
  std::atomic<size_t> used_{0};
  std::atomic<size_t> jobs_{0};  // jobs queued or being exported
  std::atomic<bool> closed_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> abandon_{false};
  // Batches (and their items) left in storage at shutdown for the next start.
  std::atomic<size_t> kept_batches_{0};
  std::atomic<size_t> kept_items_{0};
  std::mutex mu_;  // room for blocked producers; interruptible waits
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  SelfTelemetry::ExporterCounters counters_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::mutex rng_mu_;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace otelite::exporters
