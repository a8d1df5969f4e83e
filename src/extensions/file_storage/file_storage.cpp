#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "components/registry.h"
#include "extensions/file_storage/config.h"
#include "extensions/file_storage/file_storage.h"
#include "extensions/file_storage/store.h"
#include "extensions/storage/storage.h"

namespace otelite::extensions::file_storage {

namespace {

constexpr uint64_t kMiB = 1 << 20;

bool IsSafe(uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '-' || c == '_';
}

// The next code point of UTF-8 text; a byte that does not start a valid sequence is U+FFFD (as
// Go's range over a string, which otelcol's sanitizer uses).
uint32_t NextCodePoint(std::string_view s, size_t* i) {
  const uint8_t b = uint8_t(s[*i]);
  size_t extra = 0;
  uint32_t c = 0;
  if (b < 0x80) {
    ++*i;
    return b;
  } else if ((b & 0xE0) == 0xC0) {
    extra = 1, c = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    extra = 2, c = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    extra = 3, c = b & 0x07;
  } else {
    ++*i;
    return 0xFFFD;
  }
  if (*i + extra >= s.size()) {
    ++*i;
    return 0xFFFD;
  }
  for (size_t k = 1; k <= extra; ++k) {
    uint8_t cont = uint8_t(s[*i + k]);
    if ((cont & 0xC0) != 0x80) {
      ++*i;
      return 0xFFFD;
    }
    c = (c << 6) | (cont & 0x3F);
  }
  *i += extra + 1;
  return c;
}

std::string DirectoryProblem(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return errno == ENOENT ? "does not exist" : std::string("cannot be accessed: ") +
                                                   std::strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "is not a directory";
  // access() answers yes to root whatever the mode; creating a file is the real test.
  std::string probe = dir + "/.otelite-write-test-" + std::to_string(::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return {};
    return std::string("is not writable: ") + std::strerror(errno);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return {};
}

// mkdir -p with `mode` (minus the umask) for every directory it creates.
std::string CreateDirectories(const std::string& dir, int mode) {
  std::filesystem::path path(dir);
  std::filesystem::path current;
  for (const auto& part : path) {
    current /= part;
    if (::mkdir(current.c_str(), mode_t(mode)) != 0 && errno != EEXIST) {
      return "cannot create " + current.string() + ": " + std::strerror(errno);
    }
  }
  return {};
}

class FileStorageClient : public StorageClient {
 public:
  explicit FileStorageClient(std::shared_ptr<Store> store) : store_(std::move(store)) {}
  std::string Put(std::string_view key, std::string_view value) override {
    return store_->Put(key, value);
  }
  std::string Delete(std::string_view key) override { return store_->Delete(key); }
  std::string Get(std::string_view key, std::optional<std::string>* value) override {
    return store_->Get(key, value);
  }
  std::string ForEach(
      const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return store_->ForEach(fn);
  }

 private:
  std::shared_ptr<Store> store_;
};

class FileStorage : public StorageExtension {
 public:
  FileStorage(const CreateSettings& settings, const Config& config)
      : id_(settings.id), config_(config), logger_(settings.logger) {}
  ~FileStorage() override { Shutdown(Clock::now()); }

  std::string Start(Host&) override {
    const CompactionConfig& c = config_.compaction;
    std::vector<std::pair<std::string, std::string>> dirs = {{config_.directory, "directory"}};
    if ((c.on_start || c.on_rebound || c.cleanup_on_start) &&
        config_.CompactionDirectory() != config_.directory) {
      dirs.emplace_back(config_.CompactionDirectory(), "compaction.directory");
    }
    for (const auto& [dir, key] : dirs) {
      std::string where = KeyPath(key);
      if (config_.create_directory && DirectoryProblem(dir) == "does not exist") {
        int mode = ParsePermissions(config_.directory_permissions);
        if (std::string err = CreateDirectories(dir, mode < 0 ? 0750 : mode); !err.empty()) {
          return where + ": " + err;
        }
      }
      if (std::string problem = DirectoryProblem(dir); !problem.empty()) {
        std::string hint = problem == "does not exist"
                               ? "; create it, or set create_directory: true"
                               : "";
        return where + ": directory \"" + dir + "\" " + problem + hint;
      }
    }
    if (config_.compaction.cleanup_on_start) CleanupTempFiles();
    if (config_.compaction.on_rebound) {
      checker_ = std::thread([this] { ReboundLoop(); });
    }
    std::lock_guard lock(mu_);
    started_ = true;
    return {};
  }

  void Shutdown(Deadline) override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      started_ = false;
    }
    cv_.notify_all();
    if (checker_.joinable()) checker_.join();
  }

