#pragma once
// Configuration of the `jaeger` exporter: Jaeger's gRPC collector API
// (jaeger.api_v2.CollectorService/PostSpans). Keys and defaults follow otelcol's former jaeger
// exporter (configgrpc client settings plus exporterhelper's timeout, queue and retry).
#include <map>
#include <string>

#include "components/factory.h"
#include "exporters/helper/settings.h"
#include "net/client_config.h"

namespace otelite::exporters::jaeger {

inline constexpr char kType[] = "jaeger";
inline constexpr char kPostSpansMethod[] = "/jaeger.api_v2.CollectorService/PostSpans";

struct Config : ComponentConfig, helper::ExporterHelperSettings {
  std::string endpoint;  // host:port of Jaeger's collector gRPC port (14250), required
  net::TlsClientConfig tls;
  std::map<std::string, std::string> headers;
  std::string compression = "none";  // none | gzip
  static const config::Schema<Config>& Schema();
};

void Register(Registry& registry);

}  // namespace otelite::exporters::jaeger
