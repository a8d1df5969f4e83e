#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "config/conf_node.h"

namespace otelite::config {

extern const std::string_view kDefaultConfigYaml;  // config/default.yaml, embedded at build time
inline constexpr std::string_view kDefaultConfigName = "<embedded default config>";

// Parses YAML text into a ConfNode tree. `name` is what errors call the file.
// A syntax error is added to `errors` and a null node returned.
ConfNode ParseYaml(std::string_view text, const std::string& name, Errors& errors);

// Reads one `--config` argument: a path, or `file:PATH` as otelcol accepts. Other schemes
// (env:, yaml:, http:) are reported as unsupported.
ConfNode LoadConfigSource(const std::string& source, Errors& errors);

// Merges `overlay` into `base` as otelcol merges several --config files: maps merge key by key,
// anything else (scalars, lists) is replaced by the later value.
void Merge(ConfNode& base, const ConfNode& overlay);

// Expands ${env:VAR}, ${env:VAR:-default} and ${VAR} in every scalar; $$ stands for a literal $.
// An unset variable without a default becomes empty, with a warning.
void ExpandEnv(ConfNode& node, const std::string& path, Errors& errors);

// Loads, merges and expands all sources in order (or the embedded default when there are none).
ConfNode LoadAll(const std::vector<std::string>& sources, Errors& errors);

}  // namespace otelite::config
