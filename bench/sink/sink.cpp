// otelite_sink: an OTLP/gRPC server that accepts every export request and discards it, for the
// benchmarks: the end of the collectors' pipelines, and on its own the transport's ceiling (the
// "null" target). It counts requests, items and bytes without decoding (a wire walk), and times
// every traced request from its send time (the start time of each scope's first span, stamped by
// otelite_loadgen) to its arrival here.
//
// Prints one JSON line every --report-ms: cumulative counts (t: monotonic seconds) and the
// latencies (microseconds) of the probes that arrived since the previous line.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/wire.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace {

using namespace std::chrono;
namespace collector = opentelemetry::proto::collector;
using otelite::bench::WireSignal;

std::atomic<uint64_t> g_requests{0}, g_items{0}, g_bytes{0}, g_malformed{0};
std::mutex g_latency_mu;
std::vector<int64_t> g_latency_us;

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

uint64_t WallNs() {
  return uint64_t(duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count());
}

void Handle(WireSignal signal, const grpc::ByteBuffer& request) {
  uint64_t arrival = WallNs();
  std::vector<grpc::Slice> slices;
  std::string joined;
  std::string_view bytes;
  if (request.Dump(&slices).ok()) {
    if (slices.size() == 1) {
      bytes = std::string_view(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size());
    } else {
      joined.reserve(request.Length());
      for (const auto& s : slices) joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
      bytes = joined;
    }
  }
  std::vector<int64_t> probes;
  auto count = otelite::bench::CountItems(signal, bytes, [&](uint64_t start_ns) {
    // Only stamps from the load generator (a send time within the last minute) are probes.
    if (start_ns <= arrival && arrival - start_ns < 60'000'000'000ULL) {
      probes.push_back(int64_t((arrival - start_ns) / 1000));
    }
  });
  g_requests.fetch_add(1, std::memory_order_relaxed);
  g_items.fetch_add(count.items, std::memory_order_relaxed);
  g_bytes.fetch_add(bytes.size(), std::memory_order_relaxed);
  if (!count.ok) g_malformed.fetch_add(1, std::memory_order_relaxed);
  if (!probes.empty()) {
    std::lock_guard lock(g_latency_mu);
    g_latency_us.insert(g_latency_us.end(), probes.begin(), probes.end());
  }
}

template <class ServiceT>
class Sink : public ServiceT::template WithRawCallbackMethod_Export<typename ServiceT::Service> {
 public:
  explicit Sink(WireSignal signal) : signal_(signal) {}
  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    Handle(signal_, *request);
    grpc::Slice empty("", 0);
    *response = grpc::ByteBuffer(&empty, 1);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  WireSignal signal_;
};

void Report() {
  std::vector<int64_t> latencies;
  {
    std::lock_guard lock(g_latency_mu);
    latencies.swap(g_latency_us);
  }
  std::string lat;
  for (size_t i = 0; i < latencies.size(); ++i) {
    if (i) lat += ',';
    lat += std::to_string(latencies[i]);
  }
  std::printf(
      "{\"t\": %.6f, \"requests\": %llu, \"items\": %llu, \"bytes\": %llu, \"malformed\": %llu, "
      "\"lat_us\": [%s]}\n",
      duration<double>(steady_clock::now().time_since_epoch()).count(),
      (unsigned long long)g_requests.load(), (unsigned long long)g_items.load(),
      (unsigned long long)g_bytes.load(), (unsigned long long)g_malformed.load(), lat.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:4317";
  int report_ms = 250;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--listen") listen = argv[i + 1];
    else if (a == "--report-ms") report_ms = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: otelite_sink [--listen host:port] [--report-ms n]\n");
      return 2;
    }
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  Sink<collector::trace::v1::TraceService> traces(WireSignal::kTraces);
  Sink<collector::metrics::v1::MetricsService> metrics(WireSignal::kMetrics);
  Sink<collector::logs::v1::LogsService> logs(WireSignal::kLogs);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(-1);
  builder.RegisterService(&traces);
  builder.RegisterService(&metrics);
  builder.RegisterService(&logs);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "sink: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::fprintf(stderr, "sink: listening on port %d\n", port);
  while (!g_stop) {
    Report();
    for (int waited = 0; waited < report_ms && !g_stop; waited += 10) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  server->Shutdown(system_clock::now() + seconds(2));
  Report();
  return 0;
}
