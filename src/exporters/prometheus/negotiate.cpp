#include "exporters/prometheus/negotiate.h"

#include <charconv>
#include <string>

namespace otelite::exporters::prometheus {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

// Calls f(media type, q) for every entry of a comma-separated header with ;q= parameters.
template <class F>
void ForEachEntry(std::string_view header, F&& f) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view entry = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    auto semi = entry.find(';');
    std::string type = Lower(Trim(entry.substr(0, semi)));
    double q = 1.0;
    while (semi != std::string_view::npos) {
      entry = entry.substr(semi + 1);
      semi = entry.find(';');
      std::string_view param = Trim(entry.substr(0, semi));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string v(param.substr(2));
        try {
          q = std::stod(v);
        } catch (...) {
          q = 0;
        }
      }
    }
    if (!type.empty()) f(type, q);
  }
}

}  // namespace

Format NegotiateFormat(std::string_view accept, bool open_metrics_enabled) {
  if (!open_metrics_enabled) return Format::kText;
  double om = -1, text = -1, any = -1;
  ForEachEntry(accept, [&](const std::string& type, double q) {
    if (type == "application/openmetrics-text") om = std::max(om, q);
    else if (type == "text/plain" || type == "text/*") text = std::max(text, q);
    else if (type == "*/*") any = std::max(any, q);
  });
  if (om < 0) return Format::kText;
  if (text < 0) text = any;
  return om > 0 && om >= text ? Format::kOpenMetrics : Format::kText;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  bool gzip = false;
  ForEachEntry(accept_encoding, [&](const std::string& coding, double q) {
    if (coding == "gzip") gzip = q > 0;
  });
  return gzip;
}

}  // namespace otelite::exporters::prometheus
