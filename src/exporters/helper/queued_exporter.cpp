#include "exporters/helper/queued_exporter.h"

#include <concurrentqueue/blockingconcurrentqueue.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <future>

#include "extensions/storage/storage.h"

namespace otelite::exporters {

struct QueuedExporter::Queue {
  moodycamel::BlockingConcurrentQueue<Job> jobs;
};

namespace {

// A queued batch on disk: version, signal, item count (big-endian), then the protobuf request.
constexpr char kRecordVersion = 1;
constexpr size_t kRecordHeader = 10;

std::string KeyBytes(uint64_t key) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, key >>= 8) out[size_t(i)] = char(key & 0xFF);
  return out;
}

std::optional<uint64_t> ParseKey(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t key = 0;
  for (char c : bytes) key = (key << 8) | uint8_t(c);
  return key;
}

std::string EncodeRecord(const Payload& p) {
  const std::string& bytes = p.serialized();
  std::string out;
  out.reserve(kRecordHeader + bytes.size());
  out.push_back(kRecordVersion);
  out.push_back(char(p.signal()));
  uint64_t items = p.item_count();
  for (int i = 7; i >= 0; --i) out.push_back(char((items >> (8 * i)) & 0xFF));
  out += bytes;
  return out;
}

struct RecordHeader {
  Signal signal;
  size_t items;
};

std::optional<RecordHeader> DecodeHeader(std::string_view record) {
  if (record.size() < kRecordHeader || record[0] != kRecordVersion) return std::nullopt;
  auto s = uint8_t(record[1]);
  if (s >= kSignalCount) return std::nullopt;
  uint64_t items = 0;
  for (size_t i = 2; i < kRecordHeader; ++i) items = (items << 8) | uint8_t(record[i]);
  return RecordHeader{Signal(s), size_t(items)};
}

}  // namespace

QueuedExporter::Options QueuedExporter::Options::From(
    const helper::ExporterHelperSettings& settings) {
  const auto& q = settings.sending_queue;
  Options o;
  o.enabled = q.enabled;
  o.queue_size = size_t(q.queue_size);
  o.num_consumers = int(q.num_consumers);
  o.sizer = q.sizer == "items" ? Sizer::kItems : q.sizer == "bytes" ? Sizer::kBytes : Sizer::kRequests;
  o.block_on_overflow = q.block_on_overflow;
  o.wait_for_result = q.wait_for_result;
  o.storage = q.storage;
  o.batch = q.batch;
  o.retry = settings.retry_on_failure;
  return o;
}

QueuedExporter::QueuedExporter(const CreateSettings& settings, std::unique_ptr<Exporter> exporter,
                               Options options)
    : id_(settings.id),
      logger_(settings.logger ? settings.logger : spdlog::default_logger()),
      exporter_(std::move(exporter)),
      options_(std::move(options)),
      queue_(std::make_unique<Queue>()) {
  if (settings.telemetry != nullptr) {
    counters_ = settings.telemetry->ForExporter(settings.id);
    counters_.queue_capacity->Set(double(options_.queue_size));
  }
}

QueuedExporter::~QueuedExporter() { Shutdown(Clock::now()); }

size_t QueuedExporter::Units(size_t items, const std::function<size_t()>& bytes) const {
  switch (options_.sizer) {
    case Sizer::kRequests: return 1;
    case Sizer::kItems: return items;
    case Sizer::kBytes: return bytes();
  }
  return 1;
}

Status QueuedExporter::Reserve(size_t units, Signal signal, size_t items) {
  auto refuse = [&](std::string why) {
    Add(counters_.enqueue_failed[size_t(signal)], double(items));
    return Status::Retryable(std::move(why));
  };
  while (true) {
    if (closed_.load(std::memory_order_acquire)) {
      return refuse("exporter " + id_.str() + " is shutting down");
    }
    size_t before = used_.fetch_add(units, std::memory_order_acq_rel);
    // One batch larger than the whole queue is taken when the queue is empty.
    if (before == 0 || before + units <= options_.queue_size) break;
    used_.fetch_sub(units, std::memory_order_acq_rel);
    if (!options_.block_on_overflow) {
      return refuse("sending queue of exporter " + id_.str() + " is full");
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
      return closed_.load() || used_.load() + units <= options_.queue_size;
    });
  }
  if (counters_.queue_size) counters_.queue_size->Set(double(used_.load()));
  return Status::Ok();
}

