#include "exporters/otlp/config.h"

#include <cctype>
#include <charconv>

namespace otelite::exporters::otlp {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "host", "host:port", "[v6]", "[v6]:port"; the port, when written, from 1 to 65535.
std::string CheckHostPort(std::string_view hp, bool port_required, std::string* host,
                          std::string* port) {
  std::string_view h = hp, p;
  if (StartsWith(hp, "[")) {
    auto close = hp.find(']');
    if (close == std::string_view::npos) return "unclosed [ in an IPv6 address";
    h = hp.substr(1, close - 1);
    std::string_view rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return "unexpected characters after the IPv6 address";
      p = rest.substr(1);
      if (p.empty()) return "empty port";
    }
  } else {
    auto colon = hp.rfind(':');
    if (colon != std::string_view::npos) {
      h = hp.substr(0, colon);
      p = hp.substr(colon + 1);
      if (h.find(':') != std::string_view::npos) {
        return "write an IPv6 host in brackets, as [::1]:4317";
      }
      if (p.empty()) return "empty port";
    }
  }
  if (h.empty()) return "the host is missing";
  for (char c : h) {
    if (c == '/' || c == '@' || c == ' ' || c == '?' || c == '#') {
      return "the host contains '" + std::string(1, c) + "'";
    }
  }
  if (p.empty() && port_required) return "the port is missing";
  if (!p.empty()) {
    int n = -1;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (ec != std::errc() || end != p.data() + p.size() || n < 1 || n > 65535) {
      return "the port must be a number from 1 to 65535";
    }
  }
  if (host) *host = std::string(h);
  if (port) *port = std::string(p);
  return {};
}

std::string CheckGrpcEndpoint(const std::string& endpoint) {
  if (endpoint.empty()) return "endpoint must be set (host:port of the OTLP/gRPC server)";
  std::string_view rest = endpoint;
  if (StartsWith(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (StartsWith(rest, "https://")) {
    rest.remove_prefix(8);
  } else if (rest.find("://") != std::string_view::npos) {
    return "\"" + endpoint + "\": only the http:// and https:// prefixes are supported";
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    return "\"" + endpoint + "\": a gRPC endpoint is host:port, without a path";
  }
  if (std::string why = CheckHostPort(rest, true, nullptr, nullptr); !why.empty()) {
    return "\"" + endpoint + "\" is not host:port: " + why;
  }
  return {};
}

// Header names: an HTTP token; values: no control characters (CR/LF would split the request).
std::string CheckHeader(const std::string& name, const std::string& value, bool grpc) {
  if (name.empty()) return "header name must be non-empty";
  for (unsigned char c : name) {
    bool token = std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(char(c)) !=
                                        std::string_view::npos;
    if (!token) return "header name \"" + name + "\" contains a character not allowed there";
  }
  for (unsigned char c : value) {
    if (c < 0x20 && c != '\t') return "header value contains a control character";
    if (c == 0x7F) return "header value contains a control character";
  }
  std::string lower;
  for (char c : name) lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  if (grpc) {
    bool binary = lower.size() > 4 && lower.compare(lower.size() - 4, 4, "-bin") == 0;
    for (unsigned char c : value) {
      if (!binary && (c < 0x20 || c > 0x7E)) {
        return "header \"" + name + "\": gRPC metadata values must be printable ASCII";
      }
    }
    if (StartsWith(lower, "grpc-") || lower == "te" || lower == "content-type" ||
        lower == "user-agent") {
      return "header \"" + name + "\" is reserved by gRPC";
    }
  } else if (lower == "content-length" || lower == "transfer-encoding" ||
             lower == "content-encoding" || lower == "connection") {
    return "header \"" + name + "\" is set by the exporter";
  }
  return {};
}

void CheckHeaders(const std::map<std::string, std::string>& headers, bool grpc,
                  const config::Checker& check) {
  for (const auto& [k, v] : headers) {
    if (std::string why = CheckHeader(k, v, grpc); !why.empty()) check.Error("headers", why);
  }
}

}  // namespace

const config::Schema<TlsClientConfig>& TlsClientConfig::Schema() {
  static const auto s =
      config::Schema<TlsClientConfig>()
          .Field("insecure", &TlsClientConfig::insecure,
                 "otlp_grpc: plaintext instead of TLS (no effect for otlp_http, where the URL "
                 "scheme decides)")
          .Field("insecure_skip_verify", &TlsClientConfig::insecure_skip_verify,
                 "use TLS but do not verify the server's certificate")
          .Field("ca_file", &TlsClientConfig::ca_file,
                 "PEM file with the CA certificates that verify the server (empty: the system's)")
          .Field("cert_file", &TlsClientConfig::cert_file,
                 "PEM client certificate for mutual TLS (with key_file)")
          .Field("key_file", &TlsClientConfig::key_file,
                 "PEM private key of cert_file")
          .Field("server_name_override", &TlsClientConfig::server_name_override,
                 "server name to verify and send as SNI instead of the endpoint's host")
          .Check([](const TlsClientConfig& t, const config::Checker& check) {
            if (!t.cert_file.empty() && t.key_file.empty()) {
              check.Error("cert_file", "cert_file needs key_file");
            }
            if (t.cert_file.empty() && !t.key_file.empty()) {
              check.Error("key_file", "key_file needs cert_file");
            }
          });
  return s;
}

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
      if (std::string why = CheckGrpcEndpoint(c.endpoint); !why.empty()) {
        check.Error("endpoint", why);
      }
      CheckHeaders(c.headers, true, check);
      if (c.compression == "zstd") {
        check.Warn("compression",
                   "zstd is not available in otelite's gRPC library (gRPC C++ 1.51); requests "
                   "are sent with gzip instead");
      }
      if (c.tls.insecure && StartsWith(c.endpoint, "https://")) {
        check.Warn("tls", "tls.insecure has no effect with an https:// endpoint: TLS is used");
      } else if (c.tls.insecure && (!c.tls.ca_file.empty() || !c.tls.cert_file.empty())) {
        check.Warn("tls", "tls.ca_file / tls.cert_file have no effect with tls.insecure: true");
      }
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
      CheckHeaders(c.headers, false, check);
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
  if (std::string why = CheckHostPort(authority, false, &url.host, &url.port); !why.empty()) {
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

std::string GrpcTarget(const GrpcConfig& c) {
  std::string_view e = c.endpoint;
  if (StartsWith(e, "http://")) e.remove_prefix(7);
  else if (StartsWith(e, "https://")) e.remove_prefix(8);
  if (!e.empty() && e.back() == '/') e.remove_suffix(1);
  return std::string(e);
}

bool GrpcUsesTls(const GrpcConfig& c) {
  return StartsWith(c.endpoint, "https://") || !c.tls.insecure;
}

}  // namespace otelite::exporters::otlp
