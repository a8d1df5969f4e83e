#include "components/registry.h"

#include <stdexcept>

namespace otelite {

void Registry::Add(std::unique_ptr<Factory> factory, std::vector<std::string> deprecated_aliases) {
  const Factory* f = factory.get();
  auto key = std::make_pair(f->kind(), std::string(f->type()));
  if (by_name_.count(key) || aliases_.count(key)) {
    throw std::logic_error("component type registered twice: " + key.second);
  }
  by_name_[key] = f;
  for (auto& alias : deprecated_aliases) aliases_[{f->kind(), std::move(alias)}] = f;
  factories_.push_back(std::move(factory));
}

Registry::Found Registry::Find(Kind kind, std::string_view type) const {
  auto key = std::make_pair(kind, std::string(type));
  if (auto it = by_name_.find(key); it != by_name_.end()) return {it->second, false};
  if (auto it = aliases_.find(key); it != aliases_.end()) return {it->second, true};
  return {};
}

std::vector<const Factory*> Registry::List(Kind kind) const {
  std::vector<const Factory*> out;
  for (const auto& [key, f] : by_name_) {
    if (key.first == kind) out.push_back(f);
  }
  return out;
}

std::vector<std::string> Registry::AliasesOf(const Factory* factory) const {
  std::vector<std::string> out;
  for (const auto& [key, f] : aliases_) {
    if (f == factory) out.push_back(key.second);
  }
  return out;
}

std::string Registry::TypeNames(Kind kind) const {
  std::string out;
  for (const Factory* f : List(kind)) out += (out.empty() ? "" : ", ") + std::string(f->type());
  return out.empty() ? "none" : out;
}

}  // namespace otelite