void QueuedExporter::Release(size_t units) {
  if (units == 0) return;
  used_.fetch_sub(units, std::memory_order_acq_rel);
  if (counters_.queue_size) counters_.queue_size->Set(double(used_.load()));
  if (options_.block_on_overflow) cv_.notify_all();
}

Status QueuedExporter::Consume(Batch batch) noexcept {
  if (!options_.enabled) {
    // No queue: the caller waits for the export, retries included.
    bool kept = false;
    Job job{nullptr, 0, batch->signal(), batch->item_count(), 0, {}};
    Status s = ExportWithRetry(*batch, &kept);
    Finish(job, s, false);
    return s;
  }
  if (!options_.wait_for_result) return Enqueue(std::move(batch), nullptr);
  auto result = std::make_shared<std::promise<Status>>();
  auto future = result->get_future();
  Status s = Enqueue(std::move(batch), [result](const Status& st) { result->set_value(st); });
  if (!s.ok()) return s;
  return future.get();
}

Status QueuedExporter::Enqueue(Batch batch, batching::Done done) {
  Signal signal = batch->signal();
  size_t items = batch->item_count();
  size_t units = Units(items, [&] { return batch->wire_size(); });
  if (Status s = Reserve(units, signal, items); !s.ok()) return s;

  uint64_t key = 0;
  if (storage_) {
    key = next_key_.fetch_add(1);
    if (std::string err = storage_->Put(KeyBytes(key), EncodeRecord(*batch)); !err.empty()) {
      Release(units);
      Add(counters_.enqueue_failed[size_t(signal)], double(items));
      logger_->error("cannot write a batch to the queue's storage: {}", err);
      return Status::Retryable("the sending queue's storage failed: " + err);
    }
  }
  if (batcher_) {
    // The piece's own bookkeeping runs when the batch it ends up in is done.
    auto finish_piece = [this, key, units, done = std::move(done)](const Status& s) {
      if (key != 0 && (s.ok() || !Keep(s))) storage_->Delete(KeyBytes(key));
      Release(units);
      if (done) done(s);
    };
    Status s = batcher_->Add({std::move(batch), finish_piece});
    if (!s.ok()) {
      if (key != 0) storage_->Delete(KeyBytes(key));
      Release(units);
      Add(counters_.enqueue_failed[size_t(signal)], double(items));
    }
    return s;
  }
  Job job{std::move(batch), key, signal, items, units, {}};
  if (done) job.done.push_back(std::move(done));
  if (key != 0) job.batch.reset();  // on disk: memory holds only the key until it is exported
  Dispatch(std::move(job));
  return Status::Ok();
}

void QueuedExporter::Dispatch(Job job) {
  jobs_.fetch_add(1, std::memory_order_acq_rel);
  queue_->jobs.enqueue(std::move(job));
}

bool QueuedExporter::StopRetrying() const {
  return abandon_.load() || (storage_ != nullptr && closed_.load());
}

bool QueuedExporter::Keep(const Status& s) const {
  return storage_ != nullptr && !s.ok() && s.retryable() && closed_.load();
}

bool QueuedExporter::Wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return StopRetrying(); });
  return !StopRetrying();
}

