// otelite_loadgen: replays pre-encoded OTLP ExportTraceServiceRequests over gRPC, at a fixed rate
// of spans per second or flat out, for rates telemetrygen cannot reach. The first span of every
// request carries its send time (wall clock, ns) as start_time_unix_nano, so a sink can time
// send → arrival through a collector.
//
// Prints one JSON line every --report-ms with cumulative counts (t: monotonic seconds), and a
// last line with "final": true.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/otlp_gen.h"

namespace {

using namespace std::chrono;
using otelite::bench::EncodedRequest;

const char kMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

struct Options {
  std::string endpoint = "127.0.0.1:4317";
  double rate = 0;  // spans per second; 0: flat out
  double duration = 10;
  int spans_per_request = 512;
  int inflight = 32;  // outstanding calls per thread
  int channels = 4;   // connections per thread
  int threads = 1;
  int distinct = 16;  // distinct pre-encoded requests
  int report_ms = 250;
  double timeout = 10;  // per call, seconds
};

struct Counters {
  std::atomic<uint64_t> sent{0}, ok{0}, ok_spans{0}, refused{0}, errors{0}, bytes{0};
};

void Usage() {
  std::fprintf(stderr,
               "usage: otelite_loadgen [--endpoint host:port] [--rate spans/s (0: flat out)]\n"
               "  [--duration s] [--spans-per-request n] [--inflight n] [--channels n]\n"
               "  [--threads n] [--distinct n] [--report-ms n] [--timeout s]\n");
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    std::string v = argv[++i];
    try {
      if (a == "--endpoint") o->endpoint = v;
      else if (a == "--rate") o->rate = std::stod(v);
      else if (a == "--duration") o->duration = std::stod(v);
      else if (a == "--spans-per-request") o->spans_per_request = std::stoi(v);
      else if (a == "--inflight") o->inflight = std::stoi(v);
      else if (a == "--channels") o->channels = std::stoi(v);
      else if (a == "--threads") o->threads = std::stoi(v);
      else if (a == "--distinct") o->distinct = std::stoi(v);
      else if (a == "--report-ms") o->report_ms = std::stoi(v);
      else if (a == "--timeout") o->timeout = std::stod(v);
      else return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return o->spans_per_request > 0 && o->inflight > 0 && o->channels > 0 && o->threads > 0 &&
         o->distinct > 0 && o->duration > 0 && o->rate >= 0;
}

uint64_t WallNs() {
  return uint64_t(duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count());
}

struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::ByteBuffer>> reader;
  int spans = 0;
};

// One sending thread: its own completion queue and channels, a share of the rate.
void RunSender(const Options& o, int index, const std::vector<EncodedRequest>& requests,
               steady_clock::time_point start, steady_clock::time_point stop, Counters& c) {
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int i = 0; i < o.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per channel
    args.SetInt("bench.channel", index * 1000 + i);      // never shared between channels
    args.SetMaxSendMessageSize(-1);
    stubs.push_back(std::make_unique<grpc::GenericStub>(
        grpc::CreateCustomChannel(o.endpoint, grpc::InsecureChannelCredentials(), args)));
  }
  grpc::CompletionQueue cq;
  const double rate = o.rate / o.threads;  // spans per second for this thread
  uint64_t issued = 0;
  int outstanding = 0;
  size_t next = size_t(index);

