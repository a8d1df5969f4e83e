#include "batching/batcher.h"

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <pthread.h>

#include <algorithm>

#include "pdata/split.h"

namespace otelite::batching {

struct Batcher::Queue {
  moodycamel::BlockingConcurrentQueue<Piece> pieces;
};

struct Batcher::Partition {
  std::string key;
  Signal signal;
  std::shared_ptr<const ClientMetadata> metadata;  // the partition's keys only
  std::vector<Piece> pieces;
  size_t size = 0;  // sizer units
  Clock::time_point first;
};

namespace {

constexpr size_t kBulk = 64;

// Two callbacks that together call `done` once, with the first failure if any.
std::pair<Done, Done> SplitDone(Done done) {
  if (!done) return {};
  struct Join {
    std::mutex mu;
    int left = 2;
    Status worst;
    Done done;
  };
  auto join = std::make_shared<Join>();
  join->done = std::move(done);
  auto part = [join](const Status& s) {
    std::unique_lock lock(join->mu);
    if (!s.ok() && join->worst.ok()) join->worst = s;
    if (--join->left == 0) {
      Status result = join->worst;
      lock.unlock();
      join->done(result);
    }
  };
  return {part, part};
}

}  // namespace

Batcher::Batcher(Options options, Emit emit, Hooks hooks)
    : options_(std::move(options)),
      emit_(std::move(emit)),
      hooks_(std::move(hooks)),
      queue_(std::make_unique<Queue>()) {
  if (options_.max_pending_items == 0) {
    options_.max_pending_items =
        10 * std::max({options_.min_size, options_.max_size, size_t(8192)});
  }
}

Batcher::~Batcher() { Shutdown(Clock::now()); }

size_t Batcher::SizeOf(const Batch& b) const {
  return options_.size_in_bytes ? b->wire_size() : b->item_count();
}

std::string Batcher::PartitionKey(const Batch& b) const {
  std::string key(1, char('0' + int(b->signal())));
  if (options_.metadata_keys.empty()) return key;
  const ClientMetadata* md = b->metadata();
  for (const auto& k : options_.metadata_keys) {
    key += '\x1e';
    if (md == nullptr) continue;
    auto it = md->find(k);
    if (it == md->end()) continue;
    for (const auto& v : it->second) key += v + '\x1f';
  }
  return key;
}

Status Batcher::Add(Piece piece) noexcept {
  if (closed_.load(std::memory_order_acquire)) {
    return Status::Retryable("the batcher is shutting down");
  }
  if (!options_.metadata_keys.empty()) {
    std::string key = PartitionKey(piece.batch);
    std::lock_guard lock(keys_mu_);
    if (!keys_.contains(key)) {
      if (keys_.size() >= options_.metadata_cardinality_limit) {
        return Status::Permanent("too many batcher metadata-value combinations (limit " +
                                 std::to_string(options_.metadata_cardinality_limit) + ")");
      }
      keys_.insert(std::move(key));
      if (hooks_.on_partitions) hooks_.on_partitions(keys_.size());
    }
  }
  size_t items = piece.batch->item_count();
  size_t before = pending_items_.fetch_add(items, std::memory_order_acq_rel);
  // One piece larger than the whole allowance is still taken when nothing else waits.
  if (before > 0 && before + items > options_.max_pending_items) {
    pending_items_.fetch_sub(items, std::memory_order_acq_rel);
    return Status::Retryable("the batcher holds " + std::to_string(before) +
                             " items, its limit is " +
                             std::to_string(options_.max_pending_items));
  }
  queue_->pieces.enqueue(std::move(piece));
  return Status::Ok();
}

void Batcher::Start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

Batcher::Partition& Batcher::PartitionFor(const Piece& piece) {
  std::string key = PartitionKey(piece.batch);
  for (auto& p : partitions_) {
    if (p->key == key) return *p;
  }
  auto p = std::make_unique<Partition>();
  p->key = std::move(key);
  p->signal = piece.batch->signal();
  if (!options_.metadata_keys.empty() && piece.batch->metadata() != nullptr) {
    auto md = std::make_shared<ClientMetadata>();
    for (const auto& k : options_.metadata_keys) {
      auto it = piece.batch->metadata()->find(k);
      if (it != piece.batch->metadata()->end()) (*md)[k] = it->second;
    }
    p->metadata = std::move(md);
  }
  partitions_.push_back(std::move(p));
  return *partitions_.back();
}

void Batcher::Take(Piece piece) {
  Partition& p = PartitionFor(piece);
  if (p.pieces.empty()) p.first = Clock::now();
  p.size += SizeOf(piece.batch);
  p.pieces.push_back(std::move(piece));
  if (options_.min_size > 0 && options_.timeout.count() > 0 && p.size >= options_.min_size) {
    Flush(p, Trigger::kSize, false);
  }
}

void Batcher::Flush(Partition& p, Trigger trigger, bool everything) {
  while (p.size > 0 && (everything || p.size >= options_.min_size)) {
    std::vector<Piece> out;
    size_t size = 0;
    if (options_.max_size == 0 || p.size <= options_.max_size) {
      out = std::move(p.pieces);
      p.pieces.clear();
      size = p.size;
    } else {
      size_t i = 0;
      while (i < p.pieces.size() && size + SizeOf(p.pieces[i].batch) <= options_.max_size) {
        size += SizeOf(p.pieces[i].batch);
        ++i;
      }
      out.reserve(i + 1);
      for (size_t j = 0; j < i; ++j) out.push_back(std::move(p.pieces[j]));
      p.pieces.erase(p.pieces.begin(), p.pieces.begin() + long(i));
      if (size < options_.max_size && !p.pieces.empty()) {
        // Cut the next piece so that the batch is exactly max_size.
        Piece& next = p.pieces.front();
        size_t room = options_.max_size - size;
        size_t items = next.batch->item_count();
        size_t cut = options_.size_in_bytes
                         ? std::max<size_t>(1, items * room / std::max<size_t>(1, SizeOf(next.batch)))
                         : room;
        if (cut < items) {
          auto [front, back] = SplitAt(*next.batch, cut);
          auto [front_done, back_done] = SplitDone(std::move(next.done));
          size_t front_size = SizeOf(front);
          out.push_back({std::move(front), std::move(front_done)});
          next = {std::move(back), std::move(back_done)};
          size += front_size;
        } else {
          size += SizeOf(next.batch);
          out.push_back(std::move(next));
          p.pieces.erase(p.pieces.begin());
        }
      }
    }
    p.size = 0;
    for (const auto& piece : p.pieces) p.size += SizeOf(piece.batch);
    if (!p.pieces.empty()) p.first = Clock::now();
    if (out.empty()) break;
    Send(p.signal, p.metadata, std::move(out), trigger);
  }
}

void Batcher::Send(Signal signal, const std::shared_ptr<const ClientMetadata>& metadata,
                   std::vector<Piece> pieces, Trigger trigger) {
  std::vector<Done> done;
  std::vector<Batch> parts;
  parts.reserve(pieces.size());
  for (auto& piece : pieces) {
    if (piece.done) done.push_back(std::move(piece.done));
    parts.push_back(std::move(piece.batch));
  }
  Batch batch = parts.size() == 1 && !metadata ? parts.front() : Concat(signal, parts, metadata);
  parts.clear();
  size_t items = batch->item_count();
  size_t bytes = options_.size_in_bytes ? batch->wire_size() : 0;
  auto backoff = std::chrono::milliseconds(5);
  while (true) {
    Status s = emit_(batch, done);
    if (s.ok()) {
      if (hooks_.on_send) hooks_.on_send(items, bytes, trigger);
      break;
    }
    bool past_deadline =
        stopping_.load() &&
        Clock::now().time_since_epoch().count() >= deadline_ns_.load(std::memory_order_acquire);
    if (!s.retryable() || past_deadline) {
      // Counted before anyone waiting on the data hears of its fate.
      if (hooks_.on_drop) hooks_.on_drop(signal, items, s);
      for (auto& d : done) d(s);
      break;
    }
    auto wait = s.throttle().count() > 0 ? s.throttle() : backoff;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    std::unique_lock lock(wait_mu_);
    if (stopping_.load()) {
      auto left = Clock::time_point(Clock::duration(deadline_ns_.load())) - Clock::now();
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(left) +
                                std::chrono::milliseconds(1));
    }
    wait_cv_.wait_for(lock, wait);
  }
  pending_items_.fetch_sub(items, std::memory_order_acq_rel);
}

