// The `otlp_grpc` exporter: one unary Export call per batch on one shared channel, with the
// payload's protobuf bytes sent as they are (a generic stub and a raw ByteBuffer, no re-encoding).
#include <grpc/compression.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "components/registry.h"
#include "exporters/otlp/config.h"
#include "exporters/otlp/status_mapping.h"
#include "otelite_version.h"
#include "pdata/payload.h"

namespace otelite::exporters::otlp {

namespace {

constexpr const char* kMethods[kSignalCount] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

// Bounds of the channel's reconnect backoff, which follows retry_on_failure.max_interval.
constexpr int64_t kMinReconnectBackoffMs = 100;
constexpr int64_t kMaxReconnectBackoffMs = 120000;  // gRPC's default

// Reads a whole PEM file; empty string on success, else the reason.
std::string ReadPem(const std::string& key, const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "tls." + key + ": cannot read \"" + path + "\"";
  std::stringstream s;
  s << in.rdbuf();
  *out = s.str();
  if (out->empty()) return "tls." + key + ": \"" + path + "\" is empty";
  return {};
}

class GrpcExporter : public Exporter {
 public:
  GrpcExporter(const CreateSettings& settings, const GrpcConfig& config)
      : config_(config), id_(settings.id.str()), reporter_(settings) {
    for (const auto& [k, v] : config_.headers) {
      std::string key;
      for (char c : k) key.push_back(char(std::tolower(static_cast<unsigned char>(c))));
      metadata_.emplace_back(std::move(key), v);
    }
    compression_ = config_.compression == "gzip" || config_.compression == "zstd"
                       ? GRPC_COMPRESS_GZIP
                       : GRPC_COMPRESS_NONE;
  }

  ~GrpcExporter() override { Shutdown(Clock::now()); }

