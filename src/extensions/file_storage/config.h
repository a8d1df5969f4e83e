#pragma once
// The settings of the file_storage extension: the keys, names and defaults of otelcol-contrib's
// file_storage; README.md says what each does on top of LevelDB.
#include <cstdint>
#include <string>

#include "components/factory.h"

namespace otelite::extensions::file_storage {

inline constexpr char kType[] = "file_storage";
inline constexpr char kDefaultDirectory[] = "/var/lib/otelcol/file_storage";
inline constexpr char kDefaultDirectoryPermissions[] = "0750";
inline constexpr int64_t kDefaultMaxTransactionSize = 65536;
inline constexpr int64_t kDefaultReboundNeededThresholdMiB = 100;
inline constexpr int64_t kDefaultReboundTriggerThresholdMiB = 10;
// The prefix of compaction copies in compaction.directory (otelcol's bbolt files and ours).
inline constexpr char kTempDbPrefix[] = "tempdb";

struct CompactionConfig {
  std::string directory;  // empty: the same as Config::directory
  bool on_start = false;
  bool on_rebound = false;
  int64_t rebound_needed_threshold_mib = kDefaultReboundNeededThresholdMiB;
  int64_t rebound_trigger_threshold_mib = kDefaultReboundTriggerThresholdMiB;
  int64_t max_transaction_size = kDefaultMaxTransactionSize;
  config::Duration check_interval = std::chrono::seconds(5);
  bool cleanup_on_start = false;
  static const config::Schema<CompactionConfig>& Schema();
};

struct Config : ComponentConfig {
  std::string directory = kDefaultDirectory;
  config::Duration timeout = std::chrono::seconds(1);
  bool fsync = false;
  bool create_directory = false;
  std::string directory_permissions = kDefaultDirectoryPermissions;
  bool recreate = false;
  CompactionConfig compaction;
  static const config::Schema<Config>& Schema();

  const std::string& CompactionDirectory() const {
    return compaction.directory.empty() ? directory : compaction.directory;
  }
};

// "0750" -> 0750; -1 when the text is not an octal number of permission bits (at most 0777).
int ParsePermissions(const std::string& text);

void Register(Registry& registry);

}  // namespace otelite::extensions::file_storage
