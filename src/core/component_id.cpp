#include "core/component_id.h"

#include <cctype>

namespace otelite {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kReceiver: return "receiver";
    case Kind::kProcessor: return "processor";
    case Kind::kExporter: return "exporter";
    case Kind::kExtension: return "extension";
    case Kind::kConnector: return "connector";
  }
  return "?";
}

std::string_view KindSectionName(Kind kind) {
  switch (kind) {
    case Kind::kReceiver: return "receivers";
    case Kind::kProcessor: return "processors";
    case Kind::kExporter: return "exporters";
    case Kind::kExtension: return "extensions";
    case Kind::kConnector: return "connectors";
  }
  return "?";
}

std::string ComponentId::Parse(std::string_view text, ComponentId* out) {
  auto slash = text.find('/');
  std::string_view type = text.substr(0, slash);
  std::string_view name = slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
  if (type.empty()) return "the type part of an id must not be empty";
  for (char c : type) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return "invalid character '" + std::string(1, c) + "' in type \"" + std::string(type) +
             "\" (letters, digits and _ only)";
    }
  }
  if (slash != std::string_view::npos) {
    if (name.empty()) return "the name part after '/' must not be empty";
    for (char c : name) {
      if (std::isspace(static_cast<unsigned char>(c)) || c == '/') {
        return "invalid character in name \"" + std::string(name) + "\"";
      }
    }
  }
  *out = ComponentId(std::string(type), std::string(name));
  return {};
}

}  // namespace otelite