  auto send = [&] {
    const EncodedRequest& r = requests[next++ % requests.size()];
    // One copy of the request into a slice gRPC owns, with the send time stamped in.
    grpc_slice raw = grpc_slice_malloc(r.bytes.size());
    auto* data = GRPC_SLICE_START_PTR(raw);
    std::memcpy(data, r.bytes.data(), r.bytes.size());
    uint64_t now = WallNs(), end = now + 1000;
    std::memcpy(data + r.start_offset, &now, 8);
    std::memcpy(data + r.end_offset, &end, 8);
    grpc::Slice slice(raw, grpc::Slice::STEAL_REF);
    grpc::ByteBuffer buffer(&slice, 1);
    auto* call = new Call;
    call->spans = r.spans;
    call->context.set_deadline(system_clock::now() +
                               duration_cast<system_clock::duration>(duration<double>(o.timeout)));
    call->reader = stubs[issued % stubs.size()]->PrepareUnaryCall(&call->context, kMethod, buffer,
                                                                   &cq);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
    ++issued;
    ++outstanding;
    c.sent.fetch_add(1, std::memory_order_relaxed);
    c.bytes.fetch_add(r.bytes.size(), std::memory_order_relaxed);
  };
  auto complete = [&](void* tag) {
    auto* call = static_cast<Call*>(tag);
    --outstanding;
    if (call->status.ok()) {
      c.ok.fetch_add(1, std::memory_order_relaxed);
      c.ok_spans.fetch_add(uint64_t(call->spans), std::memory_order_relaxed);
    } else if (call->status.error_code() == grpc::StatusCode::UNAVAILABLE ||
               call->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      c.refused.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (c.errors.fetch_add(1, std::memory_order_relaxed) < 3) {
        std::fprintf(stderr, "loadgen: call failed: %d %s\n", int(call->status.error_code()),
                     call->status.error_message().c_str());
      }
    }
    delete call;
  };

  while (true) {
    auto now = steady_clock::now();
    if (now >= stop) break;
    // Requests due by now at the fixed rate (all of them when flat out).
    uint64_t due = rate > 0 ? uint64_t(duration<double>(now - start).count() * rate /
                                       o.spans_per_request) + 1
                            : UINT64_MAX;
    while (outstanding < o.inflight && issued < due) send();
    // Wait for a completion, or until the next request is due.
    auto wake = stop;
    if (rate > 0 && issued >= due) {
      wake = std::min(wake, start + duration_cast<steady_clock::duration>(duration<double>(
                                        double(issued) * o.spans_per_request / rate)));
    }
    void* tag;
    bool ok;
    auto st = cq.AsyncNext(&tag, &ok,
                           system_clock::now() + duration_cast<system_clock::duration>(wake - now));
    if (st == grpc::CompletionQueue::GOT_EVENT) {
      complete(tag);
      // Drain what else is ready without blocking.
      while (cq.AsyncNext(&tag, &ok, system_clock::time_point()) ==
             grpc::CompletionQueue::GOT_EVENT) {
        complete(tag);
      }
    } else if (st == grpc::CompletionQueue::SHUTDOWN) {
      break;
    }
  }
  // Let the calls in flight finish (their deadline bounds this).
  while (outstanding > 0) {
    void* tag;
    bool ok;
    if (!cq.Next(&tag, &ok)) break;
    complete(tag);
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

void Report(const Counters& c, steady_clock::time_point origin, bool final) {
  std::printf(
      "{\"t\": %.6f, \"sent\": %llu, \"ok\": %llu, \"ok_spans\": %llu, \"refused\": %llu, "
      "\"errors\": %llu, \"bytes\": %llu%s}\n",
      duration<double>(steady_clock::now().time_since_epoch()).count(),
      (unsigned long long)c.sent.load(), (unsigned long long)c.ok.load(),
      (unsigned long long)c.ok_spans.load(), (unsigned long long)c.refused.load(),
      (unsigned long long)c.errors.load(), (unsigned long long)c.bytes.load(),
      final ? ", \"final\": true" : "");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    Usage();
    return 2;
  }
  std::vector<EncodedRequest> requests;
  for (int i = 0; i < o.distinct; ++i) {
    requests.push_back(otelite::bench::EncodeWithProbe(o.spans_per_request, 1000 + i, i % 4));
  }
  std::fprintf(stderr, "loadgen: %d requests of %d spans, %zu bytes each\n", o.distinct,
               o.spans_per_request, requests[0].bytes.size());
  Counters c;
  auto start = steady_clock::now();
  auto stop = start + duration_cast<steady_clock::duration>(duration<double>(o.duration));
  std::vector<std::thread> threads;
  for (int i = 0; i < o.threads; ++i) {
    threads.emplace_back(RunSender, std::cref(o), i, std::cref(requests), start, stop,
                         std::ref(c));
  }
  std::atomic<bool> done{false};
  std::thread reporter([&] {
    while (!done.load()) {
      Report(c, start, false);
      for (int waited = 0; waited < o.report_ms && !done.load(); waited += 10) {
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reporter.join();
  Report(c, start, true);
  return c.ok.load() > 0 ? 0 : 1;
}