Status QueuedExporter::ExportWithRetry(const Payload& payload, bool* kept) {
  const auto& r = options_.retry;
  auto start = Clock::now();
  auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(r.initial_interval);
  while (true) {
    Status s = exporter_->Push(payload);
    if (s.ok() || !s.retryable() || !r.enabled) return s;
    if (StopRetrying()) {
      *kept = storage_ != nullptr;
      return s;
    }
    double jitter;
    {
      std::lock_guard lock(rng_mu_);
      jitter = std::uniform_real_distribution<double>(-1.0, 1.0)(rng_);
    }
    auto wait = std::chrono::milliseconds(
        int64_t(double(interval.count()) * (1.0 + r.randomization_factor * jitter)));
    if (s.throttle() > wait) wait = s.throttle();
    if (r.max_elapsed_time.count() > 0 && Clock::now() - start + wait > r.max_elapsed_time) {
      return Status::Retryable("no more retries left after " +
                               config::FormatDuration(Clock::now() - start) + ": " + s.message());
    }
    logger_->warn("export failed, retrying in {}: {}", config::FormatDuration(wait), s.message());
    if (!Wait(wait)) {
      *kept = storage_ != nullptr;
      return s;
    }
    interval = std::min(
        std::chrono::milliseconds(int64_t(double(interval.count()) * r.multiplier)),
        std::chrono::duration_cast<std::chrono::milliseconds>(r.max_interval));
  }
}

void QueuedExporter::Finish(Job& job, const Status& status, bool keep_on_disk) {
  auto i = size_t(job.signal);
  if (status.ok()) {
    Add(counters_.sent[i], double(job.items));
  } else if (keep_on_disk) {
    kept_batches_.fetch_add(1, std::memory_order_relaxed);
    kept_items_.fetch_add(job.items, std::memory_order_relaxed);
  } else {
    Add(counters_.send_failed[i], double(job.items));
    logger_->error("dropping {} {}: export failed: {}", job.items, SignalItemName(job.signal),
                   status.message());
  }
  if (job.key != 0 && !keep_on_disk) storage_->Delete(KeyBytes(job.key));
  Release(job.units);
  for (auto& d : job.done) d(status);
  job.done.clear();
}

