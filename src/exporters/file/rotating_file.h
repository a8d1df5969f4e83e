#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace otelite::exporters::file {

// A file written record by record that rotates by size, as otelcol's file exporter does: when the
// next record would take the file past max_bytes, it is renamed to
// `<stem>-<YYYY-MM-DDTHH-MM-SS.mmm><ext>` and a new file is started at the path; backups beyond
// max_backups or older than max_days are removed. A record is never split across files.
// Each record is written with write(2) as it comes (no user-space buffer), so a write error is
// reported for the record that hit it; Sync() asks the kernel to put the data on disk.
// Not thread-safe: the owner serializes calls.
class RotatingFile {
 public:
  struct Options {
    std::string path;
    bool append = false;          // without rotation: append to (true) or truncate (false)
    uint64_t max_bytes = 0;       // 0: never rotate
    int max_backups = 0;          // 0: keep all
    int max_days = 0;             // 0: keep all
    bool localtime = false;
  };
  explicit RotatingFile(Options options);
  ~RotatingFile();

  std::string Open();  // empty on success, else the reason
  std::string Write(std::string_view record);
  std::string Sync();  // fdatasync
  void Close();

  // The name a backup made at `when` gets.
  static std::string BackupName(const std::string& path, std::chrono::system_clock::time_point when,
                                bool localtime);
  // Existing backups of `path`, oldest first.
  static std::vector<std::string> ListBackups(const std::string& path);

 private:
  std::string Rotate();
  void RemoveOldBackups();

  Options options_;
  std::string OpenFile(bool append);
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace otelite::exporters::file
