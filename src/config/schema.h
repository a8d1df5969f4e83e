#pragma once
// A declarative table of a component's config keys: each key names its member, its type (from
// the member), a description and optional constraints. The table decodes a ConfNode onto a struct
// that already holds the defaults, rejects unknown keys with the list of valid ones, and reports
// every wrong type or range with file:line and YAML path. It doubles as documentation (Describe).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "config/conf_node.h"
#include "config/duration.h"

namespace otelite::config {

// Where decoding is: errors are reported against the current node and path.
struct Ctx {
  Errors& errors;
  std::string path;
  void Error(const ConfNode& node, std::string message) const {
    errors.Add(node.mark(), path, std::move(message));
  }
};

// Scalar decoders; each reports its own error and returns false on a bad value.
bool DecodeValue(const ConfNode& n, std::string& out, const Ctx& ctx);
bool DecodeValue(const ConfNode& n, bool& out, const Ctx& ctx);
bool DecodeValue(const ConfNode& n, int64_t& out, const Ctx& ctx);
bool DecodeValue(const ConfNode& n, double& out, const Ctx& ctx);
bool DecodeValue(const ConfNode& n, Duration& out, const Ctx& ctx);
bool DecodeValue(const ConfNode& n, std::vector<std::string>& out, const Ctx& ctx);
bool DecodeValue(const ConfNode& n, std::map<std::string, std::string>& out, const Ctx& ctx);

// The printable default of a value, for Describe().
std::string ShowValue(const std::string& v);
std::string ShowValue(bool v);
std::string ShowValue(int64_t v);
std::string ShowValue(double v);
std::string ShowValue(const Duration& v);
std::string ShowValue(const std::vector<std::string>& v);
std::string ShowValue(const std::map<std::string, std::string>& v);

// One row of a component's documentation.
struct KeyDoc {
  std::string key;  // dotted for nested sections: rotation.max_megabytes
  std::string default_value;
  std::string description;
};

template <class T>
class Schema;

template <class M>
concept HasSchema = requires { M::Schema(); };

// Constraint on a member's value: returns an empty string when valid, else the reason.
template <class M>
using Constraint = std::function<std::string(const M&)>;

Constraint<std::string> OneOf(std::vector<std::string> allowed);
Constraint<int64_t> AtLeast(int64_t min);
Constraint<int64_t> InRange(int64_t min, int64_t max);
Constraint<Duration> NonNegative();
// "host:port" with a port from 0 to 65535; the host may be empty (all interfaces) or [IPv6].
Constraint<std::string> HostPort();

// A cross-field check run after all keys of a section were decoded.
class Checker {
 public:
  Checker(const ConfNode& node, const Ctx& ctx) : node_(node), ctx_(ctx) {}
  // Reports an error against `key` (its line when written, else the section's).
  void Error(std::string_view key, std::string message) const;
  // Reports a warning (the config still loads) against `key` the same way.
  void Warn(std::string_view key, std::string message) const;

 private:
  const ConfNode& node_;
  const Ctx& ctx_;
};

template <class T>
class Schema {
 public:
  // A field holding a scalar, list or map value.
  template <class M>
    requires(!HasSchema<M>)
  Schema& Field(std::string key, M T::*member, std::string description,
                Constraint<M> check = nullptr) {
    fields_.push_back(
        {key, description,
         [member, check, key](const ConfNode& n, T& out, const Ctx& ctx) {
           M value = out.*member;
           if (!DecodeValue(n, value, ctx)) return;
           if (check) {
             if (std::string why = check(value); !why.empty()) {
               ctx.Error(n, why);
               return;
             }
           }
           out.*member = std::move(value);
         },
         [member, key](const T& defaults, const std::string& prefix, std::vector<KeyDoc>& docs,
                       const std::string& description) {
           docs.push_back({prefix + key, ShowValue(defaults.*member), description});
         }});
    return *this;
  }

  // A nested section with a schema of its own.
  template <class M>
    requires HasSchema<M>
  Schema& Field(std::string key, M T::*member, std::string description) {
    fields_.push_back(
        {key, description,
         [member](const ConfNode& n, T& out, const Ctx& ctx) {
           M::Schema().Decode(n, out.*member, ctx);
         },
         [member, key](const T& defaults, const std::string& prefix, std::vector<KeyDoc>& docs,
                       const std::string&) {
           M::Schema().DescribeInto(defaults.*member, prefix + key + ".", docs);
         }});
    return *this;
  }

  // An optional nested section: absent means "off", present (even empty) means "on" with defaults.
  template <class M>
    requires HasSchema<M>
  Schema& Field(std::string key, std::optional<M> T::*member, std::string description) {
    fields_.push_back(
        {key, description,
         [member](const ConfNode& n, T& out, const Ctx& ctx) {
           if (!(out.*member)) out.*member = M{};
           M::Schema().Decode(n, *(out.*member), ctx);
         },
         [key](const T&, const std::string& prefix, std::vector<KeyDoc>& docs,
               const std::string& description) {
           docs.push_back({prefix + key, "(off)", description});
           M::Schema().DescribeInto(M{}, prefix + key + ".", docs);
         }});
    return *this;
  }

  Schema& Check(std::function<void(const T&, const Checker&)> check) {
    checks_.push_back(std::move(check));
    return *this;
  }

  // Decodes `node` onto `out` (which holds the defaults). A null node keeps the defaults.
  void Decode(const ConfNode& node, T& out, const Ctx& ctx) const {
    if (node.IsNull()) {
      RunChecks(node, out, ctx);
      return;
    }
    if (!node.IsMap()) {
      ctx.Error(node, "expected a map, got " + std::string(node.TypeName()));
      return;
    }
    for (const auto& [key, value] : node.entries()) {
      const FieldEntry* field = FindField(key);
      Ctx child{ctx.errors, JoinPath(ctx.path, key)};
      if (field == nullptr) {
        ctx.errors.Add(value.key_mark(), child.path,
                       "unknown key \"" + key + "\" (valid keys: " + ValidKeys() + ")");
        continue;
      }
      field->decode(value, out, child);
    }
    RunChecks(node, out, ctx);
  }

  std::vector<KeyDoc> Describe(const T& defaults = T{}) const {
    std::vector<KeyDoc> docs;
    DescribeInto(defaults, "", docs);
    return docs;
  }
  void DescribeInto(const T& defaults, const std::string& prefix,
                    std::vector<KeyDoc>& docs) const {
    for (const auto& f : fields_) f.describe(defaults, prefix, docs, f.description);
  }

 private:
  struct FieldEntry {
    std::string key;
    std::string description;
    std::function<void(const ConfNode&, T&, const Ctx&)> decode;
    std::function<void(const T&, const std::string&, std::vector<KeyDoc>&, const std::string&)>
        describe;
  };

  const FieldEntry* FindField(std::string_view key) const {
    for (const auto& f : fields_) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }
  std::string ValidKeys() const {
    std::string out;
    for (const auto& f : fields_) out += (out.empty() ? "" : ", ") + f.key;
    return out;
  }
  void RunChecks(const ConfNode& node, const T& out, const Ctx& ctx) const {
    Checker checker(node, ctx);
    for (const auto& check : checks_) check(out, checker);
  }

  std::vector<FieldEntry> fields_;
  std::vector<std::function<void(const T&, const Checker&)>> checks_;
};

}  // namespace otelite::config