void QueuedExporter::Work() {
  pthread_setname_np(pthread_self(), "otelite-export");
  Job job;
  while (true) {
    // Blocks without polling; Shutdown wakes every worker with a job that has no data.
    queue_->jobs.wait_dequeue(job);
    if (job.wake_up) return;
    if (abandon_.load()) {
      // Past the deadline: hand it back for Shutdown to count (or keep on disk).
      queue_->jobs.enqueue(std::move(job));
      return;
    }
    // Taken off the queue: its room is free (as otelcol's queue size counts only what waits).
    Release(job.units);
    job.units = 0;
    if (!job.batch && job.key != 0) {
      std::optional<std::string> record;
      std::string err = storage_->Get(KeyBytes(job.key), &record);
      auto header = record ? DecodeHeader(*record) : std::nullopt;
      if (header) {
        job.batch = Payload::Parse(header->signal, record->substr(kRecordHeader));
      }
      if (!job.batch) {
        Finish(job, Status::Permanent("queued batch " + std::to_string(job.key) +
                                      " cannot be read back from storage" +
                                      (err.empty() ? "" : ": " + err)),
               false);
        jobs_.fetch_sub(1);
        continue;
      }
    }
    bool kept = false;
    Status s = ExportWithRetry(*job.batch, &kept);
    job.batch.reset();
    Finish(job, s, kept);
    jobs_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

std::string QueuedExporter::Restore() {
  std::vector<Job> restored;
  std::vector<std::string> bad;
  uint64_t max_key = 0;
  std::string err = storage_->ForEach([&](std::string_view key, std::string_view value) {
    auto k = ParseKey(key);
    auto header = DecodeHeader(value);
    if (!k || !header || *k == 0) {
      bad.emplace_back(key);
      return true;
    }
    max_key = std::max(max_key, *k);
    size_t units = Units(header->items, [&] { return value.size() - kRecordHeader; });
    restored.push_back(Job{nullptr, *k, header->signal, header->items, units, {}});
    return true;
  });
  if (!err.empty()) return "cannot read the sending queue's storage: " + err;
  for (const auto& key : bad) storage_->Delete(key);
  if (!bad.empty()) {
    logger_->warn("skipped {} unreadable records in the sending queue's storage", bad.size());
  }
  next_key_.store(max_key + 1);
  size_t items = 0;
  for (auto& job : restored) {
    items += job.items;
    used_.fetch_add(job.units);
    Dispatch(std::move(job));
  }
  if (!restored.empty()) {
    logger_->info("restored {} queued batches ({} items) from storage", restored.size(), items);
  }
  if (counters_.queue_size) counters_.queue_size->Set(double(used_.load()));
  return {};
}

std::string QueuedExporter::Start(Host& host) {
  if (!options_.storage.empty()) {
    ComponentId sid;
    if (std::string err = ComponentId::Parse(options_.storage, &sid); !err.empty()) {
      return "sending_queue.storage: " + err;
    }
    auto* ext = dynamic_cast<extensions::StorageExtension*>(host.GetExtension(sid));
    if (ext == nullptr) {
      return "sending_queue.storage: \"" + options_.storage +
             "\" is not an enabled storage extension (list it under service.extensions)";
    }
    std::string err;
    storage_ = ext->GetClient(Kind::kExporter, id_, "queue", &err);
    if (!storage_) return "sending_queue.storage: " + err;
  }
  if (std::string err = exporter_->Start(host); !err.empty()) return err;
  started_ = true;
  if (options_.batch) {
    batching::Options b;
    b.min_size = size_t(options_.batch->min_size);
    b.max_size = size_t(options_.batch->max_size);
    b.size_in_bytes = options_.batch->sizer == "bytes";
    b.timeout = options_.batch->flush_timeout;
    b.max_pending_items = SIZE_MAX / 2;  // the queue's capacity bounds what the batcher holds
    batcher_ = std::make_unique<batching::Batcher>(
        b, [this](Batch batch, std::vector<batching::Done>& done) {
          Job job{std::move(batch), 0, Signal::kTraces, 0, 0, std::move(done)};
          job.signal = job.batch->signal();
          job.items = job.batch->item_count();
          Dispatch(std::move(job));
          return Status::Ok();
        });
    batcher_->Start();
  }
  if (storage_) {
    if (std::string err = Restore(); !err.empty()) return err;
  }
  int consumers = options_.enabled ? std::max(1, options_.num_consumers) : 0;
  for (int i = 0; i < consumers; ++i) workers_.emplace_back([this] { Work(); });
  return {};
}

void QueuedExporter::Shutdown(Deadline deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  closed_.store(true, std::memory_order_release);
  cv_.notify_all();
  if (batcher_) batcher_->Shutdown(deadline);
  draining_.store(true, std::memory_order_release);
  while (jobs_.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard lock(mu_);
    abandon_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  for (size_t i = 0; i < workers_.size(); ++i) {
    Job wake;
    wake.wake_up = true;
    queue_->jobs.enqueue(std::move(wake));
  }
  for (auto& w : workers_) w.join();
  workers_.clear();

  // Whatever is left could not be exported in time: kept on disk for the next start, or counted
  // and logged once.
  Job job;
  size_t batches = 0;
  std::array<size_t, kSignalCount> items{};
  while (queue_->jobs.try_dequeue(job)) {
    if (job.wake_up) continue;
    jobs_.fetch_sub(1);
    // With storage every piece of data was written before it was accepted: a batch the
    // exporter-side batcher made (key 0) is made of pieces that are each on disk.
    if (job.key != 0 || storage_) {
      kept_batches_.fetch_add(1, std::memory_order_relaxed);
      kept_items_.fetch_add(job.items, std::memory_order_relaxed);
      Release(job.units);
      for (auto& d : job.done) d(Status::Retryable("kept in storage for the next start"));
      continue;
    }
    ++batches;
    items[size_t(job.signal)] += job.items;
    Add(counters_.send_failed[size_t(job.signal)], double(job.items));
    Release(job.units);
    for (auto& d : job.done) d(Status::Retryable("shutdown deadline passed"));
  }
  if (batches > 0) {
    logger_->error("shutdown deadline passed: dropped {} queued batches ({} spans, {} metric "
                   "points, {} log records)",
                   batches, items[0], items[1], items[2]);
  }
  // Batches a consumer stopped retrying because of the shutdown, and those never taken.
  if (size_t kept = kept_batches_.load(); kept > 0) {
    logger_->info("{} queued batches ({} items) stay in storage for the next start", kept,
                  kept_items_.load());
  }
  if (started_) exporter_->Shutdown(deadline);
  storage_.reset();
}

}  // namespace otelite::exporters
