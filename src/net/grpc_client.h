#pragma once
// A gRPC client for unary calls with raw protobuf bytes (a generic stub: no generated stub and no
// re-encoding), shared by the gRPC exporters (otlp_grpc, jaeger). One channel serves every
// thread; calls are cancelled on Shutdown. No gRPC includes here.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/component.h"
#include "net/client_config.h"

namespace otelite::net {

struct GrpcClientOptions {
  std::string endpoint;  // host:port, optionally behind http:// or https:// (checked before)
  TlsClientConfig tls;
  std::map<std::string, std::string> headers;  // sent as metadata (names lower-cased)
  bool gzip = false;                           // compress requests with gzip
  // Upper bound of the channel's reconnect backoff; 0: gRPC's default (120 s). gRPC backs off
  // reconnecting on its own, and while it waits every call fails at once, so an exporter that
  // retries every few seconds would go on failing for up to two minutes after the server came
  // back. Exporters pass their retry_on_failure.max_interval.
  std::chrono::milliseconds max_reconnect_backoff{0};
};

// The reconnect backoff bound for an exporter's retry settings (0 when it does not retry).
std::chrono::milliseconds ReconnectBackoffFor(bool retry_enabled,
                                              std::chrono::nanoseconds max_interval);

struct GrpcCallResult {
  // Non-empty when the call was not made: the client is not started or is shut down.
  std::string refused;
  int code = 0;             // google.rpc.Code
  std::string message;      // the status message
  std::string details;      // grpc-status-details-bin: a serialized google.rpc.Status, or ""
  std::string response;     // the response message's bytes (when code is OK)
  bool ok() const { return refused.empty() && code == 0; }
};

class GrpcUnaryClient {
 public:
  explicit GrpcUnaryClient(GrpcClientOptions options);
  ~GrpcUnaryClient();  // shuts down (cancelling calls in flight)
  GrpcUnaryClient(const GrpcUnaryClient&) = delete;
  GrpcUnaryClient& operator=(const GrpcUnaryClient&) = delete;

  // Builds the credentials (reading the PEM files) and the channel; the channel connects lazily.
  // Empty string on success, else the reason.
  std::string Start();

  // Calls `method` ("/package.Service/Method") with `request` as the serialized request message
  // and waits for the answer, the `timeout` (0: none) or a Shutdown. Thread-safe. `request` is
  // not copied and must stay valid until Call returns.
  GrpcCallResult Call(const std::string& method, std::string_view request,
                      std::chrono::nanoseconds timeout);

  // Cancels the calls in flight (they end CANCELLED), waits for them until `deadline`, and
  // refuses later calls. Idempotent.
  void Shutdown(Deadline deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otelite::net
