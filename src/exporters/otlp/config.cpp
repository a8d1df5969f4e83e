#include "exporters/otlp/config.h"

namespace otelite::exporters::otlp {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

const config::Schema<GrpcConfig>& GrpcConfig::Schema() {
  static const auto s = [] {
    config::Schema<GrpcConfig> schema;
    schema
        .Field("endpoint", &GrpcConfig::endpoint,
               "host:port of the OTLP/gRPC server, optionally with http:// or https:// (required)")
        .Field("tls", &GrpcConfig::tls, "TLS settings (TLS is on unless tls.insecure is true)")
        .Field("headers", &GrpcConfig::headers, "metadata sent with every request")
        .Field("compression", &GrpcConfig::compression,
               "gzip, zstd (sent as gzip: gRPC C++ has no zstd) or none",
               config::OneOf({"gzip", "zstd", "none", ""}));
    helper::AddHelperFields(schema);
    schema.Check([](const GrpcConfig& c, const config::Checker& check) {
      std::string why = net::CheckGrpcEndpoint(c.endpoint, "OTLP/gRPC server");
      if (!why.empty()) check.Error("endpoint", why);
      net::CheckHeaders(c.headers, true, check);
      if (c.compression == "zstd") {
        check.Warn("compression",
                   "zstd is not available in otelite's gRPC library (gRPC C++ 1.51); requests "
                   "are sent with gzip instead");
      }
      net::CheckGrpcTls(c.endpoint, c.tls, check);
    });
    return schema;
  }();
  return s;
}

const config::Schema<HttpConfig>& HttpConfig::Schema() {
  static const auto s = [] {
    config::Schema<HttpConfig> schema;
    schema
        .Field("endpoint", &HttpConfig::endpoint,
               "base URL (http:// or https://); /v1/traces, /v1/metrics and /v1/logs are "
               "appended")
        .Field("traces_endpoint", &HttpConfig::traces_endpoint,
               "URL for traces, used as is instead of endpoint + /v1/traces")
        .Field("metrics_endpoint", &HttpConfig::metrics_endpoint,
               "URL for metrics, used as is instead of endpoint + /v1/metrics")
        .Field("logs_endpoint", &HttpConfig::logs_endpoint,
               "URL for logs, used as is instead of endpoint + /v1/logs")
        .Field("tls", &HttpConfig::tls, "TLS settings for https:// URLs")
        .Field("headers", &HttpConfig::headers, "HTTP headers sent with every request")
        .Field("compression", &HttpConfig::compression, "gzip, zstd or none",
               config::OneOf({"gzip", "zstd", "none", ""}))
        .Field("encoding", &HttpConfig::encoding,
               "proto (application/x-protobuf) or json (OTLP/JSON, application/json)",
               config::OneOf({"proto", "json"}));
    helper::AddHelperFields(schema);
    schema.Check([](const HttpConfig& c, const config::Checker& check) {
      if (c.endpoint.empty() && c.traces_endpoint.empty() && c.metrics_endpoint.empty() &&
          c.logs_endpoint.empty()) {
        check.Error("endpoint",
                    "endpoint must be set (or traces_endpoint, metrics_endpoint, logs_endpoint)");
      }
      for (auto [key, value] : {std::pair<const char*, const std::string*>{"endpoint", &c.endpoint},
                                {"traces_endpoint", &c.traces_endpoint},
                                {"metrics_endpoint", &c.metrics_endpoint},
                                {"logs_endpoint", &c.logs_endpoint}}) {
        if (value->empty()) continue;
        Url url;
        if (std::string why = ParseUrl(*value, &url); !why.empty()) check.Error(key, why);
      }
      net::CheckHeaders(c.headers, false, check);
      if (c.tls.insecure) {
        check.Warn("tls",
                   "tls.insecure has no effect for otlp_http: http:// URLs are plaintext, "
                   "https:// URLs use TLS");
      }
    });
    return schema;
  }();
  return s;
}

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return explicit_port ? h + ":" + port : h;
}

std::string Url::str() const { return (tls ? "https://" : "http://") + authority() + target; }

std::string ParseUrl(const std::string& text, Url* out) {
  Url url;
  std::string_view rest = text;
  if (StartsWith(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (StartsWith(rest, "https://")) {
    url.tls = true;
    rest.remove_prefix(8);
  } else {
    return "\"" + text + "\" is not an http:// or https:// URL";
  }
  auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return "\"" + text + "\": user information in the URL is not supported (use headers)";
  }
  if (std::string why = net::CheckHostPort(authority, false, &url.host, &url.port); !why.empty()) {
    return "\"" + text + "\": " + why;
  }
  url.explicit_port = !url.port.empty();
  if (url.port.empty()) url.port = url.tls ? "443" : "80";
  if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      return "\"" + text + "\": the path contains a space or control character";
    }
  }
  url.target = target.empty() || target[0] != '/' ? "/" + std::string(target)
                                                   : std::string(target);
  *out = std::move(url);
  return {};
}

std::optional<std::string> SignalUrl(const HttpConfig& c, Signal signal) {
  const std::string* own = signal == Signal::kTraces    ? &c.traces_endpoint
                           : signal == Signal::kMetrics ? &c.metrics_endpoint
                                                        : &c.logs_endpoint;
  if (!own->empty()) return *own;
  if (c.endpoint.empty()) return std::nullopt;
  std::string path = "v1/" + std::string(SignalName(signal));
  return c.endpoint.back() == '/' ? c.endpoint + path : c.endpoint + "/" + path;
}

}  // namespace otelite::exporters::otlp
