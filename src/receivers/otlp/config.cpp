#include "receivers/otlp/config.h"

namespace otelite::receivers::otlp {

using config::Schema;

const Schema<GrpcConfig>& GrpcConfig::Schema() {
  static const auto s = config::Schema<GrpcConfig>()
      .Field("endpoint", &GrpcConfig::endpoint, "host:port to listen on",
             config::HostPort())
      .Field("max_recv_msg_size_mib", &GrpcConfig::max_recv_msg_size_mib,
             "largest request accepted, in MiB (after decompression)", config::InRange(1, 1024))
      .Field("max_concurrent_streams", &GrpcConfig::max_concurrent_streams,
             "streams per connection; 0 = gRPC's default", config::AtLeast(0))
      .Field("include_metadata", &GrpcConfig::include_metadata,
             "attach client metadata to the data (for the batch processor's metadata_keys)")
      .Field("transport", &GrpcConfig::transport, "tcp", config::OneOf({"tcp"}));
  return s;
}

const Schema<CorsConfig>& CorsConfig::Schema() {
  static const auto s = config::Schema<CorsConfig>()
      .Field("allowed_origins", &CorsConfig::allowed_origins,
             "origins allowed to send (a * wildcard matches any run of characters)")
      .Field("allowed_headers", &CorsConfig::allowed_headers,
             "request headers allowed besides the CORS-safelisted ones")
      .Field("max_age", &CorsConfig::max_age, "seconds a preflight answer may be cached",
             config::AtLeast(0));
  return s;
}

const Schema<HttpConfig>& HttpConfig::Schema() {
  auto path = [](const std::string& p) -> std::string {
    return !p.empty() && p[0] == '/' ? std::string{} : "must start with /";
  };
  static const auto s = config::Schema<HttpConfig>()
      .Field("endpoint", &HttpConfig::endpoint, "host:port to listen on",
             config::HostPort())
      .Field("traces_url_path", &HttpConfig::traces_url_path, "path for traces",
             config::Constraint<std::string>(path))
      .Field("metrics_url_path", &HttpConfig::metrics_url_path, "path for metrics",
             config::Constraint<std::string>(path))
      .Field("logs_url_path", &HttpConfig::logs_url_path, "path for logs",
             config::Constraint<std::string>(path))
      .Field("max_request_body_size", &HttpConfig::max_request_body_size,
             "largest request body in bytes, before and after decompression",
             config::AtLeast(1))
      .Field("include_metadata", &HttpConfig::include_metadata,
             "attach client metadata to the data (for the batch processor's metadata_keys)")
      .Field("cors", &HttpConfig::cors, "CORS for browser clients");
  return s;
}

const Schema<Protocols>& Protocols::Schema() {
  static const auto s = config::Schema<Protocols>()
      .Field("grpc", &Protocols::grpc, "OTLP/gRPC server")
      .Field("http", &Protocols::http, "OTLP/HTTP server (protobuf and JSON)");
  return s;
}

const Schema<Config>& Config::Schema() {
  static const auto s = config::Schema<Config>()
      .Field("protocols", &Config::protocols, "the transports to serve")
      .Check([](const Config& c, const config::Checker& check) {
        if (!c.protocols.grpc && !c.protocols.http) {
          check.Error("protocols", "must enable at least one protocol (grpc or http)");
        }
      });
  return s;
}

}  // namespace otelite::receivers::otlp
