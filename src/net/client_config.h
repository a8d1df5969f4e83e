#pragma once
// The client settings the network exporters share with otelcol's configtls / configgrpc /
// confighttp: TLS, endpoint and header checks. No gRPC or Beast includes here.
#include <map>
#include <string>
#include <string_view>

#include "config/schema.h"

namespace otelite::net {

// `tls`: client TLS settings (otelcol's configtls.ClientConfig, the keys otelite supports).
struct TlsClientConfig {
  bool insecure = false;              // gRPC only: plaintext instead of TLS
  bool insecure_skip_verify = false;  // TLS without verifying the server's certificate
  std::string ca_file;                // PEM roots; empty: the system's
  std::string cert_file;              // client certificate (PEM), with key_file
  std::string key_file;
  std::string server_name_override;   // name to verify (and send as SNI) instead of the host
  static const config::Schema<TlsClientConfig>& Schema();
};

// "host", "host:port", "[v6]", "[v6]:port"; the port, when written, from 1 to 65535. Empty
// string on success (host and port, when asked for, are filled in), else the reason.
std::string CheckHostPort(std::string_view host_port, bool port_required, std::string* host,
                          std::string* port);

// A gRPC endpoint: host:port, optionally behind http:// or https://, no path. Empty string when
// valid, else the reason. `what` names the server in the "must be set" error.
std::string CheckGrpcEndpoint(const std::string& endpoint, std::string_view what);

// Warns about tls settings that have no effect with a gRPC endpoint.
void CheckGrpcTls(std::string_view endpoint, const TlsClientConfig& tls,
                  const config::Checker& check);

// A header to send: the name an HTTP token, the value without control characters; for gRPC the
// value printable ASCII (unless the name ends in -bin) and the names gRPC reserves refused, for
// HTTP the framing headers refused. Empty string when valid, else the reason.
std::string CheckHeader(const std::string& name, const std::string& value, bool grpc);
void CheckHeaders(const std::map<std::string, std::string>& headers, bool grpc,
                  const config::Checker& check);

// The gRPC target (the endpoint without an http:// or https:// prefix), and whether TLS is used:
// always with https://, otherwise unless tls.insecure (as otelcol's configgrpc decides).
std::string GrpcTarget(std::string_view endpoint);
bool GrpcUsesTls(std::string_view endpoint, const TlsClientConfig& tls);

// Reads a whole PEM file named by tls.<key>; empty string on success, else the reason.
std::string ReadPem(const std::string& key, const std::string& path, std::string* out);

}  // namespace otelite::net
