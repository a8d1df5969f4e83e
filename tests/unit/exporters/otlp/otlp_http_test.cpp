// The otlp_http exporter against otelite's own HTTP server (src/net) on loopback, answering with
// chosen statuses, Retry-After headers, google.rpc.Status bodies and partial-success responses.
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "exporters/otlp/http_client.h"
#include "google/rpc/status.pb.h"
#include "net/http_server.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otlp_test_util.h"
#include "pdata/compression.h"
#include "pdata/otlp_json.h"

namespace otelite {
namespace {

namespace collector = opentelemetry::proto::collector;
using namespace std::chrono_literals;
using google::protobuf::util::MessageDifferencer;
using testing::FakeHost;
using testing::MakeBatch;
using testing::MakeOtlp;
using testing::Made;
using testing::MetricValue;
using testing::ParseOtlp;
using testing::Timed;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool hang = false;  // answer only when the server is destroyed
};

class TestHttpServer : public net::HttpHandler {
 public:
  explicit TestHttpServer(uint16_t port = 0) {
    net::HttpServer::Options o;
    o.endpoint = "127.0.0.1:" + std::to_string(port);
    o.threads = 4;
    server_ = std::make_unique<net::HttpServer>(o, *this);
    EXPECT_EQ(server_->Start(), "");
  }
  ~TestHttpServer() override { Stop(); }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    if (server_) server_->Stop(std::chrono::steady_clock::now() + 2s);
  }

  uint16_t port() const { return server_->port(); }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port()); }
  void SetReply(HttpReply r) {
    std::lock_guard lock(mu_);
    reply_ = std::move(r);
  }
  std::vector<net::HttpRequest> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  size_t waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }

  net::HttpResponse OnRequest(net::HttpRequest& request) override {
    std::unique_lock lock(mu_);
    received_.push_back(request);
    HttpReply reply = reply_;
    if (reply.hang) {
      ++waiting_;
      cv_.wait(lock, [&] { return released_; });
      --waiting_;
    }
    net::HttpResponse r;
    r.status = reply.status;
    r.headers = reply.headers;
    r.body = reply.body;
    return r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  size_t waiting_ = 0;
  HttpReply reply_;
  std::vector<net::HttpRequest> received_;
  std::unique_ptr<net::HttpServer> server_;
};

std::string Yaml(const TestHttpServer& server, const std::string& extra = "") {
  return "endpoint: " + server.base() + "\n" + extra;
}

std::string Gunzip(const std::string& in) {
  std::string out;
  EXPECT_EQ(GunzipLimited(in, 64 << 20, &out), DecompressResult::kOk);
  return out;
}

uint16_t ClosedPort() {
  TestHttpServer s;
  uint16_t port = s.port();
  s.Stop();
  return port;
}

TEST(OtlpHttpExporter, PostsGzippedProtobufToTheSignalPathsWithHeaders) {
  TestHttpServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_http",
                    Yaml(server, "headers: {X-Tenant: acme, Authorization: Bearer t}\n"), host);
  Batch traces = testing::TracesBatch("t", 3);
  Batch metrics = MakeBatch(Signal::kMetrics, testing::MakeGaugeMetrics("m"));
  Batch logs = MakeBatch(Signal::kLogs, testing::MakeLogs("l", 2));
  for (const Batch& b : {traces, metrics, logs}) {
    Status s = m.exporter->Push(*b);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  auto got = server.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].target, "/v1/traces");
  EXPECT_EQ(got[1].target, "/v1/metrics");
  EXPECT_EQ(got[2].target, "/v1/logs");
  EXPECT_EQ(Gunzip(got[0].body), traces->serialized());
  EXPECT_EQ(Gunzip(got[1].body), metrics->serialized());
  EXPECT_EQ(Gunzip(got[2].body), logs->serialized());
  for (const auto& r : got) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.Header("content-type"), "application/x-protobuf");
    EXPECT_EQ(r.Header("content-encoding"), "gzip");
    EXPECT_EQ(r.Header("x-tenant"), "acme");
    EXPECT_EQ(r.Header("authorization"), "Bearer t");
    EXPECT_EQ(r.Header("host"), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_THAT(std::string(r.Header("user-agent")), StartsWith("otelite/"));
  }
}

