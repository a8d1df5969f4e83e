#pragma once
#include <string>
#include <string_view>

namespace otelite {

enum class Kind { kReceiver, kProcessor, kExporter, kExtension, kConnector };

std::string_view KindName(Kind kind);        // "receiver"
std::string_view KindSectionName(Kind kind);  // "receivers"

// A component id as written in the config: `type` or `type/name`.
class ComponentId {
 public:
  ComponentId() = default;
  ComponentId(std::string type, std::string name = {})
      : type_(std::move(type)), name_(std::move(name)) {}

  // Empty string on success, else what is wrong with `text`.
  static std::string Parse(std::string_view text, ComponentId* out);

  const std::string& type() const { return type_; }
  const std::string& name() const { return name_; }
  std::string str() const { return name_.empty() ? type_ : type_ + "/" + name_; }

  bool operator==(const ComponentId&) const = default;
  auto operator<=>(const ComponentId&) const = default;

 private:
  std::string type_;
  std::string name_;
};

}  // namespace otelite
