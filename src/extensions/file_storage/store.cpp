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
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

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

constexpr char kOldSuffix[] = ".compact-old";  // the database being replaced by its copy
constexpr char kNewSuffix[] = ".compact-new";  // the copy, staged beside the database

std::string FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return path + ": " + std::strerror(errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? std::string() : path + ": " + std::strerror(err);
}

std::string ParentOf(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Copies a database directory across filesystems, each file synced, then the directory.
std::string CopySynced(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::create_directory(to, ec);
  if (ec) return "create " + to + ": " + ec.message();
  for (const auto& entry : std::filesystem::directory_iterator(from, ec)) {
    auto target = std::filesystem::path(to) / entry.path().filename();
    std::filesystem::copy_file(entry.path(), target, ec);
    if (ec) return "copy " + entry.path().string() + ": " + ec.message();
    if (std::string err = FsyncPath(target.string()); !err.empty()) return err;
  }
  if (ec) return "list " + from + ": " + ec.message();
  return FsyncPath(to);
}

// A crash during Compact()'s swap leaves one of these states; each is brought back to a whole
// database at `path`.
void FinishInterruptedCompaction(const std::string& path) {
  std::error_code ec;
  const std::string old_db = path + kOldSuffix;
  if (std::filesystem::exists(old_db, ec)) {
    if (!std::filesystem::exists(path, ec)) {
      std::filesystem::rename(old_db, path, ec);  // between the two renames: keep the original
    } else {
      std::filesystem::remove_all(old_db, ec);  // the copy was in place: the original is garbage
    }
  }
  std::filesystem::remove_all(path + kNewSuffix, ec);  // staged, never swapped in
}

leveldb::Options DbOptions(leveldb::Logger* info_log) {
  leveldb::Options o;
  o.create_if_missing = true;
  // Off: a damaged write-ahead log record is skipped (LevelDB reports it through the info log)
  // and every intact record before and after it is kept. On, the same damage would fail Open and
  // leave only RepairDB, which rebuilds the whole database to get to the same records.
  o.paranoid_checks = false;
  o.info_log = info_log;
  // LevelDB's default (1000) per database would let a few large queues exhaust the descriptors.
  o.max_open_files = 100;
  return o;
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

  FinishInterruptedCompaction(path);
  // LevelDB's recovery silently drops a log tail that is not whole records; find that first.
  std::vector<std::string> damage = CheckLogTails(path);

  leveldb::Options o = DbOptions(store->info_log_.get());

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

namespace {
// The store whose ForEach runs on this thread: its callback's calls hold the lock already.
thread_local const Store* t_iterating = nullptr;
}  // namespace

#define OTELITE_STORE_READ_LOCK()                                         \
  std::shared_lock<std::shared_mutex> lock(mu_, std::defer_lock);         \
  if (t_iterating != this) lock.lock();                                   \
  if (!db_) return "file_storage: database \"" + path_ + "\" is closed (a compaction failed)"

std::string Store::Put(std::string_view key, std::string_view value) {
  OTELITE_STORE_READ_LOCK();
  leveldb::WriteOptions wo;
  wo.sync = options_.fsync;
  leveldb::Status s = db_->Put(wo, leveldb::Slice(key.data(), key.size()),
                               leveldb::Slice(value.data(), value.size()));
  return s.ok() ? std::string() : "file_storage put: " + s.ToString();
}

std::string Store::Delete(std::string_view key) {
  OTELITE_STORE_READ_LOCK();
  leveldb::WriteOptions wo;
  wo.sync = options_.fsync;
  leveldb::Status s = db_->Delete(wo, leveldb::Slice(key.data(), key.size()));
  return s.ok() ? std::string() : "file_storage delete: " + s.ToString();
}

std::string Store::Get(std::string_view key, std::optional<std::string>* value) {
  OTELITE_STORE_READ_LOCK();
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
  OTELITE_STORE_READ_LOCK();
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;  // a scan reads everything once; keep the cache for point reads
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  const Store* outer = t_iterating;
  t_iterating = this;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    leveldb::Slice k = it->key();
    leveldb::Slice v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  t_iterating = outer;
  leveldb::Status s = it->status();
  return s.ok() ? std::string() : "file_storage iterate: " + s.ToString();
}

std::string Store::CopyLiveDataTo(const std::string& target) {
  leveldb::Options o = DbOptions(info_log_.get());
  o.error_if_exists = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, target, &raw);
  if (!s.ok()) return "create " + target + ": " + s.ToString();
  std::unique_ptr<leveldb::DB> copy(raw);
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  leveldb::WriteBatch batch;
  int64_t in_batch = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    batch.Put(it->key(), it->value());
    if (++in_batch == options_.max_transaction_size) {
      if (s = copy->Write(leveldb::WriteOptions(), &batch); !s.ok()) return s.ToString();
      batch.Clear();
      in_batch = 0;
    }
  }
  if (!it->status().ok()) return "read: " + it->status().ToString();
  // The last batch (possibly empty) is synced, and with it the log holding the earlier ones.
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (s = copy->Write(sync, &batch); !s.ok()) return s.ToString();
  return {};
}

