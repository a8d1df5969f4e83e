#pragma once
#include <string_view>

namespace otelite::exporters::prometheus {

enum class Format { kText, kOpenMetrics };

// The format to answer a scrape with, from its Accept header: OpenMetrics when it is enabled and
// the scraper ranks application/openmetrics-text at least as high as text/plain; else text.
Format NegotiateFormat(std::string_view accept, bool open_metrics_enabled);

// Whether the Accept-Encoding header takes gzip (with a q above zero).
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace otelite::exporters::prometheus