TEST(OtlpHttpExporter, SignalEndpointsOverrideAndBasePathsAreJoined) {
  TestHttpServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_http",
                    "endpoint: " + server.base() + "/otlp/\n" + "logs_endpoint: " + server.base() +
                        "/custom/logs?tenant=a\ncompression: none\n",
                    host);
  EXPECT_TRUE(m.exporter->Push(*testing::TracesBatch("t")).ok());
  EXPECT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, testing::MakeLogs("l"))).ok());
  auto got = server.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].target, "/otlp/v1/traces");
  EXPECT_EQ(got[1].target, "/custom/logs?tenant=a");
  EXPECT_EQ(got[0].Header("content-encoding"), "");
  EXPECT_EQ(got[0].body, testing::TracesBatch("t")->serialized());
}

TEST(OtlpHttpExporter, JsonEncodingWithZstd) {
  TestHttpServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_http", Yaml(server, "encoding: json\ncompression: zstd\n"), host);
  Batch b = testing::TracesBatch("json", 2);
  ASSERT_TRUE(m.exporter->Push(*b).ok());
  auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Header("content-type"), "application/json");
  EXPECT_EQ(got[0].Header("content-encoding"), "zstd");
  std::string json;
  ASSERT_EQ(ZstdDecompressLimited(got[0].body, 64 << 20, &json), DecompressResult::kOk);
  EXPECT_THAT(json, HasSubstr("\"spanId\":\"" + HexId(testing::SpanIdBytes(0)) + "\""));
  TracesRequest decoded;
  ASSERT_EQ(DecodeOtlpJson(json, &decoded), "");
  EXPECT_TRUE(MessageDifferencer::Equals(decoded, b->traces()));
}

struct StatusCase {
  int status;
  bool retryable;
};

TEST(OtlpHttpExporter, MapsStatusesAsTheOtlpSpecificationSays) {
  TestHttpServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_http", Yaml(server), host);
  Batch b = testing::TracesBatch("t");
  for (auto c : {StatusCase{429, true}, {502, true}, {503, true}, {504, true}, {400, false},
                 {401, false}, {403, false}, {404, false}, {413, false}, {500, false},
                 {501, false}, {301, false}}) {
    std::string why = "why-" + std::to_string(c.status);
    server.SetReply({c.status, {{"Content-Type", "text/plain"}}, why});
    Status s = m.exporter->Push(*b);
    EXPECT_FALSE(s.ok()) << c.status;
    EXPECT_EQ(s.retryable(), c.retryable) << c.status << ": " << s.message();
    EXPECT_THAT(s.message(), HasSubstr("HTTP " + std::to_string(c.status)));
    EXPECT_THAT(s.message(), HasSubstr("why-" + std::to_string(c.status)));
    EXPECT_EQ(s.throttle(), 0ms);
  }
}

TEST(OtlpHttpExporter, RetryAfterSecondsAndHttpDateBecomeTheThrottle) {
  TestHttpServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_http", Yaml(server), host);
  Batch b = testing::TracesBatch("t");

  server.SetReply({429, {{"Retry-After", "7"}}, ""});
  Status s = m.exporter->Push(*b);
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.throttle(), 7000ms);

  // An HTTP-date 30 s ahead (whole seconds: the throttle is between 28 and 31 s).
  std::time_t at = std::time(nullptr) + 30;
  char date[64];
  std::tm tm{};
  gmtime_r(&at, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  server.SetReply({503, {{"Retry-After", date}}, ""});
  s = m.exporter->Push(*b);
  EXPECT_TRUE(s.retryable());
  EXPECT_GE(s.throttle(), 28000ms) << date;
  EXPECT_LE(s.throttle(), 31000ms) << date;

  // Retry-After on a permanent status does not make it retryable.
  server.SetReply({400, {{"Retry-After", "5"}}, ""});
  EXPECT_FALSE(m.exporter->Push(*b).retryable());
}

TEST(OtlpHttpExporter, TheMessageOfAGoogleRpcStatusBodyIsInTheError) {
  TestHttpServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_http", Yaml(server), host);
  Batch b = testing::TracesBatch("t");

  google::rpc::Status st;
  st.set_code(3);
  st.set_message("resource attribute missing");
  server.SetReply({400, {{"Content-Type", "application/x-protobuf"}}, st.SerializeAsString()});
  Status s = m.exporter->Push(*b);
  EXPECT_FALSE(s.retryable());
  EXPECT_THAT(s.message(), HasSubstr("HTTP 400: resource attribute missing"));

  server.SetReply({503,
                   {{"Content-Type", "application/json"}},
                   R"({"code":14,"message":"queue is full","details":[]})"});
  s = m.exporter->Push(*b);
  EXPECT_TRUE(s.retryable());
  EXPECT_THAT(s.message(), HasSubstr("HTTP 503: queue is full"));
}

