#include "exporters/file/rotating_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

namespace otelite::exporters::file {

namespace fs = std::filesystem;

namespace {

constexpr char kTimeFormat[] = "%Y-%m-%dT%H-%M-%S";  // then .mmm
constexpr size_t kTimestampLength = 23;                // 2006-01-02T15-04-05.000

void SplitName(const std::string& path, std::string* stem, std::string* ext) {
  fs::path p(path);
  *ext = p.extension().string();
  *stem = (p.parent_path() / p.stem()).string();
  if (p.parent_path().empty()) *stem = p.stem().string();
}

std::optional<std::time_t> ParseBackupTime(std::string_view ts, bool localtime) {
  if (ts.size() != kTimestampLength) return std::nullopt;
  std::tm tm{};
  std::string head(ts.substr(0, 19));
  if (strptime(head.c_str(), kTimeFormat, &tm) == nullptr) return std::nullopt;
  return localtime ? std::mktime(&tm) : timegm(&tm);
}

// The time in a backup's name, to the millisecond.
std::optional<std::chrono::system_clock::time_point> BackupTimePoint(const std::string& backup,
                                                                     size_t prefix,
                                                                     bool localtime) {
  std::string name = fs::path(backup).filename().string();
  std::string_view ts = std::string_view(name).substr(prefix, kTimestampLength);
  auto seconds = ParseBackupTime(ts, localtime);
  if (!seconds) return std::nullopt;
  int ms = std::atoi(std::string(ts.substr(20, 3)).c_str());
  return std::chrono::system_clock::from_time_t(*seconds) + std::chrono::milliseconds(ms);
}

size_t BackupPrefixLength(const std::string& path) {
  std::string stem, ext;
  SplitName(path, &stem, &ext);
  return fs::path(stem).filename().string().size() + 1;
}

}  // namespace

RotatingFile::RotatingFile(Options options) : options_(std::move(options)) {}

RotatingFile::~RotatingFile() { Close(); }

std::string RotatingFile::Open() {
  std::error_code ec;
  fs::path parent = fs::path(options_.path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  return OpenFile(options_.append || options_.max_bytes > 0);
}

std::string RotatingFile::OpenFile(bool append) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  fd_ = ::open(options_.path.c_str(), flags, 0644);
  if (fd_ < 0) return "cannot open " + options_.path + ": " + std::strerror(errno);
  off_t end = append ? ::lseek(fd_, 0, SEEK_END) : 0;
  size_ = end > 0 ? static_cast<uint64_t>(end) : 0;
  return {};
}

std::string RotatingFile::Write(std::string_view record) {
  if (fd_ < 0) return "file is closed";
  if (options_.max_bytes > 0 && size_ > 0 && size_ + record.size() > options_.max_bytes) {
    if (std::string err = Rotate(); !err.empty()) return err;
  }
  size_t done = 0;
  while (done < record.size()) {
    ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = n < 0 ? std::strerror(errno) : "no progress";
      // Take back a partial record so the file never holds half of one.
      if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        why += " (and the partial record could not be removed)";
      }
      return "write to " + options_.path + " failed: " + why;
    }
    done += static_cast<size_t>(n);
  }
  size_ += record.size();
  return {};
}

std::string RotatingFile::Sync() {
  if (fd_ >= 0 && ::fdatasync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
    return "fdatasync of " + options_.path + " failed: " + std::strerror(errno);
  }
  return {};
}

void RotatingFile::Close() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

std::string RotatingFile::BackupName(const std::string& path,
                                     std::chrono::system_clock::time_point when, bool localtime) {
  std::string stem, ext;
  SplitName(path, &stem, &ext);
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() %
            1000;
  std::tm tm{};
  if (localtime) localtime_r(&t, &tm);
  else gmtime_r(&t, &tm);
  char ts[64];
  std::strftime(ts, sizeof ts, kTimeFormat, &tm);
  char full[80];
  std::snprintf(full, sizeof full, "%s.%03d", ts, static_cast<int>(ms));
  return stem + "-" + full + ext;
}

std::vector<std::string> RotatingFile::ListBackups(const std::string& path) {
  std::string stem, ext;
  SplitName(path, &stem, &ext);
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::string prefix = fs::path(stem).filename().string() + "-";
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() != prefix.size() + kTimestampLength + ext.size()) continue;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    if (name.compare(name.size() - ext.size(), ext.size(), ext) != 0) continue;
    if (!ParseBackupTime(std::string_view(name).substr(prefix.size(), kTimestampLength), false)) {
      continue;
    }
    out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());  // the timestamp format sorts by time
  return out;
}

std::string RotatingFile::Rotate() {
  Close();
  // The new backup must sort after every existing one (removal keeps the newest names), so when
  // the clock has not passed the newest name yet (several rotations in one millisecond, or a
  // clock set back), it is named one millisecond after it.
  auto when = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now());
  std::vector<std::string> existing = ListBackups(options_.path);
  if (!existing.empty()) {
    auto newest = BackupTimePoint(existing.back(), BackupPrefixLength(options_.path),
                                  options_.localtime);
    if (newest && *newest >= when) {
      when = std::chrono::time_point_cast<std::chrono::milliseconds>(*newest) +
             std::chrono::milliseconds(1);
    }
  }
  std::string backup = BackupName(options_.path, when, options_.localtime);
  std::error_code ec;
  fs::rename(options_.path, backup, ec);
  if (ec) return "cannot rotate " + options_.path + ": " + ec.message();
  if (std::string err = OpenFile(false); !err.empty()) return err;
  RemoveOldBackups();
  return {};
}

void RotatingFile::RemoveOldBackups() {
  std::vector<std::string> backups = ListBackups(options_.path);
  std::error_code ec;
  if (options_.max_days > 0) {
    auto cutoff = std::chrono::system_clock::now() - std::chrono::hours(24) * options_.max_days;
    size_t prefix = BackupPrefixLength(options_.path);
    std::erase_if(backups, [&](const std::string& b) {
      auto t = BackupTimePoint(b, prefix, options_.localtime);
      if (t && *t < cutoff) {
        fs::remove(b, ec);
        return true;
      }
      return false;
    });
  }
  if (options_.max_backups > 0 && backups.size() > size_t(options_.max_backups)) {
    for (size_t i = 0; i < backups.size() - size_t(options_.max_backups); ++i) {
      fs::remove(backups[i], ec);
    }
  }
}

}  // namespace otelite::exporters::file
