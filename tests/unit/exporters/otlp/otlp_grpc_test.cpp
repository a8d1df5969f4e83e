// The otlp_grpc exporter against a real gRPC server on loopback that answers with chosen status
// codes, RetryInfo details and partial-success responses, and records what arrived.
#include <grpc/compression.h>
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "otlp_test_util.h"

namespace otelite {
namespace {

namespace collector = opentelemetry::proto::collector;
using namespace std::chrono_literals;
using testing::FakeHost;
using testing::Made;
using testing::MakeBatch;
using testing::MakeOtlp;
using testing::MetricValue;
using testing::ParseOtlp;
using testing::Timed;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Reply {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::optional<std::chrono::milliseconds> retry_delay;  // RetryInfo in the status details
  std::string response;  // a serialized Export*ServiceResponse
  bool hang = false;     // never answer (until the server is destroyed)
};

struct Received {
  std::string method;
  std::string body;
  std::multimap<std::string, std::string> metadata;
};

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (buffer.Dump(&slices).ok()) {
    for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

class TestGrpcServer {
 public:
  explicit TestGrpcServer(bool accept_gzip = true) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    if (!accept_gzip) builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
    builder.RegisterService(&traces_);
    builder.RegisterService(&metrics_);
    builder.RegisterService(&logs_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_GT(port_, 0);
  }
  ~TestGrpcServer() {
    {
      std::lock_guard lock(mu_);
      for (auto* r : hung_) r->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "test over"));
      hung_.clear();
    }
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  void SetReply(Reply r) {
    std::lock_guard lock(mu_);
    reply_ = std::move(r);
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  size_t hung() {
    std::lock_guard lock(mu_);
    return hung_.size();
  }

 private:
  grpc::ServerUnaryReactor* Handle(const char* method, grpc::CallbackServerContext* ctx,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
    auto* reactor = ctx->DefaultReactor();
    std::lock_guard lock(mu_);
    Received r{method, FromBuffer(*request), {}};
    for (const auto& [k, v] : ctx->client_metadata()) {
      r.metadata.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    received_.push_back(std::move(r));
    if (reply_.hang) {
      hung_.push_back(reactor);
      return reactor;
    }
    if (reply_.code == grpc::StatusCode::OK) {
      *response = ToBuffer(reply_.response);
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    if (!reply_.retry_delay) {
      reactor->Finish(grpc::Status(reply_.code, reply_.message));
      return reactor;
    }
    google::rpc::RetryInfo info;
    info.mutable_retry_delay()->set_seconds(reply_.retry_delay->count() / 1000);
    info.mutable_retry_delay()->set_nanos(int32_t(reply_.retry_delay->count() % 1000) * 1000000);
    google::rpc::Status details;
    details.set_code(int(reply_.code));
    details.set_message(reply_.message);
    details.add_details()->PackFrom(info);
    reactor->Finish(grpc::Status(reply_.code, reply_.message, details.SerializeAsString()));
    return reactor;
  }

  template <class S>
  class Service : public S::template WithRawCallbackMethod_Export<typename S::Service> {
   public:
    Service(TestGrpcServer& server, const char* name) : server_(server), name_(name) {}
    grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* ctx,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override {
      return server_.Handle(name_, ctx, request, response);
    }

   private:
    TestGrpcServer& server_;
    const char* name_;
  };

  std::mutex mu_;
  Reply reply_;
  std::vector<Received> received_;
  std::vector<grpc::ServerUnaryReactor*> hung_;
  Service<collector::trace::v1::TraceService> traces_{*this, "traces"};
  Service<collector::metrics::v1::MetricsService> metrics_{*this, "metrics"};
  Service<collector::logs::v1::LogsService> logs_{*this, "logs"};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::string Yaml(const TestGrpcServer& server, const std::string& extra = "") {
  return "endpoint: " + server.endpoint() + "\ntls: {insecure: true}\n" + extra;
}

// A port nobody listens on (bound, then released).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(OtlpGrpcExporter, SendsThePayloadBytesUnchangedWithHeadersToTheSignalsMethod) {
  TestGrpcServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc", Yaml(server, "headers: {X-Tenant: acme, api-key: s3cret}\n"),
                    host);
  Batch traces = testing::TracesBatch("t", 3);
  Batch metrics = MakeBatch(Signal::kMetrics, testing::MakeGaugeMetrics("m"));
  Batch logs = MakeBatch(Signal::kLogs, testing::MakeLogs("l", 2));
  for (const Batch& b : {traces, metrics, logs}) {
    Status s = m.exporter->Push(*b);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  auto got = server.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].method, "traces");
  EXPECT_EQ(got[1].method, "metrics");
  EXPECT_EQ(got[2].method, "logs");
  EXPECT_EQ(got[0].body, traces->serialized());
  EXPECT_EQ(got[1].body, metrics->serialized());
  EXPECT_EQ(got[2].body, logs->serialized());
  for (const auto& r : got) {
    auto tenant = r.metadata.find("x-tenant");
    ASSERT_NE(tenant, r.metadata.end());
    EXPECT_EQ(tenant->second, "acme");
    auto key = r.metadata.find("api-key");
    ASSERT_NE(key, r.metadata.end());
    EXPECT_EQ(key->second, "s3cret");
    auto ua = r.metadata.find("user-agent");
    ASSERT_NE(ua, r.metadata.end());
    EXPECT_THAT(ua->second, StartsWith("otelite/"));
  }
  m.exporter->Shutdown(Clock::now() + 1s);
}

// A server that refuses gzip-compressed calls tells whether the exporter compresses.
TEST(OtlpGrpcExporter, CompressesWithGzipByDefaultAndNotWithNone) {
  TestGrpcServer server(/*accept_gzip=*/false);
  FakeHost host;
  Batch b = testing::TracesBatch("t", 5);
  {
    auto m = MakeOtlp("otlp_grpc", Yaml(server), host);
    Status s = m.exporter->Push(*b);
    EXPECT_FALSE(s.ok());
    EXPECT_FALSE(s.retryable());
    EXPECT_THAT(s.message(), HasSubstr("UNIMPLEMENTED"));
  }
  {
    auto m = MakeOtlp("otlp_grpc", Yaml(server, "compression: none\n"), host);
    Status s = m.exporter->Push(*b);
    EXPECT_TRUE(s.ok()) << s.message();
  }
}

// zstd is configured but gRPC C++ 1.51 cannot send it: a warning, and gzip goes on the wire.
TEST(OtlpGrpcExporter, ZstdIsSentAsGzipWithAWarning) {
  TestGrpcServer server(/*accept_gzip=*/false);
  FakeHost host;
  Made made = ParseOtlp("otlp_grpc", Yaml(server, "compression: zstd\n"));
  ASSERT_EQ(made.errors.size(), 1u);
  EXPECT_THAT(made.errors[0], HasSubstr("config.yaml:3: exporters.otlp_grpc.compression: "
                                        "warning: zstd is not available"));
  CreateSettings settings;
  settings.id = ComponentId("otlp_grpc", "x");
  auto e = testing::OtlpFactory("otlp_grpc").Create(settings, *made.config, SignalSet::All());
  ASSERT_EQ(e->Start(host), "");
  Status s = e->Push(*testing::TracesBatch("t"));
  EXPECT_THAT(s.message(), HasSubstr("UNIMPLEMENTED"));  // the server saw gzip
}

struct CodeCase {
  grpc::StatusCode code;
  bool retryable;
};

TEST(OtlpGrpcExporter, MapsStatusCodesAsTheOtlpSpecificationSays) {
  TestGrpcServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc", Yaml(server), host);
  Batch b = testing::TracesBatch("t");
  const CodeCase cases[] = {
      {grpc::StatusCode::CANCELLED, true},          {grpc::StatusCode::DEADLINE_EXCEEDED, true},
      {grpc::StatusCode::ABORTED, true},            {grpc::StatusCode::OUT_OF_RANGE, true},
      {grpc::StatusCode::UNAVAILABLE, true},        {grpc::StatusCode::DATA_LOSS, true},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, false},  // without RetryInfo
      {grpc::StatusCode::UNKNOWN, false},           {grpc::StatusCode::INVALID_ARGUMENT, false},
      {grpc::StatusCode::NOT_FOUND, false},         {grpc::StatusCode::ALREADY_EXISTS, false},
      {grpc::StatusCode::PERMISSION_DENIED, false}, {grpc::StatusCode::FAILED_PRECONDITION, false},
      {grpc::StatusCode::UNIMPLEMENTED, false},     {grpc::StatusCode::INTERNAL, false},
      {grpc::StatusCode::UNAUTHENTICATED, false},
  };
  for (const auto& c : cases) {
    server.SetReply({c.code, "reason-" + std::to_string(int(c.code))});
    Status s = m.exporter->Push(*b);
    EXPECT_FALSE(s.ok()) << int(c.code);
    EXPECT_EQ(s.retryable(), c.retryable) << int(c.code) << " " << s.message();
    EXPECT_THAT(s.message(), HasSubstr("reason-" + std::to_string(int(c.code))));
    EXPECT_EQ(s.throttle(), 0ms) << int(c.code);
  }
}

TEST(OtlpGrpcExporter, RetryInfoMakesResourceExhaustedRetryableAndSetsTheThrottle) {
  TestGrpcServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc", Yaml(server), host);
  Batch b = testing::TracesBatch("t");

  server.SetReply({grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down", 1500ms});
  Status s = m.exporter->Push(*b);
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_EQ(s.throttle(), 1500ms);
  EXPECT_THAT(s.message(), HasSubstr("RESOURCE_EXHAUSTED: slow down"));

  server.SetReply({grpc::StatusCode::UNAVAILABLE, "busy", 3s});
  s = m.exporter->Push(*b);
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.throttle(), 3000ms);

  // RetryInfo does not make a permanent code retryable.
  server.SetReply({grpc::StatusCode::INVALID_ARGUMENT, "bad", 2s});
  s = m.exporter->Push(*b);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.retryable());
}

TEST(OtlpGrpcExporter, PartialSuccessIsOkAndCountsTheRejectedItemsPerSignal) {
  TestGrpcServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc", Yaml(server), host);

  collector::trace::v1::ExportTraceServiceResponse traces;
  traces.mutable_partial_success()->set_rejected_spans(3);
  traces.mutable_partial_success()->set_error_message("spans too old");
  server.SetReply({grpc::StatusCode::OK, "", std::nullopt, traces.SerializeAsString()});
  EXPECT_TRUE(m.exporter->Push(*testing::TracesBatch("t", 5)).ok());
  EXPECT_TRUE(m.exporter->Push(*testing::TracesBatch("t", 5)).ok());

  collector::metrics::v1::ExportMetricsServiceResponse metrics;
  metrics.mutable_partial_success()->set_rejected_data_points(4);
  server.SetReply({grpc::StatusCode::OK, "", std::nullopt, metrics.SerializeAsString()});
  EXPECT_TRUE(m.exporter->Push(*MakeBatch(Signal::kMetrics, testing::MakeGaugeMetrics("m"))).ok());

  collector::logs::v1::ExportLogsServiceResponse logs;
  logs.mutable_partial_success()->set_rejected_log_records(7);
  server.SetReply({grpc::StatusCode::OK, "", std::nullopt, logs.SerializeAsString()});
  EXPECT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, testing::MakeLogs("l"))).ok());

  // A warning only (no count): accepted.
  logs.mutable_partial_success()->set_rejected_log_records(0);
  logs.mutable_partial_success()->set_error_message("just a warning");
  server.SetReply({grpc::StatusCode::OK, "", std::nullopt, logs.SerializeAsString()});
  EXPECT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, testing::MakeLogs("l"))).ok());

  std::string text = host.telemetry().Scrape();
  EXPECT_EQ(MetricValue(text, "otelite_exporter_rejected_spans_total", "otlp_grpc/x"), 6);
  EXPECT_EQ(MetricValue(text, "otelite_exporter_rejected_metric_points_total", "otlp_grpc/x"), 4);
  EXPECT_EQ(MetricValue(text, "otelite_exporter_rejected_log_records_total", "otlp_grpc/x"), 7);
}

