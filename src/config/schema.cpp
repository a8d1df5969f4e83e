#include "config/schema.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace otelite::config {

namespace {

bool ExpectScalar(const ConfNode& n, const Ctx& ctx, std::string_view what) {
  if (n.IsScalar()) return true;
  ctx.Error(n, "expected " + std::string(what) + ", got " + std::string(n.TypeName()));
  return false;
}

}  // namespace

bool DecodeValue(const ConfNode& n, std::string& out, const Ctx& ctx) {
  if (n.IsNull()) {
    out.clear();
    return true;
  }
  if (!ExpectScalar(n, ctx, "a string")) return false;
  out = n.scalar();
  return true;
}

bool DecodeValue(const ConfNode& n, bool& out, const Ctx& ctx) {
  if (!ExpectScalar(n, ctx, "a boolean (true or false)")) return false;
  const std::string& s = n.scalar();
  if (s == "true" || s == "True" || s == "TRUE") {
    out = true;
  } else if (s == "false" || s == "False" || s == "FALSE") {
    out = false;
  } else {
    ctx.Error(n, "expected a boolean (true or false), got \"" + s + "\"");
    return false;
  }
  return true;
}

bool DecodeValue(const ConfNode& n, int64_t& out, const Ctx& ctx) {
  if (!ExpectScalar(n, ctx, "an integer")) return false;
  const std::string& s = n.scalar();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    ctx.Error(n, "expected an integer, got \"" + s + "\"");
    return false;
  }
  out = v;
  return true;
}

bool DecodeValue(const ConfNode& n, double& out, const Ctx& ctx) {
  if (!ExpectScalar(n, ctx, "a number")) return false;
  const std::string& s = n.scalar();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
    ctx.Error(n, "expected a number, got \"" + s + "\"");
    return false;
  }
  out = v;
  return true;
}

bool DecodeValue(const ConfNode& n, Duration& out, const Ctx& ctx) {
  if (!ExpectScalar(n, ctx, "a duration")) return false;
  auto d = ParseDuration(n.scalar());
  if (!d) {
    ctx.Error(n, "expected a duration such as 200ms, 5s or 1m30s, got \"" + n.scalar() + "\"");
    return false;
  }
  out = *d;
  return true;
}

bool DecodeValue(const ConfNode& n, std::vector<std::string>& out, const Ctx& ctx) {
  if (n.IsNull()) {
    out.clear();
    return true;
  }
  if (!n.IsSequence()) {
    ctx.Error(n, "expected a list, got " + std::string(n.TypeName()));
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < n.items().size(); ++i) {
    const ConfNode& item = n.items()[i];
    if (!item.IsScalar()) {
      Ctx child{ctx.errors, ctx.path + "[" + std::to_string(i) + "]"};
      child.Error(item, "expected a string, got " + std::string(item.TypeName()));
      ok = false;
      continue;
    }
    values.push_back(item.scalar());
  }
  if (ok) out = std::move(values);
  return ok;
}

bool DecodeValue(const ConfNode& n, std::map<std::string, std::string>& out, const Ctx& ctx) {
  if (n.IsNull()) {
    out.clear();
    return true;
  }
  if (!n.IsMap()) {
    ctx.Error(n, "expected a map, got " + std::string(n.TypeName()));
    return false;
  }
  std::map<std::string, std::string> values;
  bool ok = true;
  for (const auto& [key, value] : n.entries()) {
    if (!value.IsScalar() && !value.IsNull()) {
      Ctx child{ctx.errors, JoinPath(ctx.path, key)};
      child.Error(value, "expected a string, got " + std::string(value.TypeName()));
      ok = false;
      continue;
    }
    values[key] = value.scalar();
  }
  if (ok) out = std::move(values);
  return ok;
}

std::string ShowValue(const std::string& v) { return v.empty() ? "\"\"" : v; }
std::string ShowValue(bool v) { return v ? "true" : "false"; }
std::string ShowValue(int64_t v) { return std::to_string(v); }
std::string ShowValue(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
std::string ShowValue(const Duration& v) { return FormatDuration(v); }
std::string ShowValue(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}
std::string ShowValue(const std::map<std::string, std::string>& v) {
  return v.empty() ? "{}" : "{...}";
}

Constraint<std::string> OneOf(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) -> std::string {
    for (const auto& a : allowed) {
      if (a == v) return {};
    }
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return "\"" + v + "\" is not one of: " + list;
  };
}

Constraint<int64_t> AtLeast(int64_t min) {
  return [min](const int64_t& v) -> std::string {
    if (v >= min) return {};
    return "must be at least " + std::to_string(min) + ", got " + std::to_string(v);
  };
}

Constraint<int64_t> InRange(int64_t min, int64_t max) {
  return [min, max](const int64_t& v) -> std::string {
    if (v >= min && v <= max) return {};
    return "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
           std::to_string(v);
  };
}

Constraint<Duration> NonNegative() {
  return [](const Duration& v) -> std::string {
    return v.count() >= 0 ? std::string{} : "must not be negative";
  };
}

Constraint<std::string> HostPort() {
  return [](const std::string& v) -> std::string {
    auto colon = v.rfind(':');
    if (colon == std::string::npos) return "\"" + v + "\" is not host:port";
    std::string port = v.substr(colon + 1);
    int64_t n = -1;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 0 ||
        n > 65535) {
      return "\"" + v + "\": the port must be a number from 0 to 65535";
    }
    std::string host = v.substr(0, colon);
    if (host.find(':') != std::string::npos && (host.front() != '[' || host.back() != ']')) {
      return "\"" + v + "\": write an IPv6 host in brackets, as [::1]:4317";
    }
    return {};
  };
}

void Checker::Error(std::string_view key, std::string message) const {
  const ConfNode* at = node_.Find(key);
  ctx_.errors.Add(at ? at->mark() : node_.mark(), JoinPath(ctx_.path, key), std::move(message));
}

void Checker::Warn(std::string_view key, std::string message) const {
  const ConfNode* at = node_.Find(key);
  ctx_.errors.Warn(at ? at->mark() : node_.mark(), JoinPath(ctx_.path, key), std::move(message));
}

}  // namespace otelite::config
