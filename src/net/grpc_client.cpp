#include "net/grpc_client.h"

#include <grpc/compression.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <vector>

#include "otelite_version.h"

namespace otelite::net {

namespace {

// Bounds of GrpcClientOptions::max_reconnect_backoff.
constexpr int64_t kMinReconnectBackoffMs = 100;
constexpr int64_t kMaxReconnectBackoffMs = 120000;  // gRPC's default

std::string Credentials(const GrpcClientOptions& o,
                        std::shared_ptr<grpc::ChannelCredentials>* out) {
  const TlsClientConfig& tls = o.tls;
  if (!GrpcUsesTls(o.endpoint, tls)) {
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
struct PendingCall {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
};

}  // namespace

struct GrpcUnaryClient::Impl {
  GrpcClientOptions options;
  std::vector<std::pair<std::string, std::string>> metadata;

  std::mutex mu;
  std::condition_variable idle;
  bool closed = false;
  std::set<grpc::ClientContext*> inflight;
  std::shared_ptr<grpc::Channel> channel;
  std::shared_ptr<grpc::GenericStub> stub;
};

std::chrono::milliseconds ReconnectBackoffFor(bool retry_enabled,
                                              std::chrono::nanoseconds max_interval) {
  if (!retry_enabled) return std::chrono::milliseconds(0);
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(max_interval));
}

GrpcUnaryClient::GrpcUnaryClient(GrpcClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  for (const auto& [k, v] : impl_->options.headers) {
    std::string key;
    for (char c : k) key.push_back(char(std::tolower(static_cast<unsigned char>(c))));
    impl_->metadata.emplace_back(std::move(key), v);
  }
}

GrpcUnaryClient::~GrpcUnaryClient() { Shutdown(Clock::now()); }

std::string GrpcUnaryClient::Start() {
  const GrpcClientOptions& o = impl_->options;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (std::string err = Credentials(o, &creds); !err.empty()) return err;
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix(std::string("otelite/") + OTELITE_VERSION);
  if (o.max_reconnect_backoff.count() > 0) {
    auto max_ms = int(std::clamp<int64_t>(o.max_reconnect_backoff.count(), kMinReconnectBackoffMs,
                                          kMaxReconnectBackoffMs));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(max_ms, 1000));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  }
  if (GrpcUsesTls(o.endpoint, o.tls) && !o.tls.server_name_override.empty()) {
    args.SetSslTargetNameOverride(o.tls.server_name_override);
  }
  auto channel = grpc::CreateCustomChannel(GrpcTarget(o.endpoint), creds, args);
  if (!channel) return "cannot create a gRPC channel to " + o.endpoint;
  std::lock_guard lock(impl_->mu);
  impl_->channel = channel;
  impl_->stub = std::make_shared<grpc::GenericStub>(channel);
  return {};
}

GrpcCallResult GrpcUnaryClient::Call(const std::string& method, std::string_view request,
                                     std::chrono::nanoseconds timeout) {
  Impl& im = *impl_;
  GrpcCallResult result;
  PendingCall call;
  if (timeout.count() > 0) {
    auto ticks = std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout);
    call.context.set_deadline(std::chrono::system_clock::now() + ticks);
  }
  call.context.set_compression_algorithm(im.options.gzip ? GRPC_COMPRESS_GZIP
                                                         : GRPC_COMPRESS_NONE);
  for (const auto& [k, v] : im.metadata) call.context.AddMetadata(k, v);
  // A copy the slice owns: a cancelled call completes while the transport may still be writing
  // the bytes (ASan caught a borrowed, static slice being read after the payload was freed).
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer buffer(&slice, 1);

  std::shared_ptr<grpc::GenericStub> stub;
  {
    std::lock_guard lock(im.mu);
    if (im.closed) {
      result.refused = "shut down";
      return result;
    }
    if (!im.stub) {
      result.refused = "not started";
      return result;
    }
    stub = im.stub;
    // Registered before the call starts: a TryCancel from Shutdown in between cancels the call
    // as soon as it starts.
    im.inflight.insert(&call.context);
  }
  stub->UnaryCall(&call.context, method, grpc::StubOptions(), &buffer, &call.response,
                  [&call](grpc::Status s) {
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
    std::lock_guard lock(im.mu);
    im.inflight.erase(&call.context);
    if (im.inflight.empty()) im.idle.notify_all();
  }
  const grpc::Status& s = call.status;
  result.code = int(s.error_code());
  if (!s.ok()) {
    result.message = s.error_message();
    result.details = s.error_details();
    return result;
  }
  std::vector<grpc::Slice> slices;
  if (call.response.Dump(&slices).ok()) {
    for (const auto& sl : slices) {
      result.response.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
  }
  return result;
}

void GrpcUnaryClient::Shutdown(Deadline deadline) {
  Impl& im = *impl_;
  std::unique_lock lock(im.mu);
  im.closed = true;
  for (grpc::ClientContext* ctx : im.inflight) ctx->TryCancel();
  im.idle.wait_until(lock, deadline, [&] { return im.inflight.empty(); });
  // A call still in flight holds its own reference to the stub (and so the channel).
  im.stub.reset();
  im.channel.reset();
}

}  // namespace otelite::net
