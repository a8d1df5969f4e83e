#include "exporters/prometheus/naming.h"

#include <algorithm>
#include <map>
#include <vector>

namespace otelite::exporters::prometheus {

namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// Characters a classic metric name token may hold (the _ separates tokens).
bool IsNameTokenChar(char c) { return IsAlnum(c) || c == ':'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string MainUnitWord(std::string_view unit) {
  static const std::map<std::string, std::string, std::less<>> kUnits = {
      {"d", "days"},          {"h", "hours"},          {"min", "minutes"},
      {"s", "seconds"},       {"ms", "milliseconds"},  {"us", "microseconds"},
      {"ns", "nanoseconds"},  {"By", "bytes"},         {"KiBy", "kibibytes"},
      {"MiBy", "mebibytes"},  {"GiBy", "gibibytes"},   {"TiBy", "tibibytes"},
      {"KBy", "kilobytes"},   {"MBy", "megabytes"},    {"GBy", "gigabytes"},
      {"TBy", "terabytes"},   {"m", "meters"},         {"V", "volts"},
      {"A", "amperes"},       {"J", "joules"},         {"W", "watts"},
      {"g", "grams"},         {"Cel", "celsius"},      {"Hz", "hertz"},
      {"1", ""},              {"%", "percent"}};
  auto it = kUnits.find(unit);
  return it != kUnits.end() ? it->second : std::string(unit);
}

std::string PerUnitWord(std::string_view unit) {
  static const std::map<std::string, std::string, std::less<>> kPer = {
      {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
      {"w", "week"},   {"mo", "month"}, {"y", "year"}};
  auto it = kPer.find(unit);
  return it != kPer.end() ? it->second : std::string(unit);
}

bool HasBrace(std::string_view s) { return s.find_first_of("{}") != std::string_view::npos; }

// Invalid characters to _, runs of _ collapsed to one, a leading _ dropped.
std::string CleanUnit(std::string_view unit) {
  std::string out;
  for (char c : unit) {
    char r = IsNameTokenChar(c) ? c : '_';
    if (r == '_' && !out.empty() && out.back() == '_') continue;
    out.push_back(r);
  }
  if (!out.empty() && out.front() == '_') out.erase(0, 1);
  return out;
}

std::vector<std::string> SplitTokens(std::string_view name) {
  std::vector<std::string> tokens;
  std::string cur;
  for (char c : name) {
    if (IsNameTokenChar(c)) {
      cur.push_back(c);
    } else if (!cur.empty()) {
      tokens.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  return tokens;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void RemoveAll(std::vector<std::string>& v, std::string_view s) {
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
}

std::string Join(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) {
    if (!out.empty()) out.push_back('_');
    out += t;
  }
  return out;
}

// Full normalization: tokens of valid characters, unit suffixes, _total, _ratio, namespace.
std::string NormalizeName(std::string_view name, std::string_view unit, NameType type,
                          const std::string& ns) {
  std::vector<std::string> tokens = SplitTokens(name);
  UnitSuffixes u = BuildUnitSuffixes(unit);
  std::string main = CleanUnit(u.main);
  std::string per = CleanUnit(u.per);
  if (Contains(tokens, main)) main.clear();
  if (per == "per_") {
    per.clear();
  } else {
    while (!per.empty() && per.back() == '_') per.pop_back();
    if (Contains(tokens, per)) per.clear();
  }
  if (!per.empty()) {
    while (!main.empty() && main.back() == '_') main.pop_back();
  }
  if (!main.empty()) tokens.push_back(main);
  if (!per.empty()) tokens.push_back(per);
  if (type == NameType::kMonotonicCounter) {
    RemoveAll(tokens, "total");
    tokens.push_back("total");
  }
  if (unit == "1" && type == NameType::kGauge) {
    RemoveAll(tokens, "ratio");
    tokens.push_back("ratio");
  }
  if (!ns.empty()) tokens.insert(tokens.begin(), ns);
  std::string out = Join(tokens);
  if (!out.empty() && IsDigit(out[0])) out.insert(0, "_");
  return out;
}

// No suffixes: invalid runs become one _, the namespace is escaped the same way.
std::string SimpleName(std::string_view name, const std::string& ns) {
  std::string out = Join(SplitTokens(name));
  if (!ns.empty()) return Join(SplitTokens(ns)) + "_" + out;
  if (!out.empty() && IsDigit(out[0])) out.insert(0, "_");
  return out;
}

std::string TrimSuffixAndDelimiter(std::string name, std::string_view suffix) {
  if (name.size() > suffix.size() + 1 && std::string_view(name).ends_with(suffix)) {
    name.resize(name.size() - suffix.size() - 1);
  }
  return name;
}

// UTF-8 kept: suffixes appended to the name as it is.
std::string Utf8Name(std::string_view input, std::string_view unit, NameType type,
                     const NamingOptions& o) {
  std::string name(input);
  if (!o.namespace_.empty()) name = o.namespace_ + "_" + name;
  if (!o.with_suffixes) return name;
  bool ratio = unit == "1" && type == NameType::kGauge;
  bool total = type == NameType::kMonotonicCounter;
  if (ratio) name = TrimSuffixAndDelimiter(name, "ratio");
  if (total) name = TrimSuffixAndDelimiter(name, "total");
  UnitSuffixes u = BuildUnitSuffixes(unit);
  if (!u.per.empty()) name = TrimSuffixAndDelimiter(name, u.per);
  if (!u.main.empty() && !std::string_view(name).ends_with(u.main)) name += "_" + u.main;
  if (!u.per.empty()) name += "_" + u.per;
  if (total) name += "_total";
  if (ratio) name += "_ratio";
  return name;
}

std::string SanitizeLabel(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    if (!IsAlnum(c) && c != '_') c = '_';
  }
  return out;
}

}  // namespace

UnitSuffixes BuildUnitSuffixes(std::string_view unit) {
  UnitSuffixes out;
  auto slash = unit.find('/');
  std::string_view main = Trim(unit.substr(0, slash));
  if (!main.empty() && !HasBrace(main)) out.main = MainUnitWord(main);
  if (slash != std::string_view::npos) {
    std::string_view per = Trim(unit.substr(slash + 1));
    if (!per.empty() && !HasBrace(per)) out.per = "per_" + PerUnitWord(per);
  }
  return out;
}

std::string BuildMetricName(std::string_view name, std::string_view unit, NameType type,
                            const NamingOptions& options) {
  std::string out;
  if (options.utf8_allowed) {
    out = Utf8Name(name, unit, type, options);
  } else if (options.with_suffixes) {
    out = NormalizeName(name, unit, type, options.namespace_);
  } else {
    out = SimpleName(name, options.namespace_);
  }
  if (out != name && std::all_of(out.begin(), out.end(), [](char c) { return c == '_'; })) {
    return {};
  }
  return out;
}

std::string BuildLabelName(std::string_view key, bool utf8_allowed) {
  if (key.empty() || utf8_allowed) return std::string(key);
  std::string out = SanitizeLabel(key);
  if (IsDigit(out[0])) {
    out.insert(0, "key_");
  } else if (out[0] == '_' && !(out.size() > 1 && out[1] == '_')) {
    out.insert(0, "key");
  }
  if (out != key && std::all_of(out.begin(), out.end(), [](char c) { return c == '_'; })) {
    return {};
  }
  return out;
}

std::string EscapeMetricName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (!IsAlnum(c) && c != '_' && c != ':') c = '_';
  }
  if (!out.empty() && IsDigit(out[0])) out.insert(0, "_");
  return out;
}

std::string EscapeLabelName(std::string_view name) {
  std::string out = SanitizeLabel(name);
  if (!out.empty() && IsDigit(out[0])) out.insert(0, "_");
  return out;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || IsDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '_'; });
}

}  // namespace otelite::exporters::prometheus
