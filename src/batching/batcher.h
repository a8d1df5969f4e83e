#pragma once
// The one batching implementation, shared by the `batch` processor and the exporters'
// `sending_queue.batch`.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/component.h"
#include "core/status.h"
#include "pdata/payload.h"

namespace otelite::batching {

// Called once with the fate of a piece of data (exported, or why not).
using Done = std::function<void(const Status&)>;

struct Piece {
  Batch batch;
  Done done;  // may be empty
};

// Why a batch was sent.
enum class Trigger { kSize, kTimeout, kShutdown };

struct Options {
  size_t min_size = 8192;  // send once a partition holds this much (sizer units); 0: at once
  size_t max_size = 0;     // larger batches are split; 0: no cap
  bool size_in_bytes = false;  // sizer: bytes (protobuf encoding) instead of items
  Clock::duration timeout = std::chrono::milliseconds(200);  // 0: send at once
  std::vector<std::string> metadata_keys;  // one partition per distinct combination of values
  size_t metadata_cardinality_limit = 1000;
  // Back-pressure: Add() refuses (retryable) while this many items wait in the batcher.
  size_t max_pending_items = 0;  // 0: 10 × max(min_size, max_size, 8192)
};

struct Hooks {
  // A batch of `items` items (`bytes` bytes) left, because of `trigger`.
  std::function<void(size_t items, size_t bytes, Trigger trigger)> on_send;
  // Items given up: refused permanently downstream, or still held at the shutdown deadline.
  std::function<void(Signal signal, size_t items, const Status& why)> on_drop;
  // The number of metadata partitions changed.
  std::function<void(size_t partitions)> on_partitions;
};

// Collects pieces into batches by partition (signal and metadata values) and hands each batch on
// when it reaches min_size or its oldest piece is `timeout` old; batches above max_size are split.
//
// Add() is lock-free (a moodycamel queue and atomic counters) unless metadata_keys are set, when
// a new partition is checked against the cardinality limit under a mutex. One thread does the
// batching and calls `emit`. Pieces that came as protobuf are joined without decoding (Concat);
// only a split decodes. A retryable answer from `emit` is retried (after its throttle, else with
// backoff) while the batch is held, so back-pressure reaches Add() instead of data being dropped.
class Batcher {
 public:
  // Hands a batch on. On Ok the callee owns the `done` callbacks (it calls them when it knows the
  // data's fate); otherwise the batcher keeps them.
  using Emit = std::function<Status(Batch batch, std::vector<Done>& done)>;

  Batcher(Options options, Emit emit, Hooks hooks = {});
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Takes a piece, or refuses it (retryable when full or stopping, permanent past the metadata
  // cardinality limit); a refused piece's `done` is not called.
  Status Add(Piece piece) noexcept;
  void Start();
  // Stops intake and sends what is held, retrying refusals until `deadline`; what is left then
  // is dropped through on_drop and its done callbacks get a retryable status.
  void Shutdown(Deadline deadline);

  size_t pending_items() const { return pending_items_.load(std::memory_order_relaxed); }
  const Options& options() const { return options_; }

 private:
  struct Partition;
  struct Queue;
  void Run();
  Partition& PartitionFor(const Piece& piece);
  void Take(Piece piece);
  void Flush(Partition& p, Trigger trigger, bool everything);
  void Send(Signal signal, const std::shared_ptr<const ClientMetadata>& metadata,
            std::vector<Piece> pieces, Trigger trigger);
  size_t SizeOf(const Batch& b) const;
  std::string PartitionKey(const Batch& b) const;

  Options options_;
  Emit emit_;
  Hooks hooks_;
  std::unique_ptr<Queue> queue_;
  std::atomic<size_t> pending_items_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> deadline_ns_{0};
  std::mutex wait_mu_;  // only for the interruptible retry wait
  std::condition_variable wait_cv_;
  std::mutex keys_mu_;  // metadata partitions only
  std::set<std::string> keys_;
  std::vector<std::unique_ptr<Partition>> partitions_;  // batching thread only
  std::thread thread_;
  bool started_ = false;
};

}  // namespace otelite::batching