TEST(OtlpHttpExporter, PartialSuccessIsOkAndCountsTheRejectedItems) {
  TestHttpServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_http", Yaml(server), host);
  collector::trace::v1::ExportTraceServiceResponse traces;
  traces.mutable_partial_success()->set_rejected_spans(2);
  traces.mutable_partial_success()->set_error_message("2 spans without a name");
  server.SetReply({200, {{"Content-Type", "application/x-protobuf"}}, traces.SerializeAsString()});
  EXPECT_TRUE(m.exporter->Push(*testing::TracesBatch("t", 4)).ok());

  collector::metrics::v1::ExportMetricsServiceResponse metrics;
  metrics.mutable_partial_success()->set_rejected_data_points(5);
  server.SetReply({200, {{"Content-Type", "application/x-protobuf"}}, metrics.SerializeAsString()});
  EXPECT_TRUE(m.exporter->Push(*MakeBatch(Signal::kMetrics, testing::MakeGaugeMetrics("m"))).ok());

  // A JSON answer (as to an encoding: json request).
  server.SetReply({200,
                   {{"Content-Type", "application/json"}},
                   R"({"partialSuccess":{"rejectedLogRecords":"4","errorMessage":"bad"}})"});
  EXPECT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, testing::MakeLogs("l", 4))).ok());

  std::string text = host.telemetry().Scrape();
  EXPECT_EQ(MetricValue(text, "otelite_exporter_rejected_spans_total", "otlp_http/x"), 2);
  EXPECT_EQ(MetricValue(text, "otelite_exporter_rejected_metric_points_total", "otlp_http/x"), 5);
  EXPECT_EQ(MetricValue(text, "otelite_exporter_rejected_log_records_total", "otlp_http/x"), 4);
}

TEST(OtlpHttpExporter, ConnectionRefusedIsRetryable) {
  FakeHost host;
  auto m = MakeOtlp("otlp_http", "endpoint: http://127.0.0.1:" + std::to_string(ClosedPort()) +
                                     "\ntimeout: 2s\n",
                    host);
  Status s = m.exporter->Push(*testing::TracesBatch("t"));
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("connect to 127.0.0.1:"));
}

TEST(OtlpHttpExporter, AServerThatNeverAnswersIsRetryableAfterTheTimeout) {
  TestHttpServer server;
  server.SetReply({.hang = true});
  FakeHost host;
  auto m = MakeOtlp("otlp_http", Yaml(server, "timeout: 300ms\n"), host);
  Status s;
  auto took = Timed([&] { s = m.exporter->Push(*testing::TracesBatch("t")); });
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("timed out"));
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(OtlpHttpExporter, ShutdownAbortsARequestInFlight) {
  TestHttpServer server;
  server.SetReply({.hang = true});
  FakeHost host;
  auto m = MakeOtlp("otlp_http", Yaml(server, "timeout: 0s\n"), host);  // no deadline at all
  Status s;
  std::thread pusher([&] { s = m.exporter->Push(*testing::TracesBatch("t")); });
  ASSERT_TRUE(testing::WaitFor([&] { return server.waiting() == 1; }));
  auto took = Timed([&] {
    m.exporter->Shutdown(Clock::now() + 5s);
    pusher.join();
  });
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(s.retryable()) << s.message();
  EXPECT_FALSE(m.exporter->Push(*testing::TracesBatch("t")).ok());
}

TEST(OtlpHttpExporter, PushIsSafeFromManyThreads) {
  TestHttpServer server;
  FakeHost host;
  auto m = MakeOtlp("otlp_http", Yaml(server), host);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        Status s = m.exporter->Push(*testing::TracesBatch("t" + std::to_string(t), 2));
        if (s.ok()) ++ok;
        else ADD_FAILURE() << s.message();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(server.received().size(), 200u);
}

TEST(OtlpHttpClient, KeepsTheConnectionAliveBetweenRequests) {
  TestHttpServer server;
  exporters::otlp::HttpClient client;
  ASSERT_EQ(client.Init({}), "");
  exporters::otlp::Url url;
  ASSERT_EQ(exporters::otlp::ParseUrl(server.base() + "/v1/traces", &url), "");
  for (int i = 0; i < 5; ++i) {
    exporters::otlp::HttpClientResponse res;
    ASSERT_EQ(client.Post(url, {}, "body" + std::to_string(i), Clock::now() + 5s, &res), "");
    EXPECT_EQ(res.status, 200);
  }
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(server.received().size(), 5u);
}

