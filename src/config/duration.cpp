#include "config/duration.h"

#include <cmath>
#include <cstdio>

namespace otelite::config {

std::optional<Duration> ParseDuration(std::string_view s) {
  if (s == "0") return Duration{0};
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  long double total_ns = 0;
  while (!s.empty()) {
    size_t i = 0;
    bool digits = false;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
      digits = digits || s[i] != '.';
      ++i;
    }
    if (!digits) return std::nullopt;
    long double value = std::strtold(std::string(s.substr(0, i)).c_str(), nullptr);
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    long double scale;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else return std::nullopt;
    total_ns += value * scale;
  }
  if (total_ns > 9.2e18L) return std::nullopt;
  auto ns = static_cast<int64_t>(std::llround(total_ns));
  return Duration{negative ? -ns : ns};
}

std::string FormatDuration(Duration d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  if (ns < 0) ns = -ns;
  char buf[64];
  if (ns < 1000) {
    std::snprintf(buf, sizeof buf, "%lldns", static_cast<long long>(ns));
  } else if (ns < 1000000) {
    std::snprintf(buf, sizeof buf, "%gus", ns / 1e3);
  } else if (ns < 1000000000) {
    std::snprintf(buf, sizeof buf, "%gms", ns / 1e6);
  } else {
    int64_t h = ns / 3600000000000LL;
    int64_t m = (ns / 60000000000LL) % 60;
    double sec = (ns % 60000000000LL) / 1e9;
    std::string out;
    if (h) out += std::to_string(h) + "h";
    if (h || m) out += std::to_string(m) + "m";
    std::snprintf(buf, sizeof buf, "%.9g", sec);
    out += std::string(buf) + "s";
    return sign + out;
  }
  return sign + buf;
}

}  // namespace otelite::config