  std::string Start(Host&) override {
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (std::string err = Credentials(&creds); !err.empty()) return err;
    grpc::ChannelArguments args;
    args.SetUserAgentPrefix(std::string("otelite/") + OTELITE_VERSION);
    // gRPC backs off reconnecting on its own (up to 120 s by default), and while it waits every
    // call fails at once: after an outage the retries of retry_on_failure would keep failing for
    // up to two minutes after the server came back. The channel retries at least as often as
    // the exporter does.
    if (config_.retry_on_failure.enabled) {
      auto max_backoff = std::clamp<int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(config_.retry_on_failure.max_interval)
              .count(),
          kMinReconnectBackoffMs, kMaxReconnectBackoffMs);
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                  int(std::min<int64_t>(max_backoff, 1000)));
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, int(max_backoff));
    }
    if (GrpcUsesTls(config_) && !config_.tls.server_name_override.empty()) {
      args.SetSslTargetNameOverride(config_.tls.server_name_override);
    }
    auto channel = grpc::CreateCustomChannel(GrpcTarget(config_), creds, args);
    if (!channel) return "cannot create a gRPC channel to " + config_.endpoint;
    std::lock_guard lock(mu_);
    channel_ = channel;
    stub_ = std::make_shared<grpc::GenericStub>(channel_);
    return {};
  }

  Status Push(const Payload& payload) noexcept override {
    try {
      return Send(payload);
    } catch (const std::exception& e) {
      return Status::Retryable(std::string("gRPC export failed: ") + e.what());
    }
  }

  // Cancels the calls in flight (they return CANCELLED) and waits for them until `deadline`.
  void Shutdown(Deadline deadline) override {
    std::unique_lock lock(mu_);
    closed_ = true;
    for (grpc::ClientContext* ctx : inflight_) ctx->TryCancel();
    idle_.wait_until(lock, deadline, [&] { return inflight_.empty(); });
    // A call still in flight holds its own reference to the stub (and so the channel).
    stub_.reset();
    channel_.reset();
  }

 private:
  std::string Credentials(std::shared_ptr<grpc::ChannelCredentials>* out) const {
    const TlsClientConfig& tls = config_.tls;
    if (!GrpcUsesTls(config_)) {
      *out = grpc::InsecureChannelCredentials();
      return {};
    }
    std::string roots, key, cert;
    if (!tls.ca_file.empty()) {
      if (std::string err = ReadPem("ca_file", tls.ca_file, &roots); !err.empty()) return err;
    }
    if (!tls.cert_file.empty()) {
      if (std::string err = ReadPem("cert_file", tls.cert_file, &cert); !err.empty()) return err;
      if (std::string err = ReadPem("key_file", tls.key_file, &key); !err.empty()) return err;
    }
    if (tls.insecure_skip_verify) {
      // Encrypted, but neither the chain nor the name is checked.
      grpc::experimental::TlsChannelCredentialsOptions options;
      options.set_verify_server_certs(false);
      options.set_check_call_host(false);
      options.set_certificate_verifier(
          std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
      if (!cert.empty()) {
        options.set_certificate_provider(
            std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
                std::vector<grpc::experimental::IdentityKeyCertPair>{{key, cert}}));
        options.watch_identity_key_cert_pairs();
      }
      *out = grpc::experimental::TlsCredentials(options);
    } else {
      grpc::SslCredentialsOptions options;
      options.pem_root_certs = roots;  // empty: gRPC's default roots
      options.pem_private_key = key;
      options.pem_cert_chain = cert;
      *out = grpc::SslCredentials(options);
    }
    if (!*out) return "cannot build TLS credentials from the tls settings";
    return {};
  }

  // One call's state; the completion callback runs on a gRPC thread.
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
  };

  Status Send(const Payload& payload) {
    const std::string& bytes = payload.serialized();
    Call call;
    if (config_.timeout.count() > 0) {
      call.context.set_deadline(std::chrono::system_clock::now() + config_.timeout);
    }
    call.context.set_compression_algorithm(compression_);
    for (const auto& [k, v] : metadata_) call.context.AddMetadata(k, v);
    // The payload outlives the call (we wait for its completion), so its bytes are not copied.
    grpc::Slice slice(bytes.data(), bytes.size(), grpc::Slice::STATIC_SLICE);
    grpc::ByteBuffer request(&slice, 1);

    std::shared_ptr<grpc::GenericStub> stub;
    {
      std::lock_guard lock(mu_);
      if (closed_) return Status::Permanent("exporter " + id_ + " is shut down");
      if (!stub_) return Status::Permanent("exporter " + id_ + " is not started");
      stub = stub_;
      // Registered before the call starts: a TryCancel from Shutdown in between cancels the call
      // as soon as it starts.
      inflight_.insert(&call.context);
    }
    stub->UnaryCall(&call.context, kMethods[size_t(payload.signal())], grpc::StubOptions(),
                    &request, &call.response, [&call](grpc::Status s) {
                      std::lock_guard l(call.mu);
                      call.status = std::move(s);
                      call.done = true;
                      call.cv.notify_all();
                    });
    {
      // The deadline (or Shutdown's TryCancel) guarantees the callback comes.
      std::unique_lock l(call.mu);
      call.cv.wait(l, [&] { return call.done; });
    }
    {
      std::lock_guard lock(mu_);
      inflight_.erase(&call.context);
      if (inflight_.empty()) idle_.notify_all();
    }
    const grpc::Status& s = call.status;
    if (!s.ok()) {
      return FromGrpcStatus(int(s.error_code()), s.error_message(), s.error_details());
    }
    std::string body;
    std::vector<grpc::Slice> slices;
    if (call.response.Dump(&slices).ok()) {
      for (const auto& sl : slices) {
        body.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
      }
    }
    PartialSuccess partial;
    if (DecodePartialSuccess(payload.signal(), body, false, &partial)) {
      reporter_.Report(payload.signal(), partial);
    }
    return Status::Ok();
  }

  GrpcConfig config_;
  std::string id_;
  PartialSuccessReporter reporter_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  grpc_compression_algorithm compression_ = GRPC_COMPRESS_NONE;

  std::mutex mu_;
  std::condition_variable idle_;
  bool closed_ = false;
  std::set<grpc::ClientContext*> inflight_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<grpc::GenericStub> stub_;
};

class GrpcFactory : public TypedFactory<ExporterFactory, GrpcConfig> {
 public:
  std::string_view type() const override { return kGrpcType; }
  std::string_view description() const override {
    return "sends OTLP over gRPC (protobuf bytes as received, gzip, TLS)";
  }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<Exporter> Create(const CreateSettings& settings, const ComponentConfig& config,
                                   SignalSet) const override {
    return std::make_unique<GrpcExporter>(settings, Cast(config));
  }
  const helper::ExporterHelperSettings* HelperSettings(
      const ComponentConfig& config) const override {
    return &Cast(config);
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewGrpcFactory() { return std::make_unique<GrpcFactory>(); }

}  // namespace otelite::exporters::otlp
