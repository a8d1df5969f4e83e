#include "extensions/file_storage/config.h"

namespace otelite::extensions::file_storage {

int ParsePermissions(const std::string& text) {
  if (text.empty() || text.size() > 4) return -1;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return -1;
    value = value * 8 + (c - '0');
  }
  return value <= 0777 ? value : -1;
}

const config::Schema<CompactionConfig>& CompactionConfig::Schema() {
  static const auto s =
      config::Schema<CompactionConfig>()
          .Field("directory", &CompactionConfig::directory,
                 "where a compaction builds the compacted copy of a database before swapping it "
                 "in (default: the same as directory)")
          .Field("on_start", &CompactionConfig::on_start,
                 "compact every database when a component opens it at start-up")
          .Field("on_rebound", &CompactionConfig::on_rebound,
                 "compact a database online once it grew past rebound_needed_threshold_mib and "
                 "its live data then fell below rebound_trigger_threshold_mib")
          .Field("rebound_needed_threshold_mib", &CompactionConfig::rebound_needed_threshold_mib,
                 "MiB on disk past which a database is marked as needing a rebound compaction",
                 config::AtLeast(0))
          .Field("rebound_trigger_threshold_mib",
                 &CompactionConfig::rebound_trigger_threshold_mib,
                 "MiB of live data below which a marked database is compacted", config::AtLeast(0))
          .Field("max_transaction_size", &CompactionConfig::max_transaction_size,
                 "entries per write batch when a compaction copies a database; 0: one batch",
                 config::AtLeast(0))
          .Field("check_interval", &CompactionConfig::check_interval,
                 "how often the rebound conditions are checked", config::NonNegative())
          .Field("cleanup_on_start", &CompactionConfig::cleanup_on_start,
                 "remove tempdb* leftovers of compactions killed mid-way from compaction.directory "
                 "at start")
          .Check([](const CompactionConfig& c, const config::Checker& check) {
            if (c.on_rebound && c.check_interval.count() <= 0) {
              check.Error("check_interval",
                          "check_interval must be positive when on_rebound is set");
            }
          });
  return s;
}

const config::Schema<Config>& Config::Schema() {
  static const auto s =
      config::Schema<Config>()
          .Field("directory", &Config::directory,
                 "directory holding one LevelDB database per component that uses this storage")
          .Field("timeout", &Config::timeout,
                 "how long opening a database waits for its lock (held by another process or a "
                 "client not yet closed)",
                 config::NonNegative())
          .Field("fsync", &Config::fsync,
                 "fsync the write-ahead log on every write: data also survives an OS crash or a "
                 "power loss, not only a killed process")
          .Field("create_directory", &Config::create_directory,
                 "create directory (and compaction.directory) when missing")
          .Field("directory_permissions", &Config::directory_permissions,
                 "octal permissions of directories create_directory makes (minus the umask)")
          .Field("recreate", &Config::recreate,
                 "when a damaged database cannot be repaired, move it aside (<name>.backup) and "
                 "start an empty one instead of failing")
          .Field("compaction", &Config::compaction, "when databases are compacted")
          .Check([](const Config& c, const config::Checker& check) {
            if (c.directory.empty()) check.Error("directory", "directory must be non-empty");
            if (c.create_directory && ParsePermissions(c.directory_permissions) < 0) {
              check.Error("directory_permissions",
                          "directory_permissions must be an octal number of permission bits "
                          "such as \"0750\", got \"" +
                              c.directory_permissions + "\"");
            }
          });
  return s;
}

}  // namespace otelite::extensions::file_storage
