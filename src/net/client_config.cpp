#include "net/client_config.h"

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace otelite::net {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

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

std::string CheckGrpcEndpoint(const std::string& endpoint, std::string_view what) {
  if (endpoint.empty()) return "endpoint must be set (host:port of the " + std::string(what) + ")";
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

void CheckGrpcTls(std::string_view endpoint, const TlsClientConfig& tls,
                  const config::Checker& check) {
  if (tls.insecure && StartsWith(endpoint, "https://")) {
    check.Warn("tls", "tls.insecure has no effect with an https:// endpoint: TLS is used");
  } else if (tls.insecure && (!tls.ca_file.empty() || !tls.cert_file.empty())) {
    check.Warn("tls", "tls.ca_file / tls.cert_file have no effect with tls.insecure: true");
  }
}

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

const config::Schema<TlsClientConfig>& TlsClientConfig::Schema() {
  static const auto s =
      config::Schema<TlsClientConfig>()
          .Field("insecure", &TlsClientConfig::insecure,
                 "gRPC exporters: plaintext instead of TLS (no effect for otlp_http, where the "
                 "URL scheme decides)")
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

std::string GrpcTarget(std::string_view e) {
  if (StartsWith(e, "http://")) e.remove_prefix(7);
  else if (StartsWith(e, "https://")) e.remove_prefix(8);
  if (!e.empty() && e.back() == '/') e.remove_suffix(1);
  return std::string(e);
}

bool GrpcUsesTls(std::string_view endpoint, const TlsClientConfig& tls) {
  return StartsWith(endpoint, "https://") || !tls.insecure;
}

std::string ReadPem(const std::string& key, const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "tls." + key + ": cannot read \"" + path + "\"";
  std::stringstream s;
  s << in.rdbuf();
  *out = s.str();
  if (out->empty()) return "tls." + key + ": \"" + path + "\" is empty";
  return {};
}

}  // namespace otelite::net
