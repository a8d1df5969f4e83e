#include "exporters/jaeger/config.h"

namespace otelite::exporters::jaeger {

const config::Schema<Config>& Config::Schema() {
  static const auto s = [] {
    config::Schema<Config> schema;
    schema
        .Field("endpoint", &Config::endpoint,
               "host:port of Jaeger's gRPC collector (Jaeger's port 14250), optionally with "
               "http:// or https:// (required)")
        .Field("tls", &Config::tls, "TLS settings (TLS is on unless tls.insecure is true)")
        .Field("headers", &Config::headers, "metadata sent with every request")
        .Field("compression", &Config::compression, "gzip or none",
               config::OneOf({"gzip", "none", ""}));
    helper::AddHelperFields(schema);
    schema.Check([](const Config& c, const config::Checker& check) {
      std::string why = net::CheckGrpcEndpoint(c.endpoint, "Jaeger collector's gRPC port, 14250");
      if (!why.empty()) check.Error("endpoint", why);
      net::CheckHeaders(c.headers, true, check);
      net::CheckGrpcTls(c.endpoint, c.tls, check);
    });
    return schema;
  }();
  return s;
}

}  // namespace otelite::exporters::jaeger
