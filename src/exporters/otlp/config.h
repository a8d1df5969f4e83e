#pragma once
// Configuration of the two OTLP exporters, `otlp_grpc` and `otlp_http` (otelcol's names; the older
// `otlp` and `otlphttp` are deprecated aliases). Keys, defaults and meanings follow otelcol's
// configgrpc / confighttp client settings and its otlp / otlphttp exporters.
#include <map>
#include <optional>
#include <string>

#include "components/factory.h"
#include "exporters/helper/settings.h"
#include "net/client_config.h"

namespace otelite::exporters::otlp {

inline constexpr char kGrpcType[] = "otlp_grpc";
inline constexpr char kGrpcDeprecatedType[] = "otlp";
inline constexpr char kHttpType[] = "otlp_http";
inline constexpr char kHttpDeprecatedType[] = "otlphttp";

// `tls`: client TLS settings, shared with the other network exporters (net/client_config.h).
using TlsClientConfig = net::TlsClientConfig;

struct GrpcConfig : ComponentConfig, helper::ExporterHelperSettings {
  std::string endpoint;  // host:port, optionally with http:// or https:// (required)
  TlsClientConfig tls;
  std::map<std::string, std::string> headers;
  std::string compression = "gzip";  // gzip | zstd (sent as gzip, see README) | none
  static const config::Schema<GrpcConfig>& Schema();
};

struct HttpConfig : ComponentConfig, helper::ExporterHelperSettings {
  HttpConfig() { timeout = std::chrono::seconds(30); }  // otlphttp's default, not exporterhelper's
  std::string endpoint;  // base URL; /v1/traces, /v1/metrics, /v1/logs are appended
  std::string traces_endpoint;
  std::string metrics_endpoint;
  std::string logs_endpoint;
  TlsClientConfig tls;
  std::map<std::string, std::string> headers;
  std::string compression = "gzip";  // gzip | zstd | none
  std::string encoding = "proto";    // proto | json
  static const config::Schema<HttpConfig>& Schema();
};

// An http(s) URL taken apart, as the HTTP exporter connects to it.
struct Url {
  bool tls = false;
  std::string host;    // without brackets for IPv6
  std::string port;    // "80" / "443" when the URL has none
  std::string target;  // path and query, at least "/"
  std::string authority() const;  // the Host header: host[:port] as written
  std::string str() const;
  bool explicit_port = false;
};

// Parses "http(s)://host[:port][/path][?query]"; empty string on success, else the reason.
std::string ParseUrl(const std::string& text, Url* out);

// The URL of a signal: its own *_endpoint when set, else `endpoint` + "/v1/<signal>" (nullopt
// when neither is set).
std::optional<std::string> SignalUrl(const HttpConfig& config, Signal signal);

std::unique_ptr<ExporterFactory> NewGrpcFactory();  // grpc_exporter.cpp
std::unique_ptr<ExporterFactory> NewHttpFactory();  // http_exporter.cpp

// Registers otlp_grpc (alias otlp) and otlp_http (alias otlphttp).
void Register(Registry& registry);

}  // namespace otelite::exporters::otlp