TEST(OtlpGrpcExporter, AServerThatNeverAnswersIsRetryableAfterTheTimeout) {
  TestGrpcServer server;
  server.SetReply({.hang = true});
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc", Yaml(server, "timeout: 300ms\n"), host);
  Status s;
  auto took = Timed([&] { s = m.exporter->Push(*testing::TracesBatch("t")); });
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(OtlpGrpcExporter, NoServerIsRetryableUnavailable) {
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc",
                    "endpoint: 127.0.0.1:" + std::to_string(ClosedPort()) +
                        "\ntls: {insecure: true}\ntimeout: 2s\n",
                    host);
  Status s = m.exporter->Push(*testing::TracesBatch("t"));
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("UNAVAILABLE"));
}

TEST(OtlpGrpcExporter, TlsAgainstAPlaintextServerFails) {
  // insecure: false (the default) means TLS, as in otelcol; a plaintext server cannot answer.
  TestGrpcServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc", "endpoint: " + server.endpoint() + "\ntimeout: 2s\n", host);
  Status s = m.exporter->Push(*testing::TracesBatch("t"));
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(server.received().empty());
}

TEST(OtlpGrpcExporter, PushIsSafeFromManyThreadsOnOneChannel) {
  TestGrpcServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc", Yaml(server), host);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 10; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (m.exporter->Push(*testing::TracesBatch("t" + std::to_string(t), 2)).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(server.received().size(), 200u);
}

