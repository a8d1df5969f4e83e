#pragma once
// One LevelDB database: the store behind one StorageClient. LevelDB stays out of this header.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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
  bool fsync = false;                 // WriteOptions.sync on every write
  config::Duration lock_timeout{};    // how long Open waits for the database lock
  bool recreate = false;              // move an unrepairable database aside and start empty
};

// Thread-safe (LevelDB's DB is). Keys iterate in bytewise order.
class Store {
 public:
  // Opens (creating when missing) the database in directory `path`. Damage found on the way is
  // survived and logged as exactly one warning line on `logger`: a torn or corrupt write-ahead
  // log keeps every intact record; a database LevelDB refuses to open is repaired (RepairDB) and
  // reopened, or with `recreate` moved aside. Empty string on success, else the reason.
  static std::string Open(const std::string& path, const StoreOptions& options,
                          std::shared_ptr<spdlog::logger> logger, std::unique_ptr<Store>* out);
  ~Store();

  std::string Put(std::string_view key, std::string_view value);
  std::string Delete(std::string_view key);
  std::string Get(std::string_view key, std::optional<std::string>* value);
  std::string ForEach(const std::function<bool(std::string_view, std::string_view)>& fn);

  // Compacts the whole key range: deleted and overwritten data is dropped, the log is folded
  // into tables, and the files shrink.
  void Compact();
  // Bytes of the database's files on disk.
  uint64_t DiskBytes() const;
  // Bytes of the live keys and values, counted until `limit` is passed (then some value > limit).
  uint64_t LiveBytesUpTo(uint64_t limit);

  const std::string& path() const { return path_; }
  // Rebound compaction state: the database grew past the "needed" threshold.
  std::atomic<bool> rebound_needed{false};

 private:
  Store(std::string path, const StoreOptions& options, std::unique_ptr<InfoLog> info_log);

  std::string path_;
  StoreOptions options_;
  std::unique_ptr<InfoLog> info_log_;  // outlives db_
  std::unique_ptr<leveldb::DB> db_;
};

}  // namespace otelite::extensions::file_storage
