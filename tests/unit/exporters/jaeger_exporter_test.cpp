// The jaeger exporter against a real gRPC server on loopback implementing
// jaeger.api_v2.CollectorService (from proto/jaeger/api_v2/collector.proto): what is sent, with
// which metadata and compression, how answers map to results, timeouts, shutdown, config errors.
#include <grpc/compression.h>
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "jaeger/api_v2/collector.grpc.pb.h"
#include "otlp/otlp_test_util.h"

namespace otelite {
namespace {

namespace jm = ::jaeger::api_v2;
using namespace std::chrono_literals;
using testing::FakeHost;
using testing::Made;
using testing::MakeOtlp;
using testing::ParseOtlp;
using testing::Timed;
using ::testing::HasSubstr;

struct Received {
  jm::PostSpansRequest request;
  std::multimap<std::string, std::string> metadata;
};

class FakeCollector final : public jm::CollectorService::CallbackService {
 public:
  explicit FakeCollector(bool accept_gzip = true) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    if (!accept_gzip) builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
  }
  ~FakeCollector() override {
    {
      std::lock_guard lock(mu_);
      for (auto* r : hung_) r->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "test over"));
      hung_.clear();
    }
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  void Answer(grpc::StatusCode code, bool hang = false) {
    std::lock_guard lock(mu_);
    code_ = code;
    hang_ = hang;
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  size_t hung() {
    std::lock_guard lock(mu_);
    return hung_.size();
  }

  grpc::ServerUnaryReactor* PostSpans(grpc::CallbackServerContext* ctx,
                                      const jm::PostSpansRequest* request,
                                      jm::PostSpansResponse*) override {
    auto* reactor = ctx->DefaultReactor();
    std::lock_guard lock(mu_);
    Received r{*request, {}};
    for (const auto& [k, v] : ctx->client_metadata()) {
      r.metadata.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    received_.push_back(std::move(r));
    if (hang_) {
      hung_.push_back(reactor);
    } else {
      reactor->Finish(code_ == grpc::StatusCode::OK ? grpc::Status::OK
                                                    : grpc::Status(code_, "test answer"));
    }
    return reactor;
  }

 private:
  std::mutex mu_;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
  bool hang_ = false;
  std::vector<Received> received_;
  std::vector<grpc::ServerUnaryReactor*> hung_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::string Yaml(const FakeCollector& c, const std::string& extra = "") {
  return "endpoint: " + c.endpoint() + "\ntls: {insecure: true}\n" + extra;
}

TEST(JaegerExporter, SendsOnePostSpansWithTheTranslatedBatchAndHeaders) {
  FakeCollector collector;
  FakeHost host;
  auto m = MakeOtlp("jaeger", Yaml(collector, "headers: {X-Tenant: acme}\n"), host);
  TracesRequest req = testing::MakeTraces("op", 3);
  auto* other = req.add_resource_spans();
  testing::AddStringAttr(other->mutable_resource()->mutable_attributes(), "service.name", "b");
  auto* span = other->add_scope_spans()->add_spans();
  span->set_trace_id(testing::TraceIdBytes(0));
  span->set_span_id(testing::SpanIdBytes(40));
  span->set_parent_span_id(testing::SpanIdBytes(0));
  Status s = m.exporter->Push(*testing::MakeBatch(Signal::kTraces, req));
  ASSERT_TRUE(s.ok()) << s.message();

  auto got = collector.received();
  ASSERT_EQ(got.size(), 1u);  // the whole request in one call, both resources
  const jm::Batch& batch = got[0].request.batch();
  EXPECT_EQ(batch.process().service_name(), "unit-test");
  ASSERT_EQ(batch.spans_size(), 4);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(batch.spans(i).operation_name(), "op-" + std::to_string(i));
    EXPECT_EQ(batch.spans(i).trace_id(), testing::TraceIdBytes(uint8_t(i)));
    EXPECT_FALSE(batch.spans(i).has_process());
  }
  EXPECT_EQ(batch.spans(3).process().service_name(), "b");
  ASSERT_EQ(batch.spans(3).references_size(), 1);
  EXPECT_EQ(batch.spans(3).references(0).span_id(), testing::SpanIdBytes(0));
  EXPECT_EQ(batch.spans(3).references(0).ref_type(), jm::CHILD_OF);
  auto tenant = got[0].metadata.find("x-tenant");
  ASSERT_NE(tenant, got[0].metadata.end());
  EXPECT_EQ(tenant->second, "acme");
}

TEST(JaegerExporter, ABatchWithoutSpansSendsNothing) {
  FakeCollector collector;
  FakeHost host;
  auto m = MakeOtlp("jaeger", Yaml(collector), host);
  TracesRequest req;
  req.add_resource_spans()->add_scope_spans();
  EXPECT_TRUE(m.exporter->Push(*testing::MakeBatch(Signal::kTraces, req)).ok());
  EXPECT_TRUE(collector.received().empty());
}

TEST(JaegerExporter, SendsUncompressedByDefaultAndGzipWhenAsked) {
  FakeCollector collector(/*accept_gzip=*/false);
  FakeHost host;
  Batch b = testing::TracesBatch("t", 5);
  {
    auto m = MakeOtlp("jaeger", Yaml(collector), host);
    Status s = m.exporter->Push(*b);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  {
    auto m = MakeOtlp("jaeger", Yaml(collector, "compression: gzip\n"), host);
    Status s = m.exporter->Push(*b);
    EXPECT_THAT(s.message(), HasSubstr("UNIMPLEMENTED"));  // the server refused gzip
  }
}

TEST(JaegerExporter, MapsStatusCodesLikeTheOtlpExportersPlusJaegersBackPressure) {
  const std::pair<grpc::StatusCode, bool> cases[] = {
      {grpc::StatusCode::UNAVAILABLE, true},
      {grpc::StatusCode::DEADLINE_EXCEEDED, true},
      {grpc::StatusCode::ABORTED, true},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, true},  // Jaeger v1: its queue is full
      {grpc::StatusCode::UNKNOWN, true},             // Jaeger v2: its pipeline refused
      {grpc::StatusCode::INVALID_ARGUMENT, false},
      {grpc::StatusCode::PERMISSION_DENIED, false},
      {grpc::StatusCode::UNIMPLEMENTED, false},
      {grpc::StatusCode::INTERNAL, false},
  };
  FakeCollector collector;
  FakeHost host;
  auto m = MakeOtlp("jaeger", Yaml(collector), host);
  for (const auto& [code, retryable] : cases) {
    collector.Answer(code);
    Status s = m.exporter->Push(*testing::TracesBatch("t"));
    EXPECT_FALSE(s.ok()) << code;
    EXPECT_EQ(s.retryable(), retryable) << code << ": " << s.message();
    EXPECT_THAT(s.message(), HasSubstr("test answer"));
  }
}

TEST(JaegerExporter, ACollectorThatNeverAnswersIsRetryableAfterTheTimeout) {
  FakeCollector collector;
  collector.Answer(grpc::StatusCode::OK, /*hang=*/true);
  FakeHost host;
  auto m = MakeOtlp("jaeger", Yaml(collector, "timeout: 300ms\n"), host);
  Status s;
  auto took = Timed([&] { s = m.exporter->Push(*testing::TracesBatch("t")); });
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(JaegerExporter, ShutdownCancelsACallInFlightAndRefusesLaterOnes) {
  FakeCollector collector;
  collector.Answer(grpc::StatusCode::OK, /*hang=*/true);
  FakeHost host;
  auto m = MakeOtlp("jaeger", Yaml(collector, "timeout: 0s\n"), host);
  Status s;
  std::thread pusher([&] { s = m.exporter->Push(*testing::TracesBatch("t")); });
  ASSERT_TRUE(testing::WaitFor([&] { return collector.hung() == 1; }));
  auto took = Timed([&] { m.exporter->Shutdown(Clock::now() + 5s); });
  pusher.join();
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("CANCELLED"));
  Status after = m.exporter->Push(*testing::TracesBatch("t"));
  EXPECT_FALSE(after.ok());
  EXPECT_FALSE(after.retryable());
}

TEST(JaegerExporter, PushIsSafeFromManyThreads) {
  FakeCollector collector;
  FakeHost host;
  auto m = MakeOtlp("jaeger", Yaml(collector), host);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        if (m.exporter->Push(*testing::TracesBatch("t" + std::to_string(t), 2)).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
  EXPECT_EQ(collector.received().size(), 80u);
}

TEST(JaegerExporter, TlsByDefaultCannotTalkToAPlaintextCollector) {
  FakeCollector collector;
  FakeHost host;
  auto m = MakeOtlp("jaeger", "endpoint: " + collector.endpoint() + "\ntimeout: 2s\n", host);
  EXPECT_FALSE(m.exporter->Push(*testing::TracesBatch("t")).ok());
  EXPECT_TRUE(collector.received().empty());
}

TEST(JaegerExporter, ConfigErrorsNameTheLineAndPath) {
  auto check = [](const std::string& yaml, const std::string& expected) {
    Made m = ParseOtlp("jaeger", yaml);
    EXPECT_THAT(m.errors, ::testing::Contains(HasSubstr(expected))) << yaml;
  };
  check("timeout: 1s\n", "config.yaml:1: exporters.jaeger.endpoint: endpoint must be set "
                         "(host:port of the Jaeger collector's gRPC port, 14250)");
  check("endpoint: jaeger\n", "config.yaml:1: exporters.jaeger.endpoint: \"jaeger\" is not "
                              "host:port: the port is missing");
  check("endpoint: jaeger:14250\ncompression: zstd\n",
        "config.yaml:2: exporters.jaeger.compression: \"zstd\" is not one of");
  check("endpoint: jaeger:14250\nheaders: {grpc-timeout: 1s}\n", "reserved by gRPC");
  check("endpoint: jaeger:14250\ntls: {cert_file: c.pem}\n", "cert_file needs key_file");
  check("endpoint: jaeger:14250\nkeepalive: {time: 1s}\n",
        "config.yaml:2: exporters.jaeger.keepalive: unknown key");
  check("endpoint: jaeger:14250\nretry_on_failure: {initial_interval: -1s}\n",
        "exporters.jaeger.retry_on_failure.initial_interval");
  EXPECT_THAT(ParseOtlp("jaeger", "endpoint: jaeger-collector:14250\n").errors,
              ::testing::IsEmpty());
}

TEST(JaegerExporter, RegisteredForTracesWithHelperSettings) {
  const ExporterFactory& f = testing::OtlpFactory("jaeger");
  EXPECT_TRUE(f.signals().Has(Signal::kTraces));
  EXPECT_FALSE(f.signals().Has(Signal::kMetrics));
  EXPECT_FALSE(f.signals().Has(Signal::kLogs));
  Made m = ParseOtlp("jaeger", "endpoint: localhost:14250\ntimeout: 7s\n"
                               "sending_queue: {num_consumers: 3}\n"
                               "retry_on_failure: {enabled: false}\n");
  const auto* helper = f.HelperSettings(*m.config);
  ASSERT_NE(helper, nullptr);
  EXPECT_EQ(helper->timeout, config::Duration(7s));
  EXPECT_EQ(helper->sending_queue.num_consumers, 3);
  EXPECT_FALSE(helper->retry_on_failure.enabled);
}

}  // namespace
}  // namespace otelite