TEST(OtlpGrpcExporter, ShutdownCancelsACallInFlight) {
  TestGrpcServer server;
  server.SetReply({.hang = true});
  FakeHost host;
  auto m = MakeOtlp("otlp_grpc", Yaml(server, "timeout: 0s\n"), host);  // no deadline at all
  Status s;
  std::thread pusher([&] { s = m.exporter->Push(*testing::TracesBatch("t")); });
  ASSERT_TRUE(testing::WaitFor([&] { return server.hung() == 1; }));
  auto took = Timed([&] { m.exporter->Shutdown(Clock::now() + 5s); });
  pusher.join();
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("CANCELLED"));
  Status after = m.exporter->Push(*testing::TracesBatch("t"));
  EXPECT_FALSE(after.ok());
}

TEST(OtlpGrpcExporter, ConfigErrorsNameTheLineAndPath) {
  auto check = [](const std::string& yaml, const std::string& expected) {
    Made m = ParseOtlp("otlp_grpc", yaml);
    EXPECT_THAT(m.errors, ::testing::Contains(HasSubstr(expected))) << yaml;
  };
  check("timeout: 1s\n", "config.yaml:1: exporters.otlp_grpc.endpoint: endpoint must be set");
  check("timeout: 1s\nendpoint: localhost\n",
        "config.yaml:2: exporters.otlp_grpc.endpoint: \"localhost\" is not host:port: the port "
        "is missing");
  check("endpoint: localhost:99999\n", "the port must be a number from 1 to 65535");
  check("endpoint: dns:///localhost:4317\n", "only the http:// and https:// prefixes");
  check("endpoint: localhost:4317/v1/traces\n", "without a path");
  check("endpoint: localhost:4317\ncompression: snappy\n",
        "config.yaml:2: exporters.otlp_grpc.compression: \"snappy\" is not one of");
  check("endpoint: localhost:4317\ntls:\n  cert_file: c.pem\n",
        "config.yaml:3: exporters.otlp_grpc.tls.cert_file: cert_file needs key_file");
  check("endpoint: localhost:4317\nheaders: {\"bad header\": x}\n",
        "exporters.otlp_grpc.headers: header name \"bad header\"");
  check("endpoint: localhost:4317\nheaders: {grpc-timeout: 1s}\n", "reserved by gRPC");
  check("endpoint: localhost:4317\nheaders: {x-name: \"caf\u00e9\"}\n",
        "exporters.otlp_grpc.headers: header \"x-name\": gRPC metadata values must be printable");
  check("endpoint: localhost:4317\ntls: {insecure_skip: true}\n",
        "config.yaml:2: exporters.otlp_grpc.tls.insecure_skip: unknown key");
  check("endpoint: localhost:4317\nsending_queue: {num_consumers: 0}\n",
        "exporters.otlp_grpc.sending_queue.num_consumers");

  for (const char* ok : {"endpoint: localhost:4317\n", "endpoint: http://collector:4317\n",
                         "endpoint: https://collector.example.com:443\n",
                         "endpoint: \"[::1]:4317\"\n"}) {
    EXPECT_THAT(ParseOtlp("otlp_grpc", ok).errors, ::testing::IsEmpty()) << ok;
  }
}

