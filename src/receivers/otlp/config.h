#pragma once
#include <optional>
#include <string>
#include <vector>

#include "components/factory.h"

namespace otelite::receivers::otlp {

inline constexpr char kType[] = "otlp";
inline constexpr char kDefaultGrpcEndpoint[] = "localhost:4317";
inline constexpr char kDefaultHttpEndpoint[] = "localhost:4318";
inline constexpr int64_t kDefaultMaxRecvMsgSizeMiB = 4;
inline constexpr int64_t kDefaultMaxRequestBodySize = 20 << 20;  // 20 MiB, as otelcol

struct GrpcConfig {
  std::string endpoint = kDefaultGrpcEndpoint;
  int64_t max_recv_msg_size_mib = kDefaultMaxRecvMsgSizeMiB;
  int64_t max_concurrent_streams = 0;
  bool include_metadata = false;
  std::string transport = "tcp";
  static const config::Schema<GrpcConfig>& Schema();
};

struct CorsConfig {
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_headers;
  int64_t max_age = 0;
  static const config::Schema<CorsConfig>& Schema();
};

struct HttpConfig {
  std::string endpoint = kDefaultHttpEndpoint;
  std::string traces_url_path = "/v1/traces";
  std::string metrics_url_path = "/v1/metrics";
  std::string logs_url_path = "/v1/logs";
  int64_t max_request_body_size = kDefaultMaxRequestBodySize;
  bool include_metadata = false;
  std::optional<CorsConfig> cors;
  static const config::Schema<HttpConfig>& Schema();
};

struct Protocols {
  std::optional<GrpcConfig> grpc;
  std::optional<HttpConfig> http;
  static const config::Schema<Protocols>& Schema();
};

struct Config : ComponentConfig {
  Protocols protocols;
  static const config::Schema<Config>& Schema();
};

void Register(Registry& registry);

}  // namespace otelite::receivers::otlp