std::string Store::Compact() {
  std::unique_lock lock(mu_);
  if (!db_) return "database \"" + path_ + "\" is closed";
  static std::atomic<uint64_t> counter{0};
  const std::string name = std::filesystem::path(path_).filename().string();
  const std::string temp =
      (std::filesystem::path(options_.compaction_directory.empty() ? ParentOf(path_)
                                                                   : options_.compaction_directory) /
       ("tempdb-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
          .string();
  std::error_code ec;
  if (std::string err = CopyLiveDataTo(temp); !err.empty()) {
    std::filesystem::remove_all(temp, ec);
    return "compaction of \"" + path_ + "\" failed, database unchanged: " + err;
  }

  // Stage the copy beside the database (a rename, or a synced copy from another filesystem).
  const std::string staged = path_ + kNewSuffix;
  const std::string old_db = path_ + kOldSuffix;
  std::filesystem::remove_all(staged, ec);
  std::string err;
  std::filesystem::rename(temp, staged, ec);
  if (ec == std::errc::cross_device_link) {
    err = CopySynced(temp, staged);
    std::filesystem::remove_all(temp, ec);
  } else if (ec) {
    err = "rename " + temp + ": " + ec.message();
  }
  if (!err.empty()) {
    std::filesystem::remove_all(temp, ec);
    std::filesystem::remove_all(staged, ec);
    return "compaction of \"" + path_ + "\" failed, database unchanged: " + err;
  }
  (void)FsyncPath(ParentOf(path_));

  // Swap: a crash between the renames leaves the original at old_db, which Open moves back.
  db_.reset();
  std::filesystem::remove_all(old_db, ec);
  std::filesystem::rename(path_, old_db, ec);
  if (ec) {
    err = "rename " + path_ + ": " + ec.message();
  } else {
    std::filesystem::rename(staged, path_, ec);
    if (ec) {
      err = "rename " + staged + ": " + ec.message();
      std::error_code back;
      std::filesystem::rename(old_db, path_, back);
    }
  }
  (void)FsyncPath(ParentOf(path_));
  std::filesystem::remove_all(err.empty() ? old_db : staged, ec);

  leveldb::Status s = OpenWaiting(DbOptions(info_log_.get()), path_, options_.lock_timeout, &db_);
  if (!s.ok()) {
    err += (err.empty() ? "" : "; ") + std::string("reopen: ") + s.ToString();
  }
  return err.empty() ? std::string() : "compaction of \"" + path_ + "\" failed: " + err;
}

uint64_t Store::DiskBytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
    std::error_code size_ec;
    auto size = entry.file_size(size_ec);
    if (!size_ec) total += size;
  }
  return total;
}

uint64_t Store::LiveBytesUpTo(uint64_t limit) {
  std::shared_lock lock(mu_);
  if (!db_) return 0;
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
