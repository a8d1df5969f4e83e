// Hot paths of the data path on a realistic request (512 spans, ~5 attributes each).
#include <benchmark/benchmark.h>

#include "common/otlp_gen.h"
#include "pdata/otlp_json.h"
#include "pdata/payload.h"
#include "pdata/split.h"

namespace {

using otelite::Batch;
using otelite::Payload;
using otelite::Signal;

std::string Encoded(int spans, uint64_t seed = 1) {
  return otelite::bench::MakeTraceRequest(spans, seed).SerializeAsString();
}

// What the receiver does with every request: validate (a full decode into an arena), count.
void BM_OtlpDecode(benchmark::State& state) {
  const std::string bytes = Encoded(int(state.range(0)));
  for (auto _ : state) {
    Batch b = Payload::Parse(Signal::kTraces, bytes);
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * state.range(0));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
}
BENCHMARK(BM_OtlpDecode)->Arg(512);

// The file exporter's default format.
void BM_JsonEncode(benchmark::State& state) {
  auto request = otelite::bench::MakeTraceRequest(int(state.range(0)), 1);
  std::string out;
  for (auto _ : state) {
    out.clear();
    auto err = otelite::EncodeOtlpJson(request, &out);
    benchmark::DoNotOptimize(err);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * state.range(0));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(out.size()));
}
BENCHMARK(BM_JsonEncode)->Arg(512);

// The batcher joining 16 requests of 512 spans into one batch of 8192 (no decode).
void BM_BatchConcat(benchmark::State& state) {
  std::vector<Batch> parts;
  for (int i = 0; i < 16; ++i) parts.push_back(Payload::Parse(Signal::kTraces, Encoded(512, i)));
  for (auto _ : state) {
    Batch b = otelite::Concat(Signal::kTraces, parts);
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * 16 * 512);
}
BENCHMARK(BM_BatchConcat);

// Cutting a batch of 8192 spans (16 resources) in two for send_batch_max_size.
void BM_BatchSplit(benchmark::State& state) {
  std::vector<Batch> parts;
  for (int i = 0; i < 16; ++i) parts.push_back(Payload::Parse(Signal::kTraces, Encoded(512, i)));
  Batch big = otelite::Concat(Signal::kTraces, parts);
  for (auto _ : state) {
    // A fresh payload each time: a split decodes it (once per payload).
    state.PauseTiming();
    Batch b = Payload::FromWire(Signal::kTraces, big->serialized(), big->item_count());
    state.ResumeTiming();
    auto halves = otelite::SplitAt(*b, 5000);
    benchmark::DoNotOptimize(halves);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * 16 * 512);
}
BENCHMARK(BM_BatchSplit);

}  // namespace