TEST(OtlpGrpcExporter, StartFailsOnAnUnreadableCaFile) {
  FakeHost host;
  Made m = ParseOtlp("otlp_grpc",
                     "endpoint: localhost:4317\ntls: {ca_file: /nonexistent/ca.pem}\n");
  CreateSettings settings;
  settings.id = ComponentId("otlp_grpc");
  auto e = testing::OtlpFactory("otlp_grpc").Create(settings, *m.config, SignalSet::All());
  EXPECT_THAT(e->Start(host), HasSubstr("tls.ca_file: cannot read"));
}

TEST(OtlpGrpcExporter, RegisteredWithTheDeprecatedAliasAndHelperSettings) {
  auto found = BuiltinRegistry().Find(Kind::kExporter, "otlp");
  ASSERT_NE(found.factory, nullptr);
  EXPECT_TRUE(found.deprecated_alias);
  EXPECT_EQ(found.factory->type(), "otlp_grpc");
  Made m = ParseOtlp("otlp_grpc", "endpoint: localhost:4317\ntimeout: 7s\n"
                                  "sending_queue: {num_consumers: 3}\n");
  const auto* helper = testing::OtlpFactory("otlp_grpc").HelperSettings(*m.config);
  ASSERT_NE(helper, nullptr);
  EXPECT_EQ(helper->timeout, config::Duration(7s));
  EXPECT_EQ(helper->sending_queue.num_consumers, 3);
}

}  // namespace
}  // namespace otelite
