#include "extensions/file_storage/store.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "extensions/file_storage/log_tail.h"

namespace otelite::extensions::file_storage {

namespace {

// What LevelDB writes to its info log when it skips or loses data (db_impl.cc, repair.cc,
// version_set.cc of LevelDB 1.23): "dropping N bytes; Corruption: ...", "ignoring ...",
// "Compaction error: ...", "Archiving ...", "Some data may have been lost".
bool IsDamageReport(const std::string& message) {
  std::string lower(message);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* word : {"dropping", "dropped", "ignoring", "corruption", "error", "archiving",
                           "lost", "checksum mismatch"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// "a; b; c" with at most `max` items, then "and N more".
std::string JoinSome(const std::vector<std::string>& items, size_t max = 4) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < max; ++i) {
    out += (i ? "; " : "") + items[i];
  }
  if (items.size() > max) out += "; and " + std::to_string(items.size() - max) + " more";
  return out;
}

bool IsLockError(const leveldb::Status& s) {
  return s.IsIOError() && s.ToString().find("/LOCK") != std::string::npos;
}

// DB::Open, retried while another process (or a client not yet closed in this one) holds the
// database's lock, until `timeout` has passed.
leveldb::Status OpenWaiting(const leveldb::Options& options, const std::string& path,
                            config::Duration timeout, std::unique_ptr<leveldb::DB>* out) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, path, &raw);
    if (s.ok()) {
      out->reset(raw);
      return s;
    }
    if (!IsLockError(s) || std::chrono::steady_clock::now() >= deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Renames a damaged database directory aside: <path>.backup (or .backup-<unix seconds>).
std::string MoveAside(const std::string& path, std::string* backup) {
  std::error_code ec;
  *backup = path + ".backup";
  if (std::filesystem::exists(*backup, ec)) {
    *backup += "-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  }
  std::filesystem::rename(path, *backup, ec);
  return ec ? ec.message() : std::string();
}

// A database whose CURRENT file is gone while its data files remain: LevelDB's Open would take it
// for a new database (create_if_missing) and delete the data files as obsolete.
bool LostCurrentFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec)) return false;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("MANIFEST-") || name.ends_with(".ldb") || name.ends_with(".sst") ||
        name.ends_with(".log")) {
      return true;
    }
  }
  return false;
}

}  // namespace

// LevelDB's info log, routed to the component's logger. Reports of damage are collected while a
// database is being opened (so that start-up logs one line for them all) and logged as warnings
// afterwards; everything else is LevelDB's chatter, at debug level. Called from LevelDB's threads.
class InfoLog : public leveldb::Logger {
 public:
  InfoLog(std::shared_ptr<spdlog::logger> logger, std::string db_path)
      : logger_(std::move(logger)), db_path_(std::move(db_path)) {}

  void Logv(const char* format, std::va_list ap) override {
    char buf[2048];
    int n = std::vsnprintf(buf, sizeof buf, format, ap);
    if (n < 0) return;
    std::string message = OneLine(std::string(buf, std::min(size_t(n), sizeof buf - 1)));
    if (IsDamageReport(message)) {
      {
        std::lock_guard lock(mu_);
        if (capturing_) {
          captured_.push_back(std::move(message));
          return;
        }
      }
      if (logger_) logger_->warn("database \"{}\": LevelDB: {}", db_path_, message);
      return;
    }
    if (logger_) logger_->debug("database \"{}\": LevelDB: {}", db_path_, message);
  }

  void BeginCapture() {
    std::lock_guard lock(mu_);
    capturing_ = true;
    captured_.clear();
  }
  std::vector<std::string> EndCapture() {
    std::lock_guard lock(mu_);
    capturing_ = false;
    return std::move(captured_);
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::string db_path_;
  std::mutex mu_;
  bool capturing_ = false;
  std::vector<std::string> captured_;
};

Store::Store(std::string path, const StoreOptions& options, std::unique_ptr<InfoLog> info_log)
    : path_(std::move(path)), options_(options), info_log_(std::move(info_log)) {}

Store::~Store() { db_.reset(); }

std::string Store::Open(const std::string& path, const StoreOptions& options,
                        std::shared_ptr<spdlog::logger> logger, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store(path, options, std::make_unique<InfoLog>(logger, path)));

  // LevelDB's recovery silently drops a log tail that is not whole records; find that first.
  std::vector<std::string> damage = CheckLogTails(path);

