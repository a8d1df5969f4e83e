// The batcher end to end (Add → batching thread → Concat → emit) with 1 and 2 producer threads,
// each adding requests of 64 spans, as receivers do; batches of 8192 spans leave to a consumer
// that drops them.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "batching/batcher.h"
#include "common/otlp_gen.h"

namespace {

using otelite::Batch;
using otelite::Payload;
using otelite::Signal;
namespace batching = otelite::batching;

constexpr int kSpansPerPiece = 64;

batching::Batcher* g_batcher = nullptr;
Batch g_piece;
std::atomic<uint64_t> g_emitted{0};

void Setup(const benchmark::State&) {
  g_piece = Payload::Parse(
      Signal::kTraces,
      otelite::bench::MakeTraceRequest(kSpansPerPiece, 7).SerializeAsString());
  batching::Options options;
  options.min_size = 8192;
  options.timeout = std::chrono::milliseconds(200);
  g_emitted = 0;
  g_batcher = new batching::Batcher(options, [](Batch b, std::vector<batching::Done>&) {
    g_emitted.fetch_add(b->item_count(), std::memory_order_relaxed);
    return otelite::Status::Ok();
  });
  g_batcher->Start();
}

void Teardown(const benchmark::State&) {
  g_batcher->Shutdown(otelite::Clock::now() + std::chrono::seconds(10));
  delete g_batcher;
  g_batcher = nullptr;
  g_piece.reset();
}

void BM_Batcher(benchmark::State& state) {
  uint64_t refused = 0;
  for (auto _ : state) {
    // A full batcher refuses (back-pressure): offer the piece again, as a client retries.
    while (!g_batcher->Add(batching::Piece{g_piece, {}}).ok()) {
      ++refused;
      std::this_thread::yield();
    }
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kSpansPerPiece);
  state.counters["refusals"] = benchmark::Counter(double(refused), benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_Batcher)->Setup(Setup)->Teardown(Teardown)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
