#include "exporters/helper/queued_exporter.h"

#include <concurrentqueue/blockingconcurrentqueue.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

namespace otelite::exporters {

struct QueuedExporter::Queue {
  moodycamel::BlockingConcurrentQueue<Batch> items;
};

QueuedExporter::QueuedExporter(const CreateSettings& settings, std::unique_ptr<Exporter> exporter,
                               Options options)
    : id_(settings.id),
      logger_(settings.logger ? settings.logger : spdlog::default_logger()),
      exporter_(std::move(exporter)),
      options_(options),
      queue_(std::make_unique<Queue>()) {
  if (settings.telemetry != nullptr) {
    counters_ = settings.telemetry->ForExporter(settings.id);
    counters_.queue_capacity->Set(double(options_.queue_size));
  }
}

QueuedExporter::~QueuedExporter() { Shutdown(Clock::now()); }

Status QueuedExporter::Consume(Batch batch) noexcept {
  auto i = static_cast<size_t>(batch->signal());
  if (closed_.load(std::memory_order_acquire)) {
    Add(counters_.enqueue_failed[i], double(batch->item_count()));
    return Status::Retryable("exporter " + id_.str() + " is shutting down");
  }
  if (size_.fetch_add(1, std::memory_order_acq_rel) >= options_.queue_size) {
    size_.fetch_sub(1, std::memory_order_acq_rel);
    Add(counters_.enqueue_failed[i], double(batch->item_count()));
    return Status::Retryable("sending queue of exporter " + id_.str() + " is full");
  }
  queue_->items.enqueue(std::move(batch));
  if (counters_.queue_size) counters_.queue_size->Increment();
  return Status::Ok();
}

std::string QueuedExporter::Start(Host& host) {
  if (std::string err = exporter_->Start(host); !err.empty()) return err;
  started_ = true;
  for (int i = 0; i < std::max(1, options_.num_consumers); ++i) {
    workers_.emplace_back([this] { Work(); });
  }
  return {};
}

void QueuedExporter::Send(const Batch& batch) {
  auto i = static_cast<size_t>(batch->signal());
  Status s = exporter_->Push(*batch);
  if (s.ok()) {
    Add(counters_.sent[i], double(batch->item_count()));
  } else {
    Add(counters_.send_failed[i], double(batch->item_count()));
    logger_->error("dropping {} {}: export failed: {}", batch->item_count(),
                   SignalItemName(batch->signal()), s.message());
  }
}

void QueuedExporter::Work() {
  Batch batch;
  while (!abandon_.load(std::memory_order_acquire)) {
    if (queue_->items.wait_dequeue_timed(batch, std::chrono::milliseconds(20))) {
      size_.fetch_sub(1, std::memory_order_acq_rel);
      if (counters_.queue_size) counters_.queue_size->Decrement();
      Send(batch);
      batch.reset();
      continue;
    }
    if (draining_.load(std::memory_order_acquire) && size_.load() == 0) return;
  }
}

void QueuedExporter::Shutdown(Deadline deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  closed_.store(true, std::memory_order_release);
  draining_.store(true, std::memory_order_release);
  if (started_) {
    // Workers exit once the queue is empty; past the deadline they are told to give up.
    for (auto& w : workers_) {
      while (size_.load() > 0 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      abandon_.store(size_.load() > 0 || Clock::now() >= deadline, std::memory_order_release);
      w.join();
    }
  }
  // Whatever is left could not be exported in time: count it, say so once.
  Batch batch;
  size_t batches = 0;
  std::array<size_t, kSignalCount> items{};
  while (queue_->items.try_dequeue(batch)) {
    size_.fetch_sub(1, std::memory_order_acq_rel);
    if (counters_.queue_size) counters_.queue_size->Decrement();
    ++batches;
    items[size_t(batch->signal())] += batch->item_count();
  }
  if (batches > 0) {
    for (size_t i = 0; i < kSignalCount; ++i) Add(counters_.send_failed[i], double(items[i]));
    logger_->error("shutdown deadline passed: dropped {} queued batches ({} spans, {} metric "
                   "points, {} log records)",
                   batches, items[0], items[1], items[2]);
  }
  if (started_) exporter_->Shutdown(deadline);
}

}  // namespace otelite::exporters