  leveldb::Options o;
  o.create_if_missing = true;
  // Off: a damaged write-ahead log record is skipped (LevelDB reports it through the info log)
  // and every intact record before and after it is kept. On, the same damage would fail Open and
  // leave only RepairDB, which rebuilds the whole database to get to the same records.
  o.paranoid_checks = false;
  o.info_log = store->info_log_.get();
  // LevelDB's default (1000) per database would let a few large queues exhaust the descriptors.
  o.max_open_files = 100;

  store->info_log_->BeginCapture();
  leveldb::Status s;
  std::string why;  // why the database needs RepairDB
  if (LostCurrentFile(path)) {
    why = "its CURRENT file is missing";
  } else {
    s = OpenWaiting(o, path, options.lock_timeout, &store->db_);
    if (s.IsCorruption()) why = OneLine(s.ToString());
  }
  std::string repaired;
  if (!why.empty()) {
    leveldb::Status r = leveldb::RepairDB(path, o);
    if (r.ok()) s = OpenWaiting(o, path, options.lock_timeout, &store->db_);
    if (r.ok() && s.ok()) {
      repaired = "it could not be opened (" + why +
                 "); repaired it with RepairDB, which kept every readable record";
    } else if (options.recreate) {
      std::string failure = OneLine((r.ok() ? s : r).ToString());
      std::string backup;
      if (std::string err = MoveAside(path, &backup); !err.empty()) {
        store->info_log_->EndCapture();
        return "database \"" + path + "\" is damaged (" + why + ") and could not be moved aside: " +
               err;
      }
      s = OpenWaiting(o, path, options.lock_timeout, &store->db_);
      repaired = "it could not be opened (" + why + ") nor repaired (" + failure +
                 "); recreate is set: moved it to \"" + backup + "\" and started an empty one";
    } else {
      store->info_log_->EndCapture();
      return "database \"" + path + "\" is damaged (" + why +
             ") and LevelDB's RepairDB could not fix it (" +
             OneLine((r.ok() ? s : r).ToString()) +
             "); move it aside, or set recreate: true to do so automatically";
    }
  }
  std::vector<std::string> reports = store->info_log_->EndCapture();
  if (!s.ok()) return "cannot open database \"" + path + "\": " + OneLine(s.ToString());

  damage.insert(damage.end(), reports.begin(), reports.end());
  if (logger && !repaired.empty()) {
    logger->warn("database \"{}\" was damaged: {}{}{}", path, repaired,
                 damage.empty() ? "" : "; found: ", JoinSome(damage));
  } else if (logger && !damage.empty()) {
    logger->warn(
        "database \"{}\": its write-ahead log was damaged (a crash mid-write, or a disk "
        "error); the damaged part was skipped and every intact record kept: {}",
        path, JoinSome(damage));
  }
  *out = std::move(store);
  return {};
}

std::string Store::Put(std::string_view key, std::string_view value) {
  leveldb::WriteOptions wo;
  wo.sync = options_.fsync;
  leveldb::Status s = db_->Put(wo, leveldb::Slice(key.data(), key.size()),
                               leveldb::Slice(value.data(), value.size()));
  return s.ok() ? std::string() : "file_storage put: " + s.ToString();
}

std::string Store::Delete(std::string_view key) {
  leveldb::WriteOptions wo;
  wo.sync = options_.fsync;
  leveldb::Status s = db_->Delete(wo, leveldb::Slice(key.data(), key.size()));
  return s.ok() ? std::string() : "file_storage delete: " + s.ToString();
}

std::string Store::Get(std::string_view key, std::optional<std::string>* value) {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  std::string out;
  leveldb::Status s = db_->Get(ro, leveldb::Slice(key.data(), key.size()), &out);
  if (s.IsNotFound()) {
    value->reset();
    return {};
  }
  if (!s.ok()) return "file_storage get: " + s.ToString();
  *value = std::move(out);
  return {};
}

std::string Store::ForEach(const std::function<bool(std::string_view, std::string_view)>& fn) {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;  // a scan reads everything once; keep the cache for point reads
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    leveldb::Slice k = it->key();
    leveldb::Slice v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  leveldb::Status s = it->status();
  return s.ok() ? std::string() : "file_storage iterate: " + s.ToString();
}

void Store::Compact() { db_->CompactRange(nullptr, nullptr); }

uint64_t Store::DiskBytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
    if (entry.is_regular_file(ec)) {
      auto size = entry.file_size(ec);
      if (!ec) total += size;
    }
  }
  return total;
}

uint64_t Store::LiveBytesUpTo(uint64_t limit) {
  leveldb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  uint64_t total = 0;
  for (it->SeekToFirst(); it->Valid() && total <= limit; it->Next()) {
    total += it->key().size() + it->value().size();
  }
  return total;
}

}  // namespace otelite::extensions::file_storage
