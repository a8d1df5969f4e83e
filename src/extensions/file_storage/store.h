#pragma once
// One LevelDB database: the store behind one StorageClient. LevelDB stays out of this header.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "config/duration.h"

namespace leveldb {
class DB;
}
namespace spdlog {
class logger;
}

namespace otelite::extensions::file_storage {

class InfoLog;

struct StoreOptions {
  bool fsync = false;               // WriteOptions.sync on every write
  config::Duration lock_timeout{};  // how long Open waits for the database lock
  bool recreate = false;            // move an unrepairable database aside and start empty
  std::string compaction_directory;  // where Compact() builds the compacted copy
  int64_t max_transaction_size = 0;  // entries per write batch of that copy; 0: one batch
};

// Thread-safe. Keys iterate in bytewise order. A ForEach callback may call the other methods of
// the same store (not Compact).
class Store {
 public:
  // Opens (creating when missing) the database in directory `path`. Damage found on the way is
  // survived and logged as exactly one warning line on `logger`: a torn or corrupt write-ahead
  // log keeps every intact record; a database LevelDB refuses to open is repaired (RepairDB) and
  // reopened, or with `recreate` moved aside. A compaction interrupted by a crash is finished or
  // undone first. Empty string on success, else the reason.
  static std::string Open(const std::string& path, const StoreOptions& options,
                          std::shared_ptr<spdlog::logger> logger, std::unique_ptr<Store>* out);
  ~Store();

  std::string Put(std::string_view key, std::string_view value);
  std::string Delete(std::string_view key);
  std::string Get(std::string_view key, std::optional<std::string>* value);
  std::string ForEach(const std::function<bool(std::string_view, std::string_view)>& fn);

  // Rewrites the live entries into a fresh database (built in compaction_directory, then swapped
  // in with renames that a crash at any point leaves either the old or the new database whole),
  // so that deleted and overwritten data no longer takes space. Other calls wait meanwhile.
  // LevelDB's own CompactRange cannot do this: it never rewrites the deepest level holding data,
  // and a flushed memtable can land there directly, deleted entries and all.
  std::string Compact();
  // Bytes of the database's files on disk.
  uint64_t DiskBytes() const;
  // Bytes of the live keys and values, counted until `limit` is passed (then some value > limit).
  uint64_t LiveBytesUpTo(uint64_t limit);

  const std::string& path() const { return path_; }
  // Rebound compaction state: the database grew past the "needed" threshold.
  std::atomic<bool> rebound_needed{false};

 private:
  Store(std::string path, const StoreOptions& options, std::unique_ptr<InfoLog> info_log);
  std::string CopyLiveDataTo(const std::string& target);

  std::string path_;
  StoreOptions options_;
  std::unique_ptr<InfoLog> info_log_;  // outlives db_
  std::shared_mutex mu_;               // exclusive only while Compact() swaps the database
  std::unique_ptr<leveldb::DB> db_;    // null when reopening after a compaction failed
};

}  // namespace otelite::extensions::file_storage