void Batcher::Run() {
  pthread_setname_np(pthread_self(), "otelite-batch");
  std::vector<Piece> buf(kBulk);
  while (true) {
    bool stopping = stopping_.load(std::memory_order_acquire);
    auto now = Clock::now();
    // Idle, the thread sleeps until a piece arrives (Shutdown sends an empty one to wake it).
    auto wait = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::hours(1));
    for (auto& p : partitions_) {
      if (p->pieces.empty()) continue;
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(p->first + options_.timeout - now);
      wait = std::max(std::chrono::microseconds(0), std::min(wait, left));
    }
    if (stopping) wait = std::chrono::microseconds(0);
    size_t n = queue_->pieces.wait_dequeue_bulk_timed(buf.begin(), kBulk, wait);
    for (size_t i = 0; i < n; ++i) {
      if (buf[i].batch) Take(std::move(buf[i]));
    }
    bool immediate = options_.timeout.count() == 0 || options_.min_size == 0;
    now = Clock::now();
    for (auto& p : partitions_) {
      if (p->pieces.empty()) continue;
      if (immediate || now >= p->first + options_.timeout) Flush(*p, Trigger::kTimeout, true);
    }
    if (stopping && n == 0) break;
  }
  for (auto& p : partitions_) Flush(*p, Trigger::kShutdown, true);
  // Pieces that raced with closing.
  Piece piece;
  while (queue_->pieces.try_dequeue(piece)) {
    if (!piece.batch) continue;
    Take(std::move(piece));
    for (auto& p : partitions_) Flush(*p, Trigger::kShutdown, true);
  }
}

void Batcher::Shutdown(Deadline deadline) {
  if (closed_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  deadline_ns_.store(deadline.time_since_epoch().count(), std::memory_order_release);
  {
    std::lock_guard lock(wait_mu_);
    stopping_.store(true, std::memory_order_release);
  }
  wait_cv_.notify_all();
  queue_->pieces.enqueue(Piece{});  // wakes the batching thread
  if (thread_.joinable()) {
    thread_.join();
    return;
  }
  // Never started: nothing was batched; whatever was added cannot be sent.
  Piece piece;
  while (queue_->pieces.try_dequeue(piece)) {
    if (!piece.batch) continue;
    Status s = Status::Retryable("the batcher was never started");
    if (hooks_.on_drop) hooks_.on_drop(piece.batch->signal(), piece.batch->item_count(), s);
    if (piece.done) piece.done(s);
    pending_items_.fetch_sub(piece.batch->item_count());
  }
}

}  // namespace otelite::batching