  std::unique_ptr<StorageClient> GetClient(Kind kind, const ComponentId& owner,
                                           const std::string& name,
                                           std::string* error) override {
    {
      std::lock_guard lock(mu_);
      if (!started_) {
        *error = id_.str() + ": storage is not started (or already shut down)";
        return nullptr;
      }
    }
    std::string path = (std::filesystem::path(config_.directory) / FileName(kind, owner, name));
    StoreOptions options;
    options.fsync = config_.fsync;
    options.lock_timeout = config_.timeout;
    options.recreate = config_.recreate;
    options.compaction_directory = config_.CompactionDirectory();
    options.max_transaction_size = config_.compaction.max_transaction_size;
    std::unique_ptr<Store> opened;
    if (std::string err = Store::Open(path, options, logger_, &opened); !err.empty()) {
      *error = id_.str() + ": " + err;
      return nullptr;
    }
    std::shared_ptr<Store> store = std::move(opened);
    if (config_.compaction.on_start) CompactLogged(*store, "on start");
    {
      std::lock_guard lock(mu_);
      std::erase_if(stores_, [](const std::weak_ptr<Store>& w) { return w.expired(); });
      stores_.push_back(store);
    }
    return std::make_unique<FileStorageClient>(std::move(store));
  }

 private:
  std::string KeyPath(const std::string& key) const {
    return std::string(KindSectionName(Kind::kExtension)) + "." + id_.str() + "." + key;
  }

  void CompactLogged(Store& store, const char* why) {
    uint64_t before = store.DiskBytes();
    auto started = Clock::now();
    if (std::string err = store.Compact(); !err.empty()) {
      if (logger_) logger_->error("{} ({})", err, why);
      return;
    }
    uint64_t after = store.DiskBytes();
    if (logger_) {
      logger_->info("compacted database \"{}\" ({}): {} -> {} bytes in {} ms", store.path(), why,
                    before, after,
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)
                        .count());
    }
  }

  // Removes what a compaction killed mid-way leaves behind (tempdb*): otelcol's bbolt files and
  // this extension's LevelDB directories.
  void CleanupTempFiles() {
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(config_.CompactionDirectory(), ec)) {
      if (!entry.path().filename().string().starts_with(kTempDbPrefix)) continue;
      std::error_code rm;
      std::filesystem::remove_all(entry.path(), rm);
      if (logger_) {
        if (rm) {
          logger_->info("cleanup: cannot remove {}: {}", entry.path().string(), rm.message());
        } else {
          logger_->debug("cleanup: removed {}", entry.path().string());
        }
      }
    }
  }

  // Every check_interval: a database that grew past rebound_needed_threshold_mib on disk is
  // marked; a marked one is compacted once its live data is below rebound_trigger_threshold_mib.
  void ReboundLoop() {
    const uint64_t needed = uint64_t(config_.compaction.rebound_needed_threshold_mib) * kMiB;
    const uint64_t trigger = uint64_t(config_.compaction.rebound_trigger_threshold_mib) * kMiB;
    std::unique_lock lock(mu_);
    while (!stopped_) {
      cv_.wait_for(lock, config_.compaction.check_interval);
      if (stopped_) break;
      std::vector<std::shared_ptr<Store>> stores;
      for (const auto& w : stores_) {
        if (auto s = w.lock()) stores.push_back(std::move(s));
      }
      lock.unlock();
      for (const auto& store : stores) {
        uint64_t disk = store->DiskBytes();
        if (disk > needed) store->rebound_needed = true;
        bool drained = store->rebound_needed && store->LiveBytesUpTo(trigger) < trigger;
        if (logger_) {
          logger_->debug("rebound check of database \"{}\": {} bytes on disk, {}", store->path(),
                         disk,
                         !store->rebound_needed ? "below the needed threshold"
                         : drained ? "drained below the trigger threshold: compacting"
                                   : "waiting for the live data to fall below the trigger");
        }
        if (drained) {
          CompactLogged(*store, "on rebound");
          store->rebound_needed = false;
        }
      }
      stores.clear();  // a client closed meanwhile closes its database here
      lock.lock();
    }
  }

  ComponentId id_;
  Config config_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopped_ = false;
  std::vector<std::weak_ptr<Store>> stores_;  // for the rebound check; clients own them
  std::thread checker_;
};

class Factory : public TypedFactory<ExtensionFactory, Config> {
 public:
  std::string_view type() const override { return kType; }
  std::string_view description() const override {
    return "on-disk key-value storage (LevelDB) for persistent sending queues";
  }
  std::unique_ptr<Extension> Create(const CreateSettings& settings,
                                    const ComponentConfig& config) const override {
    return std::make_unique<FileStorage>(settings, Cast(config));
  }
};

}  // namespace

std::string SanitizeFileName(std::string_view name) {
  std::string out;
  size_t i = 0;
  while (i < name.size()) {
    uint32_t c = NextCodePoint(name, &i);
    if (IsSafe(c)) {
      out.push_back(char(c));
    } else {
      char buf[16];
      std::snprintf(buf, sizeof buf, "~%04X", c);
      out += buf;
    }
  }
  return out;
}

std::string FileName(Kind kind, const ComponentId& owner, const std::string& name) {
  std::string raw = std::string(KindName(kind)) + "_" + owner.type() + "_" + owner.name();
  if (!name.empty()) raw += "_" + name;
  return SanitizeFileName(raw);
}

void Register(Registry& registry) { registry.Add(std::make_unique<Factory>()); }

}  // namespace otelite::extensions::file_storage