TEST(OtlpHttpClient, ReconnectsWhenTheServerClosedAnIdleConnection) {
  auto server = std::make_unique<TestHttpServer>();
  uint16_t port = server->port();
  exporters::otlp::HttpClient client;
  ASSERT_EQ(client.Init({}), "");
  exporters::otlp::Url url;
  ASSERT_EQ(exporters::otlp::ParseUrl(server->base() + "/v1/logs", &url), "");
  exporters::otlp::HttpClientResponse res;
  ASSERT_EQ(client.Post(url, {}, "one", Clock::now() + 5s, &res), "");
  server.reset();  // closes the kept-alive connection
  server = std::make_unique<TestHttpServer>(port);
  ASSERT_EQ(client.Post(url, {}, "two", Clock::now() + 5s, &res), "");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(client.connections_opened(), 2u);
  ASSERT_EQ(server->received().size(), 1u);
  EXPECT_EQ(server->received()[0].body, "two");
}

TEST(OtlpHttpExporter, ConfigErrorsNameTheLineAndPath) {
  auto check = [](const std::string& yaml, const std::string& expected) {
    Made m = ParseOtlp("otlp_http", yaml);
    EXPECT_THAT(m.errors, ::testing::Contains(HasSubstr(expected))) << yaml;
  };
  check("compression: gzip\n",
        "config.yaml:1: exporters.otlp_http.endpoint: endpoint must be set (or traces_endpoint");
  check("compression: gzip\nendpoint: localhost:4318\n",
        "config.yaml:2: exporters.otlp_http.endpoint: \"localhost:4318\" is not an http:// or "
        "https:// URL");
  check("endpoint: http://:4318\n", "the host is missing");
  check("endpoint: http://localhost:0\n", "the port must be a number from 1 to 65535");
  check("endpoint: http://localhost:4318\ntraces_endpoint: ftp://x/v1/traces\n",
        "config.yaml:2: exporters.otlp_http.traces_endpoint: \"ftp://x/v1/traces\"");
  check("endpoint: http://user:pw@localhost:4318\n", "user information");
  check("endpoint: http://localhost:4318\nencoding: xml\n",
        "config.yaml:2: exporters.otlp_http.encoding: \"xml\" is not one of: proto, json");
  check("endpoint: http://localhost:4318\ncompression: lz4\n", "\"lz4\" is not one of");
  check("endpoint: http://localhost:4318\nheaders: {Content-Length: \"1\"}\n",
        "header \"Content-Length\" is set by the exporter");
  check("endpoint: http://localhost:4318\ntls:\n  key_file: k.pem\n",
        "config.yaml:3: exporters.otlp_http.tls.key_file: key_file needs cert_file");
  check("endpoint: http://localhost:4318\nretry_on_failure: {multiplier: 0.5}\n",
        "exporters.otlp_http.retry_on_failure.multiplier");
  for (const char* ok : {"endpoint: http://localhost:4318\n", "endpoint: https://example.com\n",
                         "traces_endpoint: http://[::1]:4318/v1/traces\n"}) {
    EXPECT_THAT(ParseOtlp("otlp_http", ok).errors, ::testing::IsEmpty()) << ok;
  }
}

TEST(OtlpHttpExporter, DefaultsAndDeprecatedAlias) {
  Made m = ParseOtlp("otlp_http", "endpoint: http://localhost:4318\n");
  const auto* helper = testing::OtlpFactory("otlp_http").HelperSettings(*m.config);
  ASSERT_NE(helper, nullptr);
  EXPECT_EQ(helper->timeout, config::Duration(30s));  // otlphttp's default
  EXPECT_EQ(helper->sending_queue.num_consumers, 10);
  auto found = BuiltinRegistry().Find(Kind::kExporter, "otlphttp");
  ASSERT_NE(found.factory, nullptr);
  EXPECT_TRUE(found.deprecated_alias);
  EXPECT_EQ(found.factory->type(), "otlp_http");
}

TEST(OtlpHttpExporter, StartFailsWhenAUsedSignalHasNoUrl) {
  FakeHost host;
  Made m = ParseOtlp("otlp_http", "traces_endpoint: http://localhost:4318/v1/traces\n");
  CreateSettings settings;
  settings.id = ComponentId("otlp_http");
  auto traces_only = testing::OtlpFactory("otlp_http").Create(settings, *m.config,
                                                              SignalSet{Signal::kTraces});
  EXPECT_EQ(traces_only->Start(host), "");
  auto with_logs = testing::OtlpFactory("otlp_http")
                       .Create(settings, *m.config, SignalSet{Signal::kTraces, Signal::kLogs});
  EXPECT_THAT(with_logs->Start(host), HasSubstr("no URL for logs: set endpoint or logs_endpoint"));
}

}  // namespace
}  // namespace otelite
