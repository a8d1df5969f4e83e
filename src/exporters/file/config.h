#pragma once
#include <optional>
#include <string>

#include "components/factory.h"

namespace otelite::exporters::file {

inline constexpr char kType[] = "file";

struct RotationConfig {
  int64_t max_megabytes = 100;
  int64_t max_days = 0;  // 0: keep backups whatever their age
  int64_t max_backups = 100;
  bool localtime = false;
  static const config::Schema<RotationConfig>& Schema();
};

struct Config : ComponentConfig {
  std::string path;
  std::string format = "json";  // json | proto
  std::string compression;      // "" | zstd
  config::Duration flush_interval = std::chrono::seconds(1);
  bool append = false;
  std::optional<RotationConfig> rotation;
  static const config::Schema<Config>& Schema();
};

void Register(Registry& registry);

}  // namespace otelite::exporters::file
