#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "components/factory.h"

namespace otelite {

// Factories keyed by kind and type name. Older type names that otelcol still accepts are
// registered as aliases: they resolve to the same factory and are reported as deprecated.
class Registry {
 public:
  void Add(std::unique_ptr<Factory> factory, std::vector<std::string> deprecated_aliases = {});

  struct Found {
    const Factory* factory = nullptr;
    bool deprecated_alias = false;
  };
  Found Find(Kind kind, std::string_view type) const;

  std::vector<const Factory*> List(Kind kind) const;
  // Aliases that resolve to `factory`.
  std::vector<std::string> AliasesOf(const Factory* factory) const;
  // "debug, file" — the valid type names of a kind, for error messages.
  std::string TypeNames(Kind kind) const;

 private:
  std::vector<std::unique_ptr<Factory>> factories_;
  std::map<std::pair<Kind, std::string>, const Factory*, std::less<>> by_name_;
  std::map<std::pair<Kind, std::string>, const Factory*, std::less<>> aliases_;
};

// The registry of every component compiled into otelite (components/builtin.cpp).
const Registry& BuiltinRegistry();

}  // namespace otelite
